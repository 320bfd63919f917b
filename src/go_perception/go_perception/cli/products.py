"""``./gostore products IMAGE...``: rank product SKUs for images, one JSON line per image.

Each line is ``{"image": path, "ranked": [{"sku": ..., "score": ...}, ...]}`` (most probable
first, scores are probabilities in [0, 1]); an image that cannot be read gives
``{"image": path, "ranked": [], "error": "..."}`` and exit status 1 after all other images.

``--benchmark`` instead measures the model on the grocery test split (top-1, top-3, confusions,
accuracy against apparent size, ms per crop), writes the figures as JSON (``--json``) and, with
``--baseline``, fails when a figure falls below the committed baseline by more than its margin.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from go_perception.core.products.classifier import DEFAULT_MODEL, SHIPPED, ClassifierConfig

if TYPE_CHECKING:
    from go_perception.core.products.classifier import ProductClassifier
    from go_perception.core.products.verify import CatalogueVerifier

# A figure may fall this much below the committed baseline before --baseline fails: the
# figures are deterministic on one machine, but onnxruntime's kernels differ across CPUs.
ACCURACY_MARGIN = 0.01


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gostore products",
        description="Rank product SKUs for images (one JSON line per image), or --benchmark.",
    )
    p.add_argument("images", nargs="*", type=Path, help="image files (any OpenCV format)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="product ONNX model")
    p.add_argument(
        "--expert",
        default=SHIPPED,
        help="full-size expert model for large crops: a path, or 'none' (default: the shipped "
        "expert with the shipped model, none with another --model)",
    )
    p.add_argument(
        "--expert-weight",
        type=float,
        default=ClassifierConfig.expert_weight,
        help="the expert's weight on large crops, in [0, 1] (default "
        f"{ClassifierConfig.expert_weight}; product_node's expert_weight)",
    )
    p.add_argument("--top-k", type=int, default=5, help="SKUs per image (default 5)")
    p.add_argument("--tta", action="store_true", help="test-time augmentation (2 passes)")
    p.add_argument(
        "--tta-zoom",
        type=float,
        default=0.8,
        help="--tta's second view: centre zoom keeping this fraction of each side (default 0.8)",
    )
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    p.add_argument(
        "--verify",
        action="store_true",
        help="re-rank images >= 96 px by SIFT + homography against the catalogue images",
    )
    p.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        help="folder of catalogue images <sku>.jpg for --verify (default: the shipped grocery one)",
    )
    b = p.add_argument_group("benchmark")
    b.add_argument("--benchmark", action="store_true", help="measure on a grocery split")
    b.add_argument("--data", type=Path, default=None, help="grocery data folder")
    b.add_argument("--split", default="test", help="split to measure (default test)")
    b.add_argument("--limit", type=int, default=0, help="use only every n-th image (0: all)")
    b.add_argument("--json", type=Path, default=None, help="write the figures here")
    b.add_argument("--baseline", type=Path, default=None, help="fail below these figures")
    return p


def _verifier(args: argparse.Namespace, skus: tuple[str, ...]) -> CatalogueVerifier | None:
    """The SIFT catalogue verifier for ``--verify`` (None without it)."""
    if not args.verify:
        return None
    from go_perception.core.products.dataset import DEFAULT_DATA_DIR, read_bgr
    from go_perception.core.products.verify import CatalogueVerifier

    folder = args.catalogue or DEFAULT_DATA_DIR / "iconic"
    if not folder.is_dir():
        raise FileNotFoundError(f"catalogue folder {folder} not found")
    images = {p.stem: read_bgr(p) for p in sorted(folder.glob("*.jpg")) if p.stem in skus}
    return CatalogueVerifier(images)


def _classifier(args: argparse.Namespace) -> ProductClassifier:
    from go_perception.core.products.classifier import ProductClassifier, expert_setting

    config = ClassifierConfig(
        top_k=args.top_k,
        tta=args.tta,
        tta_zoom=args.tta_zoom,
        threads=args.threads,
        expert_weight=args.expert_weight,
    )
    return ProductClassifier(args.model, config, expert_setting(args.expert))


def _rank_images(args: argparse.Namespace) -> int:
    import cv2

    classifier = _classifier(args)
    verifier = _verifier(args, classifier.skus)
    status = 0
    for path in args.images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or image.size == 0:
            print(f"warning: cannot read image {path}", file=sys.stderr)
            line = {"image": str(path), "ranked": [], "error": "cannot read image"}
            status = 1
        else:
            ranked = classifier.rank([image])[0]
            if verifier is not None:
                ranked = verifier.rerank(image, ranked)
            line = {"image": str(path), "ranked": [asdict(s) for s in ranked]}
        print(json.dumps(line), flush=True)
    return status


def _benchmark(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from go_perception.core.products.dataset import DEFAULT_DATA_DIR, load_grocery, read_bgr
    from go_perception.core.products.evaluate import APPARENT_SIZES_PX, ms_per_crop, score

    data = load_grocery(args.data or DEFAULT_DATA_DIR)
    items = data.split(args.split)
    if args.limit > 1:
        items = items[:: args.limit]
    classifier = _classifier(args)
    verifier = _verifier(args, classifier.skus)
    steps = [None, *APPARENT_SIZES_PX]
    results = {}
    for size in tqdm(steps, desc="benchmark products", unit="size"):
        results[size] = score(classifier, items, size_px=size, verifier=verifier)
    full = results[None]
    crops = [read_bgr(it.path) for it in items[:50]]
    figures = {
        "model": _display_path(args.model),
        "expert": _display_path(classifier.expert.path) if classifier.expert else None,
        "expert_share": (
            {
                "min_px": classifier.config.expert_min_px,
                "full_px": classifier.config.expert_full_px,
                "weight": classifier.config.expert_weight,
            }
            if classifier.expert
            else None
        ),
        "split": args.split,
        "n": full.n,
        "tta": args.tta,
        "tta_zoom": args.tta_zoom if args.tta else None,
        "verify": args.verify,
        "threads": args.threads,
        "top1": round(full.top1, 4),
        "top3": round(full.top3, 4),
        "confusions": [asdict(c) for c in full.confusions],
        "degradation": {"blur_sigma_px": 0.6, "jpeg_quality": 50},
        "top1_by_size_px": {str(s): round(results[s].top1, 4) for s in APPARENT_SIZES_PX},
        "top3_by_size_px": {str(s): round(results[s].top3, 4) for s in APPARENT_SIZES_PX},
        "ms_per_crop": round(ms_per_crop(classifier, crops, verifier=verifier), 3),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        # Timings on a shared machine mean little without the load they were taken under.
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(f"{args.split} split, {full.n} images: top-1 {full.top1:.4f}  top-3 {full.top3:.4f}")
    for c in full.confusions:
        print(f"  {c.true_sku} -> {c.predicted_sku}: {c.count}")
    print(
        "apparent size [px]: " + "  ".join(f"{s}: {results[s].top1:.3f}" for s in APPARENT_SIZES_PX)
    )
    print(f"ms per crop (batch 1, {args.threads} thread): {figures['ms_per_crop']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.baseline:
        return _check_baseline(figures, json.loads(args.baseline.read_text()))
    return 0


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when inside it (portable JSON)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _check_baseline(figures: dict, baseline: dict) -> int:
    """Exit status 1 when an accuracy figure is below the baseline by more than the margin."""
    checks = [
        ("top1", figures["top1"], baseline["top1"]),
        ("top3", figures["top3"], baseline["top3"]),
    ]
    checks += [
        (f"top1@{s}px", figures["top1_by_size_px"][s], v)
        for s, v in baseline["top1_by_size_px"].items()
    ]
    worse = [(name, got, want) for name, got, want in checks if got < want - ACCURACY_MARGIN]
    for name, got, want in worse:
        print(f"REGRESSION {name}: {got:.4f} < baseline {want:.4f}", file=sys.stderr)
    return 1 if worse else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit status."""
    args = _parser().parse_args(argv)
    if args.top_k < 1 or args.threads < 1:
        print("error: --top-k and --threads must be >= 1", file=sys.stderr)
        return 2
    if not args.benchmark and not args.images:
        print("error: give IMAGE files, or --benchmark", file=sys.stderr)
        return 2
    try:
        return _benchmark(args) if args.benchmark else _rank_images(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

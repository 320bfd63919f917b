"""``./gostore perceive IMAGE_OR_VIDEO [...] --out DIR``: people and 2D skeletons, offline.

For every image, or every frame of a video, writes ``DIR/<name>.json``:

    {"people": [{"bbox": [x1, y1, x2, y2], "score": s, "keypoints": [[x, y, s] x 17]}]}

(pixels of that image, COCO-17 keypoint order, scores in [0, 1]; a person whose skeleton
repeated a more confident one's, by pose-level NMS, has all 17 keypoint scores 0) and
``DIR/<name>.jpg``, the
frame with boxes and skeletons drawn. ``<name>`` is the file stem for an image and
``<stem>_<frame:06d>`` for a video frame (0-based frame index).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from go_perception.core.backends import BACKENDS, BackendConfig, make_estimator
from go_perception.core.keypoints import draw_people
from go_perception.core.onnx_io import ModelError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
LOG = logging.getLogger("perceive")


def _parser() -> argparse.ArgumentParser:
    defaults = BackendConfig()
    p = argparse.ArgumentParser(
        prog="gostore perceive",
        description="Detect people and their COCO-17 skeletons in images or videos (offline).",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="image or video files")
    p.add_argument("--out", type=Path, required=True, help="folder for <name>.json and <name>.jpg")
    p.add_argument("--backend", choices=BACKENDS, default=defaults.backend)
    p.add_argument("--detector-model", default="", help="ONNX detector (backend onnx)")
    p.add_argument("--pose-model", default="", help="ONNX pose model (backends onnx and sim)")
    p.add_argument("--models-dir", default="", help="set-up models (default .gostore/models)")
    p.add_argument("--score-threshold", type=float, default=defaults.score_threshold)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads per model")
    p.add_argument(
        "--precision",
        choices=("int8", "fp32"),
        default=defaults.detector_precision,
        help="set-up NanoDet and MoveNet copy to run (default backend; int8 is faster)",
    )
    p.add_argument("--every", type=int, default=1, help="video: process every Nth frame")
    p.add_argument("--max-frames", type=int, default=0, help="video: stop after N (0 = all)")
    p.add_argument("--no-draw", action="store_true", help="write the JSON only")
    return p


def _frames(path: Path, every: int, max_frames: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, BGR image) of an image file, or of every ``every``-th frame of a video."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: not a readable image")
        yield path.stem, image
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"{path}: not a readable image or video")
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    done = 0
    try:
        with tqdm(total=total, desc=path.name, unit="frame", leave=False) as bar:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                bar.update(1)
                if index % every == 0:
                    yield f"{path.stem}_{index:06d}", frame
                    done += 1
                    if max_frames and done >= max_frames:
                        break
                index += 1
    finally:
        capture.release()
    if done == 0:
        raise ValueError(f"{path}: no frame could be decoded")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 0, 1 when some input could not be read, 2 on bad arguments."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.every < 1 or args.max_frames < 0:
        print("error: --every must be >= 1 and --max-frames >= 0", file=sys.stderr)
        return 2
    try:
        config = BackendConfig(
            backend=args.backend,
            models_dir=args.models_dir,
            detector_model=args.detector_model,
            pose_model=args.pose_model,
            score_threshold=args.score_threshold,
            candidate_threshold=min(args.score_threshold, BackendConfig.candidate_threshold),
            threads=args.threads,
            detector_precision=args.precision,
            pose_precision=args.precision,
        )
        estimator = make_estimator(config)
    except (ValueError, ModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in tqdm(args.inputs, desc="inputs", unit="file", disable=len(args.inputs) < 2):
        if not path.is_file():
            LOG.error("%s: no such file", path)
            failed += 1
            continue
        try:
            for name, image in _frames(path, args.every, args.max_frames):
                people = estimator(image)
                doc = {"people": [person.to_json() for person in people]}
                (args.out / f"{name}.json").write_text(json.dumps(doc) + "\n")
                if not args.no_draw:
                    cv2.imwrite(str(args.out / f"{name}.jpg"), draw_people(image, people))
        except ValueError as error:
            LOG.error("%s", error)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``./gostore train products``: train the product recognition network and export it to ONNX.

Trains on the grocery Packages photographs (train split; ``--include-val`` adds val) plus the
catalogue images, with ceiling-camera augmentation (see ``core/products/augment.py``), shows a
tqdm progress bar, and writes an ONNX model whose metadata holds the SKUs, the input size and
the recipe (this command line, seed, data hash). The same seed and data give the same model.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from go_perception.core.products.augment import AugmentConfig
from go_perception.core.products.classifier import ProductClassifier
from go_perception.core.products.dataset import DEFAULT_DATA_DIR, data_hash, load_grocery
from go_perception.core.products.train import (
    EpochReport,
    TrainConfig,
    config_from_dict,
    steps_total,
    train_and_export,
)


def _parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    p = argparse.ArgumentParser(
        prog="gostore train products",
        description="Train the product recognition network (torch) and export it to ONNX.",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="grocery data folder (classes.csv, "
        "{train,val,test}.txt, iconic/); default: the copy shipped in go_perception",
    )
    p.add_argument("--out", type=Path, required=True, help="ONNX model to write")
    p.add_argument(
        "--like",
        type=Path,
        default=None,
        help="reproduce this model: take every setting from its recorded recipe (other "
        "settings given here are ignored)",
    )
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the data")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (reproducible)")
    p.add_argument("--size", type=int, default=defaults.input_size, help="network input side [px]")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate")
    p.add_argument(
        "--include-val", action="store_true", help="train on train + val (no validation figure)"
    )
    p.add_argument(
        "--threads", type=int, default=defaults.threads, help="torch CPU threads (shared machine)"
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device for the network (cpu, cuda); augmentation stays on the CPU",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes that augment samples (0: the calling thread); the result does not "
        "depend on it",
    )
    p.add_argument(
        "--widths",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=defaults.widths,
        help="channels of the four residual stages, comma-separated (default %(default)s)",
    )
    p.add_argument(
        "--augment",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one augmentation setting of AugmentConfig (repeatable), e.g. "
        "p_small=0.2 or max_rotation_deg=10",
    )
    return p


def _augment_overrides(pairs: list[str]) -> AugmentConfig:
    """AugmentConfig with ``NAME=VALUE`` overrides, each parsed as the default's type.

    Raises:
        ValueError: on a malformed pair, an unknown name or a value of the wrong type.
    """
    base = asdict(AugmentConfig())
    values: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or name not in base:
            raise ValueError(
                f"--augment {pair!r}: expected NAME=VALUE with NAME one of {sorted(base)}"
            )
        default = base[name]
        try:
            if isinstance(default, tuple):
                values[name] = tuple(type(default[0])(v) for v in text.split(","))
            else:
                values[name] = type(default)(text)
        except ValueError:
            raise ValueError(
                f"--augment {pair!r}: {text!r} is not a {type(default).__name__} like {default!r}"
            ) from None
    return AugmentConfig(**{**base, **values})  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit status."""
    args = _parser().parse_args(argv)
    if args.epochs < 1 or args.size < 32 or args.batch_size < 2:
        print("error: need --epochs >= 1, --size >= 32, --batch-size >= 2", file=sys.stderr)
        return 2
    if len(args.widths) != len(TrainConfig().blocks) or min(args.widths) < 1:
        print(
            f"error: --widths needs {len(TrainConfig().blocks)} positive numbers", file=sys.stderr
        )
        return 2
    try:
        augment_cfg = _augment_overrides(args.augment)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        data = load_grocery(args.data)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    logging.basicConfig(level=logging.WARNING)
    if args.like is not None:
        try:
            recipe = ProductClassifier(args.like).recipe
            cfg = config_from_dict(recipe["config"])
        except (FileNotFoundError, ValueError, KeyError) as exc:
            print(f"error: cannot reproduce {args.like}: {exc}", file=sys.stderr)
            return 2
        if recipe.get("data_hash") != data_hash(data.root):
            print(
                f"warning: {data.root} differs from the data {args.like} was trained on "
                "(data hash); the result will differ",
                file=sys.stderr,
            )
    else:
        cfg = TrainConfig(
            epochs=args.epochs,
            seed=args.seed,
            input_size=args.size,
            batch_size=args.batch_size,
            lr=args.lr,
            include_val=args.include_val,
            threads=args.threads,
            widths=args.widths,
            augment=augment_cfg,
        )
    command = "./gostore train products " + shlex.join(argv if argv is not None else sys.argv[1:])
    bar = tqdm(total=steps_total(data, cfg), unit="step", desc="train products")

    def on_step(step: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def on_epoch(report: EpochReport) -> None:
        bar.write(f"epoch {report.epoch}: loss {report.loss:.3f} val top-1 {report.val_top1:.3f}")

    try:
        train_and_export(
            data,
            cfg,
            args.out,
            command=command,
            on_step=on_step,
            on_epoch=on_epoch,
            device=args.device,
            workers=max(0, args.workers),
        )
    finally:
        bar.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

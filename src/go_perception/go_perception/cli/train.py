"""``./gostore train pose|products ...``: train a network with torch and export it to ONNX.

Dispatches to ``go_perception.cli.train_pose`` (COCO-17 pose on simulator renders) or
``go_perception.cli.train_products`` (product SKUs); each has its own ``--help``. Those modules
import torch, so they load only when asked for.
"""

from __future__ import annotations

import importlib
import sys

TARGETS: dict[str, tuple[str, str]] = {
    "pose": ("go_perception.cli.train_pose", "top-down pose network on simulator renders"),
    "products": ("go_perception.cli.train_products", "product recognition network"),
}


def _usage() -> str:
    lines = ["usage: ./gostore train {pose,products} [options]  (TARGET --help for options)", ""]
    lines += [f"  {name:<9} {summary}" for name, (_, summary) in TARGETS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    target = TARGETS.get(args[0])
    if target is None:
        print(f"gostore train: unknown target '{args[0]}'\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(target[0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())

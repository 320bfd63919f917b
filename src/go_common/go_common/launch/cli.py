"""``./gostore launch FILE [arg:=value ...] [--show]``: run a ROS 2 YAML launch file."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from go_common.launch.plan import LaunchError, load_plan
from go_common.launch.runner import LaunchRunner

_REPO_ROOT = Path(__file__).resolve().parents[4]


def _resolve_file(name: str) -> Path:
    """A path as given, else ``launch/<name>`` of the repository (``demo.yaml`` works anywhere)."""
    path = Path(name)
    if path.is_file():
        return path
    root = Path(os.environ.get("GOSTORE_ROOT", _REPO_ROOT))
    for candidate in (root / "launch" / name, root / "launch" / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gostore launch",
        description=(
            "Run a ROS 2 YAML launch file (the official format, also valid for `ros2 launch`): "
            "nodes, args, parameter files, remaps, namespaces, includes and groups. Ctrl-C stops "
            "every node (SIGINT, then SIGTERM, then SIGKILL). The exit status is non-zero when a "
            "required node (on_exit: shutdown) dies."
        ),
        epilog="example: ./gostore launch launch/test_talker_listener.yaml rate_hz:=20 --show",
    )
    parser.add_argument("file", help="launch file (a path, or a name in the repository's launch/)")
    parser.add_argument(
        "arguments", nargs="*", metavar="name:=value", help="launch arguments declared by the file"
    )
    parser.add_argument("--show", action="store_true", help="print the resolved plan and exit")
    parser.add_argument("--log-dir", type=Path, help="folder for node logs (default ~/.ros/log)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [launch]: %(message)s")

    cli_args: dict[str, str] = {}
    for item in args.arguments:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            print(f"gostore launch: '{item}' is not name:=value", file=sys.stderr)
            return 2
        cli_args[name] = value
    path = _resolve_file(args.file)
    try:
        plan = load_plan(path, cli_args)
    except LaunchError as error:
        print(f"gostore launch: {error}", file=sys.stderr)
        return 2
    if args.show:
        print(plan.describe())
        return 0
    for warning in plan.warnings:
        logging.getLogger("go.launch").warning(warning)
    if not plan.nodes:
        print(f"gostore launch: {path} starts no node", file=sys.stderr)
        return 0
    return LaunchRunner(plan, log_dir=args.log_dir).run()


if __name__ == "__main__":
    sys.exit(main())

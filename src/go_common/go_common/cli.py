"""The ``./gostore`` subcommand dispatcher.

Imports only the standard library at module level, so ``./gostore --help`` works before set-up.
Each subcommand lives in the package that owns it and exposes ``main(argv) -> int``; this module
only names them (``SUBCOMMANDS``) and imports the one that is asked for.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Subcommand:
    """A ``./gostore`` subcommand implemented by ``module:function(argv) -> int``."""

    module: str
    function: str
    summary: str


SUBCOMMANDS: dict[str, Subcommand] = {
    "setup": Subcommand("", "", "install and build everything (idempotent; --force redoes it)"),
    "env": Subcommand("", "", "print the line that loads the runtime environment"),
    "test": Subcommand("go_common.cli", "test_main", "run every test and the linters"),
    "demo": Subcommand(
        "go_eval.cli.demo", "main", "main job: the simulated store end to end, printing receipts"
    ),
    "launch": Subcommand(
        "go_common.launch.cli", "main", "run a YAML launch file: launch FILE [arg:=value ...]"
    ),
    "run": Subcommand("go_common.cli", "run_main", "run a node: run PACKAGE EXECUTABLE [args]"),
    "sim": Subcommand("go_sensors.cli.sim", "main", "run the store simulator (--list for stores)"),
    "perceive": Subcommand(
        "go_perception.cli.perceive", "main", "people and 2D skeletons on images or a video"
    ),
    "products": Subcommand("go_perception.cli.products", "main", "rank product SKUs for images"),
    "train": Subcommand("go_perception.cli.train", "main", "train a network: train pose|products"),
    "pose-eval": Subcommand(
        "go_perception.cli.pose_eval", "main", "PCK of pose networks (wrists, reaching) on renders"
    ),
    "shelf-events": Subcommand(
        "go_fusion.cli.shelf_events", "main", "detect shelf events in a CSV of load-cell readings"
    ),
    "record": Subcommand("go_common.bags.cli", "record_main", "record topics to a rosbag2 (MCAP)"),
    "replay": Subcommand("go_common.bags.cli", "replay_main", "replay a rosbag2 with its timing"),
    "pose-dataset": Subcommand(
        "go_sensors.cli.pose_dataset", "main", "render people in a store with COCO-17 labels"
    ),
    "make-bag": Subcommand(
        "go_eval.cli.make_bag", "main", "write a simulated session as a sample bag (MCAP)"
    ),
    "eval": Subcommand(
        "go_eval.cli.evaluate", "main", "score a scenario suite or a bag: report.json + report.md"
    ),
    "bench": Subcommand(
        "go_eval.cli.bench", "main", "speed and memory benchmarks against committed baselines"
    ),
}


def _usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [
        "usage: ./gostore SUBCOMMAND [options]   (SUBCOMMAND --help for its options)",
        "",
        "go: an open, ROS 2-native checkout-free store.",
        "",
        "subcommands:",
    ]
    lines += [f"  {name:<{width}}  {cmd.summary}" for name, cmd in SUBCOMMANDS.items()]
    return "\n".join(lines)


def test_main(argv: list[str]) -> int:
    """Run ruff and the whole pytest suite (extra arguments go to pytest)."""
    if argv and argv[0] in ("-h", "--help"):
        print(
            "usage: ./gostore test [PYTEST_ARGS ...]\n\n"
            "Runs `ruff check` and `ruff format --check` on the repository, then pytest on every\n"
            "package's test/ folder and tests/. Extra arguments go to pytest (e.g. -k sync, -x)."
        )
        return 0
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    for ruff_args in (["check", "."], ["format", "--check", "."]):
        rc = subprocess.call([sys.executable, "-m", "ruff", *ruff_args], cwd=ROOT, env=env)
        if rc != 0:
            print(f"ruff {' '.join(ruff_args)} failed", file=sys.stderr)
            return rc
    paths = [str(p) for p in sorted(ROOT.glob("src/*/test")) if p.is_dir()]
    if (ROOT / "tests").is_dir():
        paths.append(str(ROOT / "tests"))
    return subprocess.call([sys.executable, "-m", "pytest", *paths, *argv], cwd=ROOT, env=env)


def find_executable(package: str, executable: str) -> Path | None:
    """Locate ``lib/<package>/<executable>`` on AMENT_PREFIX_PATH, as ``ros2 run`` does."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if not prefix:
            continue
        candidate = Path(prefix) / "lib" / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_main(argv: list[str]) -> int:
    """``./gostore run PACKAGE EXECUTABLE [args]``: the equivalent of ``ros2 run``."""
    if not argv or argv[0] in ("-h", "--help") or len(argv) < 2:
        print(
            "usage: ./gostore run PACKAGE EXECUTABLE [args ...]\n\n"
            "Runs lib/PACKAGE/EXECUTABLE from the workspace, like `ros2 run`; node arguments\n"
            "such as --ros-args -p name:=value -r from:=to pass through."
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    package, executable, rest = argv[0], argv[1], argv[2:]
    path = find_executable(package, executable)
    if path is None:
        print(f"gostore run: no executable '{executable}' in package '{package}'", file=sys.stderr)
        return 127
    os.execv(str(path), [str(path), *rest])
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    command = SUBCOMMANDS.get(name)
    if command is None:
        print(f"gostore: unknown subcommand '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    if not command.module:
        print(f"gostore: '{name}' is handled by the ./gostore script itself", file=sys.stderr)
        return 2
    try:
        if command.module == "go_common.cli":
            module = sys.modules[__name__]
        else:
            module = importlib.import_module(command.module)
    except ModuleNotFoundError as error:
        if error.name and command.module.startswith(error.name):
            print(f"gostore: '{name}' is not available ({error.name} missing)", file=sys.stderr)
            return 2
        raise
    return int(getattr(module, command.function)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

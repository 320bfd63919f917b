"""``./gostore pose-eval``: PCK@0.1 of pose networks on ``./gostore pose-dataset`` renders.

Prints, per dataset and network, the PCK of all labelled keypoints, of the wrists and of the
wrists reaching into a shelf bin (visible and occluded apart), overall and per camera; ``--json``
writes the same figures. The networks run with flip test, as the ``sim`` backend does; MoveNet
files run as they are.

Usage::

    ./gostore pose-dataset --store small --out out/pose_crossed --frames 300 --seed 100 \\
        --scenario crossed_arms --sim-every 0.2
    ./gostore pose-eval --model src/go_perception/models/pose_sim.onnx --dataset out/pose_crossed
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from go_common.core.store import StoreConfigError, load_store
from go_perception.core.onnx_io import open_session
from go_perception.core.pose import TopDownPose
from go_perception.core.pose_eval import REACH_RADIUS_M, pose_report
from go_perception.core.pose_training import PoseTrainConfig, load_people


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gostore pose-eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", nargs="+", type=Path, required=True, help="pose ONNX file(s)")
    p.add_argument("--dataset", nargs="+", type=Path, required=True, help="pose-dataset folder(s)")
    p.add_argument(
        "--store", help="store of the renders, for the bins (default: the dataset's own)"
    )
    p.add_argument(
        "--radius", type=float, default=REACH_RADIUS_M, help="reaching: wrist to bin front [m]"
    )
    p.add_argument("--json", type=Path, help="also write the figures here")
    return p


def _line(name: str, group: dict) -> str:
    def f(key: str) -> str:
        g = group[key]
        return f"{g['pck']:.3f} ({int(g['keypoints'])})"

    return (
        f"  {name:<12} all {f('all')}  wrists {f('wrists')}  reaching {f('reaching')}  "
        f"visible {f('reaching_visible')}  occluded {f('reaching_occluded')}"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.radius > 0:
        print("gostore pose-eval: --radius must be > 0", file=sys.stderr)
        return 2
    config = PoseTrainConfig()
    figures: dict[str, dict[str, dict]] = {}
    try:
        poses = {
            m: TopDownPose(open_session(m, 1), crop_padding=config.crop_padding) for m in args.model
        }
        for folder in args.dataset:
            info = json.loads((folder / "annotations.json").read_text()).get("info", {})
            store = load_store(args.store or info.get("store", ""))
            fronts = np.array([b.front_center for b in store.bins.values()], float)
            samples = load_people(folder, config)
            for model, pose in poses.items():
                pose.flip_test = pose.kind == "heatmaps"
                report = pose_report(pose, samples, fronts, radius=args.radius)
                figures.setdefault(str(folder), {})[str(model)] = report
                print(f"{folder} | {model.name}: {report['people']} people")
                print(_line("overall", report["overall"]))
                for camera, group in report["by_camera"].items():
                    print(_line(camera or "(no camera)", group))
    except (FileNotFoundError, ValueError, StoreConfigError, OSError) as error:
        print(f"gostore pose-eval: {error}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

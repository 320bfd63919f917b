"""``./gostore sim``: run the store simulator (the sim node, in this process) or list what it has.

./gostore sim --store small --scenario single_pick [--rate 1] [--seed 0] [--duration S]
              [--ground-truth out/truth.jsonl] [--no-render]
./gostore sim --list [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from go_common.core.store import StoreConfigError, list_stores, load_store
from go_sensors.core.scenario import ScenarioError, list_scenarios, load_scenario


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gostore sim",
        description="Run the store simulator on the ROS graph (publishes /clock, cameras, load "
        "cells, gates, store layout and ground truth), or list stores and scenarios.",
    )
    parser.add_argument("--list", action="store_true", help="list stores and scenarios and exit")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    parser.add_argument("--store", help="store name or YAML path (default: the scenario's)")
    parser.add_argument("--scenario", default="single_pick", help="scenario name or YAML path")
    parser.add_argument("--rate", type=float, default=1.0, help="real-time factor (0: max speed)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--duration", type=float, help="simulated seconds (default: scenario's)")
    parser.add_argument("--step-hz", type=float, default=15.0, help="simulation step rate [Hz]")
    parser.add_argument("--ground-truth", metavar="FILE", help="write ground truth (JSON lines)")
    parser.add_argument("--no-render", action="store_true", help="publish no camera images")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (also when not a terminal)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``./gostore sim``; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.list:
        listing = {"stores": list_stores(), "scenarios": list_scenarios()}
        if args.json:
            print(json.dumps(listing))
        else:
            print("stores:    " + " ".join(listing["stores"]))
            print("scenarios: " + " ".join(listing["scenarios"]))
        return 0
    if args.rate < 0 or not math.isfinite(args.rate):
        print(f"gostore sim: --rate must be >= 0, got {args.rate}", file=sys.stderr)
        return 2
    if args.duration is not None and not args.duration > 0:
        print(f"gostore sim: --duration must be > 0, got {args.duration}", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
        store = args.store or scenario.store
        load_store(store)
    except (ScenarioError, StoreConfigError) as error:
        print(f"gostore sim: {error}", file=sys.stderr)
        return 2
    return _run(args, store)


def _run(args: argparse.Namespace, store: str) -> int:
    # ROS is imported here so that --list and --help work without a ROS environment.
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from go_sensors.nodes.sim_node import SimNode

    overrides = [
        Parameter("store", value=store),
        Parameter("scenario", value=args.scenario),
        Parameter("seed", value=int(args.seed)),
        Parameter("rate", value=float(args.rate)),
        Parameter("duration", value=float(args.duration or 0.0)),
        Parameter("step_hz", value=float(args.step_hz)),
        Parameter("render_images", value=not args.no_render),
        Parameter("ground_truth_file", value=args.ground_truth or ""),
    ]
    context = rclpy.Context()
    rclpy.init(context=context)
    node = None
    try:
        try:
            node = SimNode(context=context, parameter_overrides=overrides)
        except (ScenarioError, StoreConfigError, ValueError) as error:
            print(f"gostore sim: {error}", file=sys.stderr)
            return 2
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        bar = None
        if not args.no_progress and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=node.steps_total, unit="step", desc="sim")
        shown = 0
        try:
            while not node.done.done():
                executor.spin_once(timeout_sec=0.1)
                if bar is not None and node.step_index > shown:
                    bar.update(node.step_index - shown)
                    shown = node.step_index
        except KeyboardInterrupt:
            pass
        finally:
            if bar is not None:
                bar.close()
        if args.ground_truth:
            node.close()
            print(f"ground truth: {args.ground_truth}", file=sys.stderr)
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


if __name__ == "__main__":
    sys.exit(main())

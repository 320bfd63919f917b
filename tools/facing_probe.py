"""Measure the shelf-facing watcher (go_perception.core.facings) on a simulated run.

Usage (after `source tools/env.sh`):
    python tools/facing_probe.py SCENARIO [--seed N] [--backend default|sim] [--until S]

Renders every camera at 10 Hz, runs the backend's person and pose networks and a FacingWatcher
per camera, and prints each lane change it reports next to the simulator's picks and returns at
the watched bins. Ground truth is read here only to score the reports: a "moved" report is right
when a pick or return of its lane's product at its bin lies between its ``since`` and ``t``
("alone" when no other event at that bin does: it can tell two picks from one bin apart); an
"unmoved" report is right when none does. Fusion reads these reports through
``go_fusion.core.facing_evidence`` (docs/benchmarks/perception.md, "Thirteenth session").
"""

from __future__ import annotations

import argparse

from go_common.core.store import load_store
from go_perception.core.backends import BackendConfig, make_estimator
from go_perception.core.facings import FacingWatcher
from go_sensors.core.render import Renderer
from go_sensors.core.simulator import Simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--store", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="default", choices=("default", "sim"))
    parser.add_argument("--until", type=float, default=float("inf"), help="stop at [s]")
    parser.add_argument("--verbose", action="store_true", help="print unmoved reports too")
    args = parser.parse_args()
    store = load_store(args.store)
    sim = Simulator(store, args.scenario, args.seed)
    renderer = Renderer(store)
    estimator = make_estimator(BackendConfig(backend=args.backend))
    watchers = {c: FacingWatcher(store, c) for c in sorted(store.cameras)}
    watched = {b for w in watchers.values() for b in w.bin_ids}
    truth, reports = [], []
    for step in sim.run(step_s=0.1):
        for ev in step.events:
            if ev.kind in ("pick", "return") and ev.bin_id in watched:
                truth.append((ev.t, ev.bin_id, ev.sku))
                print(f"truth  {ev.t:6.2f} {ev.kind} {ev.bin_id} {ev.sku}")
        for camera in sorted(store.cameras):
            if camera in step.cameras_down:
                continue
            image = renderer.render(camera, step.world)
            people = [(p.bbox, p.keypoints) for p in estimator(image)]
            for ch in watchers[camera].update(step.t, image, people):
                reports.append(ch)
                if ch.moved or args.verbose:
                    print(
                        f"report {ch.camera_id:10s} {ch.bin_id} {ch.sku:28s} "
                        f"since {ch.since:6.1f} t {ch.t:6.1f} changed {ch.changed:.3f}"
                    )
        if step.t >= args.until:
            break

    def inside(r, bin_id: str) -> list[str]:
        return [sku for t, b, sku in truth if b == bin_id and r.since <= t <= r.t]

    moved = [r for r in reports if r.moved]
    right = [r for r in moved if r.sku in inside(r, r.bin_id)]
    alone = [r for r in right if len(inside(r, r.bin_id)) == 1]
    still = [r for r in reports if not r.moved]
    still_right = [r for r in still if r.sku not in inside(r, r.bin_id)]
    print(
        f"{args.scenario} seed {args.seed} ({args.backend}): {len(truth)} events at watched "
        f"bins; moved reports {len(moved)}, right {len(right)} (alone {len(alone)}); "
        f"unmoved reports {len(still)}, right {len(still_right)}"
    )


if __name__ == "__main__":
    main()

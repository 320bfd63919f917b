"""Simulator figures for the benchmark report: speed, load-cell noise, touches and reaches.

``python -m go_sensors.core.sim_bench [--quick]`` prints a JSON object; ``measure(quick)`` returns
the same dict for go_eval's benchmark runner. Rendering is not included (see the renderer's own
benchmark); the speed figures are planning plus stepping with people, load cells and truth.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from go_common.core.store import load_store
from go_sensors.core.loadcells import sample_noise_sd
from go_sensors.core.scenario import scenario_from_dict
from go_sensors.core.simulator import Simulator, step_records


def _noise(store_name: str, seeds: tuple[int, ...], seconds: float) -> dict[str, float]:
    store = load_store(store_name)
    quiet = scenario_from_dict(
        {"duration": seconds, "shoppers": [{"id": "late", "enter": 1e6}]}, name="quiet"
    )
    sds = []
    for seed in seeds:
        rows: dict[str, list[np.ndarray]] = {}
        for st in Simulator(store, quiet, seed).run(seconds, 0.5):
            for b in st.boards:
                rows.setdefault(b.board_id, []).append(b.grams)
        sds += [sample_noise_sd(np.concatenate(v)) for v in rows.values()]
    sd = np.concatenate(sds)
    return {
        "channels": int(sd.size),
        "noise_median_g": round(float(np.median(sd)), 3),
        "noise_p90_g": round(float(np.percentile(sd, 90)), 3),
        "noise_max_g": round(float(sd.max()), 3),
    }


def _speed(store_name: str, scenario: str, seconds: float, step_hz: float) -> dict[str, Any]:
    store = load_store(store_name)
    t0 = time.perf_counter()
    sim = Simulator(store, scenario, seed=0)
    plan_s = time.perf_counter() - t0
    steps = 0
    people = 0
    t0 = time.perf_counter()
    for st in sim.run(seconds, 1.0 / step_hz):
        step_records(st)
        steps += 1
        people = max(people, len(st.world.people))
    run_s = time.perf_counter() - t0
    touches = [t.peak_g for t in sim.plan.touches]
    reaches = [
        p.t_out1 - p.t_out0 for tl in sim.plan.timelines for p in tl.phases if p.kind == "reach"
    ]
    return {
        "store": store_name,
        "scenario": scenario,
        "bins": len(store.bins),
        "max_people": people,
        "plan_s": round(plan_s, 2),
        "steps_per_s": round(steps / run_s, 1),
        "real_time_factor": round(steps / run_s / step_hz, 1),
        "touch_peak_median_g": round(float(np.median(touches)), 1) if touches else None,
        "touch_peak_max_g": round(float(np.max(touches)), 1) if touches else None,
        "reach_s_median": round(float(np.median(reaches)), 2) if reaches else None,
    }


def measure(quick: bool = False) -> dict[str, Any]:
    """All figures: load-cell noise (convenience store) and stepping speed (both stores)."""
    seeds = (0,) if quick else (0, 1, 2)
    seconds = 30.0 if quick else 90.0
    return {
        "load_cells": _noise("convenience", seeds, 10.0 if quick else 20.0),
        "speed": [
            _speed("small", "random_busy", seconds, 15.0),
            _speed("convenience", "random_busy", seconds, 15.0),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer seeds, shorter runs")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.quick), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Multi-view tracking: one update (association, triangulation, tracking) with 16 cameras.

CPU time of the updating thread: on a shared build machine wall time mostly measures waiting
for a core (docs/benchmarks/tracking.md has wall times from a quiet run).
"""

from __future__ import annotations

from go_eval.core.baseline import Figure
from go_fusion.bench.tracking_bench import run_scene


def run(quick: bool) -> list[Figure]:
    figures = []
    for shoppers in (1, 10, 50, 100):
        row = run_scene(shoppers, 16, steps=40 if quick else 150, warmup=10, rate_hz=15.0, seed=7)
        figures.append(
            Figure(
                f"tracking.{shoppers}shoppers_16cams.cpu_p99_ms",
                round(row.cpu_p99_ms, 2),
                "ms",
                False,
                "CPU time per update",
                1.0,
            )
        )
    return figures

"""Shelf events: CPU cost per load-cell sample for 400 bins at 60 Hz."""

from __future__ import annotations

import numpy as np

from go_eval.core.baseline import Figure
from go_fusion.bench.shelf_bench import measure_cost


def run(quick: bool) -> list[Figure]:
    cost = measure_cost(np.random.default_rng(0), 400, 6.0 if quick else 20.0)
    return [
        Figure(
            f"shelf.{key}",
            round(value, 3),
            "us" if key.endswith("sample") else "core",
            False,
            "400 bins at 60 Hz",
            0.5 if key.endswith("sample") else 0.05,
        )
        for key, value in cost.items()
    ]

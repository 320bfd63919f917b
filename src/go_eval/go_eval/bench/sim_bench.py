"""Simulator: load-cell noise statistics and stepping speed (go_sensors.core.sim_bench)."""

from __future__ import annotations

from go_eval.core.baseline import Figure
from go_sensors.core.sim_bench import measure


def run(quick: bool) -> list[Figure]:
    data = measure(quick)
    cells = data["load_cells"]
    figures = []
    for key, value in cells.items():
        if isinstance(value, int | float) and key.endswith("_g"):
            # Noise figures are compared with the real store's; neither direction is "better",
            # so they are reported with a noise floor that keeps them out of regressions.
            figures.append(Figure(f"sim.load_cells.{key}", float(value), "g", False, "", 1e9))
    for row in data["speed"]:
        figures.append(
            Figure(
                f"sim.{row['store']}.real_time_factor_no_images",
                float(row["real_time_factor"]),
                "x",
                True,
                f"{row['scenario']}, 15 Hz steps",
            )
        )
    return figures

"""Renderer: CPU ms per 640x480 camera frame and the 4-camera frame rate it allows."""

from __future__ import annotations

import cv2

from go_eval.core.baseline import Figure
from go_sensors.core.render.bench import benchmark


def run(quick: bool) -> list[Figure]:
    cv2.setNumThreads(1)
    figures = []
    for store in ("small", "convenience"):
        for people in (1, 5):
            result = benchmark(store, people, frames=10 if quick else 40)
            name = f"render.{store}.{people}p"
            figures.append(Figure(f"{name}.cpu_ms", round(result.cpu_ms, 2), "ms", False))
            fps = 1000.0 / max(result.cpu_ms, 1e-6)
            figures.append(
                Figure(
                    f"{name}.fps_per_camera_4cams",
                    round(fps / 4.0, 1),
                    "fps",
                    True,
                    "one core rendering 4 cameras (CPU time)",
                )
            )
    return figures

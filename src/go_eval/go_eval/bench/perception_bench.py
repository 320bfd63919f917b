"""Perception: person recall/precision on labelled vtest.avi frames and ms per 640x480 frame."""

from __future__ import annotations

import cv2

from go_eval.core.baseline import Figure
from go_perception.benchmark import (
    MEDIA,
    SPEED_FRAME,
    frame_ms,
    read_video_frames,
    vtest_counts,
)
from go_perception.core.backends import BackendConfig, make_estimator


def run(quick: bool) -> list[Figure]:
    counts = vtest_counts(make_estimator(BackendConfig(threads=2)))
    figures = [
        Figure("perception.vtest.recall", round(counts.recall, 3), "", True),
        Figure("perception.vtest.precision", round(counts.precision, 3), "", True),
    ]
    frame = read_video_frames(MEDIA / "vtest.avi", {SPEED_FRAME})[SPEED_FRAME]
    frame = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA)
    repeats = 5 if quick else 20
    for people in (1, 5):
        _, _, cpu_ms = frame_ms(BackendConfig(threads=1), frame, people, repeats)
        figures.append(
            Figure(
                f"perception.{people}p.one_core_cpu_ms",
                round(cpu_ms, 1),
                "ms",
                False,
                "detector + pose, 1 onnxruntime thread, CPU time per frame",
                2.0,
            )
        )
        figures.append(
            Figure(
                f"perception.{people}p.one_core_fps",
                round(1000.0 / cpu_ms, 1),
                "fps",
                True,
                "frames per second one core sustains",
                1.0,
            )
        )
    return figures

"""Where a pose network is right: PCK@alpha of all keypoints, of the wrists, and of the wrists
that reach into a shelf bin, overall and per camera (``./gostore pose-eval``).

Reaching wrists are what attribution reads: a wrist whose 3D position (the dataset's
``keypoints_store``) lies within ``radius`` of a bin's open face. Most of them are occluded in
ceiling views (inside the shelf, behind the shopper's own or a neighbour's body), which the
overall PCK of a network does not show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from go_perception.core.keypoints import LEFT_WRIST, RIGHT_WRIST
from go_perception.core.pose import TopDownPose
from go_perception.core.pose_training import PersonSample

WRISTS = (LEFT_WRIST, RIGHT_WRIST)
REACH_RADIUS_M = 0.2


@dataclass
class Tally:
    """Correct keypoints out of counted ones."""

    counted: int = 0
    correct: int = 0

    def add(self, correct: Iterable[bool]) -> None:
        for ok in correct:
            self.counted += 1
            self.correct += bool(ok)

    def as_dict(self) -> dict[str, float]:
        value = self.correct / self.counted if self.counted else float("nan")
        return {"pck": value, "keypoints": float(self.counted)}


@dataclass
class _Group:
    all: Tally = field(default_factory=Tally)
    wrists: Tally = field(default_factory=Tally)
    reaching: Tally = field(default_factory=Tally)
    reaching_visible: Tally = field(default_factory=Tally)
    reaching_occluded: Tally = field(default_factory=Tally)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {name: getattr(self, name).as_dict() for name in self.__dataclass_fields__}


def reaching_wrists(
    sample: PersonSample, bin_fronts: np.ndarray, radius: float = REACH_RADIUS_M
) -> list[int]:
    """The labelled wrists of ``sample`` within ``radius`` [m] of a bin front (K, 3) [m]."""
    if sample.joints_store is None or len(bin_fronts) == 0:
        return []
    out = []
    for w in WRISTS:
        if sample.keypoints[w, 2] <= 0:
            continue
        if np.linalg.norm(bin_fronts - sample.joints_store[w], axis=-1).min() <= radius:
            out.append(w)
    return out


def pose_report(
    pose: TopDownPose,
    samples: list[PersonSample],
    bin_fronts: np.ndarray,
    alpha: float = 0.1,
    radius: float = REACH_RADIUS_M,
) -> dict:
    """PCK@alpha of ``pose`` on labelled people (from their labelled boxes).

    Returns ``{"people", "overall": GROUP, "by_camera": {camera: GROUP}}`` where a GROUP maps
    all / wrists / reaching / reaching_visible / reaching_occluded to ``{"pck", "keypoints"}``.
    Reference length: the longer side of the person's box; every labelled keypoint counts.
    """
    overall = _Group()
    by_camera: dict[str, _Group] = {}
    for sample in samples:
        predicted = pose(sample.region, sample.bbox)
        scale = max(sample.bbox[2] - sample.bbox[0], sample.bbox[3] - sample.bbox[1])
        labelled = sample.keypoints[:, 2] > 0
        ok = np.linalg.norm(predicted[:, :2] - sample.keypoints[:, :2], axis=-1) <= alpha * scale
        reach = reaching_wrists(sample, bin_fronts, radius)
        for group in (overall, by_camera.setdefault(sample.camera, _Group())):
            group.all.add(ok[labelled])
            group.wrists.add(ok[w] for w in WRISTS if labelled[w])
            group.reaching.add(ok[w] for w in reach)
            group.reaching_visible.add(ok[w] for w in reach if sample.keypoints[w, 2] > 1)
            group.reaching_occluded.add(ok[w] for w in reach if sample.keypoints[w, 2] <= 1)
    return {
        "people": len(samples),
        "overall": overall.as_dict(),
        "by_camera": {camera: g.as_dict() for camera, g in sorted(by_camera.items())},
    }

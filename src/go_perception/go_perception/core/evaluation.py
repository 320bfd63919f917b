"""Scoring people detections against hand labels (recall, precision) for tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from go_perception.core.keypoints import iou


@dataclass(frozen=True)
class MatchCounts:
    """True positives, false positives and misses over one or more images."""

    true_positives: int = 0
    false_positives: int = 0
    misses: int = 0

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.misses + other.misses,
        )

    @property
    def recall(self) -> float:
        """Found labelled people / labelled people (1 when there are none)."""
        labelled = self.true_positives + self.misses
        return self.true_positives / labelled if labelled else 1.0

    @property
    def precision(self) -> float:
        """Detections of a labelled person / detections (1 when there are none)."""
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0


def match_boxes(
    detected: np.ndarray,
    labelled: np.ndarray,
    difficult: np.ndarray | None = None,
    min_iou: float = 0.3,
) -> MatchCounts:
    """One-to-one matching of detected to labelled boxes by IoU (Hungarian assignment).

    detected: (N, 4), labelled: (M, 4), x1, y1, x2, y2 [px]; difficult: (M,) bool, labels that
    are mostly hidden: missing one is no miss, and a detection matched to one is no false
    positive. min_iou is low (0.3) because hand-drawn boxes are rough.
    """
    detected = np.asarray(detected, dtype=np.float64).reshape(-1, 4)
    labelled = np.asarray(labelled, dtype=np.float64).reshape(-1, 4)
    hard = np.zeros(len(labelled), bool) if difficult is None else np.asarray(difficult, bool)
    overlaps = iou(detected, labelled)
    rows, cols = linear_sum_assignment(-overlaps) if overlaps.size else ([], [])
    matched_det = np.zeros(len(detected), bool)
    matched_lab = np.zeros(len(labelled), bool)
    for r, c in zip(rows, cols, strict=True):
        if overlaps[r, c] >= min_iou:
            matched_det[r] = matched_lab[c] = True
    tp = int((matched_lab & ~hard).sum())
    misses = int((~matched_lab & ~hard).sum())
    # A detection matched to a difficult label is neither right nor wrong.
    fp = int((~matched_det).sum())
    return MatchCounts(tp, fp, misses)

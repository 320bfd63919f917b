"""Pose-level non-maximum suppression: one person found twice in one image.

A top-down pose network run on two overlapping person boxes (one person, and a box around her and
her neighbour) often returns the same skeleton twice; box NMS cannot see it, because the boxes
differ. Two detections of one image are one person when, over the keypoints both have (at least
``min_common``), a share of at least ``fraction`` lie within ``scale`` x the larger keypoint-box
diagonal of each other. The less confident (person score x mean keypoint score) is dropped,
greedily from the most confident pair down (a dropped detection suppresses nothing).

Used by go_perception (each camera image, before people are published) and by go_fusion (every
camera of a step at once, for detectors that do not run it themselves). Pure numpy.
"""

from __future__ import annotations

import functools

import numpy as np


def duplicate_poses(
    group: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    person_scores: np.ndarray,
    *,
    fraction: float = 0.7,
    scale: float = 0.1,
    min_common: int = 3,
) -> np.ndarray:
    """(D,) bool: detections that repeat a more confident detection of the same group (image).

    group: (D,) int, the image (camera) of each detection; detections of different groups are
    never duplicates. keypoints: (D, K, 2) [px]. scores: (D, K), 0 = missing (threshold before
    calling). person_scores: (D,) detection confidence. ``fraction`` > 1 marks nothing.
    A non-finite keypoint counts as missing; a non-finite person score loses every tie.
    """
    group = np.asarray(group)
    n = len(group)
    out = np.zeros(n, dtype=bool)
    if n < 2 or fraction > 1.0:
        return out
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    valid = (scores > 0) & np.isfinite(keypoints).all(axis=2)
    keypoints = np.where(valid[..., None], keypoints, 0.0)
    # (D, 2) keypoint boxes; min/max over +-inf fill is half the cost of nanmin/nanmax
    has = valid[..., None]
    lo = np.where(has, keypoints, np.inf).min(axis=1)
    hi = np.where(has, keypoints, -np.inf).max(axis=1)
    none = ~valid.any(axis=1)  # no keypoints: a zero box that matches nothing
    lo[none] = 0.0
    hi[none] = 0.0
    diag = np.hypot(*(hi - lo).T)
    centre = 0.5 * (lo + hi)
    # Pairs of one image, then candidates on box centres and sizes only: duplicates' boxes
    # overlap (they may differ by the joints one of them misses).
    ii, jj = same_group_pairs(group)
    size = np.maximum(diag[ii], diag[jj])
    near = np.linalg.norm(centre[ii] - centre[jj], axis=1) <= 0.5 * size
    ii, jj, size = ii[near], jj[near], size[near]
    if ii.size == 0:
        return out
    common = valid[ii] & valid[jj]  # (P, K)
    dist = np.linalg.norm(keypoints[ii] - keypoints[jj], axis=2)  # (P, K)
    close = common & (dist <= (scale * size)[:, None])
    n_common = common.sum(axis=1)
    share = close.sum(axis=1) / np.maximum(n_common, 1)
    dup = (n_common >= min_common) & (share >= fraction)
    if not dup.any():
        return out
    mean_score = np.where(valid, scores, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    confidence = np.asarray(person_scores, dtype=np.float64) * mean_score
    confidence = np.nan_to_num(confidence, nan=-np.inf, posinf=-np.inf)
    pairs = sorted(
        zip(ii[dup].tolist(), jj[dup].tolist(), strict=True),
        key=lambda p: -max(confidence[p[0]], confidence[p[1]]),
    )
    for a, b in pairs:
        if out[a] or out[b]:
            continue  # one of them is already gone: the other stays
        keep_a = (confidence[a], -a) >= (confidence[b], -b)
        out[b if keep_a else a] = True
    return out


def same_group_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of detections of one group. Detections usually come in group blocks
    (concatenated camera by camera), so each block gives its own upper triangle; otherwise all
    pairs are compared."""
    n = len(group)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    if len(np.unique(group)) != len(starts):  # not in blocks: the general way
        return np.nonzero(np.triu(group[:, None] == group[None, :], k=1))
    parts_i, parts_j = [], []
    for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        if size >= 2:
            a, b = _triangle(size)
            parts_i.append(a + start)
            parts_j.append(b + start)
    if not parts_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(parts_i), np.concatenate(parts_j)


@functools.lru_cache(maxsize=64)
def _triangle(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(size, k=1)

"""Clothing colour of a person: a small appearance descriptor for telling shoppers apart.

Two shoppers who pass close to each other in a crowd look alike to a tracker that sees only
positions; their clothes usually do not. For each person the colours inside the torso (the
quadrilateral of shoulders and hips) and the thighs (hips to knees) are summarised as a histogram:
hue in ``HUE_BINS`` bins for coloured pixels, brightness in ``VALUE_BINS`` bins for grey, white
and black ones (their hue is noise). Each region is normalised to sum 1, or is all NaN when the
region is not seen well enough (keypoints missing, too few pixels), so "unknown" is never
mistaken for "black". Only clothes are looked at: no face, nothing that identifies a person
beyond the store visit.

``appearance_distance`` compares two descriptors (Hellinger distance in [0, 1], averaged over
the regions both have); fusion uses it as a soft cue in track association.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from go_common.core.appearance import hellinger

HUE_BINS = 12
VALUE_BINS = 4
REGION_BINS = HUE_BINS + VALUE_BINS
REGIONS = ("torso", "thighs")
DESCRIPTOR_SIZE = REGION_BINS * len(REGIONS)

_SHOULDERS = (5, 6)
_HIPS = (11, 12)
_KNEES = (13, 14)
MIN_KEYPOINT_SCORE = 0.3
MIN_REGION_PIXELS = 24
# OpenCV HSV (H 0-179, S and V 0-255): a pixel is coloured above these.
MIN_SATURATION = 60
MIN_VALUE = 45
# Regions are shrunk towards their centre so the background and arms at the edges stay out.
SHRINK = 0.8


def _polygon(points: np.ndarray) -> np.ndarray:
    centre = points.mean(axis=0)
    return centre + SHRINK * (points - centre)


def _region_histogram(image_bgr: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Histogram of the pixels inside ``polygon`` (4, 2) [px]; NaN when too few are inside."""
    h, w = image_bgr.shape[:2]
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int)
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out = np.full(REGION_BINS, np.nan, dtype=np.float32)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(polygon - (x0, y0)).astype(np.int32), 1)
    hsv = cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)  # only the region: cheap
    pixels = hsv[mask.astype(bool)]
    if len(pixels) < MIN_REGION_PIXELS:
        return out
    hue, sat, val = (pixels[:, k].astype(np.int32) for k in range(3))
    coloured = (sat >= MIN_SATURATION) & (val >= MIN_VALUE)
    index = np.where(coloured, hue * HUE_BINS // 180, HUE_BINS + val * VALUE_BINS // 256)
    hist = np.bincount(index, minlength=REGION_BINS).astype(np.float64)
    return (hist / hist.sum()).astype(np.float32)


def describe(image_bgr: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The (DESCRIPTOR_SIZE,) descriptor of one person in ``image_bgr`` (uint8 BGR).

    keypoints: (17, 3) COCO-17 x [px], y [px], score. Regions whose keypoints score below
    ``MIN_KEYPOINT_SCORE`` are NaN.
    """
    return describe_people(image_bgr, [keypoints])[0]


def describe_people(image_bgr: np.ndarray, people: Sequence[np.ndarray]) -> np.ndarray:
    """(P, DESCRIPTOR_SIZE) descriptors of P people (each (17, 3) keypoints) in one image."""
    out = np.full((len(people), DESCRIPTOR_SIZE), np.nan, dtype=np.float32)
    if not len(people) or image_bgr is None or image_bgr.ndim != 3 or image_bgr.size == 0:
        return out
    for i, kp in enumerate(people):
        kp = np.asarray(kp, dtype=np.float64).reshape(17, 3)
        ok = (kp[:, 2] >= MIN_KEYPOINT_SCORE) & np.all(np.isfinite(kp), axis=1)
        if ok[list(_SHOULDERS)].all() and ok[list(_HIPS)].all():
            torso = kp[[_SHOULDERS[0], _SHOULDERS[1], _HIPS[1], _HIPS[0]], :2]
            out[i, :REGION_BINS] = _region_histogram(image_bgr, _polygon(torso))
        if ok[list(_HIPS)].all() and ok[list(_KNEES)].all():
            thighs = kp[[_HIPS[0], _HIPS[1], _KNEES[1], _KNEES[0]], :2]
            out[i, REGION_BINS:] = _region_histogram(image_bgr, _polygon(thighs))
    return out


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance in [0, 1] averaged over the regions both descriptors have; NaN if none.

    The comparison fusion uses (``go_common.core.appearance.hellinger``). Descriptors of another
    size (another version of this module) compare as unknown (NaN).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != (DESCRIPTOR_SIZE,) or b.shape != (DESCRIPTOR_SIZE,):
        return float("nan")
    return float(hellinger(a[None], b[None], REGION_BINS)[0, 0])

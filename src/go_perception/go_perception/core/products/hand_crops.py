"""Where to look for a held product: square image crops around a person's wrists.

A product in a hand extends beyond the wrist along the forearm, so the crop is centred a little
past the wrist (elbow -> wrist direction) and sized from the forearm's length in the image, which
scales with the person's distance from the camera. Without a usable elbow the person's bounding
box height sets the size instead. Coordinates are pixels of the source image (x right, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEFT_ELBOW, RIGHT_ELBOW = 7, 8
LEFT_WRIST, RIGHT_WRIST = 9, 10
WRISTS = (("left", LEFT_WRIST, LEFT_ELBOW), ("right", RIGHT_WRIST, RIGHT_ELBOW))


@dataclass(frozen=True)
class HandCropConfig:
    """Crop geometry.

    ``side_per_forearm``: crop side / forearm length (elbow-wrist distance in px).
    ``side_per_height``: crop side / person bbox height, used when the elbow is not found.
    ``ahead``: crop centre offset past the wrist along elbow -> wrist, in forearm lengths.
    ``min_side_px``: smaller crops are skipped (too few pixels to recognise anything).
    ``min_keypoint_score``: wrists (and elbows) below this score [0, 1] are not used.
    ``min_inside``: crops whose area inside the image is below this fraction are skipped.
    """

    side_per_forearm: float = 1.4
    side_per_height: float = 0.3
    ahead: float = 0.35
    min_side_px: float = 16.0
    min_keypoint_score: float = 0.3
    min_inside: float = 0.5


@dataclass(frozen=True)
class HandCrop:
    """A crop to classify: person index, which wrist, box [px] (x1, y1, x2, y2), clipped."""

    person: int
    side: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class SkippedCrop:
    """A wrist that gave no crop, and why (for a throttled diagnostic)."""

    person: int
    side: str
    reason: str


def hand_crops(
    person: int,
    keypoints: np.ndarray,
    bbox: np.ndarray,
    image_size: tuple[int, int],
    cfg: HandCropConfig,
) -> tuple[list[HandCrop], list[SkippedCrop]]:
    """Crops around the two wrists of one person.

    Args:
        person: index of the person in its detection array (carried into the result).
        keypoints: (17, 3) COCO-17 keypoints, columns x [px], y [px], score [0, 1].
        bbox: (4,) person box x1, y1, x2, y2 [px].
        image_size: (width, height) of the image [px].
        cfg: crop geometry.

    Returns:
        The crops to classify, and the wrists skipped with a reason (low score, non-finite
        coordinates, too small, mostly outside the image).
    """
    width, height = image_size
    kp = np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
    crops: list[HandCrop] = []
    skipped: list[SkippedCrop] = []
    for side, wrist_i, elbow_i in WRISTS:
        wrist, elbow = kp[wrist_i], kp[elbow_i]
        if not np.all(np.isfinite(wrist)) or wrist[2] < cfg.min_keypoint_score:
            skipped.append(SkippedCrop(person, side, "wrist not found"))
            continue
        centre = wrist[:2].copy()
        forearm = elbow[:2] - wrist[:2]
        length = float(np.hypot(*forearm)) if np.all(np.isfinite(elbow)) else 0.0
        if elbow[2] >= cfg.min_keypoint_score and length > 1.0:
            side_px = cfg.side_per_forearm * length
            centre -= cfg.ahead * forearm
        else:
            box_h = float(bbox[3] - bbox[1]) if np.all(np.isfinite(bbox)) else 0.0
            side_px = cfg.side_per_height * box_h
        if side_px < cfg.min_side_px:
            skipped.append(SkippedCrop(person, side, f"crop {side_px:.0f} px < {cfg.min_side_px}"))
            continue
        half = side_px / 2.0
        x1, y1, x2, y2 = centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half
        cx1, cy1 = max(0.0, x1), max(0.0, y1)
        cx2, cy2 = min(float(width), x2), min(float(height), y2)
        inside = max(0.0, cx2 - cx1) * max(0.0, cy2 - cy1) / (side_px * side_px)
        if inside < cfg.min_inside:
            skipped.append(SkippedCrop(person, side, f"crop {inside:.0%} inside the image"))
            continue
        box = (int(np.floor(cx1)), int(np.floor(cy1)), int(np.ceil(cx2)), int(np.ceil(cy2)))
        crops.append(HandCrop(person, side, box))
    return crops, skipped


def cut(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``box`` (x1, y1, x2, y2, already clipped) of an (H, W, 3) image."""
    x1, y1, x2, y2 = box
    return image[y1:y2, x1:x2]

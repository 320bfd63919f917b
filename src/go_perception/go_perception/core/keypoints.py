"""People and COCO-17 keypoints: the value types every pose backend returns, drawing and PCK.

Coordinates are pixels of the image the model was run on (x right, y down, origin at the top-left
corner of the top-left pixel); scores are in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(COCO_KEYPOINTS)
LEFT_WRIST = 9
RIGHT_WRIST = 10

# Bones drawn between keypoints (COCO indices): face, arms, torso, legs.
SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (5, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)

# Left-right pairs: a horizontal flip swaps them (training augmentation).
FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
)


def _flip_order() -> np.ndarray:
    order = np.arange(NUM_KEYPOINTS)
    for a, b in FLIP_PAIRS:
        order[a], order[b] = b, a
    return order


# Keypoint index order of a mirrored skeleton: FLIP_ORDER[i] is the keypoint that lands on i.
FLIP_ORDER: np.ndarray = _flip_order()


@dataclass(frozen=True)
class Detection:
    """One person box.

    bbox: (4,) float32, x1, y1, x2, y2 [px]. score: [0, 1].
    """

    bbox: np.ndarray
    score: float


@dataclass(frozen=True)
class Person:
    """One person with a 2D skeleton.

    bbox: (4,) float32, x1, y1, x2, y2 [px]. score: detection confidence [0, 1].
    keypoints: (17, 3) float32, rows in COCO-17 order, columns x [px], y [px], score [0, 1]
    (score 0 = not found).
    """

    bbox: np.ndarray
    score: float
    keypoints: np.ndarray

    def to_json(self) -> dict:
        """The perceive JSON of one person: bbox, score and 17 [x, y, score] rows, plain floats."""
        return {
            "bbox": [round(float(v), 2) for v in self.bbox],
            "score": round(float(self.score), 4),
            "keypoints": [
                [round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                for x, y, s in self.keypoints
            ],
        }


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes.

    a: (N, 4), b: (M, 4) x1, y1, x2, y2 [px]. Returns (N, M) in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    boxes: (N, 4) x1, y1, x2, y2 [px]; scores: (N,). Returns the kept indices, best first.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    overlaps = iou(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(order), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= overlaps[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def pck(
    predicted: np.ndarray,
    labelled: np.ndarray,
    visible: np.ndarray,
    scale: np.ndarray,
    alpha: float = 0.1,
) -> float:
    """Percentage of correct keypoints: a keypoint is correct within ``alpha * scale`` pixels.

    predicted, labelled: (P, 17, 2) [px]; visible: (P, 17) bool, which labels count;
    scale: (P,) [px], the reference length per person (here the longer side of the person's box).
    Returns the fraction of counted keypoints that are correct (nan when none count).
    """
    visible = np.asarray(visible, dtype=bool)
    if not visible.any():
        return float("nan")
    dist = np.linalg.norm(np.asarray(predicted) - np.asarray(labelled), axis=-1)
    correct = dist <= alpha * np.asarray(scale, dtype=np.float64)[:, None]
    return float(correct[visible].mean())


def _point(keypoint: np.ndarray) -> tuple[int, int]:
    """Integer pixel (x, y) of a keypoint row for OpenCV drawing."""
    return round(float(keypoint[0])), round(float(keypoint[1]))


def draw_people(image: np.ndarray, people: list[Person], min_score: float = 0.2) -> np.ndarray:
    """Return a copy of a BGR image (H, W, 3) uint8 with boxes and skeletons drawn.

    Keypoints under ``min_score`` are not drawn; wrists get a larger dot (they attribute picks).
    """
    canvas = image.copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for person in people:
        x1, y1, x2, y2 = (round(float(v)) for v in person.bbox)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 200, 0), thickness)
        cv2.putText(
            canvas,
            f"{person.score:.2f}",
            (x1, max(0, y1 - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            (0, 200, 0),
            thickness,
        )
        kp = person.keypoints
        ok = kp[:, 2] >= min_score
        for a, b in SKELETON:
            if ok[a] and ok[b]:
                pa = _point(kp[a])
                pb = _point(kp[b])
                cv2.line(canvas, pa, pb, (0, 0, 255), thickness + 1)
        for i in np.nonzero(ok)[0]:
            radius = 2 * thickness + 2 if i in (LEFT_WRIST, RIGHT_WRIST) else thickness + 1
            colour = (255, 0, 0) if i in (LEFT_WRIST, RIGHT_WRIST) else (0, 255, 255)
            cv2.circle(canvas, _point(kp[i]), radius, colour, -1)
    return canvas

"""State of the simulated world at one instant: the contract between simulator and renderer.

Everything is in the ``store`` frame (REP 103: x, y on the floor, z up; metres). Keypoints follow
the COCO-17 order used everywhere in go (see ``go_msgs/PersonDetection``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
LEFT_WRIST = 9
RIGHT_WRIST = 10

# Limbs drawn as capsules: (keypoint a, keypoint b), COCO indices.
COCO_LIMBS: tuple[tuple[int, int], ...] = (
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 6),
    (11, 12),
    (5, 11),
    (6, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)


@dataclass(frozen=True)
class Appearance:
    """How a simulated person looks. Colours are RGB uint8 triples."""

    shirt_rgb: tuple[int, int, int]
    trousers_rgb: tuple[int, int, int]
    skin_rgb: tuple[int, int, int]
    hair_rgb: tuple[int, int, int]
    height_m: float  # standing height
    girth: float = 1.0  # body width scale around 1.0


@dataclass(frozen=True)
class HeldItem:
    """A product in a hand. ``hand`` is ``"left"`` or ``"right"``."""

    sku: str
    hand: str
    quantity: int = 1


@dataclass(frozen=True)
class PersonState:
    """One person at one instant.

    keypoints: (17, 3) float64, COCO-17 joint positions in the store frame [m].
    """

    person_id: str
    keypoints: np.ndarray
    appearance: Appearance
    held: tuple[HeldItem, ...] = ()


@dataclass(frozen=True)
class WorldState:
    """The simulated world at sensor time ``t`` [s].

    bin_contents: live planogram, bin id -> {sku: units on the shelf}; the renderer draws facings
    from it so that a taken item disappears from the shelf.
    """

    t: float
    people: tuple[PersonState, ...]
    bin_contents: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

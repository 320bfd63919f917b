"""A parametric human skeleton: COCO-17 keypoints in the store frame from a few body parameters.

Used to make random poses for training data (``./gostore pose-dataset``) and to test the
renderer. Proportions follow a 1.75 m adult and scale with height; arms are two-link chains
solved analytically (a wrist target -> elbow), legs swing about the hips for walking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from go_common.core.store import Camera, StoreModel
from go_sensors.core.world import Appearance

_UP = np.array([0.0, 0.0, 1.0])
UPPER_ARM_M = 0.30  # for a 1.75 m person
FOREARM_M = 0.27
THIGH_M = 0.43
SHIN_M = 0.42


@dataclass(frozen=True)
class BodyPose:
    """Body parameters of one standing or walking person.

    x, y: [m] store floor position of the pelvis; heading: [rad] facing direction about z from
    store +x; height_m: standing height; lean: [rad] forward lean of the trunk; head_yaw: [rad]
    head turn relative to the trunk; stride: [rad] leg swing (left leg forward when positive);
    knee_bend: [rad]; left_wrist, right_wrist: (3,) [m] store-frame wrist targets or None for an
    arm hanging down (elbow slightly bent by ``arm_swing`` [rad]).
    """

    x: float
    y: float
    heading: float
    height_m: float = 1.75
    lean: float = 0.0
    head_yaw: float = 0.0
    stride: float = 0.0
    knee_bend: float = 0.0
    arm_swing: float = 0.0
    left_wrist: np.ndarray | None = None
    right_wrist: np.ndarray | None = None


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else v


def two_link(
    shoulder: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Elbow and wrist (3,) for a wrist target, the elbow bending towards ``pole`` (3,)."""
    to = target - shoulder
    d = float(np.clip(np.linalg.norm(to), abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3))
    a = _unit(to)
    x = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
    h = np.sqrt(max(l1 * l1 - x * x, 0.0))
    side = pole - a * float(pole @ a)
    side = _unit(side) if np.linalg.norm(side) > 1e-6 else _unit(np.cross(a, _UP))
    elbow = shoulder + a * x + side * h
    return elbow, shoulder + a * d


def skeleton(pose: BodyPose) -> np.ndarray:
    """(17, 3) [m] COCO-17 keypoints in the store frame for ``pose``."""
    s = pose.height_m / 1.75
    f = np.array([np.cos(pose.heading), np.sin(pose.heading), 0.0])
    left = np.array([-f[1], f[0], 0.0])
    kp = np.zeros((17, 3))
    thigh, shin = THIGH_M * s, SHIN_M * s
    # Legs: swing about the hip in the sagittal plane; the pelvis height follows the legs so
    # that the lower ankle stays just above the floor.
    legs = []
    for side, swing in ((1.0, pose.stride), (-1.0, -pose.stride)):
        knee_dir = -_UP * np.cos(swing) + f * np.sin(swing)
        bend = pose.knee_bend + (0.25 if swing < 0 else 0.0) * abs(swing) * 2
        shin_angle = swing - bend
        ankle_dir = -_UP * np.cos(shin_angle) + f * np.sin(shin_angle)
        knee = thigh * knee_dir
        ankle = knee + shin * ankle_dir
        legs.append((side, knee, ankle))
    lowest = min(a[2] for _, _, a in legs)
    pelvis = np.array([pose.x, pose.y, 0.08 * s - lowest])
    hip_half = 0.095 * s
    for (side, knee, ankle), (hip_i, knee_i, ankle_i) in zip(
        legs, ((11, 13, 15), (12, 14, 16)), strict=True
    ):
        hip = pelvis + side * hip_half * left
        kp[hip_i], kp[knee_i], kp[ankle_i] = hip, hip + knee, hip + ankle
    spine = 0.31 * pose.height_m
    trunk_up = _UP * np.cos(pose.lean) + f * np.sin(pose.lean)
    neck = pelvis + spine * trunk_up
    shoulder_half = 0.19 * s
    kp[5] = neck + shoulder_half * left
    kp[6] = neck - shoulder_half * left
    yaw = pose.head_yaw
    hf = f * np.cos(yaw) + left * np.sin(yaw)
    hl = np.array([-hf[1], hf[0], 0.0])
    head = neck + 0.14 * s * trunk_up + 0.02 * s * hf
    kp[0] = head + 0.095 * s * hf - 0.01 * s * _UP
    kp[1] = head + 0.08 * s * hf + 0.03 * s * _UP + 0.032 * s * hl
    kp[2] = head + 0.08 * s * hf + 0.03 * s * _UP - 0.032 * s * hl
    kp[3] = head + 0.075 * s * hl
    kp[4] = head - 0.075 * s * hl
    l1, l2 = UPPER_ARM_M * s, FOREARM_M * s
    for side, target, (sh, el, wr), swing in (
        (1.0, pose.left_wrist, (5, 7, 9), -pose.arm_swing),
        (-1.0, pose.right_wrist, (6, 8, 10), pose.arm_swing),
    ):
        shoulder = kp[sh]
        out = side * left
        if target is None:
            upper = -_UP * np.cos(swing) + f * np.sin(swing) + 0.12 * out
            elbow = shoulder + l1 * _unit(upper)
            fore = -_UP * np.cos(swing + 0.25) + f * np.sin(swing + 0.25) + 0.05 * out
            wrist = elbow + l2 * _unit(fore)
        else:
            pole = -_UP + 0.6 * out - 0.3 * f
            elbow, wrist = two_link(shoulder, np.asarray(target, float), l1, l2, pole)
        kp[el], kp[wr] = elbow, wrist
    return kp


def random_appearance(rng: np.random.Generator) -> Appearance:
    """A random shopper: clothes of any colour, a skin tone and hair from natural ranges."""
    skin_tones = [
        (255, 224, 196),
        (241, 194, 125),
        (224, 172, 105),
        (198, 134, 66),
        (141, 85, 36),
        (92, 58, 36),
    ]
    hair = [
        (20, 15, 10),
        (60, 40, 25),
        (110, 75, 40),
        (190, 160, 110),
        (150, 150, 150),
        (120, 40, 20),
    ]

    def clothes() -> tuple[int, int, int]:
        if rng.random() < 0.35:  # greys, blacks, whites and denim are common
            g = int(rng.integers(20, 235))
            return (g, g, min(255, g + int(rng.integers(0, 30))))
        return tuple(int(c) for c in rng.integers(0, 256, 3))

    return Appearance(
        shirt_rgb=clothes(),
        trousers_rgb=clothes(),
        skin_rgb=skin_tones[int(rng.integers(len(skin_tones)))],
        hair_rgb=hair[int(rng.integers(len(hair)))],
        height_m=float(rng.uniform(1.5, 1.95)),
        girth=float(rng.uniform(0.85, 1.3)),
    )


def random_pose(
    rng: np.random.Generator,
    x: float,
    y: float,
    height_m: float,
    reach_targets: list[np.ndarray] | None = None,
    kind: str | None = None,
) -> BodyPose:
    """A random everyday pose at (x, y): standing, walking, reaching, crossed arms, holding.

    reach_targets: (3,) [m] points the person may reach for (bin fronts near them). kind: one of
    "stand", "walk", "reach", "crossed", "hold" (default: drawn, 20/30/30/10/10 %).
    """
    heading = float(rng.uniform(-np.pi, np.pi))
    kinds = ["stand", "walk", "reach", "crossed", "hold"]
    if kind is None:
        kind = rng.choice(kinds, p=[0.2, 0.3, 0.3, 0.1, 0.1])
    elif kind not in kinds:
        raise ValueError(f"unknown pose kind {kind!r}")
    lean = float(rng.uniform(-0.05, 0.15))
    stride = float(rng.uniform(-0.45, 0.45)) if kind == "walk" else float(rng.uniform(-0.05, 0.05))
    arm_swing = -0.8 * stride if kind == "walk" else float(rng.uniform(-0.1, 0.2))
    s = height_m / 1.75
    f = np.array([np.cos(heading), np.sin(heading), 0.0])
    left = np.array([-f[1], f[0], 0.0])
    pelvis_h = 0.95 * s
    lw = rw = None
    if kind == "reach" and reach_targets:
        target = reach_targets[int(rng.integers(len(reach_targets)))]
        d = target[:2] - np.array([x, y])
        heading = float(np.arctan2(d[1], d[0]) + rng.normal(0.0, 0.3))
        f = np.array([np.cos(heading), np.sin(heading), 0.0])
        left = np.array([-f[1], f[0], 0.0])
        lean = float(np.clip((1.0 - target[2]) * 0.5, -0.1, 0.6))
        if rng.random() < 0.5:
            rw = target
        else:
            lw = target
        if rng.random() < 0.2:
            other = target + rng.normal(0.0, 0.15, 3)
            lw, rw = (other, rw) if lw is None else (lw, other)
    elif kind == "reach":
        target = np.array([x, y, 0.0]) + f * rng.uniform(0.3, 0.6) + _UP * rng.uniform(0.5, 1.8) * s
        rw = target
    elif kind == "crossed":
        chest = np.array([x, y, pelvis_h + 0.25 * s]) + f * 0.18 * s
        lw = chest - left * 0.12 * s
        rw = chest + left * 0.12 * s
    elif kind == "hold":
        waist = np.array([x, y, pelvis_h + 0.1 * s]) + f * 0.35 * s
        if rng.random() < 0.5:
            lw = waist + left * 0.12 * s
        else:
            rw = waist - left * 0.12 * s
    return BodyPose(
        x=x,
        y=y,
        heading=heading,
        height_m=height_m,
        lean=lean,
        head_yaw=float(rng.uniform(-0.7, 0.7)),
        stride=stride,
        knee_bend=float(rng.uniform(0.0, 0.15)),
        arm_swing=arm_swing,
        left_wrist=lw,
        right_wrist=rw,
    )


def is_free(store: StoreModel, x: float, y: float, clearance: float = 0.35) -> bool:
    """Whether a person can stand at floor point (x, y) [m]: on the floor, clear of gondolas."""
    fx, fy = store.floor_size
    if not (clearance <= x <= fx - clearance and clearance <= y <= fy - clearance):
        return False
    for g in store.gondolas.values():
        lo = np.asarray(g.center) - np.asarray(g.size) / 2 - clearance
        hi = np.asarray(g.center) + np.asarray(g.size) / 2 + clearance
        if lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]:
            return False
    return True


def random_free_point(
    store: StoreModel, rng: np.random.Generator, camera: Camera | None = None, tries: int = 200
) -> tuple[float, float] | None:
    """A random free floor point (x, y) [m], in view of ``camera`` when one is given."""
    fx, fy = store.floor_size
    for _ in range(tries):
        x, y = float(rng.uniform(0, fx)), float(rng.uniform(0, fy))
        if not is_free(store, x, y):
            continue
        if camera is not None:
            probe = np.array([[x, y, 0.0], [x, y, 1.0]])
            if not np.all(camera.in_view(probe)):
                continue
        return (x, y)
    return None


def reach_targets(store: StoreModel, x: float, y: float, radius: float = 1.0) -> list[np.ndarray]:
    """Points just inside the open face of bins within ``radius`` [m] of (x, y)."""
    out = []
    for b in store.bins.values():
        front = np.asarray(b.front_center, float)
        if np.hypot(front[0] - x, front[1] - y) <= radius:
            out.append(front - 0.08 * np.asarray(b.access_normal, float))
    return out

"""Articulated COCO-17 body: walking gait, crouch and lean, and two-link arm and leg IK.

Pure geometry. A pose is computed from a handful of parameters (floor position, heading, gait
phase, crouch, lean, wrist targets); every joint is in the ``store`` frame [m], z up. Segment
lengths follow standard anthropometric ratios of standing height (Winter, Biomechanics and Motor
Control of Human Movement), so skeletons of different heights stay plausible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class BodyDims:
    """Segment lengths [m] derived from standing height ``height_m`` and ``girth`` (width scale)."""

    height_m: float
    girth: float = 1.0

    @property
    def hip_z(self) -> float:
        """Height of the hip joints when standing upright [m]."""
        return 0.530 * self.height_m

    @property
    def torso(self) -> float:
        """Hip centre to shoulder centre [m]."""
        return 0.290 * self.height_m

    @property
    def upper_arm(self) -> float:
        """Shoulder to elbow [m]."""
        return 0.186 * self.height_m

    @property
    def forearm(self) -> float:
        """Elbow to wrist [m]."""
        return 0.146 * self.height_m

    @property
    def thigh(self) -> float:
        """Hip to knee [m]."""
        return 0.245 * self.height_m

    @property
    def shank(self) -> float:
        """Knee to ankle [m]."""
        return 0.246 * self.height_m

    @property
    def ankle_z(self) -> float:
        """Ankle height above the floor [m]."""
        return 0.039 * self.height_m

    @property
    def hip_half(self) -> float:
        """Half the distance between the hip joints [m]."""
        return 0.055 * self.height_m * self.girth

    @property
    def shoulder_half(self) -> float:
        """Half the distance between the shoulder joints [m]."""
        return 0.105 * self.height_m * self.girth

    @property
    def arm_reach(self) -> float:
        """Shoulder to wrist, arm straight [m]."""
        return self.upper_arm + self.forearm


@dataclass(frozen=True)
class PoseParams:
    """Everything that shapes one pose.

    xy: (2,) floor position of the pelvis [m]. heading: facing direction [rad] from store +x.
    gait_phase: walking cycle [0, 1) (ignored when ``walk`` is 0). walk: gait amplitude 0..1.
    crouch: how far the pelvis is lowered [m]. lean: forward torso pitch [rad].
    left_wrist, right_wrist: (3,) wrist targets [m] or None for a resting arm; left_blend and
    right_blend mix the resting pose (0) and the target (1). carry_left, carry_right: the resting
    pose holds an item in front of the body instead of hanging.
    """

    xy: tuple[float, float]
    heading: float
    gait_phase: float = 0.0
    walk: float = 0.0
    crouch: float = 0.0
    lean: float = 0.0
    left_wrist: tuple[float, float, float] | None = None
    right_wrist: tuple[float, float, float] | None = None
    left_blend: float = 0.0
    right_blend: float = 0.0
    carry_left: bool = False
    carry_right: bool = False


def two_link(
    root: np.ndarray, target: np.ndarray, a: float, b: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two-link IK: joint (elbow/knee) and end (wrist/ankle) positions (3,) [m].

    The end reaches ``target`` when it lies within reach; otherwise it stops on the line to it.
    ``pole`` is the direction the middle joint bends towards.
    """
    delta = target - root
    dist = float(np.linalg.norm(delta))
    u = delta / dist if dist > 1e-9 else -UP
    d = min(max(dist, abs(a - b) + 1e-4), a + b - 1e-4)
    cos_alpha = (a * a + d * d - b * b) / (2.0 * a * d)
    alpha = math.acos(max(-1.0, min(1.0, cos_alpha)))
    v = pole - (pole @ u) * u
    norm = float(np.linalg.norm(v))
    if norm < 1e-9:  # pole parallel to the limb: pick any perpendicular
        v = np.cross(u, UP if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0]))
        norm = float(np.linalg.norm(v))
    v = v / norm
    joint = root + a * (math.cos(alpha) * u + math.sin(alpha) * v)
    return joint, root + d * u


def frame(heading: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward and left unit vectors (3,) for a heading [rad]."""
    c, s = math.cos(heading), math.sin(heading)
    return np.array([c, s, 0.0]), np.array([-s, c, 0.0])


STRIDE = 0.17  # foot ahead of / behind the hip at the extremes of a step, x height


def _pelvis_z(dims: BodyDims, crouch: float, foot_offset: float) -> float:
    """Pelvis height [m]: low enough that a leg reaching ``foot_offset`` [m] along the floor keeps
    1.5 % of slack (a straight knee is a singular IK pose whose knee would snap between frames);
    while walking this is the pelvis' natural bob of a few centimetres per step."""
    leg = 0.985 * (dims.thigh + dims.shank)
    reach_z = dims.ankle_z + math.sqrt(max(leg * leg - foot_offset * foot_offset, 0.0))
    return min(dims.hip_z - crouch, reach_z)


def shoulders(dims: BodyDims, p: PoseParams) -> tuple[np.ndarray, np.ndarray]:
    """Left and right shoulder joints (3,) [m] for the pose's position, crouch and lean."""
    fwd, left = frame(p.heading)
    pelvis = np.array([p.xy[0], p.xy[1], _pelvis_z(dims, p.crouch, 0.0)])
    axis = math.cos(p.lean) * UP + math.sin(p.lean) * fwd
    center = pelvis + dims.torso * axis
    return center + dims.shoulder_half * left, center - dims.shoulder_half * left


def pose(dims: BodyDims, p: PoseParams) -> np.ndarray:
    """COCO-17 keypoints (17, 3) [m, store frame] of one pose."""
    fwd, left = frame(p.heading)
    h = dims.height_m
    swing = math.sin(2.0 * math.pi * p.gait_phase) * p.walk
    stride = STRIDE * h
    pelvis = np.array([p.xy[0], p.xy[1], _pelvis_z(dims, p.crouch, stride * swing)])
    axis = math.cos(p.lean) * UP + math.sin(p.lean) * fwd
    neck = pelvis + dims.torso * axis
    kp = np.zeros((17, 3))
    # Head: nose forward of the neck, eyes above and beside it, ears at the sides.
    kp[0] = neck + 0.110 * h * axis + 0.050 * h * fwd
    kp[1] = neck + 0.122 * h * axis + 0.040 * h * fwd + 0.018 * h * left
    kp[2] = neck + 0.122 * h * axis + 0.040 * h * fwd - 0.018 * h * left
    kp[3] = neck + 0.115 * h * axis + 0.045 * h * left
    kp[4] = neck + 0.115 * h * axis - 0.045 * h * left
    sh_l = neck + dims.shoulder_half * left
    sh_r = neck - dims.shoulder_half * left
    kp[5], kp[6] = sh_l, sh_r
    hip_l = pelvis + dims.hip_half * left
    hip_r = pelvis - dims.hip_half * left
    kp[11], kp[12] = hip_l, hip_r
    # Legs: ankles under the hips, swinging along the heading while walking; knees bend forward.
    for side, hip, sign in ((0, hip_l, 1.0), (1, hip_r, -1.0)):
        s = swing * sign
        lift = max(0.0, math.cos(2.0 * math.pi * p.gait_phase) * sign) ** 2 * p.walk
        ankle_t = np.array([hip[0], hip[1], 0.0]) + fwd * (stride * s)
        ankle_t = ankle_t + UP * (dims.ankle_z + 0.06 * h * lift)
        if p.crouch > 0.0:  # feet stay put, knees go forward
            ankle_t = ankle_t + fwd * 0.05 * h * min(1.0, p.crouch / (0.3 * h))
        knee, ankle = two_link(hip, ankle_t, dims.thigh, dims.shank, fwd)
        kp[13 + side], kp[15 + side] = knee, ankle
    # Arms: relaxed (swinging opposite to the legs), carrying, or reaching for a target.
    for side, shoulder, sign, target, blend, carry in (
        (0, sh_l, 1.0, p.left_wrist, p.left_blend, p.carry_left),
        (1, sh_r, -1.0, p.right_wrist, p.right_blend, p.carry_right),
    ):
        if carry:
            rest = shoulder - 0.17 * h * UP + 0.14 * h * fwd - 0.02 * h * sign * left
        else:
            rest = (
                shoulder - 0.95 * dims.arm_reach * UP - 0.18 * dims.arm_reach * swing * sign * fwd
            )
            rest = rest + 0.03 * h * sign * left
        goal = rest
        if target is not None and blend > 0.0:
            goal = (1.0 - blend) * rest + blend * np.asarray(target, dtype=np.float64)
        pole = -UP + 0.6 * sign * left - 0.4 * fwd
        elbow, wrist = two_link(shoulder, goal, dims.upper_arm, dims.forearm, pole)
        kp[7 + side], kp[9 + side] = elbow, wrist
    return kp


def reach_posture(
    dims: BodyDims, xy: tuple[float, float], heading: float, target: np.ndarray, hand: str
) -> tuple[float, float]:
    """Least-effort crouch [m] and lean [rad] that bring the ``hand`` shoulder within reach.

    Effort weighs a 45 degree bow like a crouch of a fifth of the body height, so people bow
    for middle shelves and bend their knees as well for the bottom one. Raises ValueError when
    no posture reaches ``target`` (the shopper stands too far away).
    """
    reach = 0.97 * dims.arm_reach
    side = 0 if hand == "left" else 1
    best: tuple[float, float, float] | None = None
    for crouch in np.linspace(0.0, 0.32 * dims.height_m, 9):
        for lean in np.radians(np.arange(0.0, 71.0, 5.0)):
            effort = float(lean) / math.radians(45.0) + float(crouch) / (0.2 * dims.height_m)
            if best is not None and effort >= best[0]:
                continue
            p = PoseParams(xy=xy, heading=heading, crouch=float(crouch), lean=float(lean))
            if np.linalg.norm(shoulders(dims, p)[side] - target) <= reach:
                best = (effort, float(crouch), float(lean))
    if best is None:
        raise ValueError(
            f"target {np.round(target, 3).tolist()} is out of reach from {np.round(xy, 3).tolist()}"
        )
    return best[1], best[2]

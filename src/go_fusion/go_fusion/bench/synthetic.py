"""Synthetic ceiling cameras and walking people for tests and benchmarks of multi-view tracking.

Nothing here is used at run time: it makes calibrated cameras looking down into a rectangular
store, COCO-17 skeletons of standing or walking people, and their noisy 2D keypoints as each
camera's detector would report them (``CameraPeople``), so that triangulation, association and
tracking can be checked against the known 3D truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from go_fusion.core.association import CameraPeople
from go_fusion.core.cameras import FusionCamera

# COCO-17 joints of a 1.70 m person in its body frame (x forward, y left, z up) [m].
BODY_TEMPLATE = np.array(
    [
        [0.10, 0.00, 1.60],  # nose
        [0.08, 0.03, 1.63],
        [0.08, -0.03, 1.63],
        [0.00, 0.07, 1.60],
        [0.00, -0.07, 1.60],
        [0.00, 0.19, 1.42],  # shoulders
        [0.00, -0.19, 1.42],
        [0.02, 0.23, 1.12],  # elbows
        [0.02, -0.23, 1.12],
        [0.06, 0.23, 0.85],  # wrists
        [0.06, -0.23, 0.85],
        [0.00, 0.10, 0.92],  # hips
        [0.00, -0.10, 0.92],
        [0.00, 0.10, 0.50],  # knees
        [0.00, -0.10, 0.50],
        [0.00, 0.10, 0.08],  # ankles
        [0.00, -0.10, 0.08],
    ]
)


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) T_store_optical of a camera at ``position`` looking at ``target`` (store, m)."""
    z = np.asarray(target, float) - np.asarray(position, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    t = np.eye(4)
    t[:3, :3] = np.stack([x, y, z], axis=1)
    t[:3, 3] = position
    return t


def make_cameras(
    n: int,
    floor: tuple[float, float] = (20.0, 12.0),
    height_m: float = 3.2,
    reach_m: float = 3.5,
    size: tuple[int, int] = (1280, 720),
    focal_ratio: float = 0.35,
    distortion: Sequence[float] = (-0.05, 0.01, 0.0, 0.0, 0.0),
) -> list[FusionCamera]:
    """``n`` ceiling cameras on a grid over the floor, each looking ``reach_m`` away.

    Neighbouring cameras look in different directions so that every floor point is seen from
    several sides. ``focal_ratio``: focal length / image width (0.35: a 110 degree lens).
    """
    cols = math.ceil(math.sqrt(n * floor[0] / floor[1]))
    rows = math.ceil(n / cols)
    w, h = size
    f = w * focal_ratio
    k = np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])
    cams = []
    for i in range(n):
        r, c = divmod(i, cols)
        pos = np.array([floor[0] * (c + 0.5) / cols, floor[1] * (r + 0.5) / rows, height_m])
        yaw = 2.0 * math.pi * ((i * 0.381966) % 1.0)  # golden-ratio spread of directions
        target = pos + np.array([reach_m * math.cos(yaw), reach_m * math.sin(yaw), -height_m])
        target[0] = np.clip(target[0], 0.5, floor[0] - 0.5)
        target[1] = np.clip(target[1], 0.5, floor[1] - 0.5)
        target[2] = 0.0
        if np.linalg.norm(target[:2] - pos[:2]) < 0.5:
            target[:2] = pos[:2] + 1.0
        cams.append(
            FusionCamera(f"cam{i:02d}", w, h, k, np.array(distortion), look_at(pos, target))
        )
    return cams


def ring_cameras(
    n: int,
    centre: tuple[float, float] = (3.0, 3.0),
    radius_m: float = 4.0,
    height_m: float = 3.0,
    size: tuple[int, int] = (1280, 720),
    focal_ratio: float = 0.5,
    distortion: Sequence[float] = (-0.05, 0.01, 0.0, 0.0, 0.0),
) -> list[FusionCamera]:
    """``n`` cameras on a circle around ``centre`` (x, y) [m], all looking at it."""
    w, h = size
    f = w * focal_ratio
    k = np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])
    cams = []
    for i in range(n):
        a = 2.0 * math.pi * i / n + 0.3
        pos = np.array(
            [centre[0] + radius_m * math.cos(a), centre[1] + radius_m * math.sin(a), height_m]
        )
        target = np.array([centre[0], centre[1], 0.8])
        cams.append(
            FusionCamera(f"cam{i:02d}", w, h, k, np.array(distortion), look_at(pos, target))
        )
    return cams


def skeleton(
    xy: np.ndarray, heading: float, height_m: float = 1.70, phase: float = 0.0
) -> np.ndarray:
    """(17, 3) COCO joints of a person standing at ``xy`` (2,) facing ``heading`` [rad].

    ``phase`` [rad] swings legs and arms as in walking (0 = still).
    """
    body = BODY_TEMPLATE * (height_m / 1.70)
    body = body.copy()
    swing = 0.18 * math.sin(phase)
    body[[13, 15], 0] += swing
    body[[14, 16], 0] -= swing
    body[[7, 9], 0] -= 0.5 * swing
    body[[8, 10], 0] += 0.5 * swing
    c, s = math.cos(heading), math.sin(heading)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return body @ rot.T + np.array([xy[0], xy[1], 0.0])


@dataclass(frozen=True)
class RenderOptions:
    """How the synthetic detector sees people."""

    noise_px: float = 2.0  # keypoint noise [px]
    max_range_m: float = 14.0  # people further from a camera are not detected
    drop_person: float = 0.0  # chance a camera misses a person (occlusion)
    drop_keypoint: float = 0.05  # chance a keypoint is missed
    min_keypoints: int = 6


def render(
    cameras: Sequence[FusionCamera],
    people: Sequence[np.ndarray],
    t: float,
    rng: np.random.Generator,
    options: RenderOptions | None = None,
    hidden: dict[str, set[int]] | None = None,
) -> tuple[dict[str, CameraPeople], dict[str, list[int]]]:
    """Each camera's detections of ``people`` (each (17, 3), store frame) at time ``t``.

    ``hidden`` maps a camera id to people it must not see. Returns the detections by camera and,
    per camera, the index of the person behind each detection (the detections are shuffled).
    """
    options = options or RenderOptions()
    out: dict[str, CameraPeople] = {}
    who: dict[str, list[int]] = {}
    for cam in cameras:
        kps, scores, ids = [], [], []
        for p, joints in enumerate(people):
            if hidden and p in hidden.get(cam.camera_id, set()):
                continue
            if rng.random() < options.drop_person:
                continue
            uv, depth = cam.project(joints)
            if np.linalg.norm(joints.mean(axis=0) - cam.center) > options.max_range_m:
                continue
            vis = (depth > 0.3) & cam.in_image(uv)
            vis &= rng.random(17) >= options.drop_keypoint
            if vis.sum() < options.min_keypoints:
                continue
            uv = uv + rng.normal(0.0, options.noise_px, uv.shape)
            sc = np.where(vis, rng.uniform(0.6, 1.0, 17), 0.0)
            kps.append(np.where(vis[:, None], uv, 0.0))
            scores.append(sc)
            ids.append(p)
        order = rng.permutation(len(ids))
        kp_arr = np.array(kps).reshape(-1, 17, 2)[order]
        sc_arr = np.array(scores).reshape(-1, 17)[order]
        out[cam.camera_id] = CameraPeople(cam.camera_id, t, kp_arr, sc_arr, np.full(len(ids), 0.9))
        who[cam.camera_id] = [ids[i] for i in order]
    return out, who


@dataclass
class Walker:
    """A person walking between random waypoints on the floor."""

    xy: np.ndarray
    speed: float
    height: float
    goal: np.ndarray
    phase: float = 0.0

    def step(self, dt: float, rng: np.random.Generator, floor: tuple[float, float]) -> None:
        d = self.goal - self.xy
        dist = float(np.linalg.norm(d))
        if dist < 0.3:
            self.goal = rng.uniform([1.0, 1.0], [floor[0] - 1.0, floor[1] - 1.0])
            return
        self.xy = self.xy + d / dist * min(self.speed * dt, dist)
        self.phase += 6.0 * dt * self.speed

    @property
    def heading(self) -> float:
        d = self.goal - self.xy
        return math.atan2(d[1], d[0])

    def joints(self) -> np.ndarray:
        return skeleton(self.xy, self.heading, self.height, self.phase)


def step_walkers(
    walkers: Sequence[Walker],
    dt: float,
    rng: np.random.Generator,
    floor: tuple[float, float],
    personal_space_m: float = 0.5,
) -> None:
    """Move every walker; one that would come closer than ``personal_space_m`` to another waits
    and picks a new goal (people do not walk through each other)."""
    for w in walkers:
        before = w.xy
        w.step(dt, rng, floor)
        if any(
            o is not w
            and float(np.linalg.norm(o.xy - w.xy)) < personal_space_m
            and float(np.linalg.norm(o.xy - w.xy)) < float(np.linalg.norm(o.xy - before))
            for o in walkers
        ):
            w.xy = before
            w.goal = rng.uniform([1.0, 1.0], [floor[0] - 1.0, floor[1] - 1.0])


def make_walkers(
    n: int, rng: np.random.Generator, floor: tuple[float, float] = (20.0, 12.0)
) -> list[Walker]:
    """``n`` walkers spread over the floor (at least 0.6 m apart where possible)."""
    walkers: list[Walker] = []
    tries = 0
    while len(walkers) < n:
        xy = rng.uniform([1.0, 1.0], [floor[0] - 1.0, floor[1] - 1.0])
        tries += 1
        if tries < 10000 and any(np.linalg.norm(w.xy - xy) < 0.6 for w in walkers):
            continue
        goal = rng.uniform([1.0, 1.0], [floor[0] - 1.0, floor[1] - 1.0])
        walkers.append(
            Walker(xy, float(rng.uniform(0.6, 1.4)), float(rng.uniform(1.55, 1.90)), goal)
        )
    return walkers

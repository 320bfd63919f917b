"""Calibrated camera models for multi-view fusion (pure numpy/OpenCV).

A :class:`FusionCamera` is built from what a ROS graph carries: ``sensor_msgs/CameraInfo``
(``K``, ``D`` in the ``plumb_bob`` model, width, height) and the static transform
``store -> <camera>_optical`` from ``/tf_static`` (``T_store_optical``: the pose of the optical
frame, z forward, x right, y down, in the ``store`` frame). It undistorts 2D keypoints, projects
store points and turns pixels into rays in the store frame.

A :class:`CameraRig` stacks many cameras into arrays so that association and triangulation can
work on every camera at once (``rotations (C, 3, 3)``, ``centers (C, 3)``...).

Conventions: "normalised" coordinates are ideal pinhole coordinates ``(x / z, y / z)`` in the
optical frame (no K, no distortion); pixels are distorted image pixels as a detector reports them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

# Stop criteria of OpenCV's iterative undistortion: plenty for ceiling lenses with |k1| < 0.5.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-9)


class CameraModelError(ValueError):
    """A camera calibration that cannot be used; the message names the camera and the field."""


@dataclass(frozen=True)
class FusionCamera:
    """One calibrated camera as fusion uses it.

    Attributes:
        camera_id: camera name from the store configuration.
        width, height: image size [px].
        K: (3, 3) intrinsic matrix [px].
        D: (5,) plumb_bob distortion k1, k2, p1, p2, k3 (zeros for none).
        T_store_optical: (4, 4) pose of the optical frame in the store frame [m].
        rotation: (3, 3) R_optical_store, maps store vectors to the optical frame (derived).
        translation: (3,) t_optical_store [m] (derived): ``p_opt = rotation @ p + translation``.
        center: (3,) optical centre in the store frame [m] (derived).
        projection: (3, 4) ``K [R | t]`` for undistorted pixels (derived).
    """

    camera_id: str
    width: int
    height: int
    K: np.ndarray
    D: np.ndarray
    T_store_optical: np.ndarray
    rotation: np.ndarray = field(init=False, repr=False)
    translation: np.ndarray = field(init=False, repr=False)
    center: np.ndarray = field(init=False, repr=False)
    projection: np.ndarray = field(init=False, repr=False)
    has_distortion: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        name = self.camera_id or "<unnamed camera>"
        k = np.asarray(self.K, dtype=np.float64)
        d = np.zeros(5) if self.D is None else np.asarray(self.D, dtype=np.float64).ravel()
        t_so = np.asarray(self.T_store_optical, dtype=np.float64)
        if not self.camera_id:
            raise CameraModelError("camera_id is empty")
        if self.width <= 0 or self.height <= 0:
            raise CameraModelError(f"{name}: image size {self.width}x{self.height} is not positive")
        if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise CameraModelError(f"{name}: K must be a finite 3x3 with positive fx, fy, got {k}")
        if d.size == 0:
            d = np.zeros(5)
        if d.size not in (4, 5, 8) or not np.all(np.isfinite(d)):
            raise CameraModelError(f"{name}: D must be plumb_bob (5 finite values), got {d}")
        d = np.concatenate([d, np.zeros(5 - d.size)]) if d.size < 5 else d
        if t_so.shape != (4, 4) or not np.all(np.isfinite(t_so)):
            raise CameraModelError(f"{name}: T_store_optical must be a finite 4x4")
        rot_so = t_so[:3, :3]
        if not np.allclose(rot_so @ rot_so.T, np.eye(3), atol=1e-5) or np.linalg.det(rot_so) < 0:
            raise CameraModelError(f"{name}: T_store_optical rotation is not a proper rotation")
        rotation = rot_so.T
        translation = -rotation @ t_so[:3, 3]
        set_ = object.__setattr__
        set_(self, "K", k)
        set_(self, "D", d)
        set_(self, "T_store_optical", t_so)
        set_(self, "rotation", rotation)
        set_(self, "translation", translation)
        set_(self, "center", t_so[:3, 3].copy())
        set_(self, "projection", k @ np.hstack([rotation, translation[:, None]]))
        set_(self, "has_distortion", bool(np.any(d != 0.0)))

    @classmethod
    def from_camera_info(
        cls,
        camera_id: str,
        *,
        k: Sequence[float],
        d: Sequence[float],
        width: int,
        height: int,
        T_store_optical: np.ndarray,  # noqa: N803 - T_parent_child naming
        distortion_model: str = "plumb_bob",
    ) -> FusionCamera:
        """Build from CameraInfo fields (``k`` row-major 9 values) and the /tf_static pose."""
        if distortion_model not in ("plumb_bob", ""):
            raise CameraModelError(
                f"{camera_id}: distortion model {distortion_model!r} is not supported (plumb_bob)"
            )
        k_arr = np.asarray(k, dtype=np.float64)
        if k_arr.size != 9:
            raise CameraModelError(f"{camera_id}: K needs 9 values, got {k_arr.size}")
        return cls(
            camera_id, int(width), int(height), k_arr.reshape(3, 3), np.asarray(d), T_store_optical
        )

    @classmethod
    def from_store_camera(cls, camera: StoreCameraLike) -> FusionCamera:
        """Build from ``go_common.core.store.Camera`` (or anything with the same fields)."""
        return cls(
            camera.camera_id,
            int(camera.width),
            int(camera.height),
            np.asarray(camera.K),
            np.asarray(camera.dist),
            np.asarray(camera.T_store_optical),
        )

    @property
    def focal(self) -> float:
        """Mean focal length [px]: converts normalised distances to pixels."""
        return float(0.5 * (self.K[0, 0] + self.K[1, 1]))

    def undistort_normalized(self, pixels: np.ndarray) -> np.ndarray:
        """Distorted pixels (N, 2) -> normalised pinhole coordinates (N, 2) ``(x/z, y/z)``."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        if px.shape[0] == 0:
            return np.zeros((0, 2))
        if not self.has_distortion:
            fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
            skew = self.K[0, 1]
            y = (px[:, 1] - cy) / fy
            x = (px[:, 0] - cx - skew * y) / fx
            return np.stack([x, y], axis=1)
        out = cv2.undistortPointsIter(
            px.reshape(-1, 1, 2), self.K, self.D, None, None, _UNDISTORT_CRITERIA
        )
        return out.reshape(-1, 2)

    def undistort_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Distorted pixels (N, 2) -> undistorted (ideal pinhole) pixels (N, 2)."""
        n = self.undistort_normalized(pixels)
        return n @ self.K[:2, :2].T + self.K[:2, 2]

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """Distorted pixels (N, 2) -> unit ray directions (N, 3) in the store frame.

        Every ray starts at :attr:`center`.
        """
        n = self.undistort_normalized(pixels)
        d_opt = np.concatenate([n, np.ones((n.shape[0], 1))], axis=1)
        d = d_opt @ self.rotation  # R^T applied to row vectors: optical -> store
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def to_optical(self, points_store: np.ndarray) -> np.ndarray:
        """Store points (N, 3) [m] -> optical-frame points (N, 3) [m]."""
        pts = np.asarray(points_store, dtype=np.float64).reshape(-1, 3)
        return pts @ self.rotation.T + self.translation

    def project_normalized(self, points_store: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store points (N, 3) -> (normalised coords (N, 2), depth (N,) [m] along the axis)."""
        pc = self.to_optical(points_store)
        depth = pc[:, 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        return pc[:, :2] / safe[:, None], depth

    def project(self, points_store: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store points (N, 3) [m] -> (distorted pixels (N, 2), depth (N,) [m]).

        Points behind the camera get depth <= 0 and meaningless pixels.
        """
        n, depth = self.project_normalized(points_store)
        return self.distort(n), depth

    def distort(self, normalized: np.ndarray) -> np.ndarray:
        """Normalised coordinates (N, 2) -> distorted pixels (N, 2) (plumb_bob)."""
        x, y = normalized[:, 0], normalized[:, 1]
        k1, k2, p1, p2, k3 = self.D[:5]
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        u = self.K[0, 0] * xd + self.K[0, 1] * yd + self.K[0, 2]
        v = self.K[1, 1] * yd + self.K[1, 2]
        return np.stack([u, v], axis=1)

    def in_image(self, pixels: np.ndarray, margin_px: float = 0.0) -> np.ndarray:
        """(N,) bool: pixels (N, 2) inside the image, grown by ``margin_px`` on every side."""
        u, v = pixels[:, 0], pixels[:, 1]
        return (
            (u >= -margin_px)
            & (u < self.width + margin_px)
            & (v >= -margin_px)
            & (v < self.height + margin_px)
        )


class StoreCameraLike(Protocol):
    """The fields of ``go_common.core.store.Camera`` that fusion needs."""

    camera_id: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    T_store_optical: np.ndarray


class CameraRig:
    """Every fusion camera stacked into arrays (index = position in :attr:`ids`).

    Attributes:
        ids: camera ids, in index order.
        rotations: (C, 3, 3) R_optical_store.
        translations: (C, 3) t_optical_store [m].
        centers: (C, 3) optical centres in the store frame [m].
        focals: (C,) mean focal lengths [px].
        intrinsics: (C, 3, 3) K; distortions: (C, 5) plumb_bob; sizes: (C, 2) width, height [px].
    """

    def __init__(self, cameras: Iterable[FusionCamera]) -> None:
        self.cameras: tuple[FusionCamera, ...] = tuple(cameras)
        self.ids: tuple[str, ...] = tuple(c.camera_id for c in self.cameras)
        if len(set(self.ids)) != len(self.ids):
            raise CameraModelError(f"duplicate camera ids in {self.ids}")
        self._index = {cid: i for i, cid in enumerate(self.ids)}
        n = len(self.cameras)
        self.rotations = np.array([c.rotation for c in self.cameras]).reshape(n, 3, 3)
        self.translations = np.array([c.translation for c in self.cameras]).reshape(n, 3)
        self.centers = np.array([c.center for c in self.cameras]).reshape(n, 3)
        self.focals = np.array([c.focal for c in self.cameras], dtype=np.float64)
        self.intrinsics = np.array([c.K for c in self.cameras]).reshape(n, 3, 3)
        self.distortions = np.array([c.D[:5] for c in self.cameras]).reshape(n, 5)
        self.sizes = np.array([(c.width, c.height) for c in self.cameras], float).reshape(n, 2)

    def __len__(self) -> int:
        return len(self.cameras)

    def index(self, camera_id: str) -> int | None:
        """Index of ``camera_id`` or None when the camera is unknown."""
        return self._index.get(camera_id)

    def undistort_normalized(
        self, pixels: np.ndarray, camera_index: np.ndarray, iterations: int = 30, tol: float = 1e-6
    ) -> np.ndarray:
        """Distorted pixels (N, 2) seen by cameras ``camera_index`` (N,) -> normalised (N, 2).

        The fixed-point inversion of plumb_bob that OpenCV's ``undistortPoints`` uses, run for
        every camera at once (one OpenCV call per camera costs more than the whole batch here).
        """
        k = self.intrinsics[camera_index]
        d = self.distortions[camera_index]
        yd = (pixels[:, 1] - k[:, 1, 2]) / k[:, 1, 1]
        xd = (pixels[:, 0] - k[:, 0, 2] - k[:, 0, 1] * yd) / k[:, 0, 0]
        k1, k2, p1, p2, k3 = d.T
        tangential = bool(np.any(d[:, 2:4]))  # most lenses: radial terms only, half the work
        x, y = xd.copy(), yd.copy()
        for i in range(iterations if np.any(d) else 0):
            r2 = x * x + y * y
            inv_radial = 1.0 / (1.0 + r2 * (k1 + r2 * (k2 + r2 * k3)))
            if tangential:
                xy2 = 2.0 * x * y
                x_new = (xd - p1 * xy2 - p2 * (r2 + 2.0 * x * x)) * inv_radial
                y_new = (yd - p1 * (r2 + 2.0 * y * y) - p2 * xy2) * inv_radial
            else:
                x_new, y_new = xd * inv_radial, yd * inv_radial
            # Convergence is checked every other iteration: the check costs as much as a step.
            done = i % 2 == 1 and np.max(np.abs(x_new - x) + np.abs(y_new - y)) < tol
            x, y = x_new, y_new
            if done:
                break
        return np.stack([x, y], axis=1)

    def project_all(self, points_store: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project points (N, 3) into every camera (no distortion).

        Returns normalised coordinates (C, N, 2) and depths (C, N) [m].
        """
        pc = np.matmul(points_store, self.rotations.transpose(0, 2, 1)) + self.translations[:, None]
        depth = pc[..., 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        return pc[..., :2] / safe[..., None], depth

"""Camera geometry for the renderer: per-pixel rays, projection and ray casting of boxes.

Conventions: the store frame (z up, metres) and the ROS optical frame of each camera (z forward,
x right, y down). "Depth" everywhere in the renderer is the optical-axis depth z [m] of a point in
the camera's optical frame (what a z-buffer holds), not the distance along the ray. Pixel
coordinates follow OpenCV: the centre of the top-left pixel is (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Faces of an axis-aligned box: index = 2 * axis + (1 if the outward normal is +axis else 0).
FACE_NORMALS = np.array(
    [[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]], dtype=np.float64
)


@dataclass(frozen=True, eq=False)
class CameraGeometry:
    """Everything the renderer needs about one camera, precomputed once.

    K: (3, 3) [px]; dist: (5,) plumb_bob; R_store_optical: (3, 3); origin: (3,) [m] optical centre
    in the store frame; rvec, tvec: (3,) store -> optical for cv2.projectPoints; rays_store:
    (H, W, 3) float32 store-frame direction of each pixel's ray, scaled so that the ray parameter
    equals optical depth (the optical-frame ray is (x_n, y_n, 1)); max_radius: largest normalised
    image radius r = |(x_n, y_n)| of any pixel (points beyond ~1.5x this are outside the image and
    the distortion polynomial is not trusted there).
    """

    camera_id: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    R_store_optical: np.ndarray
    origin: np.ndarray
    rvec: np.ndarray
    tvec: np.ndarray
    rays_store: np.ndarray
    max_radius: float

    @classmethod
    def from_camera(cls, camera: object) -> CameraGeometry:
        """Build from a ``go_common.core.store.Camera`` (K, dist, size, T_store_optical)."""
        K = np.asarray(camera.K, dtype=np.float64)  # noqa: N806
        dist = np.asarray(camera.dist, dtype=np.float64).reshape(-1)
        T = np.asarray(camera.T_store_optical, dtype=np.float64)  # noqa: N806
        R = T[:3, :3]  # noqa: N806
        origin = T[:3, 3].copy()
        rvec, _ = cv2.Rodrigues(R.T)
        tvec = -R.T @ origin
        w, h = int(camera.width), int(camera.height)
        uu, vv = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        pix = np.stack([uu.ravel(), vv.ravel()], axis=1).reshape(-1, 1, 2)
        # Iterative undistortion: the default 5 iterations are not enough near the corners of
        # wide lenses, so ask for more with a tight epsilon.
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9)
        norm = cv2.undistortPointsIter(pix, K, dist, None, None, crit).reshape(h, w, 2)
        rays_opt = np.concatenate([norm, np.ones((h, w, 1))], axis=2)
        rays_store = (rays_opt @ R.T).astype(np.float32)
        max_radius = float(np.sqrt((norm**2).sum(axis=2)).max())
        return cls(
            camera_id=str(camera.camera_id),
            width=w,
            height=h,
            K=K,
            dist=dist,
            R_store_optical=R,
            origin=origin,
            rvec=rvec.reshape(3),
            tvec=tvec.reshape(3),
            rays_store=rays_store,
            max_radius=max_radius,
        )

    def to_optical(self, points_store: np.ndarray) -> np.ndarray:
        """Points (N, 3) store frame -> (N, 3) optical frame [m]."""
        return (np.asarray(points_store, dtype=np.float64) - self.origin) @ self.R_store_optical

    def project(self, points_store: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Project (N, 3) store points with the full lens model.

        Returns uv (N, 2) [px], depth (N,) [m] and valid (N,) bool: in front of the camera and
        within the radius where the distortion model holds (uv of invalid points is meaningless).
        """
        pts = np.asarray(points_store, dtype=np.float64).reshape(-1, 3)
        if len(pts) == 0:
            return np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=bool)
        pc = self.to_optical(pts)
        depth = pc[:, 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        radius = np.hypot(pc[:, 0] / safe, pc[:, 1] / safe)
        valid = (depth > 0.05) & (radius < 1.5 * self.max_radius)
        uv, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), self.rvec, self.tvec, self.K, self.dist)
        return uv.reshape(-1, 2), depth, valid


@dataclass(frozen=True)
class Box:
    """An axis-aligned box to ray-cast. lo, hi: (3,) [m] store frame corners.

    color_bgr: (3,) float base colour; material: 0 plain, 1 floor tiles, 2 wall; texture: index in
    the texture atlas shown on face ``texture_face`` (see FACE_NORMALS), -1 for none.
    """

    lo: np.ndarray
    hi: np.ndarray
    color_bgr: tuple[float, float, float]
    material: int = 0
    texture: int = -1
    texture_face: int = -1


def box_rect(
    geom: CameraGeometry, lo: np.ndarray, hi: np.ndarray, margin: int = 3
) -> tuple[int, int, int, int] | None:
    """Pixel rectangle (x0, y0, x1, y1), exclusive ends, that contains the image of a box.

    Samples the 8 corners and the points along the 12 edges (distortion bends straight edges).
    Falls back to the whole image when part of the box is behind the camera or outside the
    trusted lens radius; returns None when the box is certainly not in view.
    """
    t = np.linspace(0.0, 1.0, 5)
    pts = []
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    for a in range(8):
        for b in range(a + 1, 8):
            if np.sum(corners[a] != corners[b]) == 1:
                seg = corners[a][None, :] + t[:, None] * (corners[b] - corners[a])[None, :]
                pts.append(seg)
    unit = np.concatenate(pts)
    world = lo[None, :] + unit * (hi - lo)[None, :]
    uv, depth, valid = geom.project(world)
    if np.all(depth <= 0.05):
        return None
    if not np.all(valid):
        return (0, 0, geom.width, geom.height)
    x0 = int(np.floor(uv[:, 0].min())) - margin
    y0 = int(np.floor(uv[:, 1].min())) - margin
    x1 = int(np.ceil(uv[:, 0].max())) + margin + 1
    y1 = int(np.ceil(uv[:, 1].max())) + margin + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, geom.width), min(y1, geom.height)
    if x0 >= x1 or y0 >= y1:
        return None
    return (x0, y0, x1, y1)


def raycast_box(
    origin: np.ndarray, rays: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Slab test of rays (..., 3) from ``origin`` against the box [lo, hi].

    Returns t (...,) the ray parameter of the entry point (inf where missed; with the renderer's
    ray scaling t is optical depth [m]) and face (...,) int8 index of the entry face.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / rays
        t1 = (lo - origin).astype(np.float32) * inv
        t2 = (hi - origin).astype(np.float32) * inv
    tmin = np.fmin(t1, t2)
    tmax = np.fmax(t1, t2)
    tnear = np.nanmax(tmin, axis=-1)
    tfar = np.nanmin(tmax, axis=-1)
    hit = (tnear <= tfar) & (tnear > 0.0)
    axis = np.argmax(np.nan_to_num(tmin, nan=-np.inf), axis=-1)
    sign = np.take_along_axis(rays, axis[..., None], axis=-1)[..., 0]
    # Entering through the face whose normal opposes the ray direction.
    face = (2 * axis + (sign < 0)).astype(np.int8)
    t = np.where(hit, tnear, np.inf).astype(np.float32)
    return t, face

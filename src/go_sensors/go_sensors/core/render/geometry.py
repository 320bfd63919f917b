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

from go_common.core.store import Camera

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
    the distortion polynomial is not trusted there); inv_rays: 1 / rays_store per axis, three
    contiguous (H, W) float32 planes for the slab test (a zero component becomes a huge finite
    inverse, so no NaN handling is needed).
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
    inv_rays: tuple[np.ndarray, np.ndarray, np.ndarray] = ()

    @classmethod
    def from_camera(cls, camera: Camera) -> CameraGeometry:
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
        if hasattr(cv2, "undistortPointsIter"):
            norm = cv2.undistortPointsIter(pix, K, dist, None, None, crit).reshape(h, w, 2)
        else:  # OpenCV builds without the criteria overload (seen in CUDA images' OpenCV)
            norm = cv2.undistortPoints(pix, K, dist).reshape(h, w, 2)
        rays_opt = np.concatenate([norm, np.ones((h, w, 1))], axis=2)
        rays_store = (rays_opt @ R.T).astype(np.float32)
        max_radius = float(np.sqrt((norm**2).sum(axis=2)).max())
        safe = np.where(np.abs(rays_store) < 1e-12, 1e-12, rays_store)
        inv = (1.0 / safe).astype(np.float32)
        inv_rays = tuple(np.ascontiguousarray(inv[..., k]) for k in range(3))
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
            inv_rays=inv_rays,
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


def _unit_box_samples() -> np.ndarray:
    """(60, 3) points along the 12 edges of the unit cube (5 per edge, corners repeated)."""
    t = np.linspace(0.0, 1.0, 5)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    edges = [
        corners[a][None, :] + t[:, None] * (corners[b] - corners[a])[None, :]
        for a in range(8)
        for b in range(a + 1, 8)
        if np.sum(corners[a] != corners[b]) == 1
    ]
    return np.concatenate(edges)


_BOX_SAMPLES = _unit_box_samples()


def box_rects(
    geom: CameraGeometry, los: np.ndarray, his: np.ndarray, margin: int = 3
) -> list[tuple[int, int, int, int] | None]:
    """Pixel rectangles (x0, y0, x1, y1), exclusive ends, that contain the images of boxes.

    los, his: (N, 3) [m] box corners. Samples points along the 12 edges of each box (distortion
    bends straight edges). A box partly behind the camera gets the whole image; a box certainly
    out of view gets None.
    """
    los = np.asarray(los, float).reshape(-1, 3)
    his = np.asarray(his, float).reshape(-1, 3)
    n = len(los)
    if n == 0:
        return []
    k = len(_BOX_SAMPLES)
    world = los[:, None, :] + _BOX_SAMPLES[None, :, :] * (his - los)[:, None, :]
    flat = world.reshape(-1, 3)
    uv, depth, valid = geom.project(flat)
    # Points in front of the camera but beyond the trusted lens radius lie outside the image:
    # the pinhole projection tells on which side, which is all the rectangle needs.
    far = ~valid & (depth > 0.05)
    if far.any():
        pc = geom.to_optical(flat[far])
        uv[far, 0] = geom.K[0, 0] * pc[:, 0] / pc[:, 2] + geom.K[0, 2]
        uv[far, 1] = geom.K[1, 1] * pc[:, 1] / pc[:, 2] + geom.K[1, 2]
    uv = np.clip(uv, -1e6, 1e6).reshape(n, k, 2)
    depth = depth.reshape(n, k)
    valid = (depth > 0.05).reshape(n, k)
    x0 = np.floor(uv[..., 0].min(axis=1)).astype(np.int64) - margin
    y0 = np.floor(uv[..., 1].min(axis=1)).astype(np.int64) - margin
    x1 = np.ceil(uv[..., 0].max(axis=1)).astype(np.int64) + margin + 1
    y1 = np.ceil(uv[..., 1].max(axis=1)).astype(np.int64) + margin + 1
    out: list[tuple[int, int, int, int] | None] = []
    for i in range(n):
        if np.all(depth[i] <= 0.05):
            out.append(None)
        elif not np.all(valid[i]):
            out.append((0, 0, geom.width, geom.height))
        else:
            a, b = max(int(x0[i]), 0), max(int(y0[i]), 0)
            c, d = min(int(x1[i]), geom.width), min(int(y1[i]), geom.height)
            out.append((a, b, c, d) if a < c and b < d else None)
    return out


def box_rect(
    geom: CameraGeometry, lo: np.ndarray, hi: np.ndarray, margin: int = 3
) -> tuple[int, int, int, int] | None:
    """Pixel rectangle of one box (see ``box_rects``)."""
    return box_rects(geom, lo, hi, margin)[0]


def raycast_box(
    origin: np.ndarray,
    inv_rays: tuple[np.ndarray, np.ndarray, np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Slab test of rays from ``origin`` against the box [lo, hi].

    inv_rays: per axis the (h, w) float32 inverse ray components (see CameraGeometry.inv_rays,
    sliced to the region). Returns t (h, w) float32, the ray parameter of the entry point (inf
    where missed; with the renderer's ray scaling t is optical depth [m]), and face (h, w) int8,
    the index of the entry face (FACE_NORMALS).
    """
    tnear = None
    tfar = None
    face = None
    for k in range(3):
        inv = inv_rays[k]
        a = (np.float32(lo[k] - origin[k])) * inv
        b = (np.float32(hi[k] - origin[k])) * inv
        near = np.minimum(a, b)
        far = np.maximum(a, b)
        # Entering through the face whose normal opposes the ray: the -k face when the ray
        # goes towards +k (inv > 0), else the +k face.
        entry = np.where(inv > 0, np.int8(2 * k), np.int8(2 * k + 1))
        if tnear is None:
            tnear, tfar, face = near, far, entry
        else:
            later = near > tnear
            tnear = np.where(later, near, tnear)
            face = np.where(later, entry, face)
            np.minimum(tfar, far, out=tfar)
    hit = (tnear <= tfar) & (tnear > 0.0)
    return np.where(hit, tnear, np.float32(np.inf)), face

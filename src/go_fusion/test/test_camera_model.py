"""Camera model for fusion: calibration checks, projection, undistortion, rays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from go_fusion.bench.synthetic import look_at, ring_cameras
from go_fusion.core.cameras import CameraModelError, CameraRig, FusionCamera

K = [600.0, 0.0, 640.0, 0.0, 600.0, 360.0, 0.0, 0.0, 1.0]
D = [-0.2, 0.05, 0.001, -0.002, 0.0]


def _camera(d: list[float] = D) -> FusionCamera:
    pose = look_at(np.array([0.0, 0.0, 3.0]), np.array([3.0, 1.0, 0.0]))
    return FusionCamera.from_camera_info(
        "cam_a", k=K, d=d, width=1280, height=720, T_store_optical=pose
    )


def _points_in_view(cam: FusionCamera, n: int, rng: np.random.Generator) -> np.ndarray:
    pts = np.column_stack(
        [rng.uniform(1.5, 4.5, n), rng.uniform(-0.5, 2.5, n), rng.uniform(0, 2, n)]
    )
    uv, depth = cam.project(pts)
    return pts[(depth > 0) & cam.in_image(uv, -50.0)]


def test_projection_matches_opencv() -> None:
    cam = _camera()
    pts = _points_in_view(cam, 200, np.random.default_rng(1))
    rvec, _ = cv2.Rodrigues(cam.rotation)
    ref, _ = cv2.projectPoints(pts, rvec, cam.translation, cam.K, cam.D)
    uv, _ = cam.project(pts)
    np.testing.assert_allclose(uv, ref.reshape(-1, 2), atol=1e-6)


def test_undistort_inverts_projection_and_rays_hit_the_point() -> None:
    cam = _camera()
    pts = _points_in_view(cam, 200, np.random.default_rng(2))
    uv, _ = cam.project(pts)
    norm, _ = cam.project_normalized(pts)
    np.testing.assert_allclose(cam.undistort_normalized(uv), norm, atol=1e-6)
    rays = cam.rays(uv)
    to_pt = pts - cam.center
    to_pt /= np.linalg.norm(to_pt, axis=1, keepdims=True)
    np.testing.assert_allclose(rays, to_pt, atol=1e-6)


def test_rig_batched_undistortion_agrees_with_opencv() -> None:
    cams = [_camera(), _camera([0.0, 0.0, 0.0, 0.0, 0.0]), _camera([-0.25, 0.07, 0, 0, -0.01])]
    object.__setattr__(cams[1], "camera_id", "cam_b")
    object.__setattr__(cams[2], "camera_id", "cam_c")  # radial terms only
    rng = np.random.default_rng(3)
    px = rng.uniform([100, 80], [1180, 640], (300, 2))
    for subset in ([0, 1, 2], [1, 2]):  # with and without a tangential camera in the rig
        _check_rig_undistortion([cams[i] for i in subset], px, rng)


def _check_rig_undistortion(
    cams: list[FusionCamera], px: np.ndarray, rng: np.random.Generator
) -> None:
    rig = CameraRig(cams)
    idx = rng.integers(0, len(cams), px.shape[0])
    got = rig.undistort_normalized(px, idx)
    for i, cam in enumerate(cams):
        mine = got[idx == i]
        np.testing.assert_allclose(mine, cam.undistort_normalized(px[idx == i]), atol=1e-5)
        # Distorting again gives the pixel back (OpenCV's own answer is off by up to 2e-4 px
        # in the corners of the strongest lens here).
        np.testing.assert_allclose(cam.distort(mine), px[idx == i], atol=1e-3)


def test_projection_matrix_maps_to_undistorted_pixels() -> None:
    cam = _camera()
    pts = _points_in_view(cam, 50, np.random.default_rng(4))
    homog = np.column_stack([pts, np.ones(len(pts))]) @ cam.projection.T
    uv_ideal = homog[:, :2] / homog[:, 2:]
    uv, _ = cam.project(pts)
    np.testing.assert_allclose(cam.undistort_pixels(uv), uv_ideal, atol=1e-5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": [0.0] * 9}, "positive fx"),
        ({"k": [600.0, 0, 640, 0, np.nan, 360, 0, 0, 1]}, "positive fx"),
        ({"d": [0.1, np.inf, 0, 0, 0]}, "plumb_bob"),
        ({"width": 0}, "image size"),
        ({"T_store_optical": np.diag([1.0, 1.0, -1.0, 1.0])}, "proper rotation"),
        ({"distortion_model": "equidistant"}, "not supported"),
    ],
)
def test_bad_calibration_names_camera_and_field(change: dict, message: str) -> None:
    args = {
        "k": K,
        "d": D,
        "width": 1280,
        "height": 720,
        "T_store_optical": np.eye(4),
        "distortion_model": "plumb_bob",
    }
    args.update(change)
    with pytest.raises(CameraModelError, match=message) as err:
        FusionCamera.from_camera_info("cam_bad", **args)
    assert "cam_bad" in str(err.value)


def test_rig_rejects_duplicate_ids_and_indexes_cameras() -> None:
    cams = ring_cameras(3)
    rig = CameraRig(cams)
    assert rig.index("cam01") == 1
    assert rig.index("nope") is None
    with pytest.raises(CameraModelError, match="duplicate"):
        CameraRig([cams[0], cams[0]])

"""Batched weighted triangulation: accuracy, calibrated covariance, wrong views, one view."""

from __future__ import annotations

import numpy as np
import pytest

from go_fusion.bench.synthetic import ring_cameras, skeleton
from go_fusion.core.association import (
    FLIP,
    AssociationConfig,
    CameraPeople,
    DetectionBatch,
    build_batch,
)
from go_fusion.core.cameras import CameraRig, FusionCamera
from go_fusion.core.triangulation import (
    SkeletonBatch,
    TriangulationConfig,
    body_prior,
    lift_single_views,
    triangulate_groups,
)

TRUTH = skeleton(np.array([3.0, 3.2]), heading=0.7, height_m=1.75)


def _views(
    cams: list[FusionCamera],
    rng: np.random.Generator,
    noise_px: float,
    joints: np.ndarray = TRUTH,
    score: float | None = None,
) -> list[CameraPeople]:
    out = []
    for cam in cams:
        uv, _ = cam.project(joints)
        uv = uv + rng.normal(0.0, noise_px, uv.shape)
        sc = np.full(17, score) if score is not None else rng.uniform(0.6, 1.0, 17)
        out.append(CameraPeople(cam.camera_id, 0.0, uv[None], sc[None], np.ones(1)))
    return out


def _triangulate(
    cams: list[FusionCamera],
    views: list[CameraPeople],
    cfg: TriangulationConfig | None = None,
) -> tuple[SkeletonBatch, DetectionBatch]:
    cfg = cfg or TriangulationConfig()
    rig = CameraRig(cams)
    batch, diags = build_batch(rig, views, 0.0, AssociationConfig())
    assert not diags
    return triangulate_groups(rig, batch, np.arange(len(batch))[None], cfg), batch


def test_joints_are_accurate_with_pixel_noise() -> None:
    cams = ring_cameras(6)
    skel, _ = _triangulate(cams, _views(cams, np.random.default_rng(0), noise_px=2.0))
    assert skel.valid.all()
    err = np.linalg.norm(skel.keypoints[0] - TRUTH, axis=1)
    assert err.mean() < 0.02 and err.max() < 0.05
    assert 0.5 < skel.reprojection_error[0] < 4.0


def test_covariance_matches_the_actual_error() -> None:
    """Normalised squared errors of 3D joints average about 3 (chi-square, 3 dof)."""
    cams = ring_cameras(5)
    cfg = TriangulationConfig(keypoint_sigma_px=3.0)
    rng = np.random.default_rng(1)
    nees = []
    for _ in range(40):
        skel, _ = _triangulate(cams, _views(cams, rng, noise_px=3.0, score=1.0), cfg)
        e = skel.keypoints[0] - TRUTH
        nees.append(np.einsum("ji,jik,jk->j", e, np.linalg.inv(skel.covariance[0]), e))
    assert 2.0 < float(np.mean(nees)) < 4.5


def test_a_wrong_view_is_dropped_and_does_not_bend_the_skeleton() -> None:
    cams = ring_cameras(5)
    rng = np.random.default_rng(2)
    views = _views(cams, rng, noise_px=2.0)
    other = skeleton(np.array([3.8, 2.4]), heading=-1.0)  # someone else, wrongly associated
    views[2] = _views([cams[2]], rng, noise_px=2.0, joints=other)[0]
    skel, batch = _triangulate(cams, views)
    err = np.linalg.norm(skel.keypoints[0] - TRUTH, axis=1)
    assert skel.valid.all() and err.max() < 0.06
    used_cams = batch.camera_index[skel.detections[0][skel.detections[0] >= 0]]
    assert 2 not in used_cams and len(used_cams) == 4
    assert skel.reprojection_error[0] < 4.0


def test_one_wrong_keypoint_is_rejected_per_joint() -> None:
    cams = ring_cameras(4)
    views = _views(cams, np.random.default_rng(3), noise_px=1.0)
    views[1].keypoints[0, 9] += 60.0  # left wrist in camera 1 is 60 px off
    skel, _ = _triangulate(cams, views)
    assert np.linalg.norm(skel.keypoints[0, 9] - TRUTH[9]) < 0.03
    assert (skel.detections[0] >= 0).sum() == 4  # the camera stays for the other joints


def test_two_views_that_disagree_leave_the_joint_out() -> None:
    cams = ring_cameras(2)
    views = _views(cams, np.random.default_rng(4), noise_px=1.0)
    views[0].keypoints[0, 10] += np.array([120.0, -90.0])
    skel, _ = _triangulate(cams, views)
    assert not skel.valid[0, 10]
    assert np.isnan(skel.keypoints[0, 10]).all() and skel.scores[0, 10] == 0.0
    assert skel.valid[0].sum() >= 15


def test_single_view_is_lifted_on_the_floor_with_a_long_covariance_along_the_ray() -> None:
    cams = ring_cameras(4)
    rig = CameraRig(cams[:1])
    batch, _ = build_batch(
        rig, _views(cams[:1], np.random.default_rng(5), 2.0), 0.0, AssociationConfig()
    )
    cfg = TriangulationConfig()
    mean, info, placed = body_prior(rig, batch, np.array([0]), cfg)
    assert placed.all()
    skel = lift_single_views(rig, batch, np.array([0]), mean, info, cfg)
    assert skel.single_view[0]
    hips = skel.valid[0, [11, 12]]
    assert hips.all()
    centre = skel.keypoints[0, [11, 12]].mean(axis=0)
    assert np.linalg.norm(centre[:2] - TRUTH[[11, 12]].mean(axis=0)[:2]) < 0.35
    cov = skel.covariance[0, 11]
    w, v = np.linalg.eigh(cov)
    ray = TRUTH[11] - rig.centers[0]
    ray /= np.linalg.norm(ray)
    assert abs(float(v[:, -1] @ ray)) > 0.8  # the long axis lies along the camera ray
    assert w[-1] > 10.0 * w[0]


@pytest.mark.parametrize("n_views", [2, 3, 8])
def test_batched_people_do_not_interfere(n_views: int) -> None:
    cams = ring_cameras(8)[:n_views]
    rng = np.random.default_rng(6)
    people = [skeleton(np.array([2.0 + 0.8 * i, 3.0]), heading=0.3 * i) for i in range(3)]
    views = []
    for cam in cams:
        uv = np.stack([cam.project(p)[0] for p in people]) + rng.normal(0, 1.0, (3, 17, 2))
        views.append(CameraPeople(cam.camera_id, 0.0, uv, np.ones((3, 17)), np.ones(3)))
    rig = CameraRig(cams)
    batch, _ = build_batch(rig, views, 0.0, AssociationConfig())
    groups = np.stack([np.flatnonzero(batch.source_index == p) for p in range(3)])
    skel = triangulate_groups(rig, batch, groups, TriangulationConfig())
    for p in range(3):
        ok = skel.valid[p]
        assert ok.sum() >= 15
        assert np.linalg.norm(skel.keypoints[p][ok] - people[p][ok], axis=1).max() < 0.05


def _lowered(drop_m: float, joints: list[int]) -> np.ndarray:
    body = TRUTH.copy()
    body[joints, 2] -= drop_m
    return body


UPPER_BODY = list(range(13))  # head, arms and hips: what a crouch lowers


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        # A phantom of mismatched views: every joint sunk (the ankles go under the floor).
        (_lowered(0.45, list(range(17))), False),
        # A crouch: hips as low as the phantom's, knees and feet where they were.
        (_lowered(0.47, UPPER_BODY), True),
        # Kneeling: knees on the floor, but the feet too, not under it.
        (_lowered(0.4, [*UPPER_BODY, 13, 14]), True),
        (TRUTH, True),
    ],
    ids=["sunk_phantom", "crouch", "kneel", "standing"],
)
def test_a_sunk_phantom_is_dropped_but_a_crouching_or_kneeling_shopper_is_kept(
    body: np.ndarray, kept: bool
) -> None:
    cams = ring_cameras(4)
    skel, _ = _triangulate(cams, _views(cams, np.random.default_rng(7), 1.0, joints=body))
    assert bool(skel.valid[0].any()) is kept
    if kept:
        assert np.nanmax(np.linalg.norm(skel.keypoints[0] - body, axis=1)) < 0.05


def test_the_phantom_check_can_be_turned_off() -> None:
    cams = ring_cameras(4)
    sunk = _lowered(0.45, list(range(17)))
    views = _views(cams, np.random.default_rng(8), 1.0, joints=sunk)
    skel, _ = _triangulate(cams, views, TriangulationConfig(phantom_hip_m=0.0))
    assert skel.valid[0, 11] and skel.valid[0, 12]


def test_a_single_view_lift_is_not_judged_a_phantom() -> None:
    """A phantom needs two views that agree; one view's depth comes from its prior."""
    cams = ring_cameras(4)
    rig = CameraRig(cams[:1])
    sunk = _lowered(0.45, list(range(17)))
    views = _views(cams[:1], np.random.default_rng(9), 1.0, joints=sunk)
    batch, _ = build_batch(rig, views, 0.0, AssociationConfig())
    cfg = TriangulationConfig()
    prior = np.broadcast_to(sunk, (1, 17, 3)).copy()
    info = np.broadcast_to(np.eye(3) / 0.05**2, (1, 17, 3, 3)).copy()
    skel = lift_single_views(rig, batch, np.array([0]), prior, info, cfg)
    assert skel.valid[0, 11] and skel.valid[0, 12]


@pytest.mark.parametrize("n_cams", [2, 3])
def test_a_view_that_swapped_left_and_right_is_mirrored_back(n_cams: int) -> None:
    """Seen from behind, a pose estimator often calls the left hand right in one view only;
    triangulated as labelled, each wrist lands between the two hands or is dropped."""
    cams = ring_cameras(n_cams)
    views = _views(cams, np.random.default_rng(6), noise_px=1.0)
    views[0].keypoint_scores[0, :3] = 1.0  # the reference view sees the face
    swapped = views[1]
    swapped.keypoints[0] = swapped.keypoints[0][FLIP]
    swapped.keypoint_scores[0] = swapped.keypoint_scores[0][FLIP]
    swapped.keypoint_scores[0, :3] = 0.3
    skel, _ = _triangulate(cams, views)
    err = np.linalg.norm(skel.keypoints[0] - TRUTH, axis=1)
    assert skel.valid.all() and err.max() < 0.05
    assert (skel.detections[0] >= 0).sum() == n_cams  # the mirrored view was kept, not dropped
    if n_cams > 2:
        return  # three views outvote the swapped one joint by joint even without mirroring
    plain, _ = _triangulate(cams, views, TriangulationConfig(side_consistency=False))
    wrists = np.array([9, 10])
    plain_err = np.linalg.norm(plain.keypoints[0, wrists] - TRUTH[wrists], axis=1)
    assert not (plain.valid[0, wrists].all() and np.nanmax(plain_err) < 0.05)


def test_views_that_agree_are_not_mirrored() -> None:
    cams = ring_cameras(4)
    rng = np.random.default_rng(7)
    for _ in range(10):
        views = _views(cams, rng, noise_px=3.0)
        skel, _ = _triangulate(cams, views)
        err = np.linalg.norm(skel.keypoints[0] - TRUTH, axis=1)
        assert skel.valid.all() and err.max() < 0.06


def test_a_side_hidden_in_every_view_does_not_mirror_a_view() -> None:
    """Only the left side seen: the mirrored pairing has nothing to pay for on the right, so it
    must be compared over the same joints, not win by default."""
    cams = ring_cameras(2)
    views = _views(cams, np.random.default_rng(8), noise_px=1.0)
    right = np.array([2, 4, 6, 8, 10, 12, 14, 16])
    views[0].keypoint_scores[0, :2] = 1.0  # nose and left eye: the reference sees the face
    for view in views:
        view.keypoint_scores[0, right] = 0.0
    skel, _ = _triangulate(cams, views)
    plain, _ = _triangulate(cams, views, TriangulationConfig(side_consistency=False))
    assert skel.valid[0].sum() == plain.valid[0].sum() >= 8
    left = np.array([1, 3, 5, 7, 9, 11, 13, 15])
    assert np.linalg.norm(skel.keypoints[0, left] - TRUTH[left], axis=1).max() < 0.05


def test_without_a_view_of_the_face_no_view_is_mirrored() -> None:
    """No view sees the face: the first view (here the swapped one) must not become the
    reference that every other view is mirrored to."""
    cams = ring_cameras(3)
    views = _views(cams, np.random.default_rng(9), noise_px=1.0)
    for view in views:
        view.keypoint_scores[0, :3] = 0.0
    swapped = views[0]
    swapped.keypoints[0] = swapped.keypoints[0][FLIP]
    swapped.keypoint_scores[0] = swapped.keypoint_scores[0][FLIP]
    skel, _ = _triangulate(cams, views)
    plain, _ = _triangulate(cams, views, TriangulationConfig(side_consistency=False))
    np.testing.assert_array_equal(skel.valid, plain.valid)
    np.testing.assert_allclose(skel.keypoints, plain.keypoints, equal_nan=True)

"""Cross-view association: 5 people in 4 views, anchors from the previous step, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from go_fusion.bench.synthetic import RenderOptions, render, ring_cameras, skeleton
from go_fusion.core.association import (
    AssociationConfig,
    CameraPeople,
    assign_to_anchors,
    build_batch,
    cluster_views,
)
from go_fusion.core.cameras import CameraRig
from go_fusion.core.multiview import MultiViewConfig, MultiViewTracker

CAMS = ring_cameras(4, centre=(3.0, 3.0), radius_m=4.5, focal_ratio=0.4)
PEOPLE = [
    skeleton(np.array(xy), heading=h, height_m=hm)
    for xy, h, hm in [
        ((2.0, 2.0), 0.0, 1.80),
        ((3.0, 3.0), 1.0, 1.60),
        ((4.0, 2.2), 2.0, 1.75),
        ((2.4, 4.0), -1.0, 1.70),
        ((3.8, 3.9), 3.0, 1.90),
    ]
]
OPTIONS = RenderOptions(noise_px=2.0, drop_keypoint=0.05)


def _render(seed: int, people: list[np.ndarray] = PEOPLE, t: float = 0.0):
    return render(CAMS, people, t, np.random.default_rng(seed), OPTIONS)


def _owners(batch, who: dict[str, list[int]]) -> np.ndarray:
    return np.array(
        [
            who[CAMS[c].camera_id][s]
            for c, s in zip(batch.camera_index, batch.source_index, strict=True)
        ]
    )


def test_five_people_in_four_views_are_grouped_by_person() -> None:
    dets, who = _render(0)
    rig = CameraRig(CAMS)
    batch, diags = build_batch(rig, list(dets.values()), 0.0, AssociationConfig())
    assert not diags and len(batch) == 20
    groups = cluster_views(rig, batch, np.arange(len(batch)), AssociationConfig())
    owners = _owners(batch, who)
    assert len(groups) == 5
    for g in groups:
        assert len(set(owners[g].tolist())) == 1, "a group mixes people"
        assert len(g) == 4 and len(set(batch.camera_index[g].tolist())) == 4


def test_tracker_step_triangulates_every_person_from_every_camera() -> None:
    dets, _ = _render(1)
    out = MultiViewTracker(MultiViewConfig(), CAMS).update(0.0, dets)
    assert len(out.skeletons) == 5 and out.rejected is None
    for skel in out.skeletons:
        assert len(skel.camera_ids) == 4 and not skel.single_view
        err = min(np.nanmean(np.linalg.norm(skel.keypoints - p, axis=1)) for p in PEOPLE)
        assert err < 0.03


def test_previous_skeletons_anchor_the_next_step() -> None:
    dets, who = _render(2)
    rig = CameraRig(CAMS)
    cfg = AssociationConfig()
    batch, _ = build_batch(rig, list(dets.values()), 0.0, cfg)
    moved = [p + np.array([0.05, -0.04, 0.0]) for p in PEOPLE]  # 1/15 s of walking
    anchors = np.stack(moved)
    det_anchor, cost = assign_to_anchors(
        rig, batch, anchors, np.ones((5, 17), bool), np.ones(len(batch), bool), cfg
    )
    np.testing.assert_array_equal(det_anchor, _owners(batch, who))
    assert np.all(cost < 0.15)
    # A camera an anchor already has is blocked: that anchor takes nothing from it.
    blocked = np.zeros((5, len(CAMS)), dtype=bool)
    blocked[0, 1] = True
    det_anchor, _ = assign_to_anchors(
        rig, batch, anchors, np.ones((5, 17), bool), np.ones(len(batch), bool), cfg, blocked
    )
    assert not np.any((det_anchor == 0) & (batch.camera_index == 1))


def test_missing_camera_still_gives_every_person() -> None:
    tracker = MultiViewTracker(MultiViewConfig(), CAMS)
    dets, _ = _render(3)
    del dets["cam02"]
    out = tracker.update(0.0, dets)
    assert len(out.skeletons) == 5
    assert all("cam02" not in s.camera_ids and len(s.camera_ids) == 3 for s in out.skeletons)


def test_a_person_seen_by_one_camera_gets_a_single_view_skeleton() -> None:
    people = [*PEOPLE, skeleton(np.array([1.0, 3.0]), heading=0.0)]
    dets, _ = render(
        CAMS,
        people,
        0.0,
        np.random.default_rng(4),
        OPTIONS,
        hidden={"cam01": {5}, "cam02": {5}, "cam03": {5}},
    )
    out = MultiViewTracker(MultiViewConfig(), CAMS).update(0.0, dets)
    singles = [s for s in out.skeletons if s.single_view]
    assert len(out.skeletons) == 6 and len(singles) == 1
    hips = np.nanmean(singles[0].keypoints[[11, 12]], axis=0)
    assert np.linalg.norm(hips[:2] - np.array([1.0, 3.0])) < 0.4


def test_bad_views_are_dropped_with_a_named_diagnostic() -> None:
    dets, _ = _render(5)
    rig = CameraRig(CAMS)
    cam0 = dets["cam00"]
    kp = cam0.keypoints.copy()
    kp[0, 3] = np.nan
    scores = cam0.keypoint_scores.copy()
    scores[1, 4] = 7.0
    views = [
        CameraPeople("cam00", 0.0, kp, scores, cam0.scores),
        CameraPeople("cam_x", 0.0, kp, scores, cam0.scores),
        CameraPeople(
            "cam01",
            0.5,
            dets["cam01"].keypoints,
            dets["cam01"].keypoint_scores,
            dets["cam01"].scores,
        ),
        CameraPeople("cam02", 0.0, np.zeros((2, 5, 2)), np.zeros((2, 17)), np.ones(2)),
        dets["cam03"],
    ]
    batch, diags = build_batch(rig, views, 0.0, AssociationConfig())
    text = "\n".join(diags)
    assert "unknown camera 'cam_x'" in text
    assert "'cam01' stamp" in text
    assert "'cam02': keypoints" in text
    assert "'cam00': 1 non-finite and 1 out-of-range" in text
    assert set(batch.camera_index.tolist()) == {0, 3}
    assert np.all(np.isfinite(batch.directions[batch.valid]))


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_crowded_step_keeps_people_apart(seed: int) -> None:
    """Ten people 0.6 m apart in a 3 x 2 m patch: no group mixes two of them."""
    rng = np.random.default_rng(seed)
    xy = np.array([[1.8 + 0.6 * (i % 5), 2.4 + 0.7 * (i // 5)] for i in range(10)])
    people = [skeleton(p + rng.normal(0, 0.05, 2), rng.uniform(-3, 3)) for p in xy]
    dets, who = render(CAMS, people, 0.0, rng, OPTIONS)
    rig = CameraRig(CAMS)
    batch, _ = build_batch(rig, list(dets.values()), 0.0, AssociationConfig())
    owners = _owners(batch, who)
    groups = cluster_views(rig, batch, np.arange(len(batch)), AssociationConfig())
    assert all(len(set(owners[g].tolist())) == 1 for g in groups)
    assert sum(len(g) >= 2 for g in groups) >= 9


def test_garbage_views_never_crash_a_step() -> None:
    """Random corruption of one camera per step: NaN, huge, negative, empty, cut, collapsed."""
    rng = np.random.default_rng(9)
    tracker = MultiViewTracker(MultiViewConfig(), CAMS)
    diagnostics = 0
    for k in range(60):
        dets, _ = _render(100 + k, t=k / 15)
        cam = CAMS[k % 4].camera_id
        view = dets[cam]
        kp, ks = view.keypoints.copy(), view.keypoint_scores.copy()
        kind = k % 6
        if kind == 0:
            kp[0] = np.nan
        elif kind == 1:
            kp *= 1e9
        elif kind == 2:
            ks[:] = -5.0
        elif kind == 3:
            kp, ks = np.zeros((0, 17, 2)), np.zeros((0, 17))
        elif kind == 4:
            kp = np.full_like(kp, 640.0)  # every keypoint on one pixel
        else:
            kp = kp + rng.normal(0.0, 200.0, kp.shape)
        dets[cam] = CameraPeople(cam, k / 15, kp, ks, np.ones(len(ks)))
        out = tracker.update(k / 15, dets)
        assert out.rejected is None
        assert all(np.isfinite(s.keypoints[s.valid]).all() for s in out.skeletons)
        diagnostics += len(out.diagnostics)
    assert diagnostics >= 20  # the NaN and out-of-range views were reported


def _with_duplicate(view: CameraPeople, person: int, rng: np.random.Generator) -> CameraPeople:
    """The view with a second, less confident detection of ``person`` appended (a top-down pose
    network run on two overlapping boxes): keypoints 2 px apart, the legs missing."""
    kp = view.keypoints[person] + rng.normal(0.0, 2.0, (17, 2))
    ks = view.keypoint_scores[person].copy()
    ks[13:] = 0.0
    return CameraPeople(
        view.camera_id,
        view.stamp,
        np.concatenate([view.keypoints, kp[None]]),
        np.concatenate([view.keypoint_scores, ks[None]]),
        np.concatenate([view.scores, [0.5 * view.scores[person]]]),
    )


def test_a_person_found_twice_in_one_image_is_one_detection() -> None:
    dets, _ = _render(0)
    rng = np.random.default_rng(7)
    dets["cam01"] = _with_duplicate(dets["cam01"], 2, rng)
    rig = CameraRig(CAMS)
    batch, _ = build_batch(rig, list(dets.values()), 0.0, AssociationConfig())
    assert len(batch) == 20  # the duplicate is gone, every original stays
    cam01 = rig.index("cam01")
    assert sorted(batch.source_index[batch.camera_index == cam01].tolist()) == [0, 1, 2, 3, 4]
    # without the check the duplicate stays and becomes a sixth, one-view person
    off = AssociationConfig(duplicate_fraction=1.1)
    assert len(build_batch(rig, list(dets.values()), 0.0, off)[0]) == 21
    tracker = MultiViewTracker(MultiViewConfig(), CAMS)
    out = tracker.update(0.0, dets)
    assert len(out.skeletons) == 5


def test_people_close_together_in_an_image_are_not_duplicates() -> None:
    # two people a step apart, one behind the other from cam00: boxes overlap, joints do not
    people = [
        skeleton(np.array([3.0, 2.75]), heading=0.0),
        skeleton(np.array([3.0, 3.25]), heading=0.0),
    ]
    dets, _ = render(CAMS, people, 0.0, np.random.default_rng(8), OPTIONS)
    batch, _ = build_batch(CameraRig(CAMS), list(dets.values()), 0.0, AssociationConfig())
    assert len(batch) == sum(len(v.scores) for v in dets.values()) == 8
    # the check did look at them: in some camera their keypoint boxes overlap by half
    overlapping = 0
    for view in dets.values():
        lo, hi = view.keypoints.min(axis=1), view.keypoints.max(axis=1)
        gap = np.linalg.norm((lo[0] + hi[0]) / 2 - (lo[1] + hi[1]) / 2)
        overlapping += gap <= 0.5 * np.linalg.norm(hi[0] - lo[0])
    assert overlapping >= 1

"""Nobody stands inside a gondola: single-view depths are moved out of fixtures' footprints."""

from __future__ import annotations

import numpy as np
import pytest

from go_fusion.bench.synthetic import ring_cameras, skeleton
from go_fusion.core.association import CameraPeople, anchor_centers
from go_fusion.core.multiview import MultiViewConfig, MultiViewTracker
from go_fusion.core.triangulation import FloorBox, step_off_fixtures

BOX = FloorBox("g1", (0.3, 0.8), (0.8, 3.2))  # the small store's gondola


def test_a_centre_inside_a_footprint_moves_towards_its_camera_to_the_edge() -> None:
    centre = np.array([[0.6, 2.0]])
    camera = np.array([[3.7, 0.3]])
    shift = step_off_fixtures(centre, camera, [BOX], 0.0)
    moved = centre + shift
    assert moved[0, 0] == pytest.approx(0.8, abs=1e-4)  # out through the open face
    towards = (camera - centre)[0] / np.linalg.norm(camera - centre)
    assert shift[0] / np.linalg.norm(shift[0]) == pytest.approx(towards)  # along the ray


def test_the_clearance_grows_the_footprint() -> None:
    moved = np.array([[0.85, 2.0]]) + step_off_fixtures(
        np.array([[0.85, 2.0]]), np.array([[3.7, 2.0]]), [BOX], 0.1
    )
    assert moved[0] == pytest.approx([0.9, 2.0], abs=1e-4)


def test_centres_outside_non_finite_or_seen_from_above_the_fixture_stay() -> None:
    centres = np.array([[1.1, 2.0], [np.nan, 2.0], [0.6, 2.0]])
    cameras = np.array([[3.7, 0.3], [3.7, 0.3], [0.5, 2.0]])  # the last camera is over it
    assert np.all(step_off_fixtures(centres, cameras, [BOX], 0.0) == 0.0)
    assert step_off_fixtures(centres, cameras, [], 0.0).shape == (3, 2)


def test_stepping_out_of_one_fixture_into_another_leaves_both() -> None:
    back_to_back = [BOX, FloorBox("g2", (0.8, 0.8), (1.3, 3.2))]
    moved = np.array([[0.5, 2.0]]) + step_off_fixtures(
        np.array([[0.5, 2.0]]), np.array([[3.7, 2.0]]), back_to_back, 0.0
    )
    assert moved[0, 0] == pytest.approx(1.3, abs=1e-4)


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="differ"):
        step_off_fixtures(np.zeros((2, 2)), np.zeros((1, 2)), [BOX], 0.0)


# ---- in the multi-view tracker -------------------------------------------------------------


def _one_view(truth: np.ndarray) -> tuple[list, CameraPeople]:
    cams = ring_cameras(4, centre=(3.0, 3.0), radius_m=4.5, focal_ratio=0.4)[:1]
    uv, _ = cams[0].project(truth)
    return cams, CameraPeople(cams[0].camera_id, 0.0, uv[None], np.full((1, 17), 0.9), np.ones(1))


@pytest.mark.parametrize("with_fixture", [True, False])
def test_a_body_lifted_from_one_view_into_a_fixture_is_moved_out_along_its_rays(
    with_fixture: bool,
) -> None:
    # The ankles the camera reports lie on the floor inside a counter (hidden feet, someone
    # else's): the standing-body prior puts the person there. With the counter's footprint
    # the person comes out towards the camera, still on every ray the camera saw.
    truth = skeleton(np.array([3.0, 3.0]), heading=0.4, height_m=1.75)
    cams, view = _one_view(truth)
    counter = FloorBox("counter", (2.7, 2.7), (3.3, 3.3))
    tracker = MultiViewTracker(MultiViewConfig(), cams, fixtures=[counter] if with_fixture else [])
    out = tracker.update(0.0, [view])
    assert len(out.skeletons) == 1
    skel = out.skeletons[0]
    centre = anchor_centers(skel.keypoints[None], skel.valid[None])[0, :2]
    inside = bool(np.all((centre > counter.min_xy) & (centre < counter.max_xy)))
    assert inside != with_fixture
    assert tracker.stepped_off == (1 if with_fixture else 0)
    assert skel.reprojection_error < 2.0  # on the camera's rays either way
    if with_fixture:  # nearer the camera than the body in the counter
        camera_xy = cams[0].center[:2]
        assert np.linalg.norm(centre - camera_xy) < np.linalg.norm(
            truth[[5, 6, 11, 12], :2].mean(axis=0) - camera_xy
        )

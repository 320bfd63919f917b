"""Shelf facings: a lane of a mixed bin that changes between two clear, steady views is reported
with the stamps around the change; people over it, a flicker and bad input are not."""

from __future__ import annotations

import numpy as np
import pytest

from go_common.core.store import load_store
from go_perception.core.facings import FacingConfig, FacingWatcher, people_mask

MIXED = "g1_xp_s3_b3"
CAMERA = "cam_aisle"  # faces the shelf: the two lanes lie side by side in its image


@pytest.fixture(scope="module")
def store():
    return load_store("small")


def _lane_pixel(store, k: int) -> tuple[int, int]:
    """Pixel at the middle of lane k's units in CAMERA."""
    lane = store.facing_lanes(MIXED)[k]
    height = float(max(store.products[lane.sku].dims_m))
    centre = (lane.lo + lane.hi) / 2.0
    centre[2] = lane.lo[2] + height / 2.0
    centre[0] = lane.hi[0] - 0.05  # the front units
    uv, _ = store.cameras[CAMERA].project(centre[None])
    return round(float(uv[0, 0])), round(float(uv[0, 1]))


def _frame(store, painted: int | None = None) -> np.ndarray:
    image = np.full((480, 640, 3), 120, dtype=np.uint8)
    if painted is not None:
        u, v = _lane_pixel(store, painted)
        image[v - 8 : v + 9, u - 12 : u + 13] = (30, 200, 40)
    return image


def _feed(watcher: FacingWatcher, frames, t0: float = 0.0, people=()):
    out = []
    for i, image in enumerate(frames):
        out += watcher.update(t0 + 0.1 * i, image, people)
    return out


def test_watches_only_bins_with_two_lanes(store) -> None:
    for camera in store.cameras:
        assert FacingWatcher(store, camera).bin_ids == (MIXED,)
    with pytest.raises(ValueError, match="camera 'nope'"):
        FacingWatcher(store, "nope")


def test_a_steady_change_names_the_lane_and_brackets_it_in_time(store) -> None:
    watcher = FacingWatcher(store, CAMERA)
    before = [_frame(store)] * 5
    after = [_frame(store, painted=1)] * 5
    assert _feed(watcher, before) == []  # the first steady view is the reference
    changes = _feed(watcher, after, t0=0.5)
    assert len(changes) == 1
    change = changes[0]
    assert change.bin_id == MIXED and change.camera_id == CAMERA
    assert change.sku == store.facing_lanes(MIXED)[1].sku
    # since: the first view confirmed steady (confirm_s 0.25 s at 10 Hz); the change is
    # reported once the new look has stayed steady as long.
    assert change.since == pytest.approx(0.3)
    assert change.t == pytest.approx(0.8)
    assert change.moved and change.changed >= FacingConfig().min_changed
    # The new look is the reference now: nothing moves while it stays; the lane that did not
    # change is reported, unmoved, once report_every_s (1 s) has passed since its last report.
    more = _feed(watcher, after, t0=1.0)
    assert [(r.sku, r.moved, round(r.t, 1)) for r in more] == [
        (store.facing_lanes(MIXED)[0].sku, False, 1.3)
    ]


def test_a_flicker_is_not_a_change_and_a_lane_seen_again_unchanged_says_so(store) -> None:
    watcher = FacingWatcher(store, CAMERA)
    _feed(watcher, [_frame(store)] * 5)
    flicker = [_frame(store), _frame(store, painted=0)] * 4  # never steady
    assert _feed(watcher, flicker, t0=0.5) == []
    # Steady again and as it was: lane 0 (which flickered) is reported once, unmoved; lane 1,
    # in view all along, is reported once report_every_s (1 s) has passed.
    again = _feed(watcher, [_frame(store)] * 5, t0=1.3)
    lanes = store.facing_lanes(MIXED)
    assert sorted((r.sku, r.moved, round(r.t, 1)) for r in again) == sorted(
        [(lanes[0].sku, False, 1.6), (lanes[1].sku, False, 1.3)]
    )
    assert all(r.since == pytest.approx(0.3) and r.changed < 0.01 for r in again)


def test_a_person_over_the_lane_hides_it(store) -> None:
    watcher = FacingWatcher(store, CAMERA)
    _feed(watcher, [_frame(store)] * 5)
    u, v = _lane_pixel(store, 1)
    keypoints = np.zeros((17, 3))
    keypoints[:, 0] = u + np.linspace(-3, 3, 17)
    keypoints[:, 1] = v + np.linspace(-40, 40, 17)
    keypoints[:, 2] = 0.9
    person = (np.array([u - 20, v - 50, u + 20, v + 50], dtype=float), keypoints)
    # The lane changes while someone stands over it: nothing until they have gone.
    assert _feed(watcher, [_frame(store, painted=1)] * 5, t0=0.5, people=[person]) == []
    later = [r for r in _feed(watcher, [_frame(store, painted=1)] * 5, t0=1.0) if r.moved]
    assert [c.sku for c in later] == [store.facing_lanes(MIXED)[1].sku]
    assert later[0].since == pytest.approx(0.3)  # the change lies in the hidden stretch


def test_people_mask_draws_trusted_skeletons_and_boxes_otherwise() -> None:
    cfg = FacingConfig()
    rect = (0, 0, 200, 200)
    kp = np.zeros((17, 3))
    kp[:, 0] = 100.0
    kp[:, 1] = np.linspace(20, 180, 17)
    kp[:, 2] = 0.9
    box = np.array([60.0, 10.0, 140.0, 190.0])
    drawn = people_mask([(box, kp)], rect, cfg)
    assert drawn[100, 100] and not drawn[100, 65]  # a skeleton is thinner than its box
    unsure = kp.copy()
    unsure[:, 2] = 0.1  # no keypoint to trust: the whole box
    boxed = people_mask([(box, unsure)], rect, cfg)
    assert boxed[100, 65] and not boxed[100, 30]
    with pytest.raises(ValueError, match="17, 3"):
        people_mask([(box, kp[:5])], rect, cfg)


def test_bad_input_and_config_are_refused(store) -> None:
    watcher = FacingWatcher(store, CAMERA)
    with pytest.raises(ValueError, match="finite"):
        watcher.update(float("nan"), _frame(store), [])
    with pytest.raises(ValueError, match="H, W, 3"):
        watcher.update(0.0, np.zeros((480, 640), dtype=np.uint8), [])
    with pytest.raises(ValueError, match="stable_changed"):
        FacingConfig(stable_changed=0.2, min_changed=0.1)
    with pytest.raises(ValueError, match="diff_threshold"):
        FacingConfig(diff_threshold=0.0)

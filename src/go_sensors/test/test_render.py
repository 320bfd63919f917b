"""Renderer: projection, occlusion by depth, facings from bin contents, determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from go_common.core.store import StoreModel, store_from_dict
from go_sensors.core.render import Renderer, RenderOptions
from go_sensors.core.render.geometry import CameraGeometry
from go_sensors.core.render.poses import BodyPose, skeleton
from go_sensors.core.world import Appearance, HeldItem, PersonState, WorldState

CLEAN = RenderOptions(noise_sigma=0.0, blur_sigma=0.0, vignette=0.0)
APPEARANCE = Appearance((200, 30, 30), (30, 30, 160), (230, 190, 160), (40, 30, 20), 1.75)
OTHER = Appearance((30, 200, 30), (90, 90, 90), (150, 100, 70), (20, 20, 20), 1.8)


def _store_dict() -> dict:
    """A 6 x 5 m room, one double-sided gondola along x at y = 2.5, and three cameras."""
    products = [
        {
            "sku": f"P{i}",
            "price": 1.0,
            "weight_g": 500.0,
            "dims_m": [0.08, 0.07, 0.2],
            "color": [40 * i + 20, 200 - 30 * i, 90],
        }
        for i in range(3)
    ]
    shelves, bins, channels = [], [], []
    for side, y in (("-y", 2.3), ("+y", 2.7)):
        for k, z in enumerate((0.2, 0.8, 1.4)):
            sid = f"s{side}{k}"
            shelves.append({"id": sid, "gondola": "g1", "side": side, "z": z, "clearance": 0.4})
            for j in range(4):
                bid = f"b{side}{k}{j}"
                channels.append(bid)
                bins.append(
                    {
                        "id": bid,
                        "shelf": sid,
                        "center": [1.75 + 0.5 * j, y, z + 0.15],
                        "size": [0.48, 0.38, 0.3],
                        "sku": f"P{(j + k) % 3}",
                        "count": 10,
                    }
                )
    cam = {"width": 320, "height": 240, "fx": 190.0, "fy": 190.0}
    return {
        "store_id": "test_room",
        "floor_size": [6.0, 5.0],
        "gondolas": [
            {"id": "g1", "center": [2.5, 2.5, 0.9], "size": [2.0, 0.8, 1.8], "double_sided": True}
        ],
        "shelves": shelves,
        "products": products,
        "bins": bins,
        "boards": [{"id": "B1", "rate_hz": 30, "channels": channels}],
        "cameras": [
            # Angled ceiling camera with a noticeable barrel distortion.
            {
                "id": "cam_a",
                **cam,
                "dist": [-0.2, 0.05, 0.001, -0.001, 0.0],
                "position": [0.3, 0.3, 2.8],
                "look_at": [2.5, 2.0, 0.5],
            },
            # Eye-level camera on the -y side looking across the gondola towards +y.
            {"id": "cam_low", **cam, "position": [2.5, 0.2, 1.2], "look_at": [2.5, 4.0, 1.0]},
            {"id": "cam_top", **cam, "position": [3.0, 2.5, 2.9], "look_at": [3.0, 2.5, 0.0]},
        ],
        "gates": [],
    }


@pytest.fixture(scope="module")
def store() -> StoreModel:
    return store_from_dict(_store_dict(), name="test_room.yaml")


@pytest.fixture(scope="module")
def renderer(store: StoreModel) -> Renderer:
    return Renderer(store, CLEAN)


def _person(
    pid: str, x: float, y: float, heading: float = 0.0, appearance: Appearance = APPEARANCE
) -> PersonState:
    pose = BodyPose(x=x, y=y, heading=heading, height_m=appearance.height_m)
    return PersonState(pid, skeleton(pose), appearance)


def _floor_points() -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(0.4, 5.6, 9), np.linspace(0.3, 1.2, 5))
    return np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)


@pytest.mark.parametrize("camera_id", ["cam_a", "cam_low", "cam_top"])
def test_projection_matches_cv2_and_store_camera(store: StoreModel, camera_id: str) -> None:
    camera = store.cameras[camera_id]
    geom = CameraGeometry.from_camera(camera)
    pts = _floor_points() + np.array([0.0, 0.0, 0.5])
    # Independent reference: cv2.projectPoints on the inverse of the camera pose.
    t_opt_store = np.linalg.inv(camera.T_store_optical)
    rvec, _ = cv2.Rodrigues(t_opt_store[:3, :3])
    ref, _ = cv2.projectPoints(pts, rvec, t_opt_store[:3, 3], camera.K, camera.dist)
    uv, depth, _ = geom.project(pts)
    front = depth > 0.1
    np.testing.assert_allclose(uv[front], ref.reshape(-1, 2)[front], atol=1e-6)
    store_uv, store_depth = camera.project(pts)
    np.testing.assert_allclose(uv[front], store_uv[front], atol=1e-6)
    np.testing.assert_allclose(depth, store_depth, atol=1e-9)


@pytest.mark.parametrize("camera_id", ["cam_a", "cam_top"])
def test_static_depth_agrees_with_projection(renderer: Renderer, camera_id: str) -> None:
    """A floor point's pixel (cv2.projectPoints) sees the floor at that point's depth."""
    geom = renderer.geometry(camera_id)
    _, depth_map = renderer.background(camera_id, WorldState(0.0, ()))
    pts = _floor_points()
    uv, depth, valid = geom.project(pts)
    checked = 0
    for (u, v), d, ok in zip(uv, depth, valid, strict=True):
        ui, vi = round(u), round(v)
        if not ok or not (2 <= ui < geom.width - 2 and 2 <= vi < geom.height - 2):
            continue
        window = depth_map[vi - 1 : vi + 2, ui - 1 : ui + 2]
        if not np.all(np.isfinite(window)) or np.ptp(window) > 0.2:
            continue  # an edge of a gondola, not plain floor
        # Within one pixel of the exact point: the depth gradient bounds the difference.
        assert abs(depth_map[vi, ui] - d) <= np.ptp(window) + 1e-3, (u, v)
        checked += 1
    assert checked >= 10


def test_ray_of_each_pixel_reprojects_to_that_pixel(renderer: Renderer) -> None:
    geom = renderer.geometry("cam_a")
    rng = np.random.default_rng(0)
    us = rng.integers(0, geom.width, 50)
    vs = rng.integers(0, geom.height, 50)
    points = geom.origin + geom.rays_store[vs, us].astype(np.float64) * 2.0
    uv, depth, _ = geom.project(points)
    np.testing.assert_allclose(depth, 2.0, atol=1e-4)
    np.testing.assert_allclose(uv, np.stack([us, vs], axis=1), atol=0.02)


def test_person_behind_gondola_is_hidden_and_in_front_is_drawn(renderer: Renderer) -> None:
    empty = renderer.render("cam_low", WorldState(0.0, ()))
    behind = WorldState(0.0, (_person("hidden", 2.5, 3.3, heading=-np.pi / 2),))
    assert np.array_equal(renderer.render("cam_low", behind), empty)
    labels = renderer.render_labelled("cam_low", behind).people
    assert len(labels) == 1 and labels[0].visible_pixels == 0
    assert np.all(labels[0].visibility[labels[0].visibility > 0] == 1)

    front = WorldState(0.0, (_person("shown", 2.5, 1.4, heading=-np.pi / 2),))
    image = renderer.render("cam_low", front)
    changed = np.any(image != empty, axis=2)
    assert changed.sum() > 2000
    label = renderer.render_labelled("cam_low", front).people[0]
    assert label.visible_pixels == pytest.approx(changed.sum(), rel=0.05)
    # Facing the camera: face, shoulders and hips are all visible.
    assert np.all(label.visibility[[0, 5, 6, 11, 12]] == 2)


def test_people_occlude_each_other(renderer: Renderer) -> None:
    far = _person("far", 2.5, 1.9, heading=-np.pi / 2, appearance=OTHER)
    near = _person("near", 2.5, 1.0, heading=-np.pi / 2)
    alone = renderer.render_labelled("cam_low", WorldState(0.0, (far,))).people[0]
    both = renderer.render_labelled("cam_low", WorldState(0.0, (far, near)))
    labels = {p.person_id: p for p in both.people}
    assert labels["far"].visible_pixels < 0.5 * alone.visible_pixels
    assert labels["far"].visibility[5] == 1 and labels["far"].visibility[6] == 1
    assert labels["near"].visibility[5] == 2
    # The far person's chest pixel shows the near person's red shirt.
    u, v = np.round(labels["far"].keypoints_uv[[5, 6]].mean(axis=0)).astype(int)
    b, g, r = both.image[v, u].astype(int)
    assert r > g + 60 and r > b + 60


def test_labels_are_the_projection_of_the_keypoints(renderer: Renderer) -> None:
    person = _person("p", 1.5, 1.2, heading=0.7)
    label = renderer.render_labelled("cam_a", WorldState(0.0, (person,))).people[0]
    geom = renderer.geometry("cam_a")
    ref, _ = cv2.projectPoints(person.keypoints, geom.rvec, geom.tvec, geom.K, geom.dist)
    np.testing.assert_allclose(label.keypoints_uv, ref.reshape(17, 2), atol=1e-9)
    assert label.visible_pixels > 0
    x, y, w, h = label.bbox
    inside = label.visibility == 2
    assert np.all(label.keypoints_uv[inside, 0] >= x - 8)
    assert np.all(label.keypoints_uv[inside, 0] <= x + w + 8)
    assert np.all(label.keypoints_uv[inside, 1] >= y - 8)
    assert np.all(label.keypoints_uv[inside, 1] <= y + h + 8)


def test_person_outside_the_view_is_not_labelled(renderer: Renderer) -> None:
    # Behind cam_low (which looks towards +y from y = 0.2).
    person = _person("back", 2.5, 0.05)
    result = renderer.render_labelled("cam_low", WorldState(0.0, (person,)))
    assert all(p.visible_pixels == 0 for p in result.people)


def test_taken_items_disappear_from_the_shelf(store: StoreModel, renderer: Renderer) -> None:
    full = renderer.render("cam_low", WorldState(0.0, ()))
    bin_id = "b-y11"
    sku = store.planogram[bin_id][0].sku
    taken = WorldState(1.0, (), {bin_id: {sku: 0}})
    image = renderer.render("cam_low", taken)
    changed = np.any(image != full, axis=2)
    assert changed.sum() > 200
    # Only pixels of that bin's image changed.
    geom = renderer.geometry("cam_low")
    b = store.bins[bin_id]
    corners = np.array(
        [
            [x, y, z]
            for x in (b.min_corner[0], b.max_corner[0])
            for y in (b.min_corner[1], b.max_corner[1])
            for z in (b.min_corner[2], b.max_corner[2])
        ]
    )
    uv, _, _ = geom.project(corners)
    ys, xs = np.nonzero(changed)
    assert xs.min() >= uv[:, 0].min() - 2 and xs.max() <= uv[:, 0].max() + 2
    assert ys.min() >= uv[:, 1].min() - 2 and ys.max() <= uv[:, 1].max() + 2
    # Restocking restores the original image exactly.
    restocked = renderer.render("cam_low", WorldState(2.0, (), {bin_id: {sku: 10}}))
    assert np.array_equal(restocked, full)


def test_rendering_is_deterministic_by_seed(store: StoreModel) -> None:
    world = WorldState(0.5, (_person("p", 1.5, 1.2), _person("q", 4.0, 3.8, appearance=OTHER)))
    a = Renderer(store, RenderOptions(seed=3)).render("cam_top", world)
    b = Renderer(store, RenderOptions(seed=3)).render("cam_top", world)
    c = Renderer(store, RenderOptions(seed=4)).render("cam_top", world)
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # The noise differs from frame to frame but not between identical calls.
    r = Renderer(store, RenderOptions(seed=3))
    first = r.render("cam_top", world)
    later = r.render("cam_top", WorldState(0.6, world.people))
    assert np.array_equal(r.render("cam_top", world), first)
    assert not np.array_equal(first, later)


def test_unknown_camera_is_named(renderer: Renderer) -> None:
    with pytest.raises(KeyError, match="nope"):
        renderer.render("nope", WorldState(0.0, ()))


def test_person_with_nan_keypoints_is_skipped(renderer: Renderer) -> None:
    bad = _person("bad", 2.0, 1.0)
    kp = bad.keypoints.copy()
    kp[9] = np.nan
    world = WorldState(0.0, (PersonState("bad", kp, APPEARANCE),))
    image = renderer.render("cam_a", world)
    assert image.shape == (240, 320, 3)


def test_held_product_is_drawn_at_the_hand(store: StoreModel, renderer: Renderer) -> None:
    person = _person("p", 2.5, 1.2, heading=-np.pi / 2)
    holding = PersonState("p", person.keypoints, APPEARANCE, (HeldItem("P2", "right"),))
    plain = renderer.render("cam_low", WorldState(0.0, (person,)))
    image = renderer.render("cam_low", WorldState(0.0, (holding,)))
    changed = np.argwhere(np.any(image != plain, axis=2))
    assert len(changed) > 20
    wrist = renderer.render_labelled("cam_low", WorldState(0.0, (person,))).people[0]
    u, v = wrist.keypoints_uv[10]
    assert np.all(np.abs(changed[:, 1] - u) < 40) and np.all(np.abs(changed[:, 0] - v) < 40)
    # A SKU that is not in the catalogue is not drawn (and does not fail the frame).
    unknown = PersonState("p", person.keypoints, APPEARANCE, (HeldItem("NOPE", "left"),))
    assert np.array_equal(renderer.render("cam_low", WorldState(0.0, (unknown,))), plain)


def test_malformed_keypoints_name_the_person(renderer: Renderer) -> None:
    bad = PersonState("shopper_9", np.zeros((16, 3)), APPEARANCE)
    with pytest.raises(ValueError, match="shopper_9"):
        renderer.render("cam_a", WorldState(0.0, (bad,)))

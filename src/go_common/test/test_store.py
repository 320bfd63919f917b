"""The store model: shipped stores load and meet the layout rules; bad YAML names file + field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from go_common.core.store import (
    STORES_DIR,
    StoreConfigError,
    list_stores,
    load_store,
    store_from_dict,
)


@pytest.fixture(scope="module")
def small_yaml() -> dict[str, Any]:
    return yaml.safe_load((STORES_DIR / "small.yaml").read_text())


def test_shipped_stores_are_listed_and_load() -> None:
    assert {"small", "convenience"} <= set(list_stores())
    small = load_store("small")
    assert small.store_id == "small" and small.frame_id == "store"
    assert len(small.gondolas) == 1 and len(small.cameras) == 3
    assert 10 <= len(small.bins) <= 16
    assert {g.kind for g in small.gates.values()} == {"entry", "exit"}


def test_convenience_store_has_real_size() -> None:
    store = load_store("convenience")
    assert len(store.gondolas) >= 6
    assert len(store.bins) >= 200
    assert len(store.products) >= 80
    assert len(store.cameras) == 8
    weights: dict[float, list[str]] = {}
    for p in store.products.values():
        weights.setdefault(p.unit_weight_g, []).append(p.sku)
    assert sum(1 for skus in weights.values() if len(skus) >= 2) >= 5, "look-alike pairs"
    # Products of the Grocery Store Dataset keep their fine-grained class names and photographs.
    assert store.products["Arla-Standard-Milk"].image is not None
    assert store.products["Arla-Standard-Milk"].image.is_file()
    assert all(
        0.05 <= abs(w / store.products[s].unit_weight_g - 1) <= 0.2
        for s, w in store.sim_measured_weight_g.items()
    )


def test_bins_channels_and_planogram_are_consistent() -> None:
    store = load_store("convenience")
    for bin_id, b in store.bins.items():
        board = store.boards[b.board_id]
        assert board.channels[b.channel] == bin_id
        assert 30.0 <= board.rate_hz <= 60.0
        assert np.isclose(np.linalg.norm(b.access_normal), 1.0)
        shelf = store.shelves[b.shelf_id]
        assert b.min_corner[2] == pytest.approx(shelf.z, abs=0.02)
        for entry in store.planogram[bin_id]:
            assert entry.sku in store.products and entry.count > 0


def test_facing_lanes_follow_the_planogram_from_the_shoppers_left(
    small_yaml: dict[str, Any],
) -> None:
    store = load_store("small")
    mixed = "g1_xp_s3_b3"  # +x side: a shopper faces -x, their left is -y
    lanes = store.facing_lanes(mixed)
    assert [lane.sku for lane in lanes] == list(store.bin_skus(mixed))
    b = store.bins[mixed]
    assert lanes[0].lo[1] == pytest.approx(b.min_corner[1])
    assert lanes[0].hi[1] == pytest.approx(lanes[1].lo[1]) == pytest.approx(b.center[1])
    assert lanes[1].hi[1] == pytest.approx(b.max_corner[1])
    for lane in lanes:  # full depth and height
        assert np.allclose(lane.lo[[0, 2]], b.min_corner[[0, 2]])
        assert np.allclose(lane.hi[[0, 2]], b.max_corner[[0, 2]])
    # Stock put back in the wrong bin gets a lane after the planogram's; one product: one lane.
    extra = store.facing_lanes(mixed, present=["Oatly-Oat-Milk", lanes[0].sku])
    assert [lane.sku for lane in extra] == [*store.bin_skus(mixed), "Oatly-Oat-Milk"]
    single = store.facing_lanes("g1_xp_s1_b1")
    assert len(single) == 1 and np.allclose(single[0].lo, store.bins["g1_xp_s1_b1"].min_corner)
    # On a -x side the shopper's left is +y: the first lane is at the high end.
    data = copy.deepcopy(small_yaml)
    data["shelves"] = [dict(s, side="-x") for s in data["shelves"]]
    flipped = store_from_dict(data)
    first, second = flipped.facing_lanes(mixed)
    assert first.sku == lanes[0].sku and first.lo[1] > second.lo[1]


@pytest.mark.parametrize("name", ["small", "convenience"])
def test_every_bin_front_is_seen_by_two_cameras(name: str) -> None:
    store = load_store(name)
    for b in store.bins.values():
        hand = b.front_center + 0.06 * b.access_normal
        seen = [c for c in store.cameras.values() if c.in_view(hand[None])[0]]
        assert len(seen) >= 2, f"{b.bin_id} seen by {len(seen)} cameras"


def test_camera_projection_follows_ros_optical_convention() -> None:
    camera = load_store("small").cameras["cam_front"]
    rot = camera.T_store_optical[:3, :3]
    assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-9)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    # A point on the optical axis projects to the principal point; one above it, higher up.
    ahead = camera.position + 2.0 * rot[:, 2]
    uv, depth = camera.project(np.stack([ahead, ahead + np.array([0.0, 0.0, 0.3])]))
    assert uv[0] == pytest.approx(camera.K[:2, 2], abs=1e-6)
    assert depth[0] == pytest.approx(2.0)
    assert uv[1, 1] < uv[0, 1]
    assert camera.K[0, 0] > 0 and camera.width == 640 and camera.height == 480
    assert camera.position[2] == pytest.approx(2.9)


def test_bin_contains_and_bin_at() -> None:
    store = load_store("small")
    b = next(iter(store.bins.values()))
    assert b.contains(b.center)[0]
    assert not b.contains(b.center + np.array([0.0, 0.0, 1.0]))[0]
    assert store.bin_at(b.center) == b.bin_id
    assert store.bin_at(np.array([3.0, 3.0, 1.0])) is None


def test_unknown_store_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError, match="small"):
        load_store("no_such_store")
    with pytest.raises(StoreConfigError, match="not found"):
        load_store(tmp_path / "missing.yaml")


def _mutate(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    keys = path.split(".")
    node: Any = data
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


BAD_CASES = [
    ("bins.3.sku", "NOT-A-SKU", r"small\.yaml: bins\[3\]\.sku 'NOT-A-SKU' is not in the catalogue"),
    ("bins.4.id", "g1_xp_s1_b1", r"small\.yaml: bins\[4\]\.id duplicate id 'g1_xp_s1_b1'"),
    ("products.0.weight_g", 0, r"small\.yaml: products\[0\]\.weight_g must be positive"),
    ("products.1.weight_g", -5.0, r"small\.yaml: products\[1\]\.weight_g must be positive"),
    ("products.1.weight_g", "heavy", r"small\.yaml: products\[1\]\.weight_g must be a number"),
    (
        "bins.0.center",
        [2.5, 1.1, 0.5],
        r"small\.yaml: bins\[0\] 'g1_xp_s1_b1' lies outside its shelf",
    ),
    ("bins.0.center", [0.59, 1.1, 0.9], r"small\.yaml: bins\[0\]\.center .* must stand on shelf"),
    ("bins.0.size", [0.4, 0.58], r"small\.yaml: bins\[0\]\.size must be a list of 3 numbers"),
    ("bins.0.shelf", "nope", r"small\.yaml: bins\[0\]\.shelf 'nope' is not a shelf id"),
    (
        "cameras.0.look_at",
        [3.7, 0.3, 5.0],
        r"cameras\[0\] camera 'cam_front' sees none",
    ),
    ("cameras.1.fx", -1, r"small\.yaml: cameras\[1\]\.fx must be positive"),
    ("gates.0.kind", "door", r"small\.yaml: gates\[0\]\.kind must be 'entry' or 'exit'"),
    ("shelves.0.side", "up", r"small\.yaml: shelves\[0\]\.side must be one of"),
    (
        "gondolas.0.center",
        [9.0, 2.0, 0.8],
        r"small\.yaml: gondolas\[0\] 'g1' lies outside",
    ),
    ("boards.0.rate_hz", 0, r"small\.yaml: boards\[0\]\.rate_hz must be positive"),
    (
        "products.2.barcode",
        "1234567890123",
        r"small\.yaml: products\[2\]\.barcode .* not a valid",
    ),
    ("floor_size", "big", r"small\.yaml: floor_size must be a list of 2 numbers"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_store_names_file_and_field(
    small_yaml: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(StoreConfigError, match=message):
        store_from_dict(_mutate(small_yaml, path, value), name="small.yaml", base_dir=STORES_DIR)


def test_bin_on_no_board_and_unknown_channel_bin(small_yaml: dict[str, Any]) -> None:
    data = copy.deepcopy(small_yaml)
    data["boards"][0]["channels"] = data["boards"][0]["channels"][:-1]
    with pytest.raises(StoreConfigError, match=r"small\.yaml: bins\[11\] .* on no board channel"):
        store_from_dict(data, name="small.yaml", base_dir=STORES_DIR)
    data = copy.deepcopy(small_yaml)
    data["boards"][0]["channels"].append("ghost_bin")
    with pytest.raises(StoreConfigError, match=r"boards\[g1_xp\]\.channels\[12\] 'ghost_bin'"):
        store_from_dict(data, name="small.yaml", base_dir=STORES_DIR)


def test_missing_image_and_bad_yaml_file(small_yaml: dict[str, Any], tmp_path: Path) -> None:
    data = _mutate(small_yaml, "products.0.image", "images/missing.jpg")
    with pytest.raises(StoreConfigError, match=r"products\[0\]\.image file not found"):
        store_from_dict(data, name="small.yaml", base_dir=STORES_DIR)
    broken = tmp_path / "broken.yaml"
    broken.write_text("store_id: [unclosed\n")
    with pytest.raises(StoreConfigError, match=r"broken\.yaml: not valid YAML"):
        load_store(broken)
    listy = tmp_path / "listy.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(StoreConfigError, match=r"listy\.yaml: \(top level\) must be a mapping"):
        load_store(listy)


def test_shared_load_is_validated(small_yaml: dict[str, Any]) -> None:
    store = load_store("small")
    assert store.sim_shared_load == {"g1_xp_s1_b4": ("g1_xp_s1_b3", 0.25)}
    cases = [
        ({"nope": ["g1_xp_s1_b3", 0.2]}, r"sim\.shared_load\.nope 'nope' is not a bin id"),
        ({"g1_xp_s1_b4": ["g1_xp_s1_b1", 0.2]}, r"'g1_xp_s1_b1' is not next to 'g1_xp_s1_b4'"),
        ({"g1_xp_s1_b4": ["g1_xp_s2_b4", 0.2]}, r"is not next to"),
        ({"g1_xp_s1_b4": ["g1_xp_s1_b3", 0.9]}, r"fraction must be in \(0, 0.5\]"),
        ({"g1_xp_s1_b4": "g1_xp_s1_b3"}, r"must be \[neighbour bin, fraction\]"),
    ]
    for shared, message in cases:
        data = copy.deepcopy(small_yaml)
        data["sim"]["shared_load"] = shared
        with pytest.raises(StoreConfigError, match=r"small\.yaml: .*" + message):
            store_from_dict(data, name="small.yaml", base_dir=STORES_DIR)

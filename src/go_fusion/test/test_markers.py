"""RViz marker geometry: layout, fading bin highlights, skeleton limbs, ids and cart summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from go_common.core.store import load_store
from go_fusion.core.markers import (
    CUBE,
    LINE_LIST,
    TEXT,
    ShopperView,
    bin_change_markers,
    cart_summary,
    color_of,
    layout_markers,
    shopper_markers,
)
from go_fusion.core.store_view import StoreView, store_view_from_model


@pytest.fixture(scope="module")
def store() -> StoreView:
    return store_view_from_model(load_store("small"))


def test_layout_has_every_gondola_and_bin(store: StoreView) -> None:
    specs = layout_markers(store)
    assert sum(s.ns == "gondolas" for s in specs) == len(store.gondolas)
    bins = [s for s in specs if s.ns == "bins"]
    assert len(bins) == len(store.bins) and all(s.kind == CUBE for s in bins)
    assert len({s.marker_id for s in bins}) == len(bins)


def test_changed_bins_fade_and_take_the_colour_of_the_change(store: StoreView) -> None:
    changes = [("g1_xp_s1_b1", 10.0, -1040.0), ("g1_xp_s1_b2", 11.0, +500.0), ("nope", 11, -1)]
    fresh = {s.marker_id: s for s in bin_change_markers(store, changes, 11.0, 3.0)}
    assert len(fresh) == 2
    pick, ret = sorted(fresh.values(), key=lambda s: s.color[3])
    assert pick.color[0] > pick.color[1] and ret.color[1] > ret.color[0]
    assert pick.color[3] < ret.color[3]  # the older change has faded more
    assert bin_change_markers(store, changes, 20.0, 3.0) == []


def test_shoppers_get_limbs_an_id_and_a_cart_line() -> None:
    kp = np.zeros((17, 3))
    kp[:, 2] = np.linspace(1.7, 0.1, 17)
    scores = np.ones(17)
    scores[16] = 0.0  # a missing ankle drops its limb
    shopper = ShopperView("T1", "ann", np.array([1.0, 2.0, 0.0]), kp, scores, "2 items, 47.90 SEK")
    specs = shopper_markers([shopper, ShopperView("T2", "", np.zeros(3))], lifetime_s=0.4)
    by_ns = {(s.ns, s.marker_id): s for s in specs}
    limbs = by_ns[("skeletons", 0)]
    assert limbs.kind == LINE_LIST and limbs.points is not None and len(limbs.points) == 2 * 13
    assert by_ns[("track_ids", 0)].kind == TEXT and by_ns[("track_ids", 0)].text == "T1 [ann]"
    assert by_ns[("carts", 0)].text == "2 items, 47.90 SEK"
    assert by_ns[("track_ids", 1)].text == "T2" and ("carts", 1) not in by_ns
    assert color_of("ann") == color_of("ann")


def test_cart_summary() -> None:
    assert cart_summary([], "SEK") == ""
    assert cart_summary([("a", 1, 10.0)], "SEK") == "1 item, 10.00 SEK"
    assert cart_summary([("a", 2, 10.0), ("b", 1, 0.5)], "EUR") == "3 items, 20.50 EUR"


def test_rviz_config_shows_the_fusion_markers_in_the_store_frame() -> None:
    import yaml

    path = Path(__file__).resolve().parents[3] / "rviz" / "go_store.rviz"
    config = yaml.safe_load(path.read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "store"
    (markers,) = [d for d in manager["Displays"] if d["Class"].endswith("/MarkerArray")]
    assert markers["Topic"]["Value"] == "/fusion/markers"
    assert set(markers["Namespaces"]) == {
        "gondolas",
        "bins",
        "bin_changes",
        "skeletons",
        "tracks",
        "track_ids",
        "carts",
    }

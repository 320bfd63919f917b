"""Scenario files: every shipped one plans; bad files and targets are named with file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from go_common.core.store import load_store
from go_sensors.core.scenario import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    scenario_from_dict,
)
from go_sensors.core.simulator import Simulator

REQUIRED = {
    "single_pick", "multi_item_reach", "return_same_bin", "return_wrong_bin", "browse_no_take",
    "adjacent_reach", "crossed_arms", "slow_pickup", "lookalike_equal_weight", "handoff",
    "family_one_scan", "occlusion_crowd", "camera_dropout", "scale_drift", "random_busy",
    "stale_planogram",
}  # fmt: skip


def test_required_scenarios_ship_and_are_short() -> None:
    assert set(list_scenarios()) >= REQUIRED
    for name in list_scenarios():
        scenario = load_scenario(name)
        assert 30.0 <= scenario.duration <= 90.0, name
        assert scenario.description, name


@pytest.mark.parametrize("name", list_scenarios())
def test_each_scenario_plans_in_the_small_store_and_everyone_leaves(name: str) -> None:
    sim = Simulator(load_store("small"), name, seed=0)
    assert sim.t_end <= sim.duration, f"{name}: people still inside at the end"
    sessions = {tl.session for tl in sim.plan.timelines}
    assert {r.session for r in sim.plan.receipts} == sessions


def test_two_shoppers_grab_from_one_bin_at_once() -> None:
    sim = Simulator("small", "same_bin_grab", seed=0)
    a, b = (e for e in sim.plan.events if e.kind == "pick")
    assert a.bin_id == b.bin_id and a.person_id != b.person_id
    assert a.t_start < b.t_start < a.t_end  # the hands are in the bin together


def test_adjacent_reaches_happen_within_one_second() -> None:
    sim = Simulator("small", "adjacent_reach", seed=0)
    a, b = (e for e in sim.plan.events if e.kind == "pick")
    assert a.person_id != b.person_id
    assert abs(a.t_start - b.t_start) <= 1.0
    store = sim.store
    assert store.bins[a.bin_id].shelf_id == store.bins[b.bin_id].shelf_id


def test_crossed_arms_reach_into_the_other_shoppers_bin() -> None:
    sim = Simulator("small", "crossed_arms", seed=0)
    timelines = {tl.person_id: tl for tl in sim.plan.timelines}
    for e in (e for e in sim.plan.events if e.kind == "pick"):
        me = timelines[e.person_id].keypoints((e.t_start + e.t_end) / 2)
        mid_hips = (me[11] + me[12]) / 2
        bin_xy = sim.store.bins[e.bin_id].center[:2]
        other = next(tl for pid, tl in timelines.items() if pid != e.person_id)
        them = other.keypoints((e.t_start + e.t_end) / 2)
        their_hips = (them[11] + them[12]) / 2
        # The bin is closer to the other shopper's body than to the one who reaches into it.
        assert abs(their_hips[1] - bin_xy[1]) < abs(mid_hips[1] - bin_xy[1])


def test_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("no_such_scenario")
    message = str(info.value)
    assert "no_such_scenario" in message
    for name in ("single_pick", "random_busy"):
        assert name in message


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "gone.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("shoppers: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: not valid YAML"):
        load_scenario(bad)


def _base() -> dict[str, Any]:
    return {
        "duration": 30,
        "shoppers": [{"id": "a", "enter": 1.0, "actions": [{"do": "pick", "sku": "X"}]}],
    }


BAD = [
    ({"shoppers": [{"id": "a", "actions": [{"do": "dance"}]}]}, r"shoppers\[0\]\.actions\[0\]\.do"),
    ({"shoppers": [{"id": "a", "actions": [{"do": "pick"}]}]}, r"actions\[0\] needs a target"),
    (
        {"shoppers": [{"id": "a", "actions": [{"do": "pick", "sku": "X", "bin": "b"}]}]},
        r"give only one of bin, sku, beside",
    ),
    ({"shoppers": [{"id": "a"}, {"id": "a"}]}, r"shoppers\[1\]\.id duplicate id 'a'"),
    ({"shoppers": [{"id": "a", "enter": -1}]}, r"shoppers\[0\]\.enter must be >= 0"),
    (
        {"shoppers": [{"id": "a", "actions": [{"do": "pick", "sku": "X", "qty": 0}]}]},
        r"actions\[0\]\.qty must be an integer >= 1",
    ),
    (
        {"shoppers": [{"id": "a", "actions": [{"do": "handoff", "to": "zed"}]}]},
        r"actions\[0\]\.to 'zed' is not a shopper id",
    ),
    (
        {"shoppers": [{"id": "a", "actions": [{"do": "handoff", "to": "b"}]}, {"id": "b"}]},
        r"handoff to 'b' has no matching receive",
    ),
    ({"random": {"shoppers": 2, "p_browse": 1.5}}, r"random\.p_browse must be a probability"),
    ({"random": {"shoppers": 2, "picks": [3, 1]}}, r"random\.picks must be \[low, high\]"),
    ({"shoppers": [], "faults": [{"kind": "meteor"}]}, r"faults\[0\]\.kind must be one of"),
    ({"shoppers": []}, r"nobody shops"),
    ({"duration": 0, "shoppers": [{"id": "a"}]}, r"duration must be positive"),
    ({"shopers": []}, r"shopers unknown top-level key"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_scenario_names_file_and_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=r"^mine\.yaml: .*" + message):
        scenario_from_dict(data, source="mine.yaml")


def test_targets_and_faults_are_checked_against_the_store() -> None:
    store = load_store("small")
    data = _base()
    with pytest.raises(
        ScenarioError, match=r"mine\.yaml: shoppers\[0\]\.actions\[0\]\.sku 'X' is in no bin"
    ):
        Simulator(store, scenario_from_dict(data, source="mine.yaml"))
    data["shoppers"][0]["actions"] = [{"do": "pick", "bin": "nope"}]
    with pytest.raises(
        ScenarioError, match=r"actions\[0\]\.bin 'nope' is not a bin of store 'small'"
    ):
        Simulator(store, scenario_from_dict(data, source="mine.yaml"))
    data["shoppers"][0]["actions"] = []
    data["faults"] = [{"kind": "camera_dropout", "camera": 7, "start": 1, "end": 2}]
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.camera index 7 out of range"):
        Simulator(store, scenario_from_dict(data, source="mine.yaml"))
    data["faults"] = [{"kind": "camera_dropout", "camera": "cam_x", "start": 1, "end": 2}]
    with pytest.raises(ScenarioError, match=r"camera 'cam_x' is not a camera .*cam_back"):
        Simulator(store, scenario_from_dict(data, source="mine.yaml"))


def test_stale_planogram_puts_other_products_on_the_shelf() -> None:
    sim = Simulator("small", "stale_planogram", seed=0)
    ((a, b),) = sim.plan.planogram_swaps
    assert sim.store.bin_skus(a) == ("Bravo-Apple-Juice",)
    assert set(sim.world_at(0.0).bin_contents[a]) == {"Tropicana-Mandarin-Morning"}
    assert set(sim.world_at(0.0).bin_contents[b]) == {"Bravo-Apple-Juice"}
    first = min((e for e in sim.plan.events if e.kind == "pick"), key=lambda e: e.t)
    assert first.bin_id == a and first.sku == "Tropicana-Mandarin-Morning"
    (receipt,) = sim.plan.receipts
    assert "Bravo-Apple-Juice" not in {line.sku for line in receipt.lines}

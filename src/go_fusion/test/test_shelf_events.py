"""Shelf-event detector on synthetic load-cell streams (noise, presses, drift, dropouts, merges)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from go_fusion.bench.shelf_synth import Change, Press, bin_signal
from go_fusion.core.shelf_events import (
    STATE_DRIFT,
    STATE_SETTLED,
    STATE_UNSETTLED,
    ShelfEventConfig,
    ShelfEventCore,
    ShelfEventDetector,
    neighbours_from_boxes,
)

RATE = 60.0


def stamps(seconds: float, t0: float = 0.0) -> np.ndarray:
    return t0 + np.arange(0.0, seconds, 1.0 / RATE)


def run(
    signals: dict[str, np.ndarray],
    t: np.ndarray,
    *,
    batch: int = 6,
    neighbours: dict[str, list[str]] | None = None,
    config: ShelfEventConfig | None = None,
) -> tuple[list[ShelfEventCore], ShelfEventDetector]:
    bins = list(signals)
    mat = np.stack([signals[b] for b in bins], axis=1)
    det = ShelfEventDetector(config, bins, neighbours)
    events: list[ShelfEventCore] = []
    for i in range(0, len(t), batch):
        events += det.add_samples(bins, t[i : i + batch], mat[i : i + batch])
    return events + det.flush(), det


def settled(events: list[ShelfEventCore]) -> list[ShelfEventCore]:
    return [e for e in events if e.state == STATE_SETTLED]


@pytest.mark.parametrize("noise", [0.5, 2.0, 8.0])
def test_single_pick_is_one_settled_event_with_the_right_delta(noise: float) -> None:
    t = stamps(12.0)
    x = bin_signal(
        t,
        changes=[Change(5.0, 0.8, -350.0, press_g=60.0, jitter_g=5.0)],
        noise_sd_g=noise,
        quant_g=0.1,
        rng=np.random.default_rng(1),
    )
    events, _ = run({"a": x}, t)
    assert len(events) == 1
    ev = events[0]
    assert ev.state == STATE_SETTLED and ev.bin_id == "a" and ev.bin_ids == ("a",)
    assert abs(ev.delta_g + 350.0) < 4.0 * ev.delta_sd_g + 0.5
    assert 0.3 * noise / math.sqrt(30) < ev.delta_sd_g < 2.0 * noise
    assert 4.8 <= ev.t_start <= 5.4
    assert 5.4 <= ev.t_end <= 6.0 < ev.t_detect <= 6.6
    assert ev.event_id == f"a@{ev.t_start:.3f}"


def test_hand_presses_that_return_to_the_level_give_no_event() -> None:
    t = stamps(20.0)
    presses = [
        Press(3.0, 0.2, 200.0),
        Press(6.0, 0.6, 120.0),
        Press(10.0, 0.35, 40.0),
        Press(14.0, 0.1, 15.0),
    ]
    x = bin_signal(t, presses=presses, noise_sd_g=1.0, rng=np.random.default_rng(2))
    events, det = run({"a": x}, t)
    assert events == []
    assert det.health()["a"].mode == "idle"


def test_noise_and_quantisation_alone_give_no_event() -> None:
    t = stamps(60.0)
    rng = np.random.default_rng(3)
    signals = {
        f"b{i}": bin_signal(t, noise_sd_g=sd, quant_g=q, rng=rng)
        for i, (sd, q) in enumerate([(0.5, 0.1), (0.2, 1.0), (2.0, 0.1), (8.0, 0.5)])
    }
    events, det = run(signals, t)
    assert events == []
    noise = {b: h.noise_sd_g for b, h in det.health().items()}
    assert noise["b3"] == pytest.approx(8.0, rel=0.3)
    assert noise["b0"] == pytest.approx(0.5, rel=0.3)


def test_slow_drift_is_absorbed_and_flagged_not_reported_as_picks() -> None:
    t = stamps(120.0)
    x = bin_signal(t, noise_sd_g=0.5, drift_g_s=-0.3, rng=np.random.default_rng(4))
    events, _ = run({"a": x}, t)
    assert settled(events) == []
    drift = [e for e in events if e.state == STATE_DRIFT]
    assert drift, "a 36 g drift must be flagged"
    assert all(e.delta_g < 0 for e in drift)
    assert sum(e.delta_g for e in drift) == pytest.approx(-36.0, abs=16.0)


def test_multi_item_pick_and_return_have_the_right_sign_and_size() -> None:
    t = stamps(16.0)
    x = bin_signal(
        t,
        changes=[
            Change(3.0, 1.2, -3 * 250.0, jitter_g=6.0),
            Change(9.0, 0.6, 250.0, press_g=100.0),
        ],
        noise_sd_g=1.0,
        rng=np.random.default_rng(5),
    )
    events, _ = run({"a": x}, t)
    assert [round(e.delta_g) for e in events] == pytest.approx([-750, 250], abs=3)


def test_slow_pickup_is_one_event() -> None:
    t = stamps(14.0)
    x = bin_signal(
        t,
        changes=[Change(3.0, 4.0, -500.0, jitter_g=4.0)],
        noise_sd_g=0.5,
        rng=np.random.default_rng(6),
    )
    events, _ = run({"a": x}, t)
    assert len(events) == 1 and events[0].delta_g == pytest.approx(-500.0, abs=2.0)


def test_item_resting_across_adjacent_bins_is_one_event() -> None:
    t = stamps(12.0)
    rng = np.random.default_rng(7)
    a = bin_signal(t, changes=[Change(4.0, 0.8, 0.6 * 400.0)], noise_sd_g=0.5, rng=rng)
    b = bin_signal(t, changes=[Change(4.05, 0.8, 0.4 * 400.0)], noise_sd_g=0.5, rng=rng)
    far = bin_signal(t, noise_sd_g=0.5, rng=rng)
    events, _ = run({"a": a, "b": b, "c": far}, t, neighbours={"a": ["b"], "b": ["c"]})
    assert len(events) == 1
    ev = events[0]
    assert ev.bin_id == "a" and ev.bin_ids == ("a", "b")
    assert ev.delta_g == pytest.approx(400.0, abs=2.0)
    assert ev.bin_deltas_g == pytest.approx((240.0, 160.0), abs=2.0)
    # without the neighbour map the same streams are two events
    events, _ = run({"a": a, "b": b, "c": far}, t)
    assert sorted(e.bin_id for e in events) == ["a", "b"]


def test_item_across_bins_whose_sides_settle_a_third_of_a_second_apart_is_one_event() -> None:
    # random_busy (seed 0): two yoghurts taken from one bin, one resting across its neighbour;
    # the bins' changes started 0.47 s and settled 0.33 s apart and were reported as two events
    # (the neighbour's share, 519 g, then read as another product). Here they are detected as
    # starting 0.47 s and settling 0.32 s apart.
    t = stamps(20.0)
    rng = np.random.default_rng(21)
    a = bin_signal(t, changes=[Change(13.48, 1.17, -1556.0)], noise_sd_g=0.5, rng=rng)
    b = bin_signal(t, changes=[Change(13.95, 0.25, -519.0)], noise_sd_g=0.5, rng=rng)
    events, _ = run({"a": a, "b": b}, t, neighbours={"a": ["b"]})
    assert len(events) == 1 and events[0].bin_ids == ("a", "b")
    assert events[0].delta_g == pytest.approx(-2075.0, abs=5.0)
    # the neighbour's change lies inside this bin's span: one item, whatever the end tolerance
    events, _ = run(
        {"a": a, "b": b},
        t,
        neighbours={"a": ["b"]},
        config=ShelfEventConfig(merge_end_tol_s=0.3),
    )
    assert [e.bin_ids for e in events] == [("a", "b")]


def test_a_return_across_bins_whose_own_plate_is_pressed_longer_is_one_event() -> None:
    # return_wrong_bin (seed 1): a milk carton put back across two yoghurt bins; the hand pressed
    # its own bin's plate from 11.86 to 12.92 s, the neighbour's 25 % share came at 12.32-12.52 s.
    # Two events before, neither explained by any product. Here the press lasts longer still:
    # the sides settle 0.6 s apart, beyond the end tolerance.
    t = stamps(20.0)
    rng = np.random.default_rng(22)
    a = bin_signal(
        t, changes=[Change(11.86, 1.3, 0.75 * 1065.0, press_g=60.0)], noise_sd_g=0.5, rng=rng
    )
    b = bin_signal(t, changes=[Change(12.32, 0.2, 0.25 * 1065.0)], noise_sd_g=0.5, rng=rng)
    events, _ = run({"a": a, "b": b}, t, neighbours={"a": ["b"]})
    assert [e.bin_ids for e in events] == [("a", "b")]
    assert events[0].delta_g == pytest.approx(1065.0, abs=5.0)
    # the same changes on bins that are not neighbours stay two events
    events, _ = run({"a": a, "b": b}, t)
    assert sorted(e.bin_ids for e in events) == [("a",), ("b",)]


def test_a_neighbour_s_reach_inside_a_longer_one_is_not_taken_for_its_share() -> None:
    # nested in time but too big to be a share of the other's item (more than half of it): two
    # reaches, as the synthetic shelf benchmark has many (top-1 fell 0.962 -> 0.929 without the
    # size condition)
    t = stamps(14.0)
    rng = np.random.default_rng(23)
    a = bin_signal(t, changes=[Change(3.0, 1.6, -300.0)], noise_sd_g=0.5, rng=rng)
    b = bin_signal(t, changes=[Change(3.3, 0.4, -250.0)], noise_sd_g=0.5, rng=rng)
    events, _ = run({"a": a, "b": b}, t, neighbours={"a": ["b"]})
    assert sorted((e.bin_ids, round(e.delta_g, -1)) for e in events) == [
        (("a",), -300.0),
        (("b",), -250.0),
    ]


def test_small_share_on_a_noisy_neighbour_is_still_merged() -> None:
    t = stamps(12.0)
    rng = np.random.default_rng(17)
    a = bin_signal(t, changes=[Change(4.0, 0.8, 80.0)], noise_sd_g=0.5, rng=rng)
    b = bin_signal(t, changes=[Change(4.0, 0.8, 20.0)], noise_sd_g=6.0, rng=rng)  # never triggers
    events, det = run({"a": a, "b": b}, t, neighbours={"a": ["b"]})
    assert len(events) == 1 and events[0].bin_ids == ("a", "b")
    assert events[0].delta_g == pytest.approx(100.0, abs=6.0)
    assert det.health()["b"].level_g == pytest.approx(1020.0, abs=5.0)


def test_separate_reaches_on_neighbouring_bins_stay_separate() -> None:
    t = stamps(14.0)
    rng = np.random.default_rng(8)
    a = bin_signal(t, changes=[Change(3.0, 1.0, -300.0)], noise_sd_g=0.5, rng=rng)
    b = bin_signal(t, changes=[Change(3.6, 1.5, -200.0)], noise_sd_g=0.5, rng=rng)
    c = bin_signal(t, changes=[Change(3.0, 1.0, 200.0)], noise_sd_g=0.5, rng=rng)  # opposite sign
    events, _ = run({"a": a, "b": b, "c": c}, t, neighbours={"a": ["b", "c"]})
    assert sorted((e.bin_ids, round(e.delta_g, -1)) for e in events) == [
        (("a",), -300.0),
        (("b",), -200.0),
        (("c",), 200.0),
    ]


def test_several_bins_interleaved_with_their_own_stamps() -> None:
    rng = np.random.default_rng(9)
    det = ShelfEventDetector(ShelfEventConfig(), ["a", "b"])
    ta, tb = stamps(12.0), stamps(12.0, t0=0.007)
    xa = bin_signal(ta, changes=[Change(4.0, 0.8, -100.0)], rng=rng)
    xb = bin_signal(tb, changes=[Change(6.0, 0.8, -200.0)], rng=rng)
    events = []
    for i in range(len(ta)):
        events += det.add_samples(["a"], ta[i : i + 1], xa[i : i + 1, None])
        events += det.add_samples(["b"], tb[i : i + 1], xb[i : i + 1, None])
    events += det.flush()
    assert [(e.bin_id, round(e.delta_g, -1)) for e in events] == [("a", -100.0), ("b", -200.0)]


def test_batching_does_not_change_the_events() -> None:
    t = stamps(15.0)
    x = bin_signal(
        t,
        changes=[Change(4.0, 0.8, -120.0), Change(9.0, 1.0, 60.0)],
        presses=[Press(12.0, 0.3, 150.0)],
        noise_sd_g=1.0,
        rng=np.random.default_rng(10),
    )
    one, _ = run({"a": x}, t, batch=1)
    six, _ = run({"a": x}, t, batch=6)
    assert [e.event_id for e in one] == [e.event_id for e in six]
    assert [e.delta_g for e in one] == pytest.approx([e.delta_g for e in six], abs=0.05)


def test_nan_dropouts_are_counted_and_do_not_break_detection() -> None:
    t = stamps(16.0)
    x = bin_signal(
        t,
        changes=[Change(8.0, 1.0, -400.0)],
        noise_sd_g=0.5,
        dropouts=((3.0, 4.5), (8.3, 8.5)),
        rng=np.random.default_rng(11),
    )
    x[100] = np.inf
    dead = np.full_like(x, np.nan)
    events, det = run({"a": x, "dead": dead}, t)
    assert len(events) == 1 and events[0].delta_g == pytest.approx(-400.0, abs=2.0)
    assert events[0].dropout_samples > 0
    health = det.health()
    assert health["a"].nan_samples >= 90 + 12
    assert health["dead"].nan_samples == len(t) and health["dead"].mode == "warmup"


def test_a_pick_during_a_dropout_is_found_when_data_returns() -> None:
    t = stamps(12.0)
    x = bin_signal(
        t,
        changes=[Change(5.0, 0.5, -250.0)],
        noise_sd_g=0.5,
        dropouts=((4.5, 6.0),),
        rng=np.random.default_rng(12),
    )
    events, _ = run({"a": x}, t)
    assert len(events) == 1 and events[0].delta_g == pytest.approx(-250.0, abs=2.0)


def test_late_and_duplicate_stamps_are_dropped_and_counted() -> None:
    det = ShelfEventDetector(ShelfEventConfig(), ["a"])
    t = stamps(3.0)
    x = bin_signal(t, rng=np.random.default_rng(13))
    det.add_samples(["a"], t[:100], x[:100, None])
    assert det.add_samples(["a"], t[50:60], x[50:60, None] - 500.0) == []  # stale, ignored
    det.add_samples(["a"], [t[99]], [[x[99]]])
    det.add_samples(["a"], [math.nan], [[0.0]])
    assert det.health()["a"].late_samples == 12
    assert det.health()["a"].mode == "idle"


def test_weight_not_settling_in_time_gives_unsettled_then_a_superseding_settled_event() -> None:
    t = stamps(20.0)
    rng = np.random.default_rng(14)
    x = bin_signal(t, changes=[Change(3.0, 0.5, -300.0)], noise_sd_g=0.5, rng=rng)
    shaking = (t > 3.5) & (t < 14.0)
    x[shaking] += 40.0 * np.sin(2 * np.pi * 3.0 * t[shaking])  # something keeps rocking the shelf
    cfg = ShelfEventConfig(unsettled_timeout_s=6.0)
    events, _ = run({"a": x}, t, config=cfg)
    assert events[0].state == STATE_UNSETTLED
    assert events[0].delta_g == pytest.approx(-300.0, abs=40.0)
    assert events[0].t_end - events[0].t_start == pytest.approx(6.0, abs=0.2)
    final = events[-1]  # the settled event supersedes the provisional one
    assert (
        len(events) == 2 and final.state == STATE_SETTLED and final.event_id == events[0].event_id
    )
    assert final.delta_g == pytest.approx(-300.0, abs=3.0)


def test_bin_that_gets_noisier_does_not_invent_events() -> None:
    t = stamps(40.0)
    rng = np.random.default_rng(15)
    x = bin_signal(t, noise_sd_g=0.5, rng=rng)
    x[t > 10.0] += rng.normal(0.0, 6.0, int((t > 10.0).sum()))
    events, det = run({"a": x}, t)
    assert settled(events) == []
    assert det.health()["a"].noise_sd_g > 3.0


def test_flush_reports_a_change_still_in_progress() -> None:
    t = stamps(6.0)
    x = bin_signal(t, changes=[Change(5.0, 3.0, -600.0)], rng=np.random.default_rng(16))
    events, _ = run({"a": x}, t)
    assert len(events) == 1 and events[0].state == STATE_UNSETTLED and events[0].delta_g < -50


def test_unknown_bins_are_registered_and_bad_shapes_rejected() -> None:
    det = ShelfEventDetector(ShelfEventConfig(), ["a"])
    det.add_samples(["a", "new"], [0.0], [[1.0, 2.0]])
    assert det.bin_ids == ("a", "new")
    with pytest.raises(ValueError, match="shape"):
        det.add_samples(["a", "new"], [1.0, 2.0], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="duplicate"):
        det.add_samples(["a", "a"], [1.0], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="settle_window_s"):
        ShelfEventConfig(settle_window_s=-1.0)


def test_neighbours_from_boxes_links_touching_bins_on_one_shelf() -> None:
    boxes = {
        "s1_b1": ("s1", np.array([0.5, 1.1, 0.5]), np.array([0.4, 0.58, 0.3])),
        "s1_b2": ("s1", np.array([0.5, 1.7, 0.5]), np.array([0.4, 0.58, 0.3])),
        "s1_b3": ("s1", np.array([0.5, 2.9, 0.5]), np.array([0.4, 0.58, 0.3])),
        "s2_b1": ("s2", np.array([0.5, 1.1, 0.9]), np.array([0.4, 0.58, 0.3])),
    }
    n = neighbours_from_boxes(boxes)  # 2 cm dividers between 58 cm bins
    assert n == {"s1_b1": ("s1_b2",), "s1_b2": ("s1_b1",), "s1_b3": (), "s2_b1": ()}


def test_absurd_readings_are_dropouts_and_reset_forgets_state() -> None:
    t = stamps(10.0)
    x = bin_signal(t, changes=[Change(5.0, 0.5, -200.0)], rng=np.random.default_rng(18))
    x[[50, 200, 400]] = [1e9, -1e12, 5e6]
    events, det = run({"a": x}, t)
    assert [round(e.delta_g, -1) for e in events] == [-200.0]
    assert det.health()["a"].nan_samples == 3
    det.reset()
    assert det.health()["a"].mode == "warmup" and det.bin_ids == ("a",)
    assert det.add_samples(["a"], t[:10], x[:10, None]) == []  # earlier stamps accepted again
    assert det.health()["a"].late_samples == 0


def test_a_hand_resting_before_the_item_lands_joins_the_event() -> None:
    t = stamps(12.0)
    rng = np.random.default_rng(19)
    x = bin_signal(t, changes=[Change(5.0, 0.3, 60.0)], noise_sd_g=0.5, rng=rng)
    rest = (t >= 3.5) & (t < 5.15)  # the hand rests on the shelf, then lets go of the item
    x[rest] += 15.0
    events, _ = run({"a": x}, t, config=ShelfEventConfig(min_event_g=20.0))
    assert len(events) == 1
    assert events[0].delta_g == pytest.approx(60.0, abs=2.0)
    assert events[0].t_start == pytest.approx(3.5, abs=0.1)


def test_per_bin_minimum_ignores_a_steady_hand_on_a_heavy_bin() -> None:
    t = stamps(20.0)
    rng = np.random.default_rng(20)
    x = bin_signal(t, changes=[Change(12.0, 0.5, -1040.0)], noise_sd_g=2.0, rng=rng)
    x[(t >= 4.0) & (t < 6.0)] += 25.0  # a hand leaning on the cartons for two seconds
    events, _ = run({"milk": x}, t)  # with the global 5 g minimum the hand is two events
    assert sorted(round(e.delta_g) for e in events) == pytest.approx([-1040, -25, 25], abs=3)
    det = ShelfEventDetector(ShelfEventConfig(), ["milk"], min_event_g={"milk": 400.0})
    events = []
    for i in range(0, len(t), 6):
        events += det.add_samples(["milk"], t[i : i + 6], x[i : i + 6, None])
    events += det.flush()
    assert [round(e.delta_g, -1) for e in events] == [-1040.0]


def test_a_pickled_detector_finds_the_same_events_from_its_last_seconds() -> None:
    # The fusion checkpoint pickles the detector every second, with only the newest 128
    # samples of each bin's history: what follows must not change.
    ids = [f"b{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    det = ShelfEventDetector(ShelfEventConfig(), ids)
    for k in range(100):
        det.add_samples(ids, np.arange(3) / 30 + k * 0.1, 3000 + rng.normal(0, 0.5, (3, 40)))
    data = pickle.dumps(det)
    assert len(data) < 0.6 * det.config.history_samples * 40 * 16  # the rings are cut
    again = pickle.loads(data)
    found, found_again = [], []
    for k in range(100, 200):
        g = 3000 + rng.normal(0, 0.5, (3, 40))
        g[:, 5] -= 500.0 * (k >= 130)
        g[:, 6] -= 300.0 * (k >= 131)
        stamps = np.arange(3) / 30 + k * 0.1
        found += det.add_samples(ids, stamps, g)
        found_again += again.add_samples(ids, stamps, g.copy())
    assert [(e.event_id, e.delta_g) for e in found] == [
        (e.event_id, e.delta_g) for e in found_again
    ]
    assert [e.bin_id for e in found] == ["b5", "b6"]


def test_restored_levels_find_a_change_right_after_a_restart_where_a_warm_up_loses_it() -> None:
    # A detector restored from a checkpoint older than a journalled event on bin "a": the
    # journal's level after that event (600 g) is set, and an item taken 0.2 s later is found.
    t = stamps(6.0)
    rng = np.random.default_rng(3)
    a = bin_signal(t, noise_sd_g=0.5, rng=rng)
    b = bin_signal(t, noise_sd_g=0.5, rng=rng)
    _, det = run({"a": a, "b": b}, t)  # the checkpoint: "a" still at its old 1000 g
    assert det.levels(["a", "b", "nope"])[:2] == pytest.approx([1000.0, 1000.0], abs=1.0)
    assert math.isnan(det.levels(["nope"])[0])
    later = stamps(4.0, t0=6.0)
    # since the checkpoint 400 g left "a" (journalled); then 250 g more
    taken = bin_signal(later, changes=[Change(6.2, 0.3, -250.0)], noise_sd_g=0.5, rng=rng) - 400
    restored = pickle.loads(pickle.dumps(det))
    restored.restore_levels({"a": 600.0}, 6.0)
    events = restored.add_samples(["a"], later, taken[:, None]) + restored.flush()
    assert [(e.bin_id, round(e.delta_g, -1)) for e in events] == [("a", -250.0)]
    # learning the level again instead (forget_bins) takes the change as the level
    forgot = pickle.loads(pickle.dumps(det))
    forgot.forget_bins(["a"])
    assert forgot.add_samples(["a"], later, taken[:, None]) + forgot.flush() == []
    # no level known: the bin warms up
    unknown = pickle.loads(pickle.dumps(det))
    unknown.restore_levels({"a": math.nan}, 6.0)
    assert unknown.health()["a"].mode == "warmup"
    # a bin still warming up at the checkpoint has no noise estimate: it warms up too
    young = ShelfEventDetector(None, ["a"])
    young.add_samples(["a"], t[:10], a[:10, None])
    young.restore_levels({"a": 600.0}, 6.0)
    assert young.health()["a"].mode == "warmup"


def test_changes_in_progress_are_listed_until_reported() -> None:
    t = stamps(8.0)
    rng = np.random.default_rng(5)
    a = bin_signal(t, changes=[Change(4.0, 1.0, -300.0)], noise_sd_g=0.5, rng=rng)
    det = ShelfEventDetector(None, ["a"])
    cut = int(4.5 * RATE)
    det.add_samples(["a"], t[:cut], a[:cut, None])
    ((name, t0),) = det.changes_in_progress()
    assert name == "a" and 3.9 <= t0 <= 4.1
    events = det.add_samples(["a"], t[cut:], a[cut:, None])
    assert len(events) == 1 and det.changes_in_progress() == []

"""FusionPipeline without ROS: load cells, gates and tracks in; carts and receipts out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from go_common.core.store import load_store
from go_fusion.core.attribution import EvidenceItem
from go_fusion.core.camera_sets import PartialSets
from go_fusion.core.checkout import GateObservation, receipt_id_for
from go_fusion.core.journal import Journal
from go_fusion.core.pipeline import (
    TRACK_CONFIRMED,
    TRACK_EXITED,
    FusionConfig,
    FusionOutput,
    FusionPipeline,
    TrackSnapshot,
)
from go_fusion.core.review import DECISION_ACCEPT, DECISION_AMEND, DECISION_REJECT, ReviewDecision
from go_fusion.core.store_view import StoreView, store_view_from_model

RATE = 30.0
YOG = "Arla-Natural-Yoghurt"
B1 = "g1_xp_s1_b1"  # holds YOG (1040 g)
B2 = "g1_xp_s1_b2"  # holds Arla-Mild-Vanilla-Yoghurt (1040 g, a look-alike)
MILK_BIN = "g1_xp_s2_b1"  # holds Arla-Standard-Milk (1065 g)
REACH = np.array([0.12, 0.0, 0.0])  # [m] from a bin centre to a wrist inside its front
STEP_BACK = np.array([0.6, 0.0, 0.3])  # [m] from a reaching wrist to one hanging by the side


@pytest.fixture(scope="module")
def model():  # the store model type lives in go_common
    return load_store("small")


@pytest.fixture(scope="module")
def store(model) -> StoreView:
    return store_view_from_model(model)


def board_batches(
    channels: tuple[str, ...],
    t0: float,
    t1: float,
    steps: dict[str, list[tuple[float, float]]],
    seed: int = 0,
    per_msg: int = 3,
) -> Iterator[tuple[float, np.ndarray]]:
    """LoadCellBoard-like batches: (stamp of first sample, grams (per_msg, C)).

    steps: bin -> [(t, delta_g)]: the weight changes by delta_g over 0.3 s from t.
    """
    rng = np.random.default_rng(seed)
    base = np.full(len(channels), 4000.0)
    k = 0
    while k / RATE < t1 - t0:
        ts = t0 + (k + np.arange(per_msg)) / RATE
        g = np.tile(base, (per_msg, 1)) + rng.normal(0.0, 0.5, (per_msg, len(channels)))
        for c, b in enumerate(channels):
            for ts_step, delta in steps.get(b, []):
                g[:, c] += delta * np.clip((ts - ts_step) / 0.3, 0.0, 1.0)
        yield float(ts[0]), g
        k += per_msg


def entry(token: str, t: float, group: int = 1) -> GateObservation:
    return GateObservation("entry", "entry", t, token, group)


def exit_(t: float, token: str = "") -> GateObservation:
    return GateObservation("exit", "exit", t, token, 1)


def wrist_snapshot(
    track_id: str, session_id: str, t: float, wrist: np.ndarray, state: int = TRACK_CONFIRMED
) -> TrackSnapshot:
    kp = np.full((17, 3), np.nan)
    scores = np.zeros(17)
    kp[9] = wrist
    kp[10] = [wrist[0] + 0.5, wrist[1], 0.85]  # the other hand hangs by the side
    scores[9] = scores[10] = 0.9
    cov = np.tile(np.eye(3) * 0.03**2, (17, 1, 1))
    return TrackSnapshot(
        track_id,
        session_id,
        state,
        np.array([wrist[0] + 0.6, wrist[1], 0.0]),
        np.zeros(3),
        np.eye(6) * 0.01,
        t,
        kp,
        scores,
        cov,
        ("cam_front",),
    )


def run(pipe: FusionPipeline, *inputs: list[tuple[float, str, object]]) -> FusionOutput:
    """Feed the inputs of every list in time order; returns everything produced."""
    total = FusionOutput()
    merged = [x for part in inputs for x in part]
    for _, kind, payload in sorted(merged, key=lambda x: (x[0], x[1])):
        if kind == "gate":
            total.extend(pipe.add_gate_event(payload))  # type: ignore[arg-type]
        elif kind == "cells":
            t, g = payload  # type: ignore[misc]
            total.extend(pipe.add_load_cells("g1_xp", CHANNELS, t, 1.0 / RATE, g))
        elif kind == "tracks":
            t, snaps = payload  # type: ignore[misc]
            total.extend(pipe.add_tracks(t, snaps))
    return total


CHANNELS: tuple[str, ...] = ()


@pytest.fixture(autouse=True)
def _channels(model) -> None:
    global CHANNELS
    CHANNELS = model.boards["g1_xp"].channels


def cells(t0: float, t1: float, steps: dict[str, list[tuple[float, float]]], seed: int = 0):
    return [(t, "cells", (t, g)) for t, g in board_batches(CHANNELS, t0, t1, steps, seed)]


def test_pick_then_exit_gives_one_priced_receipt(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    out = run(
        pipe,
        [(1.0, "gate", entry("alice", 1.0)), (12.0, "gate", exit_(12.0))],
        cells(0.0, 14.0, {B1: [(5.0, -2080.0)]}),
    )
    assert [(e.sku, e.quantity, e.session_id) for e in out.cart_events] == [(YOG, 2, "alice")]
    (receipt,) = out.receipts
    assert receipt.receipt_id == receipt_id_for("alice")
    assert [(line.sku, line.quantity) for line in receipt.lines] == [(YOG, 2)]
    assert receipt.total == pytest.approx(2 * 23.95)
    assert receipt.currency == "SEK" and receipt.pending_reviews == 0
    assert receipt.exit_t == 12.0 and receipt.entry_t == 1.0
    assert pipe.cart_view("alice").closed


def test_receipt_comes_within_the_grace_after_exit(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    run(pipe, [(1.0, "gate", entry("alice", 1.0))], cells(0.0, 3.0, {}))
    pipe.add_gate_event(exit_(3.0))
    assert pipe.advance(3.0 + 0.9 * pipe.config.checkout_grace_s).receipts == []
    (receipt,) = pipe.advance(3.0 + pipe.config.checkout_grace_s).receipts
    assert receipt.lines == () and receipt.confidence == 1.0


def test_wrong_bin_return_removes_the_item_and_flags_misplaced_stock(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    out = run(
        pipe,
        [(1.0, "gate", entry("bob", 1.0))],
        cells(0.0, 16.0, {B1: [(4.0, -1040.0)], MILK_BIN: [(9.0, +1041.0)]}),
    )
    kinds = [(e.kind, e.sku, e.bin_id, e.misplaced) for e in out.cart_events]
    assert kinds == [("pick", YOG, B1, False), ("return", YOG, MILK_BIN, True)]
    assert out.misplaced == [(MILK_BIN, YOG, 1)]
    assert pipe.cart_view("bob").lines == ()
    assert pipe.live_planogram[MILK_BIN][YOG] == 1  # the shelf now holds the misplaced yoghurt
    assert any(d.name == "misplaced" for d in out.diagnostics)


def test_group_session_closes_when_its_last_track_leaves(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    pipe.add_gate_event(entry("fam", 1.0, group=2))
    b1 = store.bins[B1].center + REACH
    far = np.array([3.0, 2.0, 1.0])
    pipe.add_tracks(
        1.5, [wrist_snapshot("t1", "fam", 1.5, far), wrist_snapshot("t2", "fam", 1.5, far)]
    )
    assert pipe.cart_view("fam").track_ids == ("t1", "t2")
    out = pipe.add_tracks(5.0, [wrist_snapshot("t1", "fam", 5.0, b1, TRACK_EXITED)])
    out.extend(pipe.advance(7.0))
    assert out.receipts == []
    out = pipe.add_tracks(8.0, [wrist_snapshot("t2", "fam", 8.0, far, TRACK_EXITED)])
    out.extend(pipe.advance(9.0))
    assert [r.session_id for r in out.receipts] == ["fam"]


def scenario(store: StoreView) -> list[tuple[float, str, object]]:
    """Two shoppers with tracks at adjacent bins, a pick each 0.5 s apart, a return, exits."""
    c1 = store.bins[B1].center + REACH
    c2 = store.bins[B2].center + REACH
    idle_a = c1 + STEP_BACK
    idle_b = c2 + STEP_BACK
    inputs: list[tuple[float, str, object]] = [
        (1.0, "gate", entry("ann", 1.0)),
        (1.5, "gate", entry("ben", 1.5)),
    ]
    for k in range(20, 260):
        t = k / 10.0
        a = c1 if 4.8 <= t <= 6.0 or 15.8 <= t <= 17.0 else idle_a
        b = c2 if 5.3 <= t <= 6.5 else idle_b
        snaps = [wrist_snapshot("ta", "ann", t, a), wrist_snapshot("tb", "ben", t, b)]
        if t >= 22.0:
            snaps = [wrist_snapshot("tb", "ben", t, b)]
        if t == 22.0:
            snaps.append(wrist_snapshot("ta", "ann", t, a, TRACK_EXITED))
        if t >= 24.0:
            snaps = [wrist_snapshot("tb", "ben", t, b, TRACK_EXITED)] if t == 24.0 else []
        inputs.append((t, "tracks", (t, snaps)))
    steps = {B1: [(5.0, -2080.0), (16.0, +1040.0)], B2: [(5.5, -1040.0)]}
    return [*inputs, *cells(0.0, 27.0, steps, seed=3)]


def receipts_of(out: FusionOutput) -> dict[str, tuple]:
    """Receipt id, (sku, units, unit price, line total) lines and total, per session.

    Line confidences are left out: a restarted shelf detector re-learns the load-cell noise, so
    the hypotheses' probabilities differ in the fourth decimal; what the shopper pays may not.
    """
    return {
        r.session_id: (
            r.receipt_id,
            [(ln.sku, ln.quantity, ln.unit_price, ln.line_total) for ln in r.lines],
            r.total,
        )
        for r in out.receipts
    }


def test_two_shoppers_at_adjacent_bins_get_their_own_items(store: StoreView) -> None:
    out = run(FusionPipeline(store), scenario(store))
    got = {sid: [line[:2] for line in lines] for sid, (_, lines, _) in receipts_of(out).items()}
    assert got == {"ann": [(YOG, 1)], "ben": [("Arla-Mild-Vanilla-Yoghurt", 1)]}
    assert out.review_events == []


@pytest.mark.parametrize("cut", [3.0, 10.0, 19.0, 23.0])
def test_restart_mid_session_gives_the_receipts_of_an_uninterrupted_run(
    store: StoreView, tmp_path: Path, cut: float
) -> None:
    inputs = sorted(scenario(store), key=lambda x: (x[0], x[1]))
    reference = receipts_of(
        run(FusionPipeline(store, journal=Journal(tmp_path / "ref.jsonl")), inputs)
    )
    path = tmp_path / "journal.jsonl"
    first = FusionPipeline(store, journal=Journal(path))
    before = run(first, [x for x in inputs if x[0] < cut])
    del first  # killed: no close(); every step was already fsynced
    with open(path, "ab") as f:
        f.write(b'{"seq": 99999, "type": "cart_ev')  # a torn last record
    second = FusionPipeline(store, journal=Journal(path))
    assert second.journal.diagnostics  # the torn record was reported, not fatal
    after = run(second, [x for x in inputs if x[0] >= cut])
    combined = receipts_of(before) | receipts_of(after)
    assert combined == reference
    assert len(before.receipts) + len(after.receipts) == len(reference) == 2


def test_a_restart_keeps_whose_hands_were_busy_at_events_after_the_memory_checkpoint(
    store: StoreView, tmp_path: Path
) -> None:
    # Concurrent reaches read which shoppers were busy at recent events. The memory checkpoint
    # is written every tracker_checkpoint_s; events decided after it must come back from the
    # journal, or a restart charges a shopper busy elsewhere as if their hand were free.
    config = FusionConfig(tracker_checkpoint_s=100.0)  # one checkpoint, at the first input
    inputs = sorted(scenario(store), key=lambda x: (x[0], x[1]))
    path = tmp_path / "journal.jsonl"
    first = FusionPipeline(store, config, journal=Journal(path))
    run(first, [x for x in inputs if x[0] < 10.0])
    busy = {k: list(v) for k, v in first._busy.items()}
    assert busy and all(span[0] > 1.0 for spans in busy.values() for span in spans)
    assert (tmp_path / "journal.jsonl.memory.pkl").exists()
    del first
    second = FusionPipeline(store, config, journal=Journal(path))
    assert {k: list(v) for k, v in second._busy.items()} == busy


def test_an_unreadable_busy_span_in_the_journal_is_skipped(
    store: StoreView, tmp_path: Path
) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(
        "shelf_done",
        {
            "event_id": "e1",
            "t": 2.0,
            "busy": [
                {"track_id": "T1"},
                {"track_id": "T2", "t_start": 1.0, "t_end": 2.0, "bins": [B1], "p": 0.8},
            ],
        },
    )
    journal.commit()
    pipe = FusionPipeline(store, journal=Journal(path))  # rebuilt from it, no exception
    assert {k: list(v) for k, v in pipe._busy.items()} == {"T2": [(1.0, 2.0, (B1,), 0.8)]}


def test_receipts_are_written_once_and_republished_only_if_unconfirmed(
    store: StoreView, tmp_path: Path
) -> None:
    path = tmp_path / "journal.jsonl"
    pipe = FusionPipeline(store, journal=Journal(path))
    out = run(
        pipe,
        [(1.0, "gate", entry("cy", 1.0)), (8.0, "gate", exit_(8.0, token="cy"))],
        cells(0.0, 10.0, {B1: [(4.0, -1040.0)]}),
    )
    out.extend(pipe.add_gate_event(exit_(9.5, token="cy")))  # a second exit of the same session
    assert len(out.receipts) == 1
    assert any(d.name == "exit_without_entry" for d in out.diagnostics)
    again = FusionPipeline(store, journal=Journal(path))
    assert [r.receipt_id for r in again.unpublished_receipts()] == [receipt_id_for("cy")]
    again.mark_published(receipt_id_for("cy"))
    third = FusionPipeline(store, journal=Journal(path))
    assert third.unpublished_receipts() == []
    assert third.advance(20.0).receipts == []
    lines = [ln for ln in path.read_text().splitlines() if '"type":"receipt"' in ln]
    assert len(lines) == 1


def test_low_confidence_event_waits_for_a_reviewer(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    out = run(
        pipe,
        [(1.0, "gate", entry("d1", 1.0)), (1.2, "gate", entry("d2", 1.2))],
        cells(0.0, 8.0, {B1: [(4.0, -1040.0)]}),
    )
    assert out.cart_events == []
    (queued,) = out.review_events
    assert queued.needs_review and pipe.cart_view(queued.session_id).pending_reviews == 1
    bad = pipe.record_review(ReviewDecision(queued.event_id, DECISION_AMEND, "d2", "NOPE", 1))
    assert not bad[0] and "catalogue" in bad[1]
    ok, message, published = pipe.record_review(
        ReviewDecision(queued.event_id, DECISION_AMEND, "d2", YOG, 1, reviewer="op7")
    )
    assert ok and "amended" in message
    assert [(e.session_id, e.sku, e.reviewer) for e in published.cart_events] == [
        ("d2", YOG, "op7")
    ]
    assert [(line.sku, line.quantity) for line in pipe.cart_view("d2").lines] == [(YOG, 1)]
    assert pipe.cart_view(queued.session_id).pending_reviews == 0
    twice = pipe.record_review(ReviewDecision(queued.event_id, DECISION_ACCEPT))
    assert not twice[0] and "already decided" in twice[1]


def test_receipt_lists_pending_reviews_and_a_late_decision_is_kept(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    out = run(
        pipe,
        [
            (1.0, "gate", entry("e1", 1.0)),
            (1.2, "gate", entry("e2", 1.2)),
            (8.0, "gate", exit_(8.0, "e1")),
            (8.1, "gate", exit_(8.1, "e2")),
        ],
        cells(0.0, 10.0, {B1: [(4.0, -1040.0)]}),
    )
    (queued,) = out.review_events
    receipts = {r.session_id: r for r in out.receipts}
    assert receipts[queued.session_id].pending_reviews == 1
    ok, message, _ = pipe.record_review(ReviewDecision(queued.event_id, DECISION_REJECT))
    assert ok and "rejected" in message
    assert pipe.advance(20.0).receipts == []  # never issued twice


# ---- bad input --------------------------------------------------------------------------------


def names(out: FusionOutput) -> set[str]:
    return {d.name for d in out.diagnostics}


def test_exit_without_entry_and_duplicate_scan_are_flagged(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    assert "exit_without_entry" in names(pipe.add_gate_event(exit_(1.0, token="ghost")))
    pipe.add_gate_event(entry("fay", 2.0))
    dup = pipe.add_gate_event(entry("fay", 2.5))
    assert "duplicate_scan" in names(dup)
    assert pipe.open_sessions() == ["fay"]
    assert "unknown_gate" in names(pipe.add_gate_event(GateObservation("side", "entry", 3.0, "x")))
    assert "gate_kind" in names(pipe.add_gate_event(GateObservation("exit", "entry", 3.0, "x")))
    assert pipe.advance(30.0).receipts == []


def test_bad_weights_bins_and_stamps_are_rejected_without_losing_the_cart(
    store: StoreView,
) -> None:
    pipe = FusionPipeline(store)
    pipe.add_gate_event(entry("gus", 1.0))
    out = FusionOutput()
    for t, g in board_batches(CHANNELS, 0.0, 12.0, {B1: [(5.0, -1040.0)]}):
        if 2.0 <= t < 2.2:
            g[:, 3] = np.nan  # dropout
            g[:, 4] = 1e9  # absurd
            g[:, 5] = np.inf
        out.extend(pipe.add_load_cells("g1_xp", CHANNELS, t, 1 / RATE, g))
    assert {"absurd_weight"} <= names(out)
    unknown = pipe.add_load_cells("g1_xp", ("no_such_bin",), 12.5, 1 / RATE, np.zeros((1, 1)))
    assert "unknown_bin" in names(unknown)
    late = pipe.add_load_cells("g1_xp", CHANNELS, 3.0, 1 / RATE, np.zeros((1, len(CHANNELS))))
    assert "late_load_cells" in names(late)
    future = pipe.add_gate_event(exit_(1e6, token="gus"), reference=12.5)
    assert "future_stamp" in names(future)
    stale = pipe.add_gate_event(exit_(-500.0, token="gus"))
    assert "stale_stamp" in names(stale)
    nan = pipe.add_gate_event(exit_(float("nan"), token="gus"))
    assert "bad_stamp" in names(nan)
    shape = pipe.add_load_cells("g1_xp", CHANNELS, 13.0, 1 / RATE, np.zeros(5))
    assert "bad_load_cells" in names(shape)
    assert [(e.sku, e.quantity) for e in out.cart_events] == [(YOG, 1)]
    (receipt,) = (
        pipe.add_gate_event(exit_(13.0, token="gus")).receipts + pipe.advance(14.0).receipts
    )
    assert [(line.sku, line.quantity) for line in receipt.lines] == [(YOG, 1)]


def test_unknown_camera_and_people_without_cameras_are_diagnosed(store: StoreView, model) -> None:
    pipe = FusionPipeline(store)
    assert "no_cameras" in names(pipe.add_people(1.0, {"cam_x": object()}))
    with_cameras = FusionPipeline.for_store(model)
    out = with_cameras.add_people(1.0, {"cam_x": object()})
    assert "unknown_camera" in names(out) and out.tracks == []
    future = with_cameras.add_people(100.0, {}, reference=1.0)
    assert "future_stamp" in names(future)


def test_partial_camera_sets_take_over_when_a_camera_goes_silent() -> None:
    sets = PartialSets(slop_s=0.03, after_s=0.5, queue_size=10)
    emitted: list[tuple[float, list[str]]] = []
    for k in range(10):  # both cameras alive: the synchroniser delivers, nothing extra
        t = k / 10
        assert sets.add("a", t, f"a{k}") == [] and sets.add("b", t + 0.01, f"b{k}") == []
        sets.synced(t + 0.01)
    for k in range(10, 30):  # camera b stops
        for stamp, group in sets.add("a", k / 10, f"a{k}"):
            emitted.append((stamp, sorted(group.values())))
    stamps = [s for s, _ in emitted]
    assert stamps == sorted(set(stamps)) and stamps[0] >= 1.0
    assert all(len(g) == 1 and g[0].startswith("a") for _, g in emitted)
    assert len(emitted) >= 10
    # b comes back: sets of both again, and nothing at or before what was already emitted
    out = sets.add("b", 3.0 + 0.01, "b30") + sets.add("a", 3.0, "a30") + sets.add("a", 3.1, "a31")
    assert [sorted(g) for _, g in out][-1] == ["a", "b"]
    assert all(stamp < 3.0 for stamp, g in out if len(g) == 1)
    assert sets.add("a", 1.0, "old") == []


def test_finish_releases_held_changes_at_the_end_of_a_recording(model) -> None:
    pipe = FusionPipeline.for_store(model)
    assert pipe.tracker is not None  # every camera of the store
    run(pipe, [(1.0, "gate", entry("hal", 1.0))], cells(0.0, 5.45, {B1: [(5.0, -1040.0)]}))
    assert pipe.carts.get("hal").contents() == {}  # type: ignore[union-attr]
    out = pipe.finish(6.0)
    assert [(e.sku, e.session_id) for e in out.cart_events + out.review_events] == [(YOG, "hal")]


def test_simultaneous_picks_at_adjacent_bins_are_split_an_item_across_bins_is_not(
    store: StoreView,
) -> None:
    pipe = FusionPipeline(store)
    out = run(
        pipe,
        [(1.0, "gate", entry("ivy", 1.0))],
        cells(0.0, 8.0, {B1: [(5.0, -1040.0)], B2: [(5.05, -1040.0)]}),
    )
    bins = sorted(e.event.bin_ids for e in out.shelf_events)
    assert bins == [(B1,), (B2,)]  # the detector merged them; whole units on each: two picks
    assert sorted(e.sku for e in out.cart_events) == ["Arla-Mild-Vanilla-Yoghurt", YOG]
    across = FusionPipeline(store)
    out = run(
        across,
        [(1.0, "gate", entry("jo", 1.0))],
        cells(0.0, 8.0, {B1: [(5.0, -600.0)], B2: [(5.0, -440.0)]}),
    )
    (event,) = out.shelf_events
    assert set(event.event.bin_ids) == {B1, B2}
    assert event.hypotheses[0].items == ((YOG, 1),)  # the larger share's product leads


def test_an_item_across_bins_belongs_to_the_bin_bearing_most_of_its_weight(
    store: StoreView,
) -> None:
    """A 1040 g yoghurt resting 75 / 25 on B1 and B2, whose products weigh the same: the plate
    bearing most of it names the product, whichever bin bears it. (The rest of the mass goes to
    catalogue products of that weight the planogram does not put there, not to the neighbour's
    look-alike, which a prior equal to the share gave a quarter.)"""
    for heavy, light, sku in ((B1, B2, YOG), (B2, B1, "Arla-Mild-Vanilla-Yoghurt")):
        pipe = FusionPipeline(store)
        out = run(
            pipe,
            [(1.0, "gate", entry("kim", 1.0))],
            cells(0.0, 8.0, {heavy: [(5.0, -780.0)], light: [(5.0, -260.0)]}),
        )
        (event,) = out.shelf_events
        assert set(event.event.bin_ids) == {B1, B2}
        top, *rest = event.hypotheses
        assert top.items == ((sku, 1),) and top.probability > 0.75
        other = {B1: YOG, B2: "Arla-Mild-Vanilla-Yoghurt"}[light]
        assert all(h.probability < 0.06 for h in rest if h.items == ((other, 1),))
        assert [(e.sku, e.needs_review) for e in out.cart_events] == [(sku, False)]


def test_split_picks_at_adjacent_bins_keep_each_bin_s_own_span(store: StoreView) -> None:
    """Two reaches into neighbouring bins a quarter second apart are merged by the detector and
    split again; each part keeps when its own bin changed (attribution tells the hands apart by
    it), not the union of both."""
    pipe = FusionPipeline(store)
    out = run(
        pipe,
        [(1.0, "gate", entry("una", 1.0))],
        cells(0.0, 8.0, {B1: [(5.0, -1040.0)], B2: [(5.25, -1040.0)]}),
    )
    parts = {e.event.bin_id: e.event for e in out.shelf_events}
    assert set(parts) == {B1, B2}
    assert parts[B1].t_start < parts[B2].t_start and parts[B1].t_end < parts[B2].t_end
    assert parts[B2].t_start - parts[B1].t_start == pytest.approx(0.25, abs=0.05)


def test_a_stale_planogram_seen_by_two_cameras_is_not_charged_blindly(store: StoreView) -> None:
    apple_bin = "g1_xp_s3_b1"  # the planogram says apple juice (1085 g) ...
    mandarin = "Tropicana-Mandarin-Morning"  # ... but it holds mandarin juice (1005 g)
    pipe = FusionPipeline(store)
    hand = store.bins[apple_bin].center + REACH
    evidence = [
        EvidenceItem(f"{cam}-{k}", cam, 5.4 + 0.1 * k, 0, {mandarin: 0.8}, position=hand)
        for cam in ("cam_front", "cam_back")
        for k in range(4)
    ]
    inputs = [(1.0, "gate", entry("kim", 1.0))]
    for k in range(20, 100):
        t = k / 10.0
        wrist = hand if 4.8 <= t <= 6.2 else hand + STEP_BACK
        inputs.append((t, "tracks", (t, [wrist_snapshot("tk", "kim", t, wrist)])))
    pipe.add_product_evidence(evidence)
    out = run(pipe, inputs, cells(0.0, 10.0, {apple_bin: [(5.0, -1005.0)]}))
    decided = [(e.sku, e.needs_review) for e in out.cart_events + out.review_events]
    assert ("Bravo-Apple-Juice", False) not in decided
    assert decided and decided[0][0] == mandarin


def test_concurrent_shelf_events_nearby_are_known_to_attribution(tmp_path: Path) -> None:
    from go_fusion.core.attribution import ShelfObservation, WeightHypothesis

    model = load_store("small")
    pipe = FusionPipeline.for_store(model, journal=Journal(tmp_path / "j.jsonl"))
    hyp = (WeightHypothesis((("Arla-Natural-Yoghurt", 1),), 0.9),)

    def obs(bin_id: str, t0: float, t1: float) -> ShelfObservation:
        return ShelfObservation(f"{bin_id}@{t0}", bin_id, (bin_id,), t0, t1, -1040.0, 0.5, hyp)

    here = obs("g1_xp_s2_b1", 10.0, 10.8)  # milk shelf, y 1.1 m
    pipe.add_shelf_event(here)
    pipe.add_shelf_event(obs("g1_xp_s3_b4", 10.2, 11.0))  # top shelf, y 2.9 m: 1.9 m away
    assert not pipe._concurrent_nearby(here)
    pipe.add_shelf_event(obs("g1_xp_s1_b1", 12.0, 12.5))  # right below, but later
    assert not pipe._concurrent_nearby(here)
    pipe.add_shelf_event(obs("g1_xp_s1_b1", 10.5, 11.2))  # right below (0.45 m), overlapping
    assert pipe._concurrent_nearby(here)
    # a change still in progress at a bin nearby counts too (it may settle after this one)
    other = FusionPipeline.for_store(model)
    channels = model.boards["g1_xp"].channels
    base = np.full((1, len(channels)), 3000.0)
    for k in range(60):
        other.add_load_cells("g1_xp", channels, 8.0 + k / 30, 1 / 30, base)
    other.add_load_cells(
        "g1_xp",
        channels,
        10.1,
        1 / 30,
        base - 500.0 * np.eye(len(channels))[[channels.index("g1_xp_s1_b1")]],
    )
    assert other.detector.changes_in_progress()
    assert other._concurrent_nearby(here)
    # the journal rebuilds it after a restart
    pipe.close()
    again = FusionPipeline.for_store(model, journal=Journal(tmp_path / "j.jsonl"))
    assert again._concurrent_nearby(here)


def test_a_pick_sent_to_review_for_its_product_still_places_the_shopper_s_hand(
    store: StoreView,
) -> None:
    """random_busy (seed 4, 47.1 s): a shopper returning a look-alike yoghurt (review: which
    of two equal weights) is the other candidate for a neighbouring bin's pick at the same
    moment, her wrist as near it as the picker's. Her hand was busy at her own bin whatever the
    product: the pick goes to the other shopper instead of a coin toss."""
    from go_fusion.core.attribution import ShelfObservation, WeightHypothesis

    pipe = FusionPipeline(store)
    in_b1 = store.bins[B1].center + REACH
    edge = store.bins[B2].center + REACH - np.array([0.0, 0.2, 0.0])  # B2's side next to B1

    def snapshot(track: str, session: str, t: float, right: np.ndarray, left: np.ndarray):
        snap = wrist_snapshot(track, session, t, right)
        snap.keypoints[10] = left
        return snap

    inputs: list[tuple[float, str, object]] = [
        (1.0, "gate", entry("ann", 1.0)),
        (1.2, "gate", entry("ben", 1.2)),
    ]
    for k in range(20, 90):
        t = k / 10.0
        busy = 4.6 <= t <= 6.2
        if busy:  # one hand in B1, the other at B2's edge next to it
            ann = snapshot("ta", "ann", t, edge, in_b1)
        else:
            ann = snapshot("ta", "ann", t, edge + STEP_BACK, in_b1 + STEP_BACK)
        ben = wrist_snapshot(
            "tb", "ben", t, edge + np.array([0.0, 0.02, 0.0]) if busy else edge + STEP_BACK
        )
        inputs.append((t, "tracks", (t, [ann, ben])))
    run(pipe, inputs)
    look_alike = (
        WeightHypothesis(((YOG, 1),), 0.5),
        WeightHypothesis((("Arla-Mild-Vanilla-Yoghurt", 1),), 0.5),
    )
    first = pipe.add_shelf_event(
        ShelfObservation(f"{B1}@5.0", B1, (B1,), 5.0, 5.6, -1040.0, 1.0, look_alike)
    )
    (queued,) = first.review_events
    assert queued.session_id == "ann" and queued.track_id == "ta"
    vanilla = (WeightHypothesis((("Arla-Mild-Vanilla-Yoghurt", 1),), 0.95),)
    second = pipe.add_shelf_event(
        ShelfObservation(f"{B2}@5.2", B2, (B2,), 5.2, 5.8, -1040.0, 1.0, vanilla)
    )
    assert [(e.session_id, e.sku) for e in second.cart_events] == [
        ("ben", "Arla-Mild-Vanilla-Yoghurt")
    ]
    assert second.review_events == []


def test_an_unsettled_event_journals_no_level_for_a_restart(tmp_path: Path) -> None:
    # Its bin is still moving: the level then is the one before the change, and the settled
    # event that follows has the same id (not journalled). A restart must not take that old
    # level, or it would find the same change again.
    import json
    from dataclasses import replace

    from go_fusion.core.shelf_events import ShelfEventConfig

    model = load_store("small")
    base_cfg = FusionConfig()
    shelf = replace(base_cfg.shelf, unsettled_timeout_s=3.0)
    config = replace(base_cfg, shelf=shelf)
    assert isinstance(shelf, ShelfEventConfig)
    pipe = FusionPipeline.for_store(model, config, journal=Journal(tmp_path / "j.jsonl"))
    channels = model.boards["g1_xp"].channels
    col = channels.index("g1_xp_s1_b1")
    rng = np.random.default_rng(0)
    for k in range(0, 30 * 14, 3):
        ts = (k + np.arange(3)) / 30.0
        g = 3000.0 + rng.normal(0.0, 0.5, (3, len(channels)))
        g[:, col] -= 300.0 * np.clip((ts - 3.0) / 0.5, 0, 1)
        shaking = (ts > 3.5) & (ts < 10.0)
        g[shaking, col] += 40.0 * np.sin(2 * np.pi * 3.0 * ts[shaking])
        pipe.add_load_cells("g1_xp", channels, float(ts[0]), 1 / 30.0, g)
    pipe.close()
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").open()]
    shelf_records = [r for r in records if r["type"] == "shelf_event"]
    assert shelf_records and not shelf_records[0]["settled"]
    assert shelf_records[0]["bin_levels_g"] == [None]

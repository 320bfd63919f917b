"""FusionPipeline with the real multi-view tracker: synthetic camera detections to receipts.

Two shoppers enter on their own scans, stand at adjacent bins (0.6 m apart) and each takes a
look-alike yoghurt (both 1040 g) 0.6 s after the other; the 2D detections of both ceiling cameras
of the "small" store are made by ``go_fusion.bench.synthetic.render`` from known 3D skeletons.
Weight alone cannot tell the two picks apart; the wrists seen by the cameras must.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from go_common.core.store import StoreModel, load_store
from go_fusion.bench.synthetic import render, skeleton
from go_fusion.core.attribution import (
    SOURCE_HAND,
    EvidenceItem,
    ShelfObservation,
    WeightHypothesis,
)
from go_fusion.core.cameras import FusionCamera
from go_fusion.core.checkout import GateObservation
from go_fusion.core.journal import Journal
from go_fusion.core.pipeline import FusionConfig, FusionOutput, FusionPipeline, TrackSnapshot
from go_fusion.core.store_view import store_view_from_model

RATE_CELLS = 30.0
RATE_CAMERAS = 15.0
ENTRY_XY = np.array([2.1, 0.3])
EXIT_XY = np.array([2.1, 3.8])
REACH = np.array([0.12, 0.0, 0.0])  # [m] wrist just inside the front of a bin


def shopper(
    t: float,
    t_in: float,
    stand_y: float,
    reach: tuple[float, float],
    bin_c: np.ndarray,
    t_leave: float,
) -> np.ndarray | None:
    """(17, 3) joints of a shopper: gate, walk to the shelf, reach into a bin, walk out."""
    stand = np.array([1.25, stand_y])
    if t < t_in or t > t_leave + 2.5:
        return None
    if t < t_in + 1.0:
        xy, heading = ENTRY_XY, math.pi / 2
    elif t < t_in + 2.5:
        a = (t - t_in - 1.0) / 1.5
        xy, heading = ENTRY_XY * (1 - a) + stand * a, math.pi
    elif t < t_leave:
        xy, heading = stand, math.pi
    else:
        a = (t - t_leave) / 2.5
        xy, heading = stand * (1 - a) + EXIT_XY * a, math.pi / 2
    joints = skeleton(xy, heading)
    if reach[0] <= t <= reach[1]:
        joints[10] = bin_c + REACH  # the right wrist (either would do)
    return joints


def scenario_inputs(model, extra_b1_at: float | None = None) -> list[tuple[float, int, object]]:
    """Gate events, camera detections and load cells of the two-shopper run, time ordered;
    ``extra_b1_at``: another item leaves b1 then [s], with nobody's hand there."""
    store = store_view_from_model(model)
    cameras = [FusionCamera.from_store_camera(c) for c in model.cameras.values()]
    b1, b2 = "g1_xp_s1_b1", "g1_xp_s1_b2"
    c1, c2 = store.bins[b1].center, store.bins[b2].center
    rng = np.random.default_rng(1)
    inputs: list[tuple[float, int, object]] = [
        (1.0, 0, GateObservation("entry", "entry", 1.0, "zed")),
        (3.0, 0, GateObservation("entry", "entry", 3.0, "amy")),
        (9.3, 0, GateObservation("exit", "exit", 9.3)),
        (10.3, 0, GateObservation("exit", "exit", 10.3)),
    ]
    for k in range(int(12 * RATE_CAMERAS)):
        t = k / RATE_CAMERAS
        people = [
            shopper(t, 0.0, 1.1, (4.8, 6.2), c1, 7.0),
            shopper(t, 2.5, 1.7, (5.3, 6.7), c2, 8.0),
        ]
        views, _ = render(cameras, [p for p in people if p is not None], t, rng)
        inputs.append((t, 1, views))
    channels = model.boards["g1_xp"].channels
    base = np.full(len(channels), 3000.0)
    for k in range(0, int(12 * RATE_CELLS), 3):
        ts = (k + np.arange(3)) / RATE_CELLS
        g = np.tile(base, (3, 1)) + rng.normal(0.0, 0.5, (3, len(channels)))
        g[:, channels.index(b1)] -= 1040.0 * np.clip((ts - 5.2) / 0.3, 0, 1)
        g[:, channels.index(b2)] -= 1040.0 * np.clip((ts - 5.8) / 0.3, 0, 1)
        if extra_b1_at is not None:
            g[:, channels.index(b1)] -= 1040.0 * np.clip((ts - extra_b1_at) / 0.3, 0, 1)
        inputs.append((float(ts[0]), 2, g))
    return sorted(inputs, key=lambda x: (x[0], x[1]))


def feed(pipe: FusionPipeline, inputs: list[tuple[float, int, object]], channels) -> FusionOutput:
    out = FusionOutput()
    for t, kind, payload in inputs:
        if kind == 0:
            out.extend(pipe.add_gate_event(payload))  # type: ignore[arg-type]
        elif kind == 1:
            out.extend(pipe.add_people(t, payload))  # type: ignore[arg-type]
        else:
            out.extend(pipe.add_load_cells("g1_xp", channels, t, 1 / RATE_CELLS, payload))
    return out


def test_two_shoppers_at_adjacent_bins_through_cameras_and_tracker() -> None:
    model = load_store("small")
    out = feed(
        FusionPipeline.for_store(model), scenario_inputs(model), model.boards["g1_xp"].channels
    )
    picks = {(e.session_id, e.sku) for e in out.cart_events}
    assert picks == {("zed", "Arla-Natural-Yoghurt"), ("amy", "Arla-Mild-Vanilla-Yoghurt")}
    assert all(e.track_id and not e.needs_review for e in out.cart_events)
    assert out.review_events == []
    receipts = {r.session_id: [(ln.sku, ln.quantity) for ln in r.lines] for r in out.receipts}
    assert receipts == {
        "zed": [("Arla-Natural-Yoghurt", 1)],
        "amy": [("Arla-Mild-Vanilla-Yoghurt", 1)],
    }


def test_a_restart_continues_the_tracks_from_the_checkpoint(tmp_path: Path) -> None:
    model = load_store("small")
    channels = model.boards["g1_xp"].channels
    inputs = scenario_inputs(model)
    path = tmp_path / "journal.jsonl"
    first = FusionPipeline.for_store(model, journal=Journal(path))
    before = feed(first, [x for x in inputs if x[0] < 7.5], channels)
    first.close()  # the checkpoint files are written by a thread: close() waits for it
    assert (tmp_path / "journal.jsonl.tracker.json").exists()
    again = FusionPipeline.for_store(model, journal=Journal(path))  # the node came back
    assert again.tracker is not None
    assert {t["session_id"] for t in again.tracker.export_state()["tracker"]["tracks"]} == {
        "zed",
        "amy",
    }
    after = feed(again, [x for x in inputs if x[0] >= 7.5], channels)
    picks = {(e.session_id, e.sku) for e in before.cart_events}
    assert picks == {("zed", "Arla-Natural-Yoghurt"), ("amy", "Arla-Mild-Vanilla-Yoghurt")}
    # the restored tracks leave through the exit: both receipts, each once
    assert sorted(r.session_id for r in after.receipts) == ["amy", "zed"]
    assert before.receipts == []


def outcome(outs: list[FusionOutput]) -> tuple[list[tuple[str, str, bool]], int, list[tuple]]:
    """Cart events, reviews and receipts of one run, however many pipelines it took."""
    events = sorted((e.session_id, e.sku, e.needs_review) for o in outs for e in o.cart_events)
    reviews = sum(len(o.review_events) for o in outs)
    receipts = sorted(
        (r.session_id, tuple((ln.sku, ln.quantity) for ln in r.lines))
        for o in outs
        for r in o.receipts
    )
    return events, reviews, receipts


def run_with_restart(
    tmp: Path,
    cut: float | None,
    gap_s: float = 0.0,
    config: FusionConfig | None = None,
    extra_b1_at: float | None = None,
) -> tuple[list[tuple[str, str, bool]], int, list[tuple]]:
    """The two-shopper run, the fusion pipeline killed at ``cut`` [s] and a new one started on
    the same journal; inputs stamped within ``gap_s`` after the cut never arrive."""
    model = load_store("small")
    channels = model.boards["g1_xp"].channels
    inputs = scenario_inputs(model, extra_b1_at)
    path = tmp / "journal.jsonl"
    if cut is None:
        pipe = FusionPipeline.for_store(model, config, journal=Journal(path))
        return outcome([feed(pipe, inputs, channels)])
    first = FusionPipeline.for_store(model, config, journal=Journal(path))
    before = feed(first, [x for x in inputs if x[0] < cut], channels)
    first.close()
    again = FusionPipeline.for_store(model, config, journal=Journal(path))
    after = feed(again, [x for x in inputs if x[0] >= cut + gap_s], channels)
    return outcome([before, after])


def test_a_restart_at_any_moment_gives_the_uninterrupted_carts_and_receipts(
    tmp_path: Path,
) -> None:
    # Killed during the reaches, while the shelves settle, before the picks are attributed,
    # during the exits. Before the short-term memory was checkpointed, 24 of 55 such cuts
    # lost picks (a restarted shelf detector took the lighter shelf as its level) or a receipt
    # (a departed shopper's restored track took the other one's exit).
    uninterrupted = run_with_restart(tmp_path / "base", None)
    assert uninterrupted[0] == [
        ("amy", "Arla-Mild-Vanilla-Yoghurt", False),
        ("zed", "Arla-Natural-Yoghurt", False),
    ]
    assert len(uninterrupted[2]) == 2
    for k, cut in enumerate(np.arange(4.6, 10.0, 0.2)):
        assert run_with_restart(tmp_path / str(k), float(cut)) == uninterrupted, f"cut {cut:.1f}"


def test_an_exit_applied_after_the_memory_checkpoint_is_not_applied_again(tmp_path: Path) -> None:
    # The exit scan at 9.3 s waits in the gate buffer for the next camera frame, and the memory
    # checkpoint can be written in between (by a load-cell batch). The frame then ends zed's
    # track and the journal records it; killed before the next checkpoint, the new pipeline
    # restores the buffer with that scan in it. Applied again, it ended the nearest other track
    # (amy's, 1 s from her own exit), closing her session early.
    model = load_store("small")
    channels = model.boards["g1_xp"].channels
    inputs = scenario_inputs(model)
    config = FusionConfig(tracker_checkpoint_s=100.0)  # no checkpoint but the one forced below
    path = tmp_path / "journal.jsonl"
    first = FusionPipeline.for_store(model, config, journal=Journal(path))
    feed(first, [x for x in inputs if x[0] < 9.3 or (x[0] == 9.3 and x[1] == 0)], channels)
    assert [g.t for g in first._gate_buffer] == [9.3]
    first._checkpoint_t = None
    first._save_checkpoint(9.3)  # the checkpoint between the scan and the frame
    feed(first, [x for x in inputs if 9.3 <= x[0] < 9.8 and x[1] != 0], channels)
    first.close()

    def exits() -> list[tuple[str, float]]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        return [(r["session_id"], r["t"]) for r in records if r["type"] == "track_exit"]

    assert exits() == [("zed", 9.3)]
    again = FusionPipeline.for_store(model, config, journal=Journal(path))
    feed(again, [x for x in inputs if 9.8 <= x[0] < 10.2], channels)
    again.close()
    assert exits() == [("zed", 9.3)]  # amy is still in the store


def test_a_pick_during_the_downtime_goes_to_review_not_lost(tmp_path: Path) -> None:
    # Down from 5.0 s to 6.5 s: zed's whole weight change (5.2-5.5 s) happens meanwhile. The
    # restored shelf level shows it when fusion is back, but no wrist was seen in the bin while
    # it happened, so it waits for review instead of vanishing into the new level.
    events, reviews, receipts = run_with_restart(tmp_path, 5.0, gap_s=1.5)
    assert events == [("amy", "Arla-Mild-Vanilla-Yoghurt", False)]
    assert reviews == 1
    assert ("amy", (("Arla-Mild-Vanilla-Yoghurt", 1),)) in receipts


def stopped_at_6s(tmp_path: Path) -> tuple[StoreModel, list[str], Path]:
    """The two-shopper run up to 6 s on an on-disk journal, then closed: (store, load-cell
    channels, journal path) for a new pipeline to restart from."""
    model = load_store("small")
    channels = model.boards["g1_xp"].channels
    path = tmp_path / "journal.jsonl"
    first = FusionPipeline.for_store(model, journal=Journal(path))
    feed(first, [x for x in scenario_inputs(model) if x[0] < 6.0], channels)
    first.close()
    return model, channels, path


def test_memory_from_another_configuration_is_not_restored(tmp_path: Path, caplog) -> None:
    model, _, path = stopped_at_6s(tmp_path)
    assert (tmp_path / "journal.jsonl.memory.pkl").exists()
    other = FusionConfig(checkout_grace_s=0.4)
    with caplog.at_level("WARNING"):
        again = FusionPipeline.for_store(model, other, journal=Journal(path))
    assert "another configuration" in caplog.text
    assert all(h.mode == "warmup" for h in again.detector.health().values())
    # a corrupt file is a warning too, never a crash
    (tmp_path / "journal.jsonl.memory.pkl").write_bytes(b"not a pickle")
    caplog.clear()
    with caplog.at_level("WARNING"):
        FusionPipeline.for_store(model, journal=Journal(path))
    assert "memory.pkl not restored" in caplog.text


def test_memory_older_than_the_limit_at_the_first_input_is_dropped(tmp_path: Path) -> None:
    # The node was down for 5 minutes: the shelves may have been restocked and the shoppers
    # have moved on. The age is known only when the first input arrives (sensor time).
    model, channels, path = stopped_at_6s(tmp_path)
    again = FusionPipeline.for_store(model, journal=Journal(path))
    assert again.tracker is not None and again.tracker.export_state()["tracker"]["tracks"]
    assert any(h.mode != "warmup" for h in again.detector.health().values())
    again.add_load_cells(
        "g1_xp", channels, 306.0, 1 / RATE_CELLS, np.full((3, len(channels)), 2.0e3)
    )
    assert all(h.mode == "warmup" for h in again.detector.health().values())
    assert again.tracker.export_state()["tracker"]["tracks"] == []
    # ... but a restart within the limit keeps it: 1 s later, the warm-up samples of 306 s are
    # still there, so 3 more samples end the warm-up (a dropped memory would start it again)
    again.close()
    third = FusionPipeline.for_store(model, journal=Journal(path))
    third.add_load_cells(
        "g1_xp", channels, 307.0, 1 / RATE_CELLS, np.full((3, len(channels)), 2.0e3)
    )
    assert third.detector.health()[channels[0]].mode != "warmup"


def test_a_bin_whose_event_was_journalled_after_the_checkpoint_is_not_counted_twice(
    tmp_path: Path,
) -> None:
    # Checkpoints at 0, 4 and 8 s; killed at 7.5 s: both picks (5.2 and 5.8 s) were journalled
    # after the 4 s checkpoint, whose shelf levels are from before them. The restored detector
    # must not find them a second time.
    config = FusionConfig(tracker_checkpoint_s=4.0)
    uninterrupted = run_with_restart(tmp_path / "base", None, config=config)
    restarted = run_with_restart(tmp_path / "cut", 7.5, config=config)
    assert restarted == uninterrupted


def test_a_change_right_after_a_restart_on_a_bin_with_a_journalled_event_is_found(
    tmp_path: Path,
) -> None:
    # As above, killed at 7.5 s after both picks were journalled; 0.2 s after the restart a
    # third item leaves b1 with nobody's hand there (a review). Before the journal held the
    # bins' levels, b1 learnt its level again from its first second of samples after the
    # restart and took that change as the level: the item vanished.
    config = FusionConfig(tracker_checkpoint_s=4.0)
    uninterrupted = run_with_restart(tmp_path / "base", None, config=config, extra_b1_at=7.7)
    assert uninterrupted[1] == 1  # the third item waits for review
    restarted = run_with_restart(tmp_path / "cut", 7.5, config=config, extra_b1_at=7.7)
    assert restarted == uninterrupted
    records = [json.loads(line) for line in (tmp_path / "cut" / "journal.jsonl").open()]
    levels = [r["bin_levels_g"] for r in records if r["type"] == "shelf_event"]
    assert levels[0] == [pytest.approx(3000.0 - 1040.0, abs=1.0)]


def test_a_journal_without_bin_levels_still_restarts_without_counting_twice(
    tmp_path: Path,
) -> None:
    # A journal written before the levels were recorded: the bins learn their level again.
    config = FusionConfig(tracker_checkpoint_s=4.0)
    uninterrupted = run_with_restart(tmp_path / "base", None, config=config)
    real = FusionPipeline._record

    def without_levels(self: FusionPipeline, type_: str, data: dict) -> None:
        data.pop("bin_levels_g", None)
        real(self, type_, data)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FusionPipeline, "_record", without_levels)
        restarted = run_with_restart(tmp_path / "cut", 7.5, config=config)
    assert restarted == uninterrupted


def test_hand_crop_evidence_is_placed_on_the_wrist_its_camera_ray_meets() -> None:
    model = load_store("small")
    pipe = FusionPipeline.for_store(model)
    store = pipe.store
    assert pipe.tracker is not None
    cam = next(c for c in pipe.tracker.rig.cameras if c.camera_id == "cam_front")
    b1 = "g1_xp_s1_b1"
    reach = store.bins[b1].center + REACH
    away = np.array([2.6, 2.8, 1.0])  # another shopper's hand, far from the shelf
    pipe.add_gate_event(GateObservation("entry", "entry", 1.0, "ann"))
    pipe.add_gate_event(GateObservation("entry", "entry", 1.5, "bob"))
    for k in range(20, 140):
        t = k / 10.0
        wrist = reach if 9.6 <= t <= 11.2 else reach + np.array([0.5, 0.0, 0.3])
        pipe.add_tracks(t, [_snapshot("TA", "ann", t, wrist), _snapshot("TB", "bob", t, away)])
    mild, natural = "Arla-Mild-Vanilla-Yoghurt", "Arla-Natural-Yoghurt"
    uv, _ = cam.project(np.stack([reach, away]))
    pipe.add_product_evidence(
        [
            EvidenceItem(
                "in-ann-hand", "cam_front", 10.5, SOURCE_HAND, {mild: 0.9}, pixel=tuple(uv[0])
            ),
            EvidenceItem(
                "in-bob-hand", "cam_front", 10.5, SOURCE_HAND, {natural: 1.0}, pixel=tuple(uv[1])
            ),
        ]
    )
    hyps = (WeightHypothesis(((natural, 1),), 0.49), WeightHypothesis(((mild, 1),), 0.49))
    obs = ShelfObservation("b1@10.000", b1, (b1,), 10.0, 10.8, -1040.0, 0.5, hyps)
    out = pipe.add_shelf_event(obs)
    out.extend(pipe.advance(14.0))
    (event,) = out.cart_events
    assert (event.session_id, event.sku) == ("ann", mild)
    assert "in-ann-hand" in event.evidence_ids and "in-bob-hand" not in event.evidence_ids


def test_only_evidence_near_an_event_is_localised_and_each_item_once(monkeypatch) -> None:
    model = load_store("small")
    pipe = FusionPipeline.for_store(model)
    assert pipe.tracker is not None
    cam = next(c for c in pipe.tracker.rig.cameras if c.camera_id == "cam_front")
    b1 = "g1_xp_s1_b1"
    reach = pipe.store.bins[b1].center + REACH
    pipe.add_gate_event(GateObservation("entry", "entry", 1.0, "ann"))
    for k in range(20, 160):
        t = k / 10.0
        wrist = reach if 9.6 <= t <= 11.2 else reach + np.array([0.5, 0.0, 0.3])
        pipe.add_tracks(t, [_snapshot("TA", "ann", t, wrist)])
    mild = "Arla-Mild-Vanilla-Yoghurt"
    (uv,), _ = cam.project(reach[None])
    # a busy store's history: evidence every 0.1 s for 12 s, only some of it near the event
    pipe.add_product_evidence(
        [
            EvidenceItem(f"e{k}", "cam_front", k / 10.0, SOURCE_HAND, {mild: 0.9}, pixel=tuple(uv))
            for k in range(20, 140)
        ]
    )
    calls: list[str] = []
    real = FusionPipeline._localised

    def counting(self: FusionPipeline, e: EvidenceItem) -> EvidenceItem:
        calls.append(e.evidence_id)
        return real(self, e)

    monkeypatch.setattr(FusionPipeline, "_localised", counting)
    hyps = (WeightHypothesis(((mild, 1),), 0.98),)
    first = ShelfObservation("b1@10.000", b1, (b1,), 10.0, 10.8, -1040.0, 0.5, hyps)
    out = pipe.add_shelf_event(first)
    out.extend(pipe.advance(15.0))
    (event,) = out.cart_events
    assert event.session_id == "ann" and event.sku == mild
    cfg = pipe.config.attribution
    t0 = 10.0 - max(cfg.vision_baseline_s, cfg.edge_window_s + cfg.max_gap_s)
    t1 = 10.8 + cfg.edge_window_s + cfg.max_gap_s
    assert calls and len(calls) == len(set(calls))
    assert all(t0 <= int(c[1:]) / 10.0 <= t1 for c in calls)
    assert len(calls) < 120
    # a second event that ends with the first looks at that evidence: none is localised again
    calls.clear()
    again = ShelfObservation("b1@10.400", b1, (b1,), 10.4, 10.8, -1040.0, 0.5, hyps)
    pipe.add_shelf_event(again)
    pipe.advance(15.5)
    assert calls == []


def _snapshot(track: str, session: str, t: float, wrist: np.ndarray) -> TrackSnapshot:
    kp = np.full((17, 3), np.nan)
    kp[10] = wrist
    scores = np.zeros(17)
    scores[10] = 0.9
    cov = np.tile(np.eye(3) * 0.03**2, (17, 1, 1))
    pos = np.array([wrist[0] + 0.6, wrist[1], 0.0])
    return TrackSnapshot(track, session, 1, pos, np.zeros(3), np.eye(6) * 0.01, t, kp, scores, cov)


def test_memory_newer_than_its_journal_is_not_restored(tmp_path: Path, caplog) -> None:
    # The journal was replaced (a new day, a wiped disk) but the checkpoint files stayed.
    model, _, path = stopped_at_6s(tmp_path)
    path.unlink()
    with caplog.at_level("WARNING"):
        again = FusionPipeline.for_store(model, journal=Journal(path))
    assert "newer than the journal" in caplog.text
    assert all(h.mode == "warmup" for h in again.detector.health().values())
    assert again.tracker is not None and again.tracker.export_state()["tracker"]["tracks"] == []

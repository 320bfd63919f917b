"""Facing evidence: the cameras' reports of a mixed bin's lanes settle a look-alike pick waiting in
review (the posterior model, and the pipeline: amend, restart, bad reports)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from go_common.core.store import load_store
from go_fusion.core.attribution import (
    SOURCE_FACING,
    SOURCE_HAND,
    EvidenceItem,
    WeightHypothesis,
)
from go_fusion.core.checkout import GateObservation
from go_fusion.core.facing_evidence import (
    FacingEvidenceConfig,
    covering_reports,
    facing_posterior,
)
from go_fusion.core.journal import Journal
from go_fusion.core.pipeline import FusionConfig, FusionOutput, FusionPipeline
from go_fusion.core.store_view import StoreView, store_view_from_model

MIXED = "g1_xp_s3_b3"
BLUE, VAN = "Alpro-Blueberry-Soyghurt", "Alpro-Vanilla-Soyghurt"  # 522 g each, one bin


def report(camera: str, sku: str, since: float, t: float, moved: bool, bin_id: str = MIXED):
    return EvidenceItem(
        evidence_id=f"{camera}/{t}/facing/{bin_id}/{sku}",
        camera_id=camera,
        t=t,
        source=SOURCE_FACING,
        scores={sku: 1.0 if moved else 0.0},
        bin_id=bin_id,
        since=since,
    )


HYPS = (WeightHypothesis(((BLUE, 1),), 0.5), WeightHypothesis(((VAN, 1),), 0.45))
CFG = FacingEvidenceConfig()


def test_reports_cover_an_event_only_when_their_span_holds_it() -> None:
    items = [
        report("cam_a", VAN, 3.0, 9.0, True),
        report("cam_a", VAN, 9.0, 10.0, False),  # later span of the same camera: not first
        report("cam_b", VAN, 5.5, 9.0, True),  # starts after the event started
        report("cam_b", BLUE, 3.0, 5.9, False),  # ends before the event ended
        report("cam_c", BLUE, 3.0, 7.0, False, bin_id="other"),
        EvidenceItem("h", "cam_a", 7.0, SOURCE_HAND, {VAN: 0.9}, bin_id=MIXED),
    ]
    covering = covering_reports(items, MIXED, 5.0, 6.0)
    assert {sku: {c: e.t for c, e in cams.items()} for sku, cams in covering.items()} == {
        VAN: {"cam_a": 9.0}
    }


def test_the_lane_that_moved_names_the_product_once_every_lane_is_seen() -> None:
    moved = {VAN: {"cam_a": report("cam_a", VAN, 3.0, 9.0, True)}}
    assert facing_posterior(HYPS, (BLUE, VAN), moved, CFG) is None  # blueberry still hidden
    both = moved | {BLUE: {"cam_b": report("cam_b", BLUE, 2.0, 8.0, False)}}
    post = facing_posterior(HYPS, (BLUE, VAN), both, CFG)
    assert post is not None and post[0].items == ((VAN, 1),)
    # P(V) = 0.45 * 0.9 * 0.85 / (that + 0.5 * 0.15 * 0.1)
    expected = 0.45 * 0.9 * 0.85 / (0.45 * 0.9 * 0.85 + 0.5 * 0.15 * 0.1)
    assert post[0].probability == pytest.approx(expected)
    assert math.isclose(sum(h.probability for h in post), 1.0)


def test_cameras_count_once_per_lane_and_two_moved_lanes_decide_nothing() -> None:
    reports = {
        VAN: {c: report(c, VAN, 3.0, 9.0, True) for c in ("cam_a", "cam_b", "cam_c")},
        BLUE: {"cam_a": report("cam_a", BLUE, 3.0, 9.0, True)},
    }
    even = (WeightHypothesis(((BLUE, 1),), 0.5), WeightHypothesis(((VAN, 1),), 0.5))
    post = facing_posterior(even, (BLUE, VAN), reports, CFG)
    assert post is not None
    assert [h.probability for h in post] == pytest.approx([0.5, 0.5])
    # Once another event, decided, explains the vanilla lane, the blueberry lane decides.
    post = facing_posterior(even, (BLUE, VAN), reports, CFG, others=[(6.0, VAN)])
    assert post is not None and post[0].items == ((BLUE, 1),) and post[0].probability > 0.8
    # ... but not when that event lies outside the reports' spans.
    post = facing_posterior(even, (BLUE, VAN), reports, CFG, others=[(9.5, VAN)])
    assert post is not None and post[0].probability == pytest.approx(0.5)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="p_moved_if_not"):
        FacingEvidenceConfig(p_moved_if_taken=0.2, p_moved_if_not=0.3)
    with pytest.raises(ValueError, match="wait_s"):
        FacingEvidenceConfig(wait_s=0.0)


# ---- in the pipeline --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store() -> StoreView:
    return store_view_from_model(load_store("small"))


def _pick(pipe: FusionPipeline) -> FusionOutput:
    """One shopper (no cameras) takes one Alpro (522 g) from the mixed bin at 4 s, the board
    sampled at 30 Hz: the weight cannot say which flavour, so it goes to review."""
    out = pipe.add_gate_event(GateObservation("entry", "entry", 1.0, "s1", 1))
    board = load_store("small").boards["g1_xp"]
    column = board.channels.index(MIXED)
    rng = np.random.default_rng(0)
    for k in range(0, 240, 3):
        t = k / 30.0 + np.arange(3) / 30.0
        grams = 4000.0 + rng.normal(0.0, 0.5, (3, len(board.channels)))
        grams[:, column] -= 522.0 * np.clip((t - 4.0) / 0.3, 0.0, 1.0)
        out.extend(pipe.add_load_cells("g1_xp", board.channels, float(t[0]), 1 / 30.0, grams))
    return out


def test_a_look_alike_pick_in_review_is_settled_by_its_lanes(
    store: StoreView, tmp_path: Path
) -> None:
    path = tmp_path / "journal.jsonl"
    pipe = FusionPipeline(store, journal=Journal(path))
    (queued,) = _pick(pipe).review_events
    assert queued.sku in (BLUE, VAN)
    # Vanilla's lane seen moved; nothing decided while blueberry's lane is still hidden.
    first = pipe.add_product_evidence([report("cam_aisle", VAN, 3.0, 7.5, True)])
    assert first.cart_events == [] and pipe.cart_view("s1").pending_reviews == 1
    out = pipe.add_product_evidence([report("cam_front", BLUE, 3.5, 8.0, False)])
    (applied,) = out.cart_events
    assert (applied.session_id, applied.sku, applied.quantity) == ("s1", VAN, 1)
    assert applied.reviewer == "facings" and 0.6 <= applied.confidence < 1.0
    assert any(d.name == "facings_decided" for d in out.diagnostics)
    view = pipe.cart_view("s1")
    assert [(ln.sku, ln.quantity) for ln in view.lines] == [(VAN, 1)]
    assert view.pending_reviews == 0
    # A restart rebuilds the same cart from the journal.
    pipe.close()
    again = FusionPipeline(store, journal=Journal(path))
    assert [(ln.sku, ln.quantity) for ln in again.cart_view("s1").lines] == [(VAN, 1)]
    assert again.cart_view("s1").pending_reviews == 0


def test_a_pick_waiting_for_its_lanes_survives_a_restart(store: StoreView, tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = FusionPipeline(store, journal=Journal(path))
    assert len(_pick(first).review_events) == 1
    first.close()  # its last short-term memory checkpoint holds the waiting pick
    second = FusionPipeline(store, journal=Journal(path))
    assert second.cart_view("s1").pending_reviews == 1
    out = second.add_product_evidence(
        [report("cam_aisle", BLUE, 3.0, 8.5, True), report("cam_front", VAN, 3.0, 8.6, False)]
    )
    assert [(e.sku, e.reviewer) for e in out.cart_events] == [(BLUE, "facings")]


def test_both_lanes_moved_or_facings_off_leave_it_for_a_person(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    assert len(_pick(pipe).review_events) == 1
    out = pipe.add_product_evidence(
        [report("cam_aisle", VAN, 3.0, 7.5, True), report("cam_aisle", BLUE, 3.0, 7.5, True)]
    )
    assert out.cart_events == [] and pipe.cart_view("s1").pending_reviews == 1
    assert any(d.name == "facings_undecided" for d in out.diagnostics)
    off = FusionPipeline(store, FusionConfig(facings=FacingEvidenceConfig(enabled=False)))
    _pick(off)
    out = off.add_product_evidence(
        [report("cam_aisle", VAN, 3.0, 7.5, True), report("cam_front", BLUE, 3.0, 8.0, False)]
    )
    assert out.cart_events == [] and off.cart_view("s1").pending_reviews == 1


def test_reports_after_the_wait_and_malformed_reports_change_nothing(store: StoreView) -> None:
    pipe = FusionPipeline(store)
    _pick(pipe)
    pipe.advance(40.0)  # past wait_s (20 s) after the pick
    out = pipe.add_product_evidence(
        [report("cam_aisle", VAN, 3.0, 40.0, True), report("cam_front", BLUE, 3.0, 40.0, False)]
    )
    assert out.cart_events == [] and pipe.cart_view("s1").pending_reviews == 1
    fresh = FusionPipeline(store)
    _pick(fresh)
    bad = [
        report("cam_aisle", VAN, 9.0, 7.5, True),  # since after its own stamp
        EvidenceItem("x", "cam_aisle", 7.5, SOURCE_FACING, {VAN: 1.0}, bin_id=MIXED),  # no since
        EvidenceItem(  # two lanes in one report
            "y", "cam_aisle", 7.5, SOURCE_FACING, {VAN: 1.0, BLUE: 0.0}, bin_id=MIXED, since=3.0
        ),
    ]
    out = fresh.add_product_evidence(bad)
    assert [d.name for d in out.diagnostics].count("bad_facing") == 3
    assert out.cart_events == [] and fresh.cart_view("s1").pending_reviews == 1

"""The review queue: accept, reject, amend; one decision per event."""

from __future__ import annotations

from go_fusion.core.cart import KIND_PICK, CartEventRecord
from go_fusion.core.review import (
    DECISION_ACCEPT,
    DECISION_AMEND,
    DECISION_REJECT,
    ReviewDecision,
    ReviewQueue,
)

QUEUED = CartEventRecord("e1", KIND_PICK, "sh1", "b1", "milk", 1, "s1", "t1", 0.4, 5.0)


def known(_: str) -> bool:
    return True


def test_accept_applies_the_proposal_with_full_confidence() -> None:
    q = ReviewQueue()
    assert q.push(QUEUED) and not q.push(QUEUED)
    assert q.pending_for("s1") == 1
    out = q.decide(ReviewDecision("e1", DECISION_ACCEPT, reviewer="op"), known, known)
    assert out.success and out.apply is not None
    assert (out.apply.sku, out.apply.confidence, out.apply.reviewer) == ("milk", 1.0, "op")
    assert not out.apply.needs_review and len(q) == 0


def test_reject_applies_nothing_and_a_second_decision_is_refused() -> None:
    q = ReviewQueue()
    q.push(QUEUED)
    out = q.decide(ReviewDecision("e1", DECISION_REJECT), known, known)
    assert out.success and out.apply is None
    again = q.decide(ReviewDecision("e1", DECISION_ACCEPT), known, known)
    assert not again.success and "already decided" in again.message
    assert not q.push(QUEUED)  # a decided event never comes back


def test_amend_changes_session_sku_and_quantity_and_is_validated() -> None:
    q = ReviewQueue()
    q.push(QUEUED)
    unknown = q.decide(
        ReviewDecision("e1", DECISION_AMEND, "s9", "milk", 1), lambda s: False, known
    )
    assert not unknown.success and "s9" in unknown.message
    zero = q.decide(ReviewDecision("e1", DECISION_AMEND, "s2", "milk", 0), known, known)
    assert not zero.success
    out = q.decide(ReviewDecision("e1", DECISION_AMEND, "s2", "juice", 3), known, known)
    assert out.success and out.apply is not None
    assert (out.apply.session_id, out.apply.sku, out.apply.quantity) == ("s2", "juice", 3)
    assert out.apply.event_id == "e1#amend" and out.apply.track_id == ""


def test_unknown_event_and_decision_are_refused() -> None:
    q = ReviewQueue()
    assert not q.decide(ReviewDecision("nope", DECISION_ACCEPT), known, known).success
    q.push(QUEUED)
    assert not q.decide(ReviewDecision("e1", 7), known, known).success


def test_an_automatic_decision_carries_its_own_confidence() -> None:
    q = ReviewQueue()
    q.push(QUEUED)
    nan = q.decide(ReviewDecision("e1", DECISION_ACCEPT, confidence=float("nan")), known, known)
    assert not nan.success and "confidence" in nan.message and len(q) == 1  # still queued
    out = q.decide(
        ReviewDecision(
            "e1", DECISION_AMEND, sku="oat", quantity=1, reviewer="facings", confidence=0.8
        ),
        known,
        known,
    )
    assert out.success and out.apply is not None
    assert (out.apply.sku, out.apply.confidence, out.apply.reviewer) == ("oat", 0.8, "facings")

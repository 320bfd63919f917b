"""A live run's journal scored like an offline run: cart events, reviews and their decisions."""

from __future__ import annotations

import json
from pathlib import Path

from go_eval.core.records import result_from_records
from go_eval.core.scoring import ShelfInteraction
from go_fusion.core.cart import KIND_PICK, CartEventRecord, event_to_json
from go_fusion.core.review import DECISION_AMEND, DECISION_REJECT


def _event(event_id: str, sku: str, t: float, review: bool) -> dict:
    ev = CartEventRecord(
        event_id, KIND_PICK, event_id, "b3", sku, 1, "s1", "t1", 0.5, t, needs_review=review
    )
    return {"event": event_to_json(ev), "t": t}


def test_reviews_count_until_decided_and_an_amend_reaches_the_cart(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    truth.write_text(json.dumps({"type": "meta", "store": "small", "scenario": "x"}) + "\n")
    records = [
        {"type": "cart_event", **_event("e1", "milk", 2.0, False)},
        {"type": "review_queued", **_event("e2", "alpro-b", 4.0, True)},
        {"type": "review_queued", **_event("e3", "alpro-b", 6.0, True)},
        {"type": "review_queued", **_event("e4", "juice", 8.0, True)},
        {
            "type": "review_decision",
            "decision": {
                "event_id": "e2",
                "decision": DECISION_AMEND,
                "session_id": "s1",
                "sku": "alpro-v",
                "quantity": 1,
                "reviewer": "facings",
                "confidence": 0.8,
            },
        },
        {"type": "review_decision", "decision": {"event_id": "e4", "decision": DECISION_REJECT}},
    ]
    journal = tmp_path / "journal.jsonl"
    journal.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = result_from_records(truth, journal, [])
    assert result.predicted_interactions == [
        ShelfInteraction(2.0, "b3", "milk", 1, "s1"),
        ShelfInteraction(4.0, "b3", "alpro-v", 1, "s1"),
    ]
    assert result.reviewed_interactions == [ShelfInteraction(6.0, "b3", "alpro-b", 1, "s1")]

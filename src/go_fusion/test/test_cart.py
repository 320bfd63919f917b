"""Virtual carts: picks add, returns remove, lines keep confidence and evidence, ids count once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from go_fusion.core.cart import KIND_PICK, KIND_RETURN, CartBook, CartEventRecord


def event(eid: str, kind: str, sku: str, qty: int, conf: float = 0.9, session: str = "s1"):
    return CartEventRecord(
        eid,
        kind,
        f"shelf-{eid}",
        "b1",
        sku,
        qty,
        session,
        "t1",
        conf,
        float(len(eid)),
        (f"shelf-{eid}", "ev9"),
        ("cam_a",),
    )


def test_picks_add_and_returns_remove_keeping_evidence() -> None:
    book = CartBook()
    book.open("s1", 0.0)
    assert book.apply(event("e1", KIND_PICK, "milk", 2, 0.95)).applied
    assert book.apply(event("e2", KIND_PICK, "milk", 1, 0.7)).applied
    assert book.apply(event("e3", KIND_RETURN, "milk", 1, 0.8)).applied
    cart = book.get("s1")
    assert cart is not None
    line = cart.lines["milk"]
    assert line.quantity == 2
    assert line.confidence == 0.7  # the weakest evidence behind the line
    assert line.event_ids == ("e1", "e2", "e3") and line.camera_ids == ("cam_a",)
    assert cart.contents() == {"milk": 2} and cart.track_ids == ["t1"]


def test_the_same_event_id_is_applied_once() -> None:
    book = CartBook()
    book.open("s1", 0.0)
    assert book.apply(event("e1", KIND_PICK, "milk", 1)).applied
    again = book.apply(event("e1", KIND_PICK, "milk", 1))
    assert not again.applied and "duplicate" in again.diagnostic
    assert book.get("s1").quantity("milk") == 1  # type: ignore[union-attr]


def test_returning_more_than_held_stops_at_zero_with_a_diagnostic() -> None:
    book = CartBook()
    book.open("s1", 0.0)
    result = book.apply(event("e1", KIND_RETURN, "milk", 2))
    assert result.applied and "held 0" in result.diagnostic
    assert book.get("s1").quantity("milk") == 0  # type: ignore[union-attr]


def test_unknown_session_and_bad_quantity_are_refused() -> None:
    book = CartBook()
    assert "unknown session" in book.apply(event("e1", KIND_PICK, "milk", 1)).diagnostic
    book.open("s1", 0.0)
    assert not book.apply(event("e2", KIND_PICK, "milk", 0)).applied


def test_a_group_shares_one_cart() -> None:
    book = CartBook()
    book.open("fam", 0.0)
    book.apply(event("e1", KIND_PICK, "milk", 1, session="fam"))
    book.add_track("fam", "t2")
    assert book.get("fam").track_ids == ["t1", "t2"]  # type: ignore[union-attr]


def test_lines_keep_the_mean_unit_weight_measured_at_the_picks() -> None:
    book = CartBook()
    book.open("s1", 0.0)
    book.apply(replace(event("e1", KIND_PICK, "milk", 2), unit_g=1060.0))
    book.apply(replace(event("e2", KIND_PICK, "milk", 1), unit_g=1072.0))
    book.apply(event("e3", KIND_PICK, "juice", 1))  # weight unknown (a mixed reach)
    cart = book.get("s1")
    assert cart is not None
    assert cart.unit_weights() == {"milk": pytest.approx(1064.0)}

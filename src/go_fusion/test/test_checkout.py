"""Sessions from gate events and receipts from carts."""

from __future__ import annotations

import pytest

from go_fusion.core.cart import KIND_PICK, CartBook, CartEventRecord
from go_fusion.core.checkout import GateObservation, SessionBook, build_receipt, receipt_id_for
from go_fusion.core.store_view import ProductSpec

PRODUCTS = {"milk": ProductSpec("milk", "Milk 1 l", 15.95, 1065.0, 6.4)}


def test_session_ids_follow_the_token_and_a_rescan_after_closing_gets_a_new_one() -> None:
    book = SessionBook(grace_s=0.3)
    first = book.entry(GateObservation("in", "entry", 1.0, "tok"))
    assert first.opened and first.session is not None and first.session.session_id == "tok"
    dup = book.entry(GateObservation("in", "entry", 2.0, "tok"))
    assert not dup.changed and "duplicate" in dup.diagnostic
    book.close("tok")
    second = book.entry(GateObservation("in", "entry", 9.0, "tok"))
    assert second.session is not None and second.session.session_id == "tok~2"


def test_exit_with_token_finalises_after_the_grace() -> None:
    book = SessionBook(grace_s=0.3)
    book.entry(GateObservation("in", "entry", 1.0, "tok"))
    assert book.exit_scan(GateObservation("out", "exit", 5.0, "tok")).changed
    assert book.due(5.2) == []
    assert [s.session_id for s in book.due(5.3)] == ["tok"]
    ghost = book.exit_scan(GateObservation("out", "exit", 6.0, "ghost"))
    assert ghost.session is None and "without an entry" in ghost.diagnostic
    book.close("tok")
    nobody = book.exit_scan(GateObservation("out", "exit", 7.0))
    assert nobody.session is None and "no open session" in nobody.diagnostic


def test_anonymous_exits_close_a_lone_untracked_group_when_all_left() -> None:
    book = SessionBook(grace_s=0.0)
    book.entry(GateObservation("in", "entry", 1.0, "fam", group_size=2))
    book.exit_scan(GateObservation("out", "exit", 5.0))
    assert book.due(10.0) == []
    book.exit_scan(GateObservation("out", "exit", 6.0))
    assert [s.session_id for s in book.due(10.0)] == ["fam"]


def test_two_untracked_sessions_make_an_anonymous_exit_ambiguous() -> None:
    book = SessionBook(grace_s=0.0)
    book.entry(GateObservation("in", "entry", 1.0, "a"))
    book.entry(GateObservation("in", "entry", 1.5, "b"))
    out = book.exit_scan(GateObservation("out", "exit", 5.0))
    assert out.session is None and "2 untracked" in out.diagnostic
    assert book.due(10.0) == []


def test_last_track_of_a_session_ends_it() -> None:
    book = SessionBook(grace_s=0.0)
    book.entry(GateObservation("in", "entry", 1.0, "fam", group_size=2))
    book.bind_track("t1", "fam")
    book.bind_track("t2", "fam")
    book.track_exit("t1", 5.0)
    assert book.due(9.0) == []
    assert book.track_exit("t2", 6.0).changed
    assert not book.track_exit("t2", 6.5).changed
    assert book.sessions["fam"].exit_t == 6.0


def test_receipt_prices_lines_and_takes_the_lowest_confidence() -> None:
    book = SessionBook(grace_s=0.0)
    session = book.entry(GateObservation("in", "entry", 1.0, "tok")).session
    assert session is not None
    carts = CartBook()
    carts.open("tok", 1.0)
    for i, conf in enumerate((0.9, 0.8)):
        ev = CartEventRecord(f"e{i}", KIND_PICK, "sh", "b1", "milk", 1, "tok", "", conf, 2.0)
        carts.apply(ev)
    book.exit_scan(GateObservation("out", "exit", 5.0, "tok"))
    receipt = build_receipt(carts.get("tok"), session, PRODUCTS, "SEK", 1)  # type: ignore[arg-type]
    assert (
        receipt.receipt_id
        == receipt_id_for("tok")
        == build_receipt(
            carts.get("tok"),
            session,
            PRODUCTS,
            "SEK",
            1,  # type: ignore[arg-type]
        ).receipt_id
    )
    (line,) = receipt.lines
    assert (line.quantity, line.unit_price, line.line_total) == (2, 15.95, pytest.approx(31.9))
    assert receipt.total == pytest.approx(31.9) and receipt.confidence == 0.8
    assert receipt.pending_reviews == 1 and receipt.exit_t == 5.0

"""Virtual carts keyed by session id, folded from cart events.

A cart is the fold of the cart events applied to its session, in order: picks add, returns remove.
Every line keeps the lowest confidence among the events behind it and the evidence (cart event ids,
cameras, stamps). A group that entered on one scan shares one session and therefore one cart, so an
item passed between companions needs no change.

Handoff between different sessions (shopper A takes an item off the shelf and gives it to shopper
B of another session): no shelf sees it, the cameras do. ``core.handoff`` finds a sustained
contact of a hand of A and a hand of B, arms held out, away from the shelves; if A's touching
hand holds an item (it took it from a shelf, or received it) and B's does not, the item moves:
a RETURN on A's cart and a PICK on B's, both with an empty ``bin_id`` and the shelf event id
``handoff@<t>:<giver>><taker>``. When the hands' left/right labels cannot tell (both touching
hands hold items, or neither does), or the contact was only seen loosely (3D wrists from 2D pose
are often 0.1-0.3 m off), the product crops on both shoppers' hands decide a few seconds later:
the giver's hands show the item before the contact and not after it, the taker's the other way
round (``handoff.direction_from_evidence``). When nothing tells (no clear change in the crops,
the contact was not seen) the item stays on the cart of the one who took it from the shelf, and
a return of it by B is matched against B's cart, so its confidence falls and it goes to review,
where a reviewer can AMEND it onto A's session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

LOGGER = logging.getLogger(__name__)

KIND_PICK = "pick"
KIND_RETURN = "return"


@dataclass(frozen=True)
class CartEventRecord:
    """One change to a cart (or a candidate change awaiting review).

    stamp: [s] t_end of the shelf event that caused it (sensor time). quantity: units, > 0;
    ``kind`` says whether they were taken (pick) or put back (return).
    """

    event_id: str
    kind: str
    shelf_event_id: str
    bin_id: str
    sku: str
    quantity: int
    session_id: str
    track_id: str
    confidence: float
    stamp: float
    evidence_ids: tuple[str, ...] = ()
    camera_ids: tuple[str, ...] = ()
    needs_review: bool = False
    misplaced: bool = False
    reviewer: str = ""
    unit_g: float = 0.0  # [g] weight of one unit as the shelf measured it (0: unknown)
    hand: int = -1  # wrist that moved it: 0 left, 1 right, -1 unknown

    def signed_quantity(self) -> int:
        """Units added to the cart: +quantity for a pick, -quantity for a return."""
        return self.quantity if self.kind == KIND_PICK else -self.quantity


@dataclass(frozen=True)
class CartLineState:
    """One cart line. confidence: lowest among the events behind the line, in [0, 1]."""

    sku: str
    quantity: int
    confidence: float
    event_ids: tuple[str, ...]
    camera_ids: tuple[str, ...]
    stamps: tuple[float, ...]
    unit_g: float = 0.0  # [g] mean measured unit weight of the picks (0: unknown)


@dataclass
class CartState:
    """Mutable cart of one session; only :class:`CartBook` changes it."""

    session_id: str
    track_ids: list[str] = field(default_factory=list)
    lines: dict[str, CartLineState] = field(default_factory=dict)
    pending_reviews: int = 0
    closed: bool = False
    last_change: float = 0.0

    def quantity(self, sku: str) -> int:
        """Units of ``sku`` currently in the cart."""
        line = self.lines.get(sku)
        return line.quantity if line else 0

    def contents(self) -> dict[str, int]:
        """SKU -> units, only the SKUs with at least one unit."""
        return {sku: line.quantity for sku, line in self.lines.items() if line.quantity > 0}

    def unit_weights(self) -> dict[str, float]:
        """SKU -> [g] unit weight measured when it was taken, where known (returns use it)."""
        return {
            sku: line.unit_g
            for sku, line in self.lines.items()
            if line.quantity > 0 and line.unit_g > 0.0
        }


@dataclass(frozen=True)
class ApplyResult:
    """What applying one cart event did. ``diagnostic`` is empty when all went as expected."""

    applied: bool
    cart: CartState | None
    diagnostic: str = ""


class CartBook:
    """Every cart of the store, keyed by session id."""

    def __init__(self) -> None:
        self._carts: dict[str, CartState] = {}
        self._applied_events: set[str] = set()

    def open(self, session_id: str, t: float) -> CartState:
        """Create the (empty) cart of a new session; returns the existing one when already open."""
        cart = self._carts.get(session_id)
        if cart is None:
            cart = CartState(session_id=session_id, last_change=t)
            self._carts[session_id] = cart
        return cart

    def get(self, session_id: str) -> CartState | None:
        """The cart of ``session_id``, or None when no such session was ever opened."""
        return self._carts.get(session_id)

    def carts(self) -> Iterable[CartState]:
        """Every cart, open or closed, in session-opening order."""
        return self._carts.values()

    def add_track(self, session_id: str, track_id: str) -> None:
        """Record that ``track_id`` shops on ``session_id`` (a group has several)."""
        cart = self._carts.get(session_id)
        if cart is not None and track_id and track_id not in cart.track_ids:
            cart.track_ids.append(track_id)

    def close(self, session_id: str) -> None:
        """Mark the session as checked out."""
        cart = self._carts.get(session_id)
        if cart is not None:
            cart.closed = True

    def set_pending(self, session_id: str, delta: int) -> None:
        """Change the number of this session's events waiting for a reviewer."""
        cart = self._carts.get(session_id)
        if cart is not None:
            cart.pending_reviews = max(0, cart.pending_reviews + delta)

    def was_applied(self, event_id: str) -> bool:
        """True when a cart event with this id was already applied (exactly-once guard)."""
        return event_id in self._applied_events

    def apply(self, event: CartEventRecord) -> ApplyResult:
        """Apply a cart event to its session's cart.

        A return of more units than the cart holds removes what is there (a cart line never goes
        negative) and reports it; an event id applied before is ignored, so replaying a journal or
        a duplicated message never counts an item twice.
        """
        if event.event_id in self._applied_events:
            return ApplyResult(False, self._carts.get(event.session_id), "duplicate cart event")
        cart = self._carts.get(event.session_id)
        if cart is None:
            return ApplyResult(False, None, f"unknown session '{event.session_id}'")
        if event.quantity <= 0:
            return ApplyResult(False, cart, f"quantity {event.quantity} must be > 0")
        self._applied_events.add(event.event_id)
        old = cart.lines.get(event.sku)
        have = old.quantity if old else 0
        new_quantity = have + event.signed_quantity()
        diagnostic = ""
        if new_quantity < 0:
            diagnostic = (
                f"return of {event.quantity} x {event.sku} to session '{event.session_id}' "
                f"which held {have}; line kept at 0"
            )
            LOGGER.warning(diagnostic)
            new_quantity = 0
        measured = event.unit_g if event.kind == KIND_PICK and event.unit_g > 0.0 else 0.0
        if old is None:
            line = CartLineState(
                sku=event.sku,
                quantity=new_quantity,
                confidence=float(event.confidence),
                event_ids=(event.event_id,),
                camera_ids=tuple(event.camera_ids),
                stamps=(event.stamp,),
                unit_g=measured,
            )
        else:
            cameras = tuple(dict.fromkeys(old.camera_ids + tuple(event.camera_ids)))
            unit_g = old.unit_g
            if measured:
                # Mean over the units picked, each pick weighted by its units.
                held = max(have, 0) if old.unit_g > 0.0 else 0
                unit_g = (old.unit_g * held + measured * event.quantity) / (held + event.quantity)
            line = replace(
                old,
                quantity=new_quantity,
                confidence=min(old.confidence, float(event.confidence)),
                event_ids=(*old.event_ids, event.event_id),
                camera_ids=cameras,
                stamps=(*old.stamps, event.stamp),
                unit_g=unit_g,
            )
        cart.lines[event.sku] = line
        if event.track_id:
            self.add_track(event.session_id, event.track_id)
        cart.last_change = max(cart.last_change, event.stamp)
        return ApplyResult(True, cart, diagnostic)


def event_to_json(e: CartEventRecord) -> dict[str, Any]:
    """A cart event as a JSON-able dict (journal record)."""
    d = asdict(e)
    d["evidence_ids"] = list(e.evidence_ids)
    d["camera_ids"] = list(e.camera_ids)
    return d


def event_from_json(d: Mapping[str, Any]) -> CartEventRecord:
    """Inverse of :func:`event_to_json`."""
    d = dict(d)
    d["evidence_ids"] = tuple(d.get("evidence_ids", ()))
    d["camera_ids"] = tuple(d.get("camera_ids", ()))
    return CartEventRecord(**d)

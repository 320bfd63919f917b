"""Sessions from gate events, and receipts from carts at the exit.

Entry: an app scan opens a session. The session id is the opaque app token itself (it reveals
nobody), ``"<token>~2"``, ``"<token>~3"``... when the same token comes back after its session
closed: the same scheme as the tracker (``tracking.ShopperTracker``), so a track's session id is
a cart's session id, and a replay gives the same ids. A second scan of a token whose session is
still open is a duplicate: flagged, no second session.

Exit: a session is finalised when
- an exit scan carries its token (the app holder checks the whole session out), or
- every track bound to it has left through the exit gate (the last member of a group), or
- it has no track at all and as many anonymous exit crossings as its group size were seen while it
  was the only such session (a store without cameras, or a restart that lost the tracks).
An exit scan with a token that no open session holds is an exit without an entry: rejected.

Finalisation waits ``grace_s`` of sensor time after the exit so that a weight change that started
before the exit and settles just after it still lands on the cart; then the cart becomes a
receipt under the idempotent id ``receipt_id_for(session_id)``, issued once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from go_fusion.core.cart import CartState
from go_fusion.core.store_view import ProductSpec

ENTRY = "entry"
EXIT = "exit"


@dataclass(frozen=True)
class GateObservation:
    """A gate crossing. t: [s] sensor time. position: (x, y, z) [m] store frame or None."""

    gate_id: str
    kind: str
    t: float
    session_token: str = ""
    group_size: int = 1
    position: tuple[float, float, float] | None = None


@dataclass
class Session:
    """One shopping session (mutable; owned by :class:`SessionBook`)."""

    session_id: str
    token: str
    entry_t: float
    group_size: int
    track_ids: list[str] = field(default_factory=list)
    exited_tracks: set[str] = field(default_factory=set)
    anonymous_exits: int = 0
    exit_t: float | None = None
    finalise_at: float | None = None
    closed: bool = False


@dataclass(frozen=True)
class ReceiptLineRecord:
    """One receipt line. Prices in the store currency."""

    sku: str
    name: str
    quantity: int
    unit_price: float
    line_total: float
    confidence: float


@dataclass(frozen=True)
class ReceiptRecord:
    """A final receipt. entry_t, exit_t: [s] sensor time. confidence: lowest line confidence."""

    receipt_id: str
    session_id: str
    currency: str
    lines: tuple[ReceiptLineRecord, ...]
    total: float
    confidence: float
    pending_reviews: int
    entry_t: float
    exit_t: float


def session_id_for(token: str, uses: int) -> str:
    """Session id of the ``uses``-th session opened with ``token`` (1 for the first)."""
    return token if uses <= 1 else f"{token}~{uses}"


def receipt_id_for(session_id: str) -> str:
    """The idempotent receipt id of a session: the same session always gives the same id."""
    return "r-" + hashlib.sha256(session_id.encode()).hexdigest()[:16]


def build_receipt(
    cart: CartState,
    session: Session,
    products: Mapping[str, ProductSpec],
    currency: str,
    pending_reviews: int,
) -> ReceiptRecord:
    """Turn a cart into a receipt: lines with units > 0, catalogue prices, totals, confidence."""
    lines = []
    for sku in sorted(cart.lines):
        line = cart.lines[sku]
        if line.quantity <= 0:
            continue
        product = products.get(sku)
        price = product.price if product else 0.0
        lines.append(
            ReceiptLineRecord(
                sku=sku,
                name=product.name if product else sku,
                quantity=line.quantity,
                unit_price=price,
                line_total=round(price * line.quantity, 6),
                confidence=line.confidence,
            )
        )
    total = round(sum(line.line_total for line in lines), 6)
    confidence = min((line.confidence for line in lines), default=1.0)
    exit_t = session.exit_t if session.exit_t is not None else session.entry_t
    return ReceiptRecord(
        receipt_id=receipt_id_for(session.session_id),
        session_id=session.session_id,
        currency=currency,
        lines=tuple(lines),
        total=total,
        confidence=float(confidence),
        pending_reviews=int(pending_reviews),
        entry_t=session.entry_t,
        exit_t=exit_t,
    )


@dataclass(frozen=True)
class GateOutcome:
    """What a gate observation did: the session it touched (if any) and a diagnostic.

    changed: the observation changed a session (it must be journalled to be replayed).
    """

    session: Session | None
    opened: bool = False
    diagnostic: str = ""
    changed: bool = False


class SessionBook:
    """Open and closed sessions; decides when a session is ready for its receipt."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.sessions: dict[str, Session] = {}
        self._open_by_token: dict[str, str] = {}
        self._token_uses: dict[str, int] = {}
        self._track_session: dict[str, str] = {}

    def open_sessions(self) -> list[Session]:
        """Sessions not yet finalised, in opening order."""
        return [s for s in self.sessions.values() if not s.closed]

    def session_of_track(self, track_id: str) -> str | None:
        """Session id a track was bound to, if any."""
        return self._track_session.get(track_id)

    def entry(self, obs: GateObservation) -> GateOutcome:
        """An app scan at an entry gate: open a session, or flag a duplicate scan."""
        if not obs.session_token:
            return GateOutcome(None, diagnostic=f"entry at gate '{obs.gate_id}' without a token")
        token = obs.session_token
        open_id = self._open_by_token.get(token)
        if open_id is not None:
            return GateOutcome(
                self.sessions[open_id],
                diagnostic=f"duplicate scan for open session '{open_id}' ignored",
            )
        uses = self._token_uses.get(token, 0) + 1
        self._token_uses[token] = uses
        session_id = session_id_for(token, uses)
        session = Session(
            session_id=session_id,
            token=token,
            entry_t=obs.t,
            group_size=max(1, int(obs.group_size)),
        )
        self.sessions[session_id] = session
        self._open_by_token[token] = session_id
        return GateOutcome(session, opened=True, changed=True)

    def bind_track(self, track_id: str, session_id: str) -> bool:
        """Bind a track to a session (the tracker does this at the entry gate)."""
        session = self.sessions.get(session_id)
        if session is None or session.closed or not track_id:
            return False
        if track_id not in session.track_ids:
            session.track_ids.append(track_id)
        self._track_session[track_id] = session_id
        return True

    def exit_scan(self, obs: GateObservation) -> GateOutcome:
        """An exit crossing. With a token: that session checks out. Without: anonymous."""
        if obs.session_token:
            session_id = self._open_by_token.get(obs.session_token)
            if session_id is None:
                return GateOutcome(
                    None,
                    diagnostic=f"exit without an entry at gate '{obs.gate_id}': "
                    "no open session holds this token",
                )
            session = self.sessions[session_id]
            self._mark_exit(session, obs.t)
            return GateOutcome(session, changed=True)
        blind = [s for s in self.open_sessions() if not s.track_ids and s.finalise_at is None]
        if len(blind) == 1:
            session = blind[0]
            session.anonymous_exits += 1
            if session.anonymous_exits >= session.group_size:
                self._mark_exit(session, obs.t)
            return GateOutcome(session, changed=True)
        if not self.open_sessions():
            return GateOutcome(
                None, diagnostic=f"exit without an entry at gate '{obs.gate_id}': no open session"
            )
        if not blind:
            # Tracked sessions leave through their tracks' exits; nothing to do here.
            return GateOutcome(None)
        return GateOutcome(
            None,
            diagnostic=f"anonymous exit at gate '{obs.gate_id}' with {len(blind)} untracked "
            "sessions open: left to their tracks or to review",
        )

    def track_exit(self, track_id: str, t: float) -> GateOutcome:
        """A track left through the exit gate; the last track of a session ends it."""
        session_id = self._track_session.get(track_id)
        if session_id is None:
            return GateOutcome(None, diagnostic=f"track '{track_id}' exited without a session")
        session = self.sessions[session_id]
        if session.closed:
            return GateOutcome(session)
        if track_id in session.exited_tracks:
            return GateOutcome(session)
        session.exited_tracks.add(track_id)
        if set(session.track_ids) <= session.exited_tracks:
            self._mark_exit(session, t)
        return GateOutcome(session, changed=True)

    def session_exit(self, session_id: str, t: float) -> GateOutcome:
        """The whole session left (the tracker saw its last track go)."""
        session = self.sessions.get(session_id)
        if session is None:
            return GateOutcome(None, diagnostic=f"exit of unknown session '{session_id}'")
        if session.closed or session.finalise_at is not None:
            return GateOutcome(session)
        self._mark_exit(session, t)
        return GateOutcome(session, changed=True)

    def _mark_exit(self, session: Session, t: float) -> None:
        if session.finalise_at is None:
            session.exit_t = t
            session.finalise_at = t + self.grace_s

    def due(self, now: float) -> list[Session]:
        """Sessions whose finalisation time has passed at sensor time ``now``."""
        return [
            s
            for s in self.sessions.values()
            if not s.closed and s.finalise_at is not None and s.finalise_at <= now
        ]

    def close(self, session_id: str) -> None:
        """Mark a session as finalised."""
        session = self.sessions[session_id]
        session.closed = True
        if self._open_by_token.get(session.token) == session_id:
            del self._open_by_token[session.token]


def receipt_to_json(r: ReceiptRecord) -> dict[str, Any]:
    """A receipt as a JSON-able dict (journal record)."""
    d = asdict(r)
    d["lines"] = [asdict(line) for line in r.lines]
    return d


def receipt_from_json(d: Mapping[str, Any]) -> ReceiptRecord:
    """Inverse of :func:`receipt_to_json`."""
    d = dict(d)
    d["lines"] = tuple(ReceiptLineRecord(**line) for line in d["lines"])
    return ReceiptRecord(**d)

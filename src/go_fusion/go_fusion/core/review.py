"""The queue of low-confidence cart events awaiting a human decision.

A queued event is a proposal (session, SKU, quantity) that was not applied. A reviewer accepts it
(apply as proposed), rejects it (discard) or amends it (apply with the session, SKU and quantity
they give). Decisions are idempotent by event id: a second decision on the same event is refused,
so a retried service call never applies an item twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from go_fusion.core.cart import CartEventRecord

DECISION_ACCEPT = 0
DECISION_REJECT = 1
DECISION_AMEND = 2
DECISION_NAMES = {DECISION_ACCEPT: "accept", DECISION_REJECT: "reject", DECISION_AMEND: "amend"}


@dataclass(frozen=True)
class ReviewDecision:
    """A reviewer's decision on one queued event (session, sku, quantity used for AMEND only).

    confidence: of the applied cart event; 1 for a person, the posterior for evidence that
    decided automatically (``reviewer`` "facings").
    """

    event_id: str
    decision: int
    session_id: str = ""
    sku: str = ""
    quantity: int = 0
    reviewer: str = ""
    confidence: float = 1.0


@dataclass(frozen=True)
class ReviewOutcome:
    """Result of a decision: ``apply`` is the cart event to apply (None for reject or failure)."""

    success: bool
    message: str
    queued: CartEventRecord | None = None
    apply: CartEventRecord | None = None


class ReviewQueue:
    """Pending cart events by event id, in arrival order."""

    def __init__(self) -> None:
        self._pending: dict[str, CartEventRecord] = {}
        self._decided: dict[str, ReviewDecision] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> Iterable[CartEventRecord]:
        """Queued events, oldest first."""
        return self._pending.values()

    def get(self, event_id: str) -> CartEventRecord | None:
        """The queued event ``event_id``, None when it is not (or no longer) queued."""
        return self._pending.get(event_id)

    def pending_for(self, session_id: str) -> int:
        """Number of queued events proposed for ``session_id``."""
        return sum(1 for e in self._pending.values() if e.session_id == session_id)

    def contains(self, event_id: str) -> bool:
        """True when ``event_id`` is queued or was decided (it must not be queued again)."""
        return event_id in self._pending or event_id in self._decided

    def push(self, event: CartEventRecord) -> bool:
        """Queue an event; False when it is already queued or decided."""
        if self.contains(event.event_id):
            return False
        self._pending[event.event_id] = replace(event, needs_review=True)
        return True

    def decide(
        self,
        decision: ReviewDecision,
        session_known: Callable[[str], bool],
        sku_known: Callable[[str], bool],
    ) -> ReviewOutcome:
        """Apply a reviewer's decision; the returned ``apply`` event goes to the cart book.

        session_known / sku_known validate an AMEND against the live sessions and the catalogue.
        """
        if decision.event_id in self._decided:
            prior = DECISION_NAMES.get(self._decided[decision.event_id].decision, "?")
            msg = f"event '{decision.event_id}' was already decided ({prior})"
            return ReviewOutcome(False, msg)
        queued = self._pending.get(decision.event_id)
        if queued is None:
            return ReviewOutcome(False, f"no queued event '{decision.event_id}'")
        if decision.decision not in DECISION_NAMES:
            return ReviewOutcome(False, f"unknown decision {decision.decision}", queued)
        if not 0.0 <= decision.confidence <= 1.0:  # also refuses NaN
            msg = f"decision confidence {decision.confidence} is not in [0, 1]"
            return ReviewOutcome(False, msg, queued)
        apply: CartEventRecord | None = None
        if decision.decision == DECISION_ACCEPT:
            apply = replace(queued, needs_review=False, reviewer=decision.reviewer)
        elif decision.decision == DECISION_AMEND:
            if decision.quantity <= 0:
                msg = f"amend quantity {decision.quantity} must be > 0"
                return ReviewOutcome(False, msg, queued)
            if not sku_known(decision.sku):
                return ReviewOutcome(False, f"amend sku '{decision.sku}' is not in the catalogue")
            session = decision.session_id or queued.session_id
            if not session_known(session):
                return ReviewOutcome(False, f"amend session '{session}' is unknown", queued)
            apply = replace(
                queued,
                event_id=f"{queued.event_id}#amend",
                session_id=session,
                sku=decision.sku,
                quantity=int(decision.quantity),
                track_id=queued.track_id if session == queued.session_id else "",
                needs_review=False,
                confidence=decision.confidence,
                reviewer=decision.reviewer,
            )
        else:
            apply = None
        if apply is not None and decision.decision == DECISION_ACCEPT:
            apply = replace(apply, confidence=decision.confidence)
        del self._pending[decision.event_id]
        self._decided[decision.event_id] = decision
        verb = DECISION_NAMES[decision.decision]
        return ReviewOutcome(True, f"{verb}ed '{decision.event_id}'", queued, apply)

"""Ground truth of a simulated run: shelf changes, touches, gate crossings, events and receipts.

Scoring only: nothing downstream of the sensors may read these (go_eval does). ``to_json`` gives
the JSON-lines records written to the ground-truth file and ``ground_truth/*`` topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ShelfChange:
    """Units leave (``delta_units`` < 0) or join a bin at ``t`` [s]; ``grams`` is the true mass
    change [g] (negative for a pick)."""

    t: float
    bin_id: str
    sku: str
    delta_units: int
    grams: float
    person_id: str
    session: str


@dataclass(frozen=True)
class Touch:
    """A hand inside a bin from ``t_in`` to ``t_out`` [s], pressing with up to ``peak_g`` [g]."""

    bin_id: str
    t_in: float
    t_out: float
    peak_g: float
    person_id: str


@dataclass(frozen=True)
class GateCrossing:
    """An app scan at an entry gate or a person crossing an exit gate.

    position: (x, y, z) [m] store frame. session_token is empty for exits (the real gate does not
    know who leaves); ``session`` and ``person_id`` are the truth.
    """

    t: float
    kind: str  # "entry" | "exit"
    gate_id: str
    session_token: str
    group_size: int
    position: tuple[float, float, float]
    person_id: str
    session: str


@dataclass(frozen=True)
class TruthEvent:
    """A shopper action: pick, return (``wrong_bin`` when not the product's own bin), browse or
    handoff (``peer`` receives; ``peer_session`` is their cart). t: when the shelf weight settled
    (pick/return) or the item changed hands [s]; t_start/t_end: hand in and out of the bin."""

    t: float
    kind: str
    bin_id: str
    sku: str
    qty: int
    session: str
    person_id: str
    t_start: float
    t_end: float
    hand: str
    wrong_bin: bool = False
    peer: str = ""
    peer_session: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    """One receipt line; prices in the store currency."""

    sku: str
    qty: int
    unit_price: float
    total: float


@dataclass(frozen=True)
class ExpectedReceipt:
    """What a session must be charged, due when its last member crosses the exit at ``t``."""

    t: float
    session: str
    lines: tuple[ReceiptLine, ...]
    total: float
    currency: str
    people: tuple[str, ...]


def _r(x: float) -> float:
    return round(float(x), 4)


def to_json(record: Any) -> dict[str, Any]:
    """A truth record as a JSON-ready dict with a ``type`` field."""
    if isinstance(record, TruthEvent):
        out = {"type": record.kind, **record.__dict__}
        out.pop("kind")
        for key in ("t", "t_start", "t_end"):
            out[key] = _r(out[key])
        return out
    if isinstance(record, GateCrossing):
        out = {"type": "gate", **record.__dict__}
        out["t"] = _r(record.t)
        out["position"] = [_r(v) for v in record.position]
        return out
    if isinstance(record, ExpectedReceipt):
        return {
            "type": "receipt",
            "t": _r(record.t),
            "session": record.session,
            "currency": record.currency,
            "total": round(record.total, 2),
            "people": list(record.people),
            "lines": [line.__dict__ for line in record.lines],
        }
    raise TypeError(f"not a truth record: {type(record).__name__}")


def track_json(t: float, person_id: str, session: str, keypoints: np.ndarray) -> dict[str, Any]:
    """A ground-truth track sample: person, session, floor position and 3D skeleton (17, 3) [m]."""
    pelvis = (keypoints[11] + keypoints[12]) / 2.0
    return {
        "type": "track",
        "t": _r(t),
        "person_id": person_id,
        "session": session,
        "xy": [_r(pelvis[0]), _r(pelvis[1])],
        "keypoints": np.round(keypoints, 4).tolist(),
    }

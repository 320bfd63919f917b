"""A scored run rebuilt from what a live ROS run leaves behind.

Inputs: the simulator's ground-truth JSON-lines file, the fusion node's journal (cart events and
receipts, JSON lines) and the track positions seen on ``fusion/tracks``. Output: the same
:class:`RunResult` the offline runner produces, so one report format serves both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from go_eval.core.offline import RunResult
from go_eval.core.scoring import ShelfInteraction, TrackFrame
from go_fusion.core.review import DECISION_ACCEPT, DECISION_AMEND

_TRUTH_KINDS = {"pick": 1, "return": -1}


def _lines(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def result_from_records(
    truth_file: Path,
    journal_file: Path,
    predicted_frames: Sequence[TrackFrame],
) -> RunResult:
    """Score inputs of a live run. Raises FileNotFoundError naming a missing file."""
    truth = _lines(truth_file)
    meta = next((r for r in truth if r.get("type") == "meta"), {})
    result = RunResult(
        store=str(meta.get("store", "")),
        scenario=str(meta.get("scenario", "")),
        seed=int(meta.get("seed", 0)),
        duration_s=float(meta.get("duration", 0.0)),
    )
    frames: dict[float, dict[str, tuple[float, float]]] = {}
    for record in truth:
        kind = record.get("type")
        if kind in _TRUTH_KINDS:
            result.truth_interactions.append(
                ShelfInteraction(
                    float(record["t"]),
                    record["bin_id"],
                    record["sku"],
                    _TRUTH_KINDS[kind] * int(record["qty"]),
                    record["session"],
                )
            )
        elif kind == "receipt":
            items = result.expected.setdefault(record["session"], {})
            for line in record["lines"]:
                items[line["sku"]] = items.get(line["sku"], 0) + int(line["qty"])
        elif kind == "track":
            frames.setdefault(float(record["t"]), {})[record["person_id"]] = tuple(record["xy"])
    result.truth_frames = [TrackFrame(t, frames[t]) for t in sorted(frames)]
    queued: dict[str, ShelfInteraction] = {}  # reviews by cart event id
    for record in _lines(journal_file):
        kind = record.get("type")
        if kind in ("cart_event", "review_queued"):
            ev = record["event"]
            sign = 1 if ev["kind"] == "pick" else -1
            item = ShelfInteraction(
                float(ev["stamp"]),
                ev["bin_id"],
                ev["sku"],
                sign * int(ev["quantity"]),
                ev["session_id"],
            )
            if kind == "review_queued" or ev.get("needs_review"):
                queued[ev["event_id"]] = item
            else:
                result.predicted_interactions.append(item)
        elif kind == "review_decision":
            # Accepted or amended (by a person or by the facings): the item reaches the cart.
            d = record["decision"]
            item = queued.pop(d["event_id"], None)
            if item is not None and int(d["decision"]) in (DECISION_ACCEPT, DECISION_AMEND):
                if int(d["decision"]) == DECISION_AMEND:
                    sign = 1 if item.quantity > 0 else -1
                    item = ShelfInteraction(
                        item.t,
                        item.bin_id,
                        d["sku"],
                        sign * int(d["quantity"]),
                        d.get("session_id") or item.session_id,
                    )
                result.predicted_interactions.append(item)
        elif record.get("type") == "receipt":
            receipt = record["receipt"]
            items = result.predicted.setdefault(receipt["session_id"], {})
            for line in receipt["lines"]:
                items[line["sku"]] = items.get(line["sku"], 0) + int(line["quantity"])
            result.receipts.append(receipt)
    result.reviewed_interactions.extend(queued.values())
    result.predicted_frames = list(predicted_frames)
    return result

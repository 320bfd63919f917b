"""Scores of a store session against simulator ground truth.

Receipts are compared as multisets of (SKU, quantity) per session; items as counts; attribution as
the share of ground-truth shelf interactions whose cart event went to the right session with the
right product; tracking with py-motmetrics (IDF1, MOTA, identity switches) on ground-plane
positions in the ``store`` frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import motmetrics as mm
import numpy as np

Items = Mapping[str, int]  # sku -> units


@dataclass(frozen=True)
class ReceiptScore:
    """Receipt-level and item-level accuracy over the sessions of one or more runs."""

    receipt_accuracy: float  # share of expected receipts that are exactly right
    item_precision: float
    item_recall: float
    item_f1: float
    n_expected: int
    n_correct: int
    true_positive_items: int
    false_positive_items: int
    false_negative_items: int
    wrong_sessions: tuple[str, ...] = ()


def _ratio(num: float, den: float, empty: float = 1.0) -> float:
    return num / den if den else empty


def score_receipts(expected: Mapping[str, Items], predicted: Mapping[str, Items]) -> ReceiptScore:
    """Compare receipts per session.

    A session with an expected receipt but none issued counts as wrong (and its items as missed);
    a receipt for a session that never existed counts its items as false positives.
    """
    tp = fp = fn = 0
    correct = 0
    wrong: list[str] = []
    for session in sorted(set(expected) | set(predicted)):
        exp = {k: v for k, v in expected.get(session, {}).items() if v}
        got = {k: v for k, v in predicted.get(session, {}).items() if v}
        for sku in set(exp) | set(got):
            e, g = max(exp.get(sku, 0), 0), max(got.get(sku, 0), 0)
            tp += min(e, g)
            fp += max(g - e, 0)
            fn += max(e - g, 0)
        if session in expected:
            if exp == got and session in predicted:
                correct += 1
            else:
                wrong.append(session)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall, empty=0.0)
    return ReceiptScore(
        receipt_accuracy=_ratio(correct, len(expected)),
        item_precision=precision,
        item_recall=recall,
        item_f1=f1,
        n_expected=len(expected),
        n_correct=correct,
        true_positive_items=tp,
        false_positive_items=fp,
        false_negative_items=fn,
        wrong_sessions=tuple(wrong),
    )


@dataclass(frozen=True)
class ShelfInteraction:
    """A pick (quantity > 0) or return (quantity < 0) on a bin at time ``t`` [s]."""

    t: float
    bin_id: str
    sku: str
    quantity: int
    session_id: str


@dataclass(frozen=True)
class AttributionScore:
    attribution_accuracy: float  # share of interactions credited to the right session and SKU
    n_interactions: int
    n_correct: int
    n_review: int  # interactions whose cart event went to review instead of a cart
    errors: tuple[str, ...] = ()


def score_attribution(
    truth: Sequence[ShelfInteraction],
    predicted: Sequence[ShelfInteraction],
    reviewed: Sequence[ShelfInteraction] = (),
    window_s: float = 3.0,
) -> AttributionScore:
    """Match each true interaction to the nearest unused predicted one on the same bin in time.

    Predicted interactions on adjacent bins of a merged event carry the bin the fusion chose; a
    match needs the same bin, |dt| <= window_s and the same sign of quantity.
    """
    used: set[int] = set()
    used_review: set[int] = set()
    correct = 0
    errors: list[str] = []
    n_review = 0
    for item in sorted(truth, key=lambda i: i.t):
        match = _nearest(item, predicted, used, window_s)
        if match is None:
            review = _nearest(item, reviewed, used_review, window_s)
            if review is not None:
                used_review.add(review)
                n_review += 1
                errors.append(f"t={item.t:.1f} {item.bin_id} {item.sku}: sent to review")
            else:
                errors.append(f"t={item.t:.1f} {item.bin_id} {item.sku}: no cart event")
            continue
        used.add(match)
        got = predicted[match]
        if got.session_id == item.session_id and got.sku == item.sku:
            correct += 1
        else:
            errors.append(
                f"t={item.t:.1f} {item.bin_id}: expected {item.sku} x{item.quantity} for "
                f"{item.session_id}, got {got.sku} x{got.quantity} for {got.session_id}"
            )
    return AttributionScore(
        attribution_accuracy=_ratio(correct, len(truth)),
        n_interactions=len(truth),
        n_correct=correct,
        n_review=n_review,
        errors=tuple(errors),
    )


def _nearest(
    item: ShelfInteraction,
    candidates: Sequence[ShelfInteraction],
    used: set[int],
    window_s: float,
) -> int | None:
    best, best_dt = None, window_s
    for index, cand in enumerate(candidates):
        if index in used or cand.bin_id != item.bin_id:
            continue
        if np.sign(cand.quantity) != np.sign(item.quantity):
            continue
        dt = abs(cand.t - item.t)
        if dt <= best_dt:
            best, best_dt = index, dt
    return best


@dataclass(frozen=True)
class TrackFrame:
    """Positions at one time: object id -> (x, y) [m] in the store frame."""

    t: float
    positions: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class TrackingScore:
    idf1: float
    mota: float
    id_switches: int
    num_frames: int
    switches: tuple[str, ...] = field(default=())


def score_tracking(
    truth: Sequence[TrackFrame],
    predicted: Sequence[TrackFrame],
    max_distance_m: float = 0.75,
    max_dt_s: float = 0.15,
) -> TrackingScore:
    """IDF1, MOTA and identity switches with py-motmetrics.

    Each ground-truth frame is paired with the predicted frame nearest in time (within max_dt_s;
    none means no hypotheses that frame). Distances beyond ``max_distance_m`` cannot match.
    """
    acc = mm.MOTAccumulator(auto_id=True)
    # motmetrics wants numeric ids; keep the names for the report.
    gt_index: dict[str, int] = {}
    hyp_index: dict[str, int] = {}
    pred_times = np.array([f.t for f in predicted]) if predicted else np.zeros(0)
    for frame in truth:
        hyp: Mapping[str, tuple[float, float]] = {}
        if len(pred_times):
            index = int(np.argmin(np.abs(pred_times - frame.t)))
            if abs(pred_times[index] - frame.t) <= max_dt_s:
                hyp = predicted[index].positions
        gt_ids = sorted(frame.positions)
        hyp_ids = sorted(hyp)
        gt_xy = np.array([frame.positions[i] for i in gt_ids], dtype=float).reshape(-1, 2)
        hyp_xy = np.array([hyp[i] for i in hyp_ids], dtype=float).reshape(-1, 2)
        distances = mm.distances.norm2squared_matrix(gt_xy, hyp_xy, max_d2=max_distance_m**2)
        acc.update(
            [gt_index.setdefault(i, len(gt_index)) for i in gt_ids],
            [hyp_index.setdefault(i, len(hyp_index)) for i in hyp_ids],
            distances,
        )
    summary = mm.metrics.create().compute(
        acc, metrics=["idf1", "mota", "num_switches", "num_frames"], name="run"
    )
    events = acc.mot_events
    switch_rows = events[events["Type"] == "SWITCH"] if len(events) else events
    gt_names = {v: k for k, v in gt_index.items()}
    hyp_names = {v: k for k, v in hyp_index.items()}
    switches = tuple(
        f"frame {frame_id}: truth {gt_names[int(row.OId)]} now track {hyp_names[int(row.HId)]}"
        for (frame_id, _), row in switch_rows.iterrows()
    )
    idf1 = float(summary["idf1"].iloc[0])
    mota = float(summary["mota"].iloc[0])
    return TrackingScore(
        idf1=0.0 if np.isnan(idf1) else idf1,
        mota=0.0 if np.isnan(mota) else mota,
        id_switches=int(summary["num_switches"].iloc[0]),
        num_frames=int(summary["num_frames"].iloc[0]),
        switches=switches,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, NaN for no values (JSON writes it as null)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")

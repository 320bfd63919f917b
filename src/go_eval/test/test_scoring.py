"""Scoring against ground truth: receipts, items, attribution and tracking metrics."""

from __future__ import annotations

import math

import pytest

from go_eval.core.scoring import (
    ShelfInteraction,
    TrackFrame,
    percentile,
    score_attribution,
    score_receipts,
    score_tracking,
)


def test_exact_receipts_score_one() -> None:
    truth = {"s1": {"milk": 2}, "s2": {}}
    score = score_receipts(truth, {"s1": {"milk": 2}, "s2": {}})
    assert score.receipt_accuracy == 1.0
    assert score.item_f1 == 1.0


def test_missing_extra_and_wrong_items_are_counted() -> None:
    truth = {"s1": {"milk": 2, "oat": 1}, "s2": {"juice": 1}, "s3": {"soy": 1}}
    predicted = {"s1": {"milk": 1, "oat": 1, "yog": 1}, "s2": {"juice": 1}, "ghost": {"x": 2}}
    score = score_receipts(truth, predicted)
    assert score.n_correct == 1  # only s2
    assert score.receipt_accuracy == pytest.approx(1 / 3)
    assert score.true_positive_items == 3  # milk 1, oat 1, juice 1
    assert score.false_positive_items == 3  # yog 1, ghost x 2
    assert score.false_negative_items == 2  # milk 1, soy 1 (s3 had no receipt)
    assert score.item_precision == pytest.approx(0.5)
    assert score.item_recall == pytest.approx(0.6)
    assert set(score.wrong_sessions) == {"s1", "s3"}


def test_attribution_needs_right_session_and_sku_near_in_time() -> None:
    truth = [
        ShelfInteraction(10.0, "b1", "milk", 1, "s1"),
        ShelfInteraction(12.0, "b2", "oat", 1, "s2"),
        ShelfInteraction(20.0, "b3", "soy", -1, "s1"),
        ShelfInteraction(30.0, "b4", "tea", 1, "s2"),
    ]
    predicted = [
        ShelfInteraction(10.6, "b1", "milk", 1, "s1"),
        ShelfInteraction(12.2, "b2", "oat", 1, "s1"),  # wrong shopper
        ShelfInteraction(20.4, "b3", "soy", -1, "s1"),
    ]
    reviewed = [ShelfInteraction(30.3, "b4", "tea", 1, "")]
    score = score_attribution(truth, predicted, reviewed)
    assert score.n_correct == 2
    assert score.n_review == 1
    assert score.attribution_accuracy == pytest.approx(0.5)
    assert any("got oat x1 for s1" in e for e in score.errors)


def test_attribution_does_not_match_far_in_time_or_other_bin() -> None:
    truth = [ShelfInteraction(10.0, "b1", "milk", 1, "s1")]
    assert score_attribution(truth, [ShelfInteraction(20.0, "b1", "milk", 1, "s1")]).n_correct == 0
    assert score_attribution(truth, [ShelfInteraction(10.0, "b2", "milk", 1, "s1")]).n_correct == 0


def _frames(ids_by_frame: list[dict[str, tuple[float, float]]]) -> list[TrackFrame]:
    return [TrackFrame(t=0.1 * i, positions=p) for i, p in enumerate(ids_by_frame)]


def test_perfect_tracking_and_one_identity_switch() -> None:
    truth = _frames([{"a": (0.0, 0.0), "b": (5.0, 0.0)}] * 10)
    perfect = _frames([{"1": (0.1, 0.0), "2": (5.0, 0.1)}] * 10)
    score = score_tracking(truth, perfect)
    assert score.idf1 == pytest.approx(1.0)
    assert score.mota == pytest.approx(1.0)
    assert score.id_switches == 0
    switched = _frames(
        [{"1": (0.1, 0.0), "2": (5.0, 0.1)}] * 5 + [{"3": (0.1, 0.0), "2": (5, 0)}] * 5
    )
    score = score_tracking(truth, switched)
    assert score.id_switches == 1
    assert score.idf1 < 1.0
    assert len(score.switches) == 1


def test_missing_predictions_lower_mota() -> None:
    truth = _frames([{"a": (0.0, 0.0)}] * 10)
    half = _frames([{"1": (0.0, 0.0)}] * 5 + [{}] * 5)
    assert score_tracking(truth, half).mota == pytest.approx(0.5)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 95))
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0

"""The evaluation report: every metric present overall and per scenario, plots written."""

from __future__ import annotations

import json
from pathlib import Path

from go_eval.core.offline import RunResult
from go_eval.core.report import METRICS, write_report
from go_eval.core.scoring import ShelfInteraction, TrackFrame


def _result(scenario: str, right: bool) -> RunResult:
    result = RunResult("small", scenario, 0, 30.0)
    result.expected = {"s1": {"milk": 1}}
    result.predicted = {"s1": {"milk": 1 if right else 2}}
    result.truth_interactions = [ShelfInteraction(5.0, "b1", "milk", 1, "s1")]
    result.predicted_interactions = [ShelfInteraction(5.2, "b1", "milk", 1, "s1")]
    result.truth_frames = [TrackFrame(0.1 * i, {"alice": (1.0, 0.1 * i)}) for i in range(20)]
    result.predicted_frames = [TrackFrame(0.1 * i, {"t1": (1.0, 0.1 * i)}) for i in range(20)]
    result.event_to_cart_s = [0.01, 0.02]
    result.exit_to_receipt_s = [0.3]
    return result


def test_report_has_every_metric_and_plot(tmp_path: Path) -> None:
    data = write_report(tmp_path, [_result("a", True), _result("b", False)], "t", "cmd")
    assert set(METRICS) <= set(data["overall"])
    assert data["overall"]["receipt_accuracy"] == 0.5
    assert data["per_scenario"][1]["wrong_sessions"] == ["s1"]
    assert json.loads((tmp_path / "report.json").read_text())["overall"]["idf1"] > 0.99
    markdown = (tmp_path / "report.md").read_text()
    assert "accuracy_per_scenario.png" in markdown
    for name in ("accuracy_per_scenario.png", "latency_histograms.png", "tracks_00_a.png"):
        assert (tmp_path / name).stat().st_size > 1000

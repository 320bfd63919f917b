"""Evaluation report: metrics per scenario and overall, report.json and report.md with plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from go_common.core.store import load_store
from go_eval.core.offline import RunResult
from go_eval.core.scoring import (
    percentile,
    score_attribution,
    score_receipts,
    score_tracking,
)

METRICS = (
    "receipt_accuracy",
    "item_precision",
    "item_recall",
    "item_f1",
    "attribution_accuracy",
    "idf1",
    "mota",
    "id_switches",
    "event_to_cart_p95_s",
    "settle_to_cart_p95_s",
    "exit_to_receipt_p95_s",
    "review_queue_rate",
    "frames_dropped",
)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def scenario_metrics(result: RunResult) -> dict[str, Any]:
    """Every metric of one run, with the lists behind the failures."""
    receipts = score_receipts(result.expected, result.predicted)
    attribution = score_attribution(
        result.truth_interactions, result.predicted_interactions, result.reviewed_interactions
    )
    tracking = score_tracking(result.truth_frames, result.predicted_frames)
    n_events = len(result.predicted_interactions) + len(result.reviewed_interactions)
    return {
        "store": result.store,
        "scenario": result.scenario,
        "seed": result.seed,
        "duration_s": result.duration_s,
        "receipt_accuracy": receipts.receipt_accuracy,
        "item_precision": receipts.item_precision,
        "item_recall": receipts.item_recall,
        "item_f1": receipts.item_f1,
        "attribution_accuracy": attribution.attribution_accuracy,
        "idf1": tracking.idf1,
        "mota": tracking.mota,
        "id_switches": tracking.id_switches,
        "event_to_cart_p95_s": percentile(result.event_to_cart_s, 95),
        "settle_to_cart_p95_s": percentile(result.settle_to_cart_s, 95),
        "exit_to_receipt_p95_s": percentile(result.exit_to_receipt_s, 95),
        "review_queue_rate": len(result.reviewed_interactions) / n_events if n_events else 0.0,
        "frames_dropped": result.frames_dropped,
        "frames_total": result.frames_total,
        "frames_camera_down": result.frames_camera_down,
        "sessions": receipts.n_expected,
        "wrong_sessions": list(receipts.wrong_sessions),
        "attribution_errors": list(attribution.errors),
        "identity_switches": list(tracking.switches),
        "expected_receipts": result.expected,
        "issued_receipts": result.receipts,
        "compute_s": {k: round(v, 3) for k, v in result.compute_s.items()},
        "diagnostics": result.diagnostics,
        "facings_settled_s": [round(v, 3) for v in result.facings_settled_s],
    }


def overall_metrics(results: Sequence[RunResult]) -> dict[str, Any]:
    """Pooled over runs: receipts and items over all sessions, tracking weighted by frames."""
    expected: dict[str, dict[str, int]] = {}
    predicted: dict[str, dict[str, int]] = {}
    truth, pred, review = [], [], []
    for index, res in enumerate(results):
        prefix = f"{index}:{res.scenario}:"
        expected.update({prefix + k: v for k, v in res.expected.items()})
        predicted.update({prefix + k: v for k, v in res.predicted.items()})
        offset = 10_000.0 * index  # keep runs apart in time for the matcher
        for src, dst in (
            (res.truth_interactions, truth),
            (res.predicted_interactions, pred),
            (res.reviewed_interactions, review),
        ):
            dst += [
                type(i)(
                    i.t + offset, f"{index}:{i.bin_id}", i.sku, i.quantity, prefix + i.session_id
                )
                for i in src
            ]
    receipts = score_receipts(expected, predicted)
    attribution = score_attribution(truth, pred, review)
    tracks = [score_tracking(r.truth_frames, r.predicted_frames) for r in results]
    frames = sum(t.num_frames for t in tracks) or 1
    events = [v for r in results for v in r.event_to_cart_s]
    settle = [v for r in results for v in r.settle_to_cart_s]
    exits = [v for r in results for v in r.exit_to_receipt_s]
    return {
        "receipt_accuracy": receipts.receipt_accuracy,
        "item_precision": receipts.item_precision,
        "item_recall": receipts.item_recall,
        "item_f1": receipts.item_f1,
        "attribution_accuracy": attribution.attribution_accuracy,
        "idf1": sum(t.idf1 * t.num_frames for t in tracks) / frames,
        "mota": sum(t.mota * t.num_frames for t in tracks) / frames,
        "id_switches": sum(t.id_switches for t in tracks),
        "event_to_cart_p95_s": percentile(events, 95),
        "settle_to_cart_p95_s": percentile(settle, 95),
        "exit_to_receipt_p95_s": percentile(exits, 95),
        "review_queue_rate": len(review) / (len(pred) + len(review)) if pred or review else 0.0,
        "frames_dropped": sum(r.frames_dropped for r in results),
        "sessions": receipts.n_expected,
        "receipts_correct": receipts.n_correct,
        "items_true_positive": receipts.true_positive_items,
        "items_false_positive": receipts.false_positive_items,
        "items_false_negative": receipts.false_negative_items,
        "event_to_cart_s": events,
        "exit_to_receipt_s": exits,
        # picks waiting in review that the cameras' lane reports settled, and how long after the
        # weight change was known (their cart update, the review entry, is in event_to_cart_s)
        "facings_settled_s": [v for r in results for v in r.facings_settled_s],
    }


def _plots(out: Path, per_scenario: list[dict[str, Any]], overall: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{m['scenario']}" for m in per_scenario]
    files = []
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names)), 4))
    width = 0.27
    for i, key in enumerate(("receipt_accuracy", "item_f1", "attribution_accuracy")):
        values = [m[key] for m in per_scenario]
        ax.bar([x + (i - 1) * width for x in range(len(names))], values, width, label=key)
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("accuracy per scenario")
    fig.savefig(out / "accuracy_per_scenario.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    files.append("accuracy_per_scenario.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, title in (
        (axes[0], "event_to_cart_s", "shelf event -> cart update [s]"),
        (axes[1], "exit_to_receipt_s", "exit -> receipt [s]"),
    ):
        values = overall[key]
        if values:
            ax.hist(values, bins=20, color="steelblue")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("count")
    fig.savefig(out / "latency_histograms.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    files.append("latency_histograms.png")
    return files


def _track_plot(out: Path, result: RunResult, index: int) -> str:
    from go_eval.core.topdown import plot_tracks

    predicted: dict[str, list[tuple[float, float, float]]] = {}
    for frame in result.predicted_frames:
        for track_id, (x, y) in frame.positions.items():
            predicted.setdefault(track_id, []).append((frame.t, x, y))
    truth: dict[str, list[tuple[float, float, float]]] = {}
    for frame in result.truth_frames:
        for person, (x, y) in frame.positions.items():
            truth.setdefault(person, []).append((frame.t, x, y))
    name = f"tracks_{index:02d}_{result.scenario}.png"
    plot_tracks(load_store(result.store), predicted, truth, out / name, title=result.scenario)
    return name


def write_report(
    out: Path, results: Sequence[RunResult], title: str, command: str
) -> dict[str, Any]:
    """Write out/report.json and out/report.md (with PNG plots); returns the JSON data."""
    out.mkdir(parents=True, exist_ok=True)
    per_scenario = [scenario_metrics(r) for r in results]
    overall = overall_metrics(results)
    data = _clean(
        {
            "title": title,
            "command": command,
            "overall": {k: v for k, v in overall.items() if not isinstance(v, list)},
            "per_scenario": per_scenario,
        }
    )
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    plots = _plots(out, per_scenario, overall)
    track_plots = [_track_plot(out, r, i) for i, r in enumerate(results)]

    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = [f"# {title}", "", f"Command: `{command}`", "", "## Overall", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(data['overall'][k])} |" for k in METRICS]
    lines += ["", "## Per scenario", ""]
    lines += ["| scenario | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for m in data["per_scenario"]:
        lines.append(f"| {m['scenario']} | " + " | ".join(fmt(m[k]) for k in METRICS) + " |")
    lines += ["", "## Failures", ""]
    any_failure = False
    for m in data["per_scenario"]:
        problems = m["wrong_sessions"] + m["attribution_errors"] + m["identity_switches"]
        if problems:
            any_failure = True
            lines.append(f"- **{m['scenario']}**: " + "; ".join(str(p) for p in problems))
    if not any_failure:
        lines.append("None.")
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({name})" for name in plots + track_plots]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return data

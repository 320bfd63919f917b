"""The README's results table, generated from the committed benchmark and evaluation figures.

Sources: docs/benchmarks/baseline.json (``./gostore bench --update-baseline``) and
docs/benchmarks/eval_<suite>.json (``./gostore eval --suite <suite> --out ...`` copies its overall
figures there with ``--publish``). The table replaces the text between the README's
``<!-- results:start -->`` and ``<!-- results:end -->`` markers.
"""

from __future__ import annotations

import json
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"

EVAL_ROWS = (
    ("receipt_accuracy", "receipt accuracy", ">= 0.99 one shopper, >= 0.95 hard"),
    ("item_f1", "item F1", "0.844 (2020 competition winner, real data)"),
    ("attribution_accuracy", "attribution accuracy", ""),
    ("idf1", "tracking IDF1", "0.9536 (AI City 2023 winner, real data)"),
    ("mota", "tracking MOTA", ""),
    ("id_switches", "identity switches", ""),
    ("event_to_cart_p95_s", "shelf event -> cart p95 [s]", "<= 0.1"),
    ("exit_to_receipt_p95_s", "exit -> receipt p95 [s]", "<= 1 (Trigo ~30 s)"),
    ("review_queue_rate", "review queue rate", ""),
)

BENCH_ROWS = (
    (
        "render.small.5p.fps_per_camera_4cams",
        "renderer, 4 cameras 640x480, 5 people [fps each, one core]",
        ">= 15",
    ),
    ("render.convenience.5p.fps_per_camera_4cams", "same, convenience store", ">= 15"),
    ("perception.vtest.recall", "person recall, labelled vtest.avi", ">= 0.90"),
    ("perception.vtest.precision", "person precision, labelled vtest.avi", ">= 0.90"),
    ("perception.5p.one_core_fps", "detection + pose, 5 people, one core [fps]", ">= 15"),
    ("products.test.top1", "products top-1, grocery test split (with TTA)", ">= 0.97"),
    ("products.test.top3", "products top-3", ">= 0.995"),
    ("products.test_40px.top1", "products top-1 at 40 px", ">= 0.80"),
    (
        "tracking.50shoppers_16cams.cpu_p99_ms",
        "fusion update, 50 shoppers, 16 cameras p99 [ms CPU]",
        "<= 10",
    ),
    ("fusion.event_to_cart_p95_ms", "settled weight -> cart p95 [ms], synthetic day", "<= 100"),
    ("fusion.exit_to_receipt_p95_ms", "exit -> receipt p95 [ms], synthetic day", "<= 1000"),
    ("setup.second_run_s", "second set-up, nothing changed [s]", "< 30"),
)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) < 1:  # shares: 4 decimals, so 0.9949 is not shown as a met 0.995
            return f"{value:.4f}".rstrip("0").rstrip(".")
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def results_markdown(bench_dir: Path) -> str:
    lines = []
    names = ("smoke", "standard", "standard_sim", "hard", "hard_sim")
    suites = [s for s in names if (bench_dir / f"eval_{s}.json").is_file()]
    if suites:
        data = {s: json.loads((bench_dir / f"eval_{s}.json").read_text()) for s in suites}
        heads = [s.replace("_sim", " (sim pose)") for s in suites]
        lines += [
            "Simulator scenario suites (`./gostore eval --suite NAME`), real perception on the "
            "rendered images (default backend: NanoDet + MoveNet; sim pose: `--backend sim`, the "
            "pose network trained on other simulator renders):",
            "",
            "| metric | " + " | ".join(heads) + " | reference |",
            "|---|" + "---|" * len(suites) + "---|",
        ]
        for key, label, ref in EVAL_ROWS:
            cells = " | ".join(_fmt(data[s]["overall"].get(key)) for s in suites)
            lines.append(f"| {label} | {cells} | {ref} |")
        lines.append("")
    baseline = bench_dir / "baseline.json"
    if baseline.is_file():
        figures = json.loads(baseline.read_text())["figures"]
        machine = json.loads(baseline.read_text()).get("machine", {})
        lines += [
            f"Speed and accuracy benchmarks (`./gostore bench`; {machine.get('cpu', '?')}, "
            f"{machine.get('cores', '?')} cores):",
            "",
            "| figure | value | target |",
            "|---|---|---|",
        ]
        for key, label, target in BENCH_ROWS:
            if key in figures:
                lines.append(f"| {label} | {_fmt(figures[key]['value'])} | {target} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, bench_dir: Path) -> bool:
    """Rewrite the results block of ``readme``; False when the markers are missing."""
    text = readme.read_text()
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{results_markdown(bench_dir)}{END}{tail}")
    return True

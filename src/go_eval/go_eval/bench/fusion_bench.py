"""Fusion: settled weight change -> cart update and exit -> receipt latencies (synthetic day)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from go_eval.core.baseline import Figure
from go_fusion.bench.fusion_latency import run as run_latency


def run(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        data = run_latency(10 if quick else 40, 0, Path(tmp) / "journal.jsonl")
    cart = data["cart_latency_ms"]
    receipt = data["receipt_latency_ms"]
    return [
        Figure("fusion.event_to_cart_p95_ms", cart["p95"], "ms", False, "journal with fsync", 20.0),
        Figure("fusion.exit_to_receipt_p95_ms", receipt["p95"], "ms", False, "", 50.0),
    ]

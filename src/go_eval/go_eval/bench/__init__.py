"""Benchmarks run by ``./gostore bench``: one module per area, each with ``run(quick) -> figures``.

Each benchmark runs in its own process (``python -m go_eval.bench NAME``) so that its peak memory
is its own and a crash in one does not hide the others.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
from dataclasses import asdict

from go_eval.core.baseline import Figure

BENCHMARKS: dict[str, str] = {
    "setup": "go_eval.bench.setup_bench",
    "sim": "go_eval.bench.sim_bench",
    "render": "go_eval.bench.render_bench",
    "perception": "go_eval.bench.perception_bench",
    "products": "go_eval.bench.products_bench",
    "shelf": "go_eval.bench.shelf_bench",
    "tracking": "go_eval.bench.tracking_bench",
    "fusion": "go_eval.bench.fusion_bench",
}


def run_one(name: str, quick: bool) -> list[Figure]:
    """Run benchmark ``name`` in this process and add its peak resident memory."""
    module = importlib.import_module(BENCHMARKS[name])
    figures = list(module.run(quick))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    figures.append(Figure(f"{name}.peak_rss_mb", round(peak_mb, 1), "MB", False, "whole process"))
    return figures


def main() -> int:
    name = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    print(json.dumps([asdict(f) for f in run_one(name, quick)]))
    return 0

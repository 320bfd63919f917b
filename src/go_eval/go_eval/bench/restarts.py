"""Fusion restarts against an uninterrupted run: do the receipts change when the node is killed?

``python -m go_eval.bench.restarts --suite hard --perception-cache DIR [--restarts 3] [--trials 2]``

Each scenario of the suite runs once on an on-disk journal without interruption, then ``--trials``
times with ``--restarts`` kills of the fusion pipeline at random sensor times (seeded; a new
pipeline continues on the same journal and checkpoints, as a restarted fusion node does, and no
input is lost). A trial passes when every receipt equals the uninterrupted run's. Writes
``--out`` (JSON) and prints a Markdown table; exit status 1 when a trial fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from go_common.core.store import load_store
from go_eval.core.offline import OfflineRun, RunConfig
from go_eval.core.scoring import score_receipts
from go_eval.core.suites import SUITES, suite
from go_sensors.core.simulator import Simulator


def _run(
    entry: Any, cache: Path | None, journal: Path, restarts: list[float]
) -> tuple[dict[str, dict[str, int]], int, int, int, int]:
    run = OfflineRun(
        RunConfig(entry.store, entry.scenario, entry.seed),
        perception_cache=cache,
        journal=journal,
        restarts=restarts,
    )
    result = run.run()
    score = score_receipts(result.expected, result.predicted)
    correct = round(score.receipt_accuracy * len(result.expected))
    reviews = len(result.reviewed_interactions)
    return result.predicted, correct, len(result.expected), run.restarted, reviews


def check(
    name: str, seed: int | None, cache: Path | None, restarts: int, trials: int
) -> dict[str, Any]:
    """Run the check over suite ``name`` (with every entry's seed replaced by ``seed``)."""
    entries = suite(name)
    if seed is not None:
        entries = tuple(type(e)(e.store, e.scenario, seed) for e in entries)
    scenarios = []
    bar = tqdm(total=len(entries) * (1 + trials), desc=f"restarts {name}", unit="run")
    with tempfile.TemporaryDirectory() as tmp:
        for k, entry in enumerate(entries):
            base, correct, n, _, base_reviews = _run(
                entry, cache, Path(tmp) / f"{k}-base.jsonl", []
            )
            bar.update()
            duration = Simulator(load_store(entry.store), entry.scenario, entry.seed).duration
            rng = np.random.default_rng([entry.seed, k, restarts])
            runs = []
            for trial in range(trials):
                times = sorted(round(float(t), 1) for t in rng.uniform(1.0, duration, restarts))
                path = Path(tmp) / f"{k}-{trial}.jsonl"
                predicted, t_correct, _, done, reviews = _run(entry, cache, path, times)
                bar.update()
                differ = {
                    s: {"uninterrupted": base.get(s, {}), "restarted": predicted.get(s, {})}
                    for s in sorted(set(base) | set(predicted))
                    if base.get(s, {}) != predicted.get(s, {})
                }
                runs.append(
                    {
                        "restarts_s": times,
                        "restarted": done,
                        "same_receipts": not differ,
                        "receipts_correct": t_correct,
                        "reviews": reviews,
                        "items": sum(sum(v.values()) for v in predicted.values()),
                        "differ": differ,
                    }
                )
            scenarios.append(
                {
                    "scenario": entry.scenario,
                    "seed": entry.seed,
                    "duration_s": round(duration, 1),
                    "sessions": n,
                    "receipts_correct_uninterrupted": correct,
                    "reviews_uninterrupted": base_reviews,
                    "items_uninterrupted": sum(sum(v.values()) for v in base.values()),
                    "trials": runs,
                }
            )
    bar.close()
    trials_all = [t for s in scenarios for t in s["trials"]]
    return {
        "suite": name,
        "seed": seed,
        "restarts_per_trial": restarts,
        "trials": len(trials_all),
        "trials_same_receipts": sum(t["same_receipts"] for t in trials_all),
        "scenarios": scenarios,
    }


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "| scenario | sessions | uninterrupted: correct, items, reviews | trial: restarts [s] -> "
        "correct, items, reviews, same? |",
        "|---|---|---|---|",
    ]
    for s in data["scenarios"]:
        trials = "; ".join(
            f"{', '.join(f'{t:.1f}' for t in tr['restarts_s'])} -> {tr['receipts_correct']}, "
            f"{tr['items']}, {tr['reviews']}, " + ("same" if tr["same_receipts"] else "**differs**")
            for tr in s["trials"]
        )
        lines.append(
            f"| {s['scenario']} (seed {s['seed']}) | {s['sessions']} | "
            f"{s['receipts_correct_uninterrupted']}, {s['items_uninterrupted']}, "
            f"{s['reviews_uninterrupted']} | {trials} |"
        )
    lines.append(
        f"\n{data['trials_same_receipts']} of {data['trials']} trials "
        f"({data['restarts_per_trial']} restarts each) gave the uninterrupted receipts."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m go_eval.bench.restarts", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--suite", default="hard", choices=sorted(SUITES))
    parser.add_argument("--seed", type=int, help="run every scenario with this seed")
    parser.add_argument("--perception-cache", type=Path, help="perception cache folder")
    parser.add_argument("--restarts", type=int, default=3, help="restarts per trial")
    parser.add_argument("--trials", type=int, default=2, help="trials per scenario")
    parser.add_argument("--out", type=Path, default=Path("out/restarts.json"))
    args = parser.parse_args(argv)
    if args.restarts < 1 or args.trials < 1:
        parser.error("--restarts and --trials must be at least 1")
    logging.basicConfig(level=logging.ERROR)
    data = check(args.suite, args.seed, args.perception_cache, args.restarts, args.trials)
    data["command"] = "python -m go_eval.bench.restarts " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(markdown(data))
    return 0 if data["trials_same_receipts"] == data["trials"] else 1


if __name__ == "__main__":
    sys.exit(main())

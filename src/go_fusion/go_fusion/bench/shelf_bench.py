"""Accuracy and cost benchmark of shelf events and (SKU, quantity) hypotheses on synthetic streams.

    python -m go_fusion.bench.shelf_bench [--events 2000] [--seed 0] [--json out.json]

Accuracy: bins on shelves of four adjacent bins, 60 Hz, realistic noise (per-bin sd log-normal,
median 0.5 g, p90 2 g, capped at 8 g), 0.1 g quantisation, slow drift, hand presses up to 200 g
(alone and while grabbing), hand jitter, NaN dropouts, slow pickups; catalogue unit weights off by
5-20 % from what the items really weigh. Events: single and multi-item picks, returns, two SKUs
from a mixed bin, items put back across two adjacent bins, misplaced returns. Reports event
precision/recall, |delta| error, merge correctness and top-1 hypothesis accuracy, with and without
the learned per-SKU unit weight (``UnitWeightLearner``).

Cost: 400 bins at 60 Hz fed as 50 boards x 8 channels, 6 samples per message (10 Hz), and as one
400-channel scan per sample, on a busy and a quiet stream; CPU microseconds per sample (one bin,
one stamp) on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from go_fusion.bench.shelf_synth import Change, Press, bin_signal, noise_sd_sample
from go_fusion.core.hypotheses import (
    HypothesisConfig,
    UnitWeightLearner,
    candidates_for_bins,
    min_event_by_bin,
    rank_hypotheses,
    split_merged_event,
)
from go_fusion.core.shelf_events import (
    STATE_DRIFT,
    STATE_SETTLED,
    STATE_UNSETTLED,
    ShelfEventConfig,
    ShelfEventCore,
    ShelfEventDetector,
)

RATE_HZ = 60.0
BINS_PER_SHELF = 4


@dataclass(frozen=True)
class RefEvent:
    """What really happened: bins, time window [s], delta [g], items ((sku, quantity), ...)."""

    kind: str
    bins: tuple[str, ...]
    t0: float
    t1: float
    delta_g: float
    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class World:
    """A synthetic store: catalogue (what it says), real unit weights, planogram, neighbours."""

    catalogue: dict[str, tuple[float, float]]
    real_unit_g: dict[str, float]
    bin_skus: dict[str, tuple[str, ...]]
    neighbours: dict[str, tuple[str, ...]]


def make_world(
    rng: np.random.Generator,
    n_bins: int,
    n_skus: int,
    catalogue_error: tuple[float, float] = (0.05, 0.20),
) -> World:
    """Catalogue weights log-uniform 30-1200 g, real weights off by catalogue_error (relative,
    either sign); 30 % of bins hold two SKUs."""
    skus = [f"sku{i:03d}" for i in range(n_skus)]
    unit = np.exp(rng.uniform(math.log(30.0), math.log(1200.0), n_skus))
    off = rng.uniform(*catalogue_error, n_skus) * rng.choice([-1.0, 1.0], n_skus)
    catalogue = {s: (float(u), float(max(0.5, 0.015 * u))) for s, u in zip(skus, unit, strict=True)}
    real = {s: float(u * (1.0 + o)) for s, u, o in zip(skus, unit, off, strict=True)}
    bins = [f"s{i // BINS_PER_SHELF:02d}_b{i % BINS_PER_SHELF}" for i in range(n_bins)]
    bin_skus = {}
    for b in bins:
        k = 2 if rng.random() < 0.3 else 1
        bin_skus[b] = tuple(sorted(rng.choice(skus, k, replace=False).tolist()))
    neigh = {}
    for i, b in enumerate(bins):
        shelf = i // BINS_PER_SHELF
        neigh[b] = tuple(
            bins[j] for j in (i - 1, i + 1) if 0 <= j < n_bins and j // BINS_PER_SHELF == shelf
        )
    return World(catalogue, real, bin_skus, neigh)


def _units(rng: np.random.Generator, world: World, sku: str, n: int) -> float:
    sd = world.catalogue[sku][1]
    return float(rng.normal(world.real_unit_g[sku], sd, n).sum())


def make_scenario(
    rng: np.random.Generator, world: World, duration_s: float
) -> tuple[np.ndarray, dict[str, np.ndarray], list[RefEvent]]:
    """Stamps (N,), bin -> grams (N,), and the events that really happened."""
    t = np.arange(0.0, duration_s, 1.0 / RATE_HZ)
    bins = list(world.bin_skus)
    changes: dict[str, list[Change]] = {b: [] for b in bins}
    presses: dict[str, list[Press]] = {b: [] for b in bins}
    busy_until = dict.fromkeys(bins, 3.0)  # warm-up first
    refs: list[RefEvent] = []
    kinds = ["pick1", "pick2", "pickN", "return1", "return2", "mixed", "across", "misplaced"]
    probs = np.array([0.55, 0.12, 0.08, 0.10, 0.03, 0.04, 0.05, 0.03])
    all_skus = sorted(world.catalogue)
    for _ in range(int(duration_s * len(bins) / 6.0)):
        b = bins[rng.integers(len(bins))]
        kind = str(rng.choice(kinds, p=probs / probs.sum()))
        skus = world.bin_skus[b]
        if kind == "mixed" and len(skus) < 2:
            kind = "pick1"
        if kind == "across" and not world.neighbours[b]:
            kind = "return1"
        other = (
            world.neighbours[b][rng.integers(len(world.neighbours[b]))]
            if kind == "across"
            else None
        )
        involved = [b] if other is None else [b, other]
        t0 = max(busy_until[x] for x in involved) + rng.uniform(1.0, 6.0)
        dur = rng.uniform(0.3, 2.5) if rng.random() > 0.05 else rng.uniform(2.5, 4.0)
        if t0 + dur + 3.0 > duration_s:
            continue
        press = rng.uniform(0.0, 200.0) if rng.random() < 0.5 else 0.0
        jitter = rng.uniform(2.0, 10.0)
        sku = skus[rng.integers(len(skus))]
        if kind == "pickN":
            n = int(rng.integers(3, 7))
            items = ((sku, n),)
        elif kind in ("pick2", "return2"):
            items = ((sku, 2 if kind == "pick2" else -2),)
        elif kind == "mixed":
            na, nb = (int(v) for v in rng.integers(1, 3, 2))
            items = ((skus[0], na), (skus[1], nb))
        elif kind == "misplaced":
            foreign = [s for s in all_skus if s not in skus]
            items = ((foreign[rng.integers(len(foreign))], -1),)
        else:
            items = ((sku, 1 if kind == "pick1" else -1),)
        delta = -sum(math.copysign(_units(rng, world, s, abs(q)), q) for s, q in items)
        if other is None:
            changes[b].append(Change(t0, dur, delta, press, jitter))
        else:
            share = rng.uniform(0.3, 0.7)
            lag = rng.uniform(0.0, 0.1)
            changes[b].append(Change(t0, dur, delta * share, press, jitter))
            changes[other].append(Change(t0 + lag, dur, delta * (1 - share), 0.0, jitter / 2))
        for x in involved:
            busy_until[x] = t0 + dur + 1.5
        refs.append(RefEvent(kind, tuple(involved), t0, t0 + dur, delta, tuple(sorted(items))))
        if rng.random() < 0.7:  # a hand press on some bin that returns to the level
            pb = bins[rng.integers(len(bins))]
            tp = busy_until[pb] + rng.uniform(0.3, 2.0)
            if tp + 1.0 < duration_s:
                dp = rng.uniform(0.15, 0.8)
                presses[pb].append(Press(tp, dp, rng.uniform(20.0, 200.0)))
                busy_until[pb] = tp + dp + 0.5
    sd = noise_sd_sample(rng, len(bins))
    grams = {}
    for i, b in enumerate(bins):
        drop: tuple[tuple[float, float], ...] = ()
        if rng.random() < 0.05:
            td = busy_until[b] + 1.0
            if td + 3.0 < duration_s:
                drop = ((td, td + rng.uniform(0.2, 2.0)),)
        grams[b] = bin_signal(
            t,
            level_g=rng.uniform(500.0, 5000.0),
            changes=changes[b],
            presses=presses[b],
            noise_sd_g=float(sd[i]),
            drift_g_s=rng.uniform(-5.0, 5.0) / 3600.0,
            quant_g=0.1,
            dropouts=drop,
            rng=rng,
        )
    refs.sort(key=lambda r: r.t0)
    return t, grams, refs


def run_detector(
    t: np.ndarray,
    grams: dict[str, np.ndarray],
    world: World,
    config: ShelfEventConfig,
    per_bin_minimum: bool = False,
) -> tuple[list[ShelfEventCore], list[float]]:
    """Feed the scenario as one scan of every bin per message of 6 samples.

    per_bin_minimum: use ``min_event_by_bin`` (0.4 x the bin's lightest product) as the smallest
    event of each bin instead of the global 5 g.
    Returns the events and, for each, the stamp [s] of the last sample fed when it came out.
    """
    bins = list(grams)
    mat = np.stack([grams[b] for b in bins], axis=1)
    minimum = min_event_by_bin(world.bin_skus, world.catalogue) if per_bin_minimum else None
    det = ShelfEventDetector(config, bins, world.neighbours, minimum)
    events: list[ShelfEventCore] = []
    released: list[float] = []
    for i in range(0, len(t), 6):
        new = det.add_samples(bins, t[i : i + 6], mat[i : i + 6])
        events += new
        released += [float(t[min(i + 5, len(t) - 1)])] * len(new)
    tail = det.flush()
    return events + tail, released + [float(t[-1])] * len(tail)


def split_events(events: list[ShelfEventCore], world: World) -> list[ShelfEventCore]:
    """Adjacent-bin events that are better explained as separate reaches, split."""
    by_bin = {
        b: candidates_for_bins(skus, world.catalogue, off_planogram_prior=0.05)
        for b, skus in world.bin_skus.items()
    }
    return [part for e in events for part in split_merged_event(e, by_bin)]


def score(
    refs: list[RefEvent], events: list[ShelfEventCore], world: World, learn: bool
) -> dict[str, float]:
    """Match events to references (overlapping bins, t_end within 1.5 s of the real end)."""
    dets = [e for e in events if e.state != STATE_DRIFT]
    used: set[int] = set()
    matches: list[tuple[RefEvent, ShelfEventCore]] = []
    for r in refs:
        best, best_dt = None, 1.5
        for j, e in enumerate(dets):
            if j in used or not set(e.bin_ids) & set(r.bins):
                continue
            dt = abs(e.t_end - r.t1)
            if dt <= best_dt:
                best, best_dt = j, dt
        if best is not None:
            used.add(best)
            matches.append((r, dets[best]))
    tp = len(matches)
    learner = UnitWeightLearner(world.catalogue) if learn else None
    cfg = HypothesisConfig()
    top1 = 0
    by_kind: dict[str, list[int]] = {}
    for r, e in sorted(matches, key=lambda m: m[1].t_detect):
        cat = learner.catalogue() if learner else world.catalogue
        scale = learner.scale_sd() if learner else None
        skus = [s for b in e.bin_ids for s in world.bin_skus[b]]
        cands = candidates_for_bins(skus, cat, off_planogram_prior=0.05, scale_sd=scale)
        hyps = rank_hypotheses(e.delta_g, e.delta_sd_g, cands, cfg)
        ok = bool(hyps) and hyps[0].items == r.items
        top1 += ok
        by_kind.setdefault(r.kind, []).append(int(ok))
        if learner:
            learner.observe(e.delta_g, e.delta_sd_g, hyps)
    err = np.array([abs(e.delta_g - r.delta_g) for r, e in matches]) if matches else np.zeros(1)
    across = [set(e.bin_ids) == set(r.bins) for r, e in matches if r.kind == "across"]
    out = {
        "reference_events": len(refs),
        "detected_events": len(dets),
        "precision": tp / max(len(dets), 1),
        "recall": tp / max(len(refs), 1),
        "delta_abs_err_median_g": float(np.median(err)),
        "delta_abs_err_p95_g": float(np.percentile(err, 95)),
        "across_merged": float(np.mean(across)) if across else math.nan,
        "top1": top1 / max(tp, 1),
    }
    out.update({f"top1_{k}": float(np.mean(v)) for k, v in sorted(by_kind.items())})
    return out


def measure_cost(rng: np.random.Generator, n_bins: int, seconds: float) -> dict[str, float]:
    """Microseconds of CPU per sample (one bin, one stamp) for n_bins at 60 Hz.

    Two streams: "busy" (every bin changes about every 9 s: far busier than a real store) and
    "quiet" (noise only); two feeds: board messages of 8 channels x 6 samples, and one scan of
    every bin per sample.
    """
    world = make_world(rng, n_bins, max(20, n_bins // 2))
    t, busy, _ = make_scenario(rng, world, seconds)
    bins = list(busy)
    quiet = {
        b: bin_signal(t, noise_sd_g=float(sd), quant_g=0.1, rng=rng)
        for b, sd in zip(bins, noise_sd_sample(rng, n_bins), strict=True)
    }
    warm = int(min(2.0, seconds / 2.0) * RATE_HZ)  # warm-up is per-bin Python: not timed
    out = {}
    for stream, grams in (("busy", busy), ("quiet", quiet)):
        mat = np.stack([grams[b] for b in bins], axis=1)
        for feed, width, batch in (("board_8ch_6samples", 8, 6), ("scan_all_1sample", n_bins, 1)):
            det = ShelfEventDetector(ShelfEventConfig(), bins, world.neighbours)
            boards = [list(range(i, min(i + width, n_bins))) for i in range(0, n_bins, width)]
            names = [[bins[j] for j in cols] for cols in boards]
            for i in range(0, warm, batch):
                for cols, ids in zip(boards, names, strict=True):
                    det.add_samples(ids, t[i : i + batch], mat[i : i + batch, cols])
            start = time.process_time()  # CPU time: the build machine is shared
            for i in range(warm, len(t), batch):
                for cols, ids in zip(boards, names, strict=True):
                    det.add_samples(ids, t[i : i + batch], mat[i : i + batch, cols])
            elapsed = time.process_time() - start
            samples = (len(t) - warm) * n_bins
            out[f"{stream}_{feed}_us_per_sample"] = 1e6 * elapsed / samples
            out[f"{stream}_{feed}_core_share"] = elapsed / (t[-1] - t[warm])
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a JSON summary (and writes it with --json)."""
    p = argparse.ArgumentParser(
        prog="python -m go_fusion.bench.shelf_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--events", type=int, default=2000, help="about this many events")
    p.add_argument("--bins", type=int, default=40, help="bins in the accuracy scenario")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cost-bins", type=int, default=400)
    p.add_argument("--cost-seconds", type=float, default=20.0)
    p.add_argument(
        "--catalogue-error",
        type=float,
        nargs=2,
        default=(0.05, 0.20),
        metavar=("LO", "HI"),
        help="relative catalogue unit-weight error range",
    )
    p.add_argument(
        "--per-bin-minimum",
        action="store_true",
        help="smallest event per bin from its lightest product (min_event_by_bin)",
    )
    p.add_argument("--json", type=Path, help="also write the summary here")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    world = make_world(rng, args.bins, max(10, args.bins), tuple(args.catalogue_error))
    duration = 9.3 * args.events / args.bins + 10.0  # about 1 event in 9.3 s per bin lands
    t, grams, refs = make_scenario(rng, world, duration)
    events, released = run_detector(t, grams, world, ShelfEventConfig(), args.per_bin_minimum)
    settled = [(e, r) for e, r in zip(events, released, strict=True) if e.state == STATE_SETTLED]
    confirm = np.array([e.t_detect - e.t_end for e, _ in settled] or [math.nan])
    hold = np.array([r - e.t_detect for e, r in settled] or [math.nan])
    summary = {
        "catalogue_weights": score(refs, split_events(events, world), world, learn=False),
        "learned_unit_weights": score(refs, split_events(events, world), world, learn=True),
        "learned_no_split": score(refs, events, world, learn=True),
        "drift_events": sum(e.state == STATE_DRIFT for e in events),
        "unsettled_events": sum(e.state == STATE_UNSETTLED for e in events),
        "events_by_kind": {
            k: sum(r.kind == k for r in refs) for k in sorted({r.kind for r in refs})
        },
        "latency_s": {
            "settle_to_confirm_p50": float(np.median(confirm)),
            "settle_to_confirm_p95": float(np.percentile(confirm, 95)),
            "confirm_to_release_p50": float(np.median(hold)),
            "confirm_to_release_p95": float(np.percentile(hold, 95)),
        },
        "cost": measure_cost(rng, args.cost_bins, args.cost_seconds),
    }
    text = json.dumps(summary, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

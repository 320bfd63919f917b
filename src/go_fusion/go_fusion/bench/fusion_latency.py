"""Latency of the fusion back end: settled weight change -> cart update, exit -> receipt.

Streams a synthetic day of the "small" store through :class:`FusionPipeline` in sensor-time order:
shoppers enter on a scan, stand at a bin with their tracked wrists (15 Hz track snapshots), take
one to three items, sometimes put one back, and leave through the exit. Load cells run at 30 Hz
in batches of 3 samples per message (the LoadCellBoard layout).

A message is taken to arrive when its last sample was taken (a LoadCellBoard is sent after its
last sample); the latency of an output is ``(arrival of the message whose processing produced
it - reference time) + the wall time that processing took``, which is what a real-time replay
would measure with perfect transport:

- cart: reference = ``t_detect`` of the shelf event, the sample at which the detector saw the
  weight settled (the settle window itself is the detector's business, not fusion's); this
  includes the detector's hold for adjacent-bin merging (``merge_hold_s``). Also reported from
  the release of the shelf event (the message whose processing produced it) to the cart update:
  fusion's own share (attribution waits for tracks covering the event window).
- receipt: reference = the exit gate event's stamp (includes ``checkout_grace_s``).

Usage: ``python -m go_fusion.bench.fusion_latency [--sessions N] [--seed S] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from go_common.core.store import load_store
from go_fusion.core.checkout import GateObservation
from go_fusion.core.journal import Journal
from go_fusion.core.pipeline import TRACK_CONFIRMED, FusionOutput, FusionPipeline, TrackSnapshot
from go_fusion.core.store_view import store_view_from_model

RATE_CELLS = 30.0
RATE_TRACKS = 15.0
PER_MSG = 3
REACH = np.array([0.12, 0.0, 0.0])  # [m] bin centre -> wrist inside its front
HANG = np.array([0.5, 0.0, 0.3])  # [m] reaching wrist -> the other one by the side


def _snapshot(track_id: str, session: str, t: float, wrist: np.ndarray) -> TrackSnapshot:
    kp = np.full((17, 3), np.nan)
    kp[9] = wrist
    kp[10] = wrist + HANG
    scores = np.zeros(17)
    scores[[9, 10]] = 0.9
    cov = np.tile(np.eye(3) * 0.03**2, (17, 1, 1))
    pos = np.array([wrist[0] + 0.6, wrist[1], 0.0])
    return TrackSnapshot(
        track_id,
        session,
        TRACK_CONFIRMED,
        pos,
        np.zeros(3),
        np.eye(6) * 0.01,
        t,
        kp,
        scores,
        cov,
        ("cam_front",),
    )


def run(sessions: int, seed: int, journal: Path | None) -> dict[str, object]:
    """Run the synthetic day; returns latency percentiles [ms] and counts."""
    model = load_store("small")
    store = store_view_from_model(model)
    pipe = FusionPipeline(store, journal=Journal(journal))
    rng = np.random.default_rng(seed)
    channels = model.boards["g1_xp"].channels
    bins = list(channels)
    # Single-SKU bins only: a bin of equal-weight look-alikes goes to review without vision,
    # which is right but is not what this benchmark measures.
    single = [b for b in bins if len(store.bins[b].skus) == 1]
    # Each session: 12 s; enters at 0.5, picks at 3, 5.5 (maybe 8 a return), exits at 11.
    steps: dict[str, list[tuple[float, float]]] = {b: [] for b in bins}
    plan = []
    for i in range(sessions):
        t0 = 12.0 * i + 2.0
        b = single[rng.integers(len(single))]
        grams = store.products[store.bins[b].skus[0]].unit_weight_g
        picks = [(t0 + 3.0, -grams * int(rng.integers(1, 3))), (t0 + 5.5, -grams)]
        if rng.random() < 0.3:
            picks.append((t0 + 8.0, +grams))
        steps[b] += picks
        plan.append((f"app-{i:03d}", t0, b))
    inputs: list[tuple[float, int, object]] = []
    for token, t0, b in plan:
        inputs.append((t0 + 0.5, 0, GateObservation("entry", "entry", t0 + 0.5, token)))
        inputs.append((t0 + 11.0, 0, GateObservation("exit", "exit", t0 + 11.0, token)))
        reach = store.bins[b].center + REACH
        idle = reach + HANG
        for k in range(int(11 * RATE_TRACKS)):
            t = t0 + 0.6 + k / RATE_TRACKS
            near = any(
                abs(t - s) < 0.8 or abs(t - s - 0.5) < 0.8 for s in (t0 + 3, t0 + 5.5, t0 + 8)
            )
            snap = _snapshot(f"T{token}", token, t, reach if near else idle)
            inputs.append((t, 1, [snap]))
    end = 12.0 * sessions + 4.0
    base = np.full(len(bins), 3000.0)
    for k in range(0, int(end * RATE_CELLS), PER_MSG):
        ts = (k + np.arange(PER_MSG)) / RATE_CELLS
        g = np.tile(base, (PER_MSG, 1)) + rng.normal(0.0, 0.5, (PER_MSG, len(bins)))
        for c, b in enumerate(bins):
            for t_step, delta in steps[b]:
                g[:, c] += delta * np.clip((ts - t_step) / 0.3, 0.0, 1.0)
        inputs.append((float(ts[-1]), 2, (float(ts[0]), g)))
    detect: dict[str, float] = {}
    released: dict[str, float] = {}
    fusion_ms: list[float] = []
    exits: dict[str, float] = {token: t0 + 11.0 for token, t0, _ in plan}
    cart_ms: list[float] = []
    receipt_ms: list[float] = []
    call_ms: list[float] = []
    for arrival, kind, payload in sorted(inputs, key=lambda x: (x[0], x[1])):
        start = time.perf_counter()
        if kind == 0:
            out = pipe.add_gate_event(payload)  # type: ignore[arg-type]
        elif kind == 1:
            out = pipe.add_tracks(arrival, payload)  # type: ignore[arg-type]
        else:
            t_first, g = payload  # type: ignore[misc]
            out = pipe.add_load_cells("g1_xp", channels, t_first, 1 / RATE_CELLS, g)
        wall = time.perf_counter() - start
        call_ms.append(1e3 * wall)
        _collect(out, arrival, wall, detect, released, exits, cart_ms, fusion_ms, receipt_ms)
    pct = _percentiles
    return {
        "sessions": sessions,
        "cart_events": len(cart_ms),
        "receipts": len(receipt_ms),
        "cart_latency_ms": pct(cart_ms),
        "cart_latency_after_shelf_event_ms": pct(fusion_ms),
        "receipt_latency_ms": pct(receipt_ms),
        "call_ms": pct(call_ms),
    }


def attribution_cost(shoppers: int, repeats: int = 50, seed: int = 0) -> dict[str, float]:
    """Wall time [ms] of one attribution with ``shoppers`` candidates (2 wrists, 15 Hz, 3 s)."""
    from go_fusion.core.attribution import (
        AttributionConfig,
        Attributor,
        CandidateTrack,
        ShelfObservation,
        WeightHypothesis,
    )

    store = store_view_from_model(load_store("small"))
    attributor = Attributor(AttributionConfig(), store.bins, store.products)
    rng = np.random.default_rng(seed)
    bin_id = sorted(store.bins)[0]
    cands = []
    k = int(3 * RATE_TRACKS)
    for i in range(shoppers):
        base = rng.uniform([0.5, 0.5, 0.5], [3.5, 3.5, 1.5])
        t = np.repeat(8.5 + np.arange(k) / RATE_TRACKS, 2)  # two wrists per stamp
        pos = base + rng.normal(0.0, 0.05, (2 * k, 3))
        cands.append(
            CandidateTrack.from_arrays(f"T{i}", f"s{i}", t, pos, np.full((2 * k, 3), 9e-4))
        )
    hyp = (WeightHypothesis((("Arla-Natural-Yoghurt", 1),), 0.98),)
    obs = ShelfObservation("e", bin_id, (bin_id,), 10.0, 10.5, -1040.0, 1.0, hyp)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        attributor.attribute(obs, cands, [], {}, {})
        times.append(1e3 * (time.perf_counter() - start))
    return _percentiles(times)


def _collect(
    out: FusionOutput,
    arrival: float,
    wall: float,
    detect: dict[str, float],
    released: dict[str, float],
    exits: dict[str, float],
    cart_ms: list[float],
    fusion_ms: list[float],
    receipt_ms: list[float],
) -> None:
    for ev in out.shelf_events:
        detect[ev.event.event_id] = ev.event.t_detect
        released[ev.event.event_id] = arrival
    for e in out.cart_events:
        cart_ms.append(1e3 * (arrival - detect[e.shelf_event_id] + wall))
        fusion_ms.append(1e3 * (arrival - released[e.shelf_event_id] + wall))
    for r in out.receipts:
        receipt_ms.append(1e3 * (arrival - exits[r.session_id] + wall))


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values)
    return {
        k: round(float(np.percentile(a, q)), 3)
        for k, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: print the latency figures (and write them as JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=40, help="shopping sessions to simulate")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="journal file (default: in memory; a file adds the fsync cost)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    figures = run(args.sessions, args.seed, args.journal)
    figures["attribution_50_shoppers_ms"] = attribution_cost(50, seed=args.seed)
    text = json.dumps(figures, indent=2)
    sys.stdout.write(text + "\n")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

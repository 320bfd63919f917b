"""``./gostore shelf-events READINGS.csv --store STORE | --planogram PLANOGRAM.csv``.

Reads load-cell readings (CSV header ``t_s,bin_id,grams``; bins interleaved; rows may be slightly
out of order, they are sorted by time) and prints one JSON line per detected shelf event:

    {"event_id", "bin_id", "bin_ids", "t_start", "t_end", "delta_g", "delta_sd_g", "state",
     "hypotheses": [{"sku", "quantity", "probability"}, ...]}

``quantity > 0`` = taken, ``< 0`` = put back. A two-SKU hypothesis has ``"sku": "A+B"``, the total
``quantity`` and the parts in ``"items"``; ``"sku": ""`` is "no catalogue combination explains
it". Drift events (``"state": "drift"``) carry no hypotheses. Bad rows (non-numeric or NaN values,
unknown bins) are reported on stderr with their line number; NaN readings still count as dropouts.
Exit status: 0 ok, 2 unusable input (missing file or columns, bad store/planogram).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from go_fusion.core.hypotheses import (
    Hypothesis,
    HypothesisConfig,
    candidates_for_bins,
    min_event_by_bin,
    ownership_priors,
    rank_hypotheses,
    split_merged_event,
)
from go_fusion.core.shelf_events import (
    STATE_DRIFT,
    ShelfEventConfig,
    ShelfEventCore,
    ShelfEventDetector,
    neighbours_from_boxes,
)

READING_COLUMNS = ("t_s", "bin_id", "grams")
PLANOGRAM_COLUMNS = ("bin_id", "sku", "unit_g", "unit_sd_g")
MAX_ROW_WARNINGS = 20


class InputError(ValueError):
    """Unusable input; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ShelfModel:
    """What the command needs from a store: bin -> SKUs, sku -> (unit_g, unit_sd_g) [g],
    bin -> adjacent bins, and the load cells' noise and quantisation [g] if known."""

    bin_skus: dict[str, tuple[str, ...]]
    catalogue: dict[str, tuple[float, float]]
    neighbours: dict[str, tuple[str, ...]]
    noise_sd_g: float | None = None
    quantisation_g: float = 0.0


class _Warnings:
    """Row-level warnings on stderr, capped so a broken file does not flood the terminal."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if self.count <= MAX_ROW_WARNINGS:
            print(f"shelf-events: warning: {message}", file=sys.stderr)
        elif self.count == MAX_ROW_WARNINGS + 1:
            print("shelf-events: warning: more bad rows; only the count follows", file=sys.stderr)

    def summary(self) -> None:
        if self.count > MAX_ROW_WARNINGS:
            print(f"shelf-events: warning: {self.count} bad rows in all", file=sys.stderr)


def _open_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="")
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from error
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputError(
                f"{path}: missing column(s) {', '.join(missing)}; header is "
                f"{','.join(header) or '(empty)'}; expected {','.join(columns)}"
            )
        reader.fieldnames = header
        for row in reader:
            yield reader.line_num, row


def load_planogram_csv(path: Path) -> ShelfModel:
    """Planogram CSV (bin_id,sku,unit_g,unit_sd_g; one row per product a bin may hold)."""
    bins: dict[str, list[str]] = {}
    catalogue: dict[str, tuple[float, float]] = {}
    for line, row in _open_csv(path, PLANOGRAM_COLUMNS):
        bin_id, sku = (row.get("bin_id") or "").strip(), (row.get("sku") or "").strip()
        try:
            unit_g, unit_sd_g = float(row["unit_g"]), float(row["unit_sd_g"])
        except (TypeError, ValueError) as error:
            raise InputError(f"{path}:{line}: unit_g/unit_sd_g must be numbers") from error
        if not bin_id or not sku:
            raise InputError(f"{path}:{line}: bin_id and sku must not be empty")
        if not (
            math.isfinite(unit_g) and unit_g > 0 and math.isfinite(unit_sd_g) and unit_sd_g >= 0
        ):
            raise InputError(
                f"{path}:{line}: unit_g must be > 0 and unit_sd_g >= 0, got {unit_g}, {unit_sd_g}"
            )
        if sku in catalogue and catalogue[sku] != (unit_g, unit_sd_g):
            print(
                f"shelf-events: warning: {path}:{line}: {sku} listed with another unit weight; "
                f"keeping {catalogue[sku]}",
                file=sys.stderr,
            )
        catalogue.setdefault(sku, (unit_g, unit_sd_g))
        skus = bins.setdefault(bin_id, [])
        if sku not in skus:
            skus.append(sku)
    if not bins:
        raise InputError(f"{path}: no planogram rows")
    return ShelfModel({b: tuple(s) for b, s in bins.items()}, catalogue, {b: () for b in bins})


def load_store_model(name_or_path: str) -> ShelfModel:
    """Bins, catalogue and adjacency from a store YAML (go_common.core.store)."""
    from go_common.core.store import StoreConfigError, load_store

    try:
        store = load_store(name_or_path)
    except (StoreConfigError, OSError) as error:
        raise InputError(f"store {name_or_path}: {error}") from error
    catalogue = {s: (p.unit_weight_g, p.unit_weight_sd_g) for s, p in store.products.items()}
    bin_skus = {b: store.bin_skus(b) for b in store.bins}
    boxes = {b: (v.shelf_id, v.center, v.size) for b, v in store.bins.items()}
    boards = list(store.boards.values())
    noise = float(np.median([bd.noise_sd_g for bd in boards])) if boards else None
    quant = max((bd.quantisation_g for bd in boards), default=0.0)
    return ShelfModel(bin_skus, catalogue, neighbours_from_boxes(boxes), noise, quant)


def read_readings(
    path: Path, known_bins: set[str], warn: _Warnings
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Rows of the readings CSV -> (stamps (M,) [s], bin ids (M,), grams (M,) [g]) sorted by time.

    Rows with a bad stamp, an unknown bin or a non-numeric reading are skipped (warned); NaN/inf
    readings are kept as dropouts (warned).
    """
    stamps: list[float] = []
    bins: list[str] = []
    grams: list[float] = []
    for line, row in _open_csv(path, READING_COLUMNS):
        where = f"{path}:{line}"
        bin_id = (row.get("bin_id") or "").strip()
        try:
            t = float(row.get("t_s") or "")
        except ValueError:
            warn(f"{where}: t_s {row.get('t_s')!r} is not a number; row skipped")
            continue
        if not math.isfinite(t):
            warn(f"{where}: t_s is {t}; row skipped")
            continue
        if bin_id not in known_bins:
            warn(f"{where}: unknown bin {bin_id!r}; row skipped")
            continue
        try:
            g = float(row.get("grams") or "")
        except ValueError:
            warn(f"{where}: grams {row.get('grams')!r} is not a number; row skipped")
            continue
        if not math.isfinite(g):
            warn(f"{where}: grams is {g} for bin {bin_id}; counted as a dropout")
            g = math.nan
        stamps.append(t)
        bins.append(bin_id)
        grams.append(g)
    t_arr = np.asarray(stamps, dtype=float)
    order = np.argsort(t_arr, kind="stable")
    return t_arr[order], [bins[i] for i in order], np.asarray(grams, dtype=float)[order]


def feed(
    detector: ShelfEventDetector,
    stamps: np.ndarray,
    bins: list[str],
    grams: np.ndarray,
    warn: _Warnings,
    where: str,
    window_s: float = 0.5,
) -> list[ShelfEventCore]:
    """Feed time-sorted rows to the detector: per window of ``window_s``, the stamps that carry
    the same set of bins (one board) go in as one (N, C) batch, which is much cheaper than a call
    per stamp. Duplicate readings of a bin at one stamp: the first is kept (warned)."""
    events: list[ShelfEventCore] = []
    if stamps.size == 0:
        return detector.flush()
    cuts = np.flatnonzero(np.diff(stamps) != 0.0) + 1
    starts, ends = np.r_[0, cuts].astype(int), np.r_[cuts, stamps.size].astype(int)
    progress = tqdm(
        total=int(starts.size),
        desc="stamps",
        unit="",
        file=sys.stderr,
        disable=None if stamps.size > 200_000 else True,
    )
    g = 0
    while g < starts.size:
        t_stop = stamps[starts[g]] + window_s
        batches: dict[tuple[str, ...], tuple[list[float], list[np.ndarray]]] = {}
        while g < starts.size and stamps[starts[g]] < t_stop:
            lo, hi = int(starts[g]), int(ends[g])
            first: dict[str, int] = {}
            for i in range(lo, hi):
                if bins[i] in first:
                    warn(f"{where}: duplicate reading for bin {bins[i]} at t_s={stamps[lo]}")
                else:
                    first[bins[i]] = i
            key = tuple(sorted(first))
            ts, rows = batches.setdefault(key, ([], []))
            ts.append(float(stamps[lo]))
            rows.append(grams[[first[b] for b in key]])
            g += 1
        progress.update(len(batches) and sum(len(v[0]) for v in batches.values()))
        for key, (ts, rows) in sorted(batches.items(), key=lambda kv: (kv[1][0][0], kv[0])):
            events.extend(detector.add_samples(list(key), np.asarray(ts), np.stack(rows)))
    progress.close()
    return events + detector.flush()


def hypothesis_json(h: Hypothesis) -> dict[str, object]:
    """One hypothesis as printed (see the module docstring)."""
    out: dict[str, object] = {
        "sku": h.sku,
        "quantity": h.quantity,
        "probability": round(h.probability, 6),
    }
    if h.is_mixed:
        out["items"] = [{"sku": s, "quantity": q} for s, q in h.items]
    return out


def event_json(ev: ShelfEventCore, hyps: list[Hypothesis]) -> dict[str, object]:
    """One event line."""
    return {
        "event_id": ev.event_id,
        "bin_id": ev.bin_id,
        "bin_ids": list(ev.bin_ids),
        "t_start": round(ev.t_start, 4),
        "t_end": round(ev.t_end, 4),
        "delta_g": round(ev.delta_g, 2),
        "delta_sd_g": round(ev.delta_sd_g, 3),
        "state": ev.state_name,
        "hypotheses": [hypothesis_json(h) for h in hyps],
    }


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gostore shelf-events",
        description="Detect shelf events (settled weight changes) in a CSV of load-cell readings "
        "and rank (SKU, quantity) hypotheses for each. One JSON line per event on stdout.",
    )
    p.add_argument("readings", type=Path, help="CSV with header t_s,bin_id,grams")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--store", help="store YAML or shipped store name (bins, catalogue, adjacency)"
    )
    src.add_argument("--planogram", type=Path, help="CSV bin_id,sku,unit_g,unit_sd_g")
    p.add_argument(
        "--settle-window",
        type=float,
        default=ShelfEventConfig.settle_window_s,
        help="[s] the weight must be still this long (default %(default)s)",
    )
    p.add_argument(
        "--min-event-g",
        type=float,
        default=None,
        help="[g] smallest change reported on any bin (default: 0.4 x the lightest "
        "product the bin may hold, at least 5 g)",
    )
    p.add_argument(
        "--off-planogram-prior",
        type=float,
        default=0.05,
        help="prior mass of catalogue products not planned for the bin, relative to one "
        "planned product (misplaced returns; 0 disables; default %(default)s)",
    )
    p.add_argument("--max-hypotheses", type=int, default=5, help="per event (default %(default)s)")
    p.add_argument("--no-drift", action="store_true", help="do not print drift events")
    p.add_argument("-v", "--verbose", action="store_true", help="log detector diagnostics")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``./gostore shelf-events``."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="shelf-events: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    warn = _Warnings()
    try:
        model = load_store_model(args.store) if args.store else load_planogram_csv(args.planogram)
        config = ShelfEventConfig(
            noise_sd_g=model.noise_sd_g or ShelfEventConfig.noise_sd_g,
            quantisation_g=model.quantisation_g,
            settle_window_s=args.settle_window,
            min_event_g=ShelfEventConfig.min_event_g
            if args.min_event_g is None
            else args.min_event_g,
        )
        stamps, bins, grams = read_readings(args.readings, set(model.bin_skus), warn)
    except (InputError, ValueError) as error:
        print(f"shelf-events: error: {error}", file=sys.stderr)
        return 2
    hyp_cfg = HypothesisConfig(max_hypotheses=max(1, args.max_hypotheses))
    detector = ShelfEventDetector(
        config,
        sorted(model.bin_skus),
        model.neighbours,
        min_event_by_bin(model.bin_skus, model.catalogue) if args.min_event_g is None else None,
    )
    events = feed(detector, stamps, bins, grams, warn, str(args.readings))
    prior = max(0.0, args.off_planogram_prior)
    by_bin = {
        b: candidates_for_bins(skus, model.catalogue, off_planogram_prior=prior)
        for b, skus in model.bin_skus.items()
    }
    for merged in events:
        # two reaches on neighbouring bins at the same moment look like one item across them
        for ev in split_merged_event(merged, by_bin, hyp_cfg):
            if ev.state == STATE_DRIFT:
                if args.no_drift:
                    continue
                hyps: list[Hypothesis] = []
            else:
                skus = [s for b in ev.bin_ids for s in model.bin_skus.get(b, ())]
                owners = None
                if len(ev.bin_ids) > 1 and len(ev.bin_deltas_g) == len(ev.bin_ids):
                    # one item across plates: a taken one belonged to the bin bearing most of it
                    held = [(b, model.bin_skus.get(b, ())) for b in ev.bin_ids]
                    shares = [abs(d) for d in ev.bin_deltas_g]
                    owners = ownership_priors(
                        held, shares, hyp_cfg.share_softness, taken=ev.delta_g < 0.0
                    )
                cands = candidates_for_bins(
                    skus, model.catalogue, off_planogram_prior=prior, priors=owners
                )
                hyps = rank_hypotheses(ev.delta_g, ev.delta_sd_g, cands, hyp_cfg)
            print(json.dumps(event_json(ev, hyps)))
    warn.summary()
    for name, h in sorted(detector.health().items()):
        if h.late_samples:
            print(
                f"shelf-events: warning: bin {name}: {h.late_samples} readings not newer than "
                "the previous one were dropped",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

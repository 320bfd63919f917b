"""Cost of one multi-view fusion step (association + triangulation + tracking) against shoppers.

Synthetic ceiling cameras watch walking people (``go_fusion.bench.synthetic``); every camera
frame is rendered to 2D keypoints before timing, so only ``MultiViewTracker.update`` is timed.
The whole floor is an entry area here so that every person gets a track (the cost of tracking 50
shoppers is what is measured, not the entry procedure).

Run on one core with single-threaded BLAS::

    python -m go_fusion.bench.tracking_bench --cpu 0 --out out/bench/tracking.json

It prints a Markdown table (p50 / p95 / p99 / max wall time and p99 CPU time per step, for each
number of shoppers) and optionally writes the raw figures as JSON.
"""

from __future__ import annotations

import os

# One core means one BLAS thread too; set before numpy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from go_fusion.bench import synthetic  # noqa: E402
from go_fusion.core.multiview import MultiViewConfig, MultiViewTracker  # noqa: E402
from go_fusion.core.tracking import GateArea, GateKind  # noqa: E402
from go_fusion.core.triangulation import FloorBox  # noqa: E402

FLOOR = (20.0, 12.0)
# Gondola footprints (0.5 m x 2.4 m, two rows of six): single-view bodies are checked against
# them (MultiViewTracker fixtures). The synthetic walkers ignore them, so bodies seen by one
# camera inside one are moved out: a dearer step than a store, where nobody stands there.
GONDOLAS = tuple(
    FloorBox(f"g{i}_{j}", (x - 0.25, y - 1.2), (x + 0.25, y + 1.2))
    for i, x in enumerate((3.0, 6.0, 9.0, 12.0, 15.0, 18.0))
    for j, y in enumerate((3.5, 8.5))
)


@dataclass(frozen=True)
class CostRow:
    """Cost figures of one scene size (times in milliseconds per step)."""

    shoppers: int
    cameras: int
    detections_per_step: float
    views_per_person: float
    skeletons_per_step: float
    tracks: int
    first_step_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float
    joint_error_m: float


def run_scene(
    shoppers: int, cameras: int, steps: int, warmup: int, rate_hz: float, seed: int
) -> CostRow:
    """Render ``warmup + steps`` frames of a scene and time every update."""
    rng = np.random.default_rng(seed)
    cams = synthetic.make_cameras(cameras, FLOOR)
    walkers = synthetic.make_walkers(shoppers, rng, FLOOR)
    dt = 1.0 / rate_hz
    # Each shopper's clothing-colour descriptor (two regions of 16 bins), as perception sends it.
    looks = rng.dirichlet(np.full(16, 0.3), size=(shoppers, 2)).reshape(shoppers, 32)
    frames, truths = [], []
    for k in range(warmup + steps):
        synthetic.step_walkers(walkers, dt, rng, FLOOR)
        truth = [w.joints() for w in walkers]
        dets, who = synthetic.render(cams, truth, k * dt, rng)
        frames.append(
            {cam: replace(v, appearance=looks[who[cam]].reshape(-1, 32)) for cam, v in dets.items()}
        )
        truths.append(np.array(truth))
    gates = [GateArea("floor", GateKind.ENTRY, (0.0, 0.0), FLOOR)]
    tracker = MultiViewTracker(MultiViewConfig(), cams, gates, GONDOLAS)
    wall, cpu, n_det, n_skel, errors = [], [], [], [], []
    first_ms = 0.0
    out = None
    for k, frame in enumerate(frames):
        w0, c0 = time.perf_counter(), time.thread_time()
        out = tracker.update(k * dt, frame)
        w1, c1 = time.perf_counter(), time.thread_time()
        if k == 0:
            first_ms = (w1 - w0) * 1e3
        if k < warmup:
            continue
        wall.append((w1 - w0) * 1e3)
        cpu.append((c1 - c0) * 1e3)
        n_det.append(sum(len(v.scores) for v in frame.values()))
        n_skel.append(len(out.skeletons))
        errors.append(_joint_error(out.skeletons, truths[k]))
    assert out is not None
    wall_a = np.array(wall)
    det = float(np.mean(n_det))
    return CostRow(
        shoppers=shoppers,
        cameras=cameras,
        detections_per_step=det,
        views_per_person=det / max(shoppers, 1),
        skeletons_per_step=float(np.mean(n_skel)),
        tracks=len(out.tracks),
        first_step_ms=first_ms,
        p50_ms=float(np.percentile(wall_a, 50)),
        p95_ms=float(np.percentile(wall_a, 95)),
        p99_ms=float(np.percentile(wall_a, 99)),
        max_ms=float(wall_a.max()),
        cpu_p50_ms=float(np.percentile(cpu, 50)),
        cpu_p99_ms=float(np.percentile(cpu, 99)),
        joint_error_m=float(np.nanmedian(errors)) if errors else float("nan"),
    )


def _joint_error(skeletons: tuple, truth: np.ndarray) -> float:
    """Median distance [m] of multi-view joints to the nearest true person's joints."""
    errs = []
    centres = truth.mean(axis=1)
    for s in skeletons:
        if s.single_view or not s.valid.any():
            continue
        c = np.nanmean(s.keypoints, axis=0)
        p = int(np.argmin(np.linalg.norm(centres - c, axis=1)))
        errs.append(np.linalg.norm(s.keypoints[s.valid] - truth[p][s.valid], axis=1))
    return float(np.median(np.concatenate(errs))) if errs else float("nan")


def markdown(rows: list[CostRow]) -> str:
    """The cost curve as a Markdown table."""
    head = (
        "| shoppers | cameras | 2D people/step | skeletons/step | first step ms | p50 ms | "
        "p95 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms | joint error m |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r.shoppers} | {r.cameras} | {r.detections_per_step:.0f} | "
        f"{r.skeletons_per_step:.1f} | {r.first_step_ms:.1f} | {r.p50_ms:.2f} | "
        f"{r.p95_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.2f} | {r.cpu_p50_ms:.2f} | "
        f"{r.cpu_p99_ms:.2f} | "
        f"{r.joint_error_m:.3f} |\n"
        for r in rows
    )
    return head + body


def main(argv: list[str] | None = None) -> int:
    """Run the cost curve; print a Markdown table; optionally write JSON."""
    parser = argparse.ArgumentParser(
        prog="tracking_bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--shoppers",
        type=int,
        nargs="+",
        default=[1, 5, 10, 20, 30, 40, 50, 60, 80, 100],
        help="scene sizes to time (number of people)",
    )
    parser.add_argument("--cameras", type=int, default=16, help="number of cameras")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per scene")
    parser.add_argument("--warmup", type=int, default=15, help="untimed steps first")
    parser.add_argument("--rate", type=float, default=15.0, help="step rate [Hz]")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.shoppers) or args.cameras < 2 or args.steps < 1:
        parser.error("--shoppers >= 1, --cameras >= 2 and --steps >= 1 are required")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    rows = [
        run_scene(n, args.cameras, args.steps, args.warmup, args.rate, args.seed + n)
        for n in tqdm(args.shoppers, desc="scenes", unit="scene")
    ]
    print(markdown(rows))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            "processor": platform.processor(),
            "load_average": os.getloadavg(),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        }
        args.out.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

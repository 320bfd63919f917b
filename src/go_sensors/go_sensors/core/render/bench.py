"""Speed benchmark of the renderer: ms per camera frame for a store and a number of people.

Run: ``python -m go_sensors.core.render.bench [--stores small convenience] [--people 1 5]``.
Single-threaded on purpose (the simulator renders its cameras in one thread); prints a Markdown
table. ``benchmark()`` is the function a suite can call.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from go_common.core.store import load_store
from go_sensors.core.render.poses import (
    random_appearance,
    random_free_point,
    random_pose,
    reach_targets,
    skeleton,
)
from go_sensors.core.render.renderer import Renderer
from go_sensors.core.world import PersonState, WorldState


@dataclass(frozen=True)
class BenchResult:
    """Timings of one (store, people) case. Times in milliseconds, per camera frame."""

    store: str
    people: int
    cameras: int
    width: int
    height: int
    setup_ms_per_camera: float
    mean_ms: float
    p95_ms: float

    @property
    def fps_per_camera_4cams(self) -> float:
        """Frames per second each of 4 cameras gets when one thread renders all four."""
        return 1000.0 / (4.0 * self.mean_ms)


def _worlds(store: object, people: int, frames: int, seed: int) -> list[WorldState]:
    rng = np.random.default_rng(seed)
    cams = list(store.cameras.values())
    walkers = []
    for k in range(people):
        xy = random_free_point(store, rng, cams[k % len(cams)]) or random_free_point(store, rng)
        walkers.append((xy, random_appearance(rng)))
    worlds = []
    for f in range(frames):
        t = f / 15.0
        persons = []
        for k, ((x, y), app) in enumerate(walkers):
            pose = random_pose(
                np.random.default_rng([seed, k, f // 5]),
                x,
                y,
                app.height_m,
                reach_targets(store, x, y),
            )
            persons.append(PersonState(f"p{k}", skeleton(pose), app))
        worlds.append(WorldState(t, tuple(persons)))
    return worlds


def benchmark(
    store_name: str, people: int, frames: int = 60, cameras: int = 4, seed: int = 0
) -> BenchResult:
    """Render ``frames`` frames on each of the first ``cameras`` cameras of a shipped store."""
    store = load_store(store_name)
    cam_ids = sorted(store.cameras)[:cameras]
    renderer = Renderer(store)
    start = time.perf_counter()
    for cid in cam_ids:
        renderer.background(cid, WorldState(0.0, ()))
    setup = (time.perf_counter() - start) / len(cam_ids)
    worlds = _worlds(store, people, frames, seed)
    times = []
    for world in worlds:
        for cid in cam_ids:
            t0 = time.perf_counter()
            renderer.render(cid, world)
            times.append(time.perf_counter() - t0)
    ms = np.array(times[len(cam_ids) :]) * 1000.0  # first frame warms caches
    cam = store.cameras[cam_ids[0]]
    return BenchResult(
        store_name,
        people,
        len(cam_ids),
        cam.width,
        cam.height,
        setup * 1000.0,
        float(ms.mean()),
        float(np.percentile(ms, 95)),
    )


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of renderer timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["small", "convenience"])
    parser.add_argument("--people", nargs="+", type=int, default=[1, 5])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(
        "| store | people | cameras | size | setup ms/camera | mean ms/frame | p95 ms/frame "
        "| fps each of 4 cameras |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for store in args.stores:
        for people in args.people:
            r = benchmark(store, people, args.frames, seed=args.seed)
            print(
                f"| {r.store} | {r.people} | {r.cameras} | {r.width}x{r.height} | "
                f"{r.setup_ms_per_camera:.0f} | {r.mean_ms:.1f} | {r.p95_ms:.1f} | "
                f"{r.fps_per_camera_4cams:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

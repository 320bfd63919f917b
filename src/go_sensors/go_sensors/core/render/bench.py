"""Speed benchmark of the renderer: ms per camera frame for a store and a number of people.

Run: ``python -m go_sensors.core.render.bench [--stores small convenience] [--people 1 5]``.
Single-threaded on purpose (the simulator renders its cameras in one thread); prints a Markdown
table. ``benchmark()`` is the function a suite can call.

With ``--nanodet MODEL.onnx`` it also checks realism: the COCO-pretrained NanoDet-m person
detector of go_perception (imported only then) runs on rendered shoppers (the scenes of
``./gostore pose-dataset``) and its recall of the rendered people is reported.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import cv2
import numpy as np

from go_common.core.store import StoreModel, load_store
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
    cpu_ms: float  # mean CPU time per frame (process time: robust to other load on the machine)

    @property
    def fps_per_camera_4cams(self) -> float:
        """Frames per second each of 4 cameras gets when one thread renders all four (CPU)."""
        return 1000.0 / (4.0 * self.cpu_ms)


def _worlds(store: StoreModel, people: int, frames: int, seed: int) -> list[WorldState]:
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
    times, cpu = [], []
    for world in worlds:
        for cid in cam_ids:
            t0, c0 = time.perf_counter(), time.process_time()
            renderer.render(cid, world)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    ms = np.array(times[len(cam_ids) :]) * 1000.0  # first frame warms caches
    cpu_ms = float(np.mean(cpu[len(cam_ids) :]) * 1000.0)
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
        cpu_ms,
    )


@dataclass(frozen=True)
class DetectorCheck:
    """Recall of a person detector on rendered people (IoU >= 0.5 with the visible box)."""

    store: str
    images: int
    people: int
    found: int
    people_inner: int  # people whose box does not touch the image border
    found_inner: int
    false_alarms: int


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _check_scenes(
    store: StoreModel, images: int, seed: int, scenario: str
) -> list[tuple[str, WorldState]]:
    from go_sensors.cli.pose_dataset import _scene

    cams = sorted(store.cameras)
    if not scenario:
        scenes = []
        for f in range(images):
            rng = np.random.default_rng([seed, f])
            cam = cams[int(rng.integers(len(cams)))]
            stock = np.random.default_rng([seed, f // 25, 1])
            scenes.append((cam, _scene(store, cam, rng, 4, f / 15.0, stock)))
        return scenes
    from go_sensors.core.simulator import Simulator

    sim = Simulator(store, scenario, seed=seed)
    scenes = []
    for k, step in enumerate(sim.run(step_s=1.0)):
        if step.world.people:
            scenes.append((cams[k % len(cams)], step.world))
        if len(scenes) >= images:
            break
    return scenes


def detector_check(
    store_name: str,
    model: str,
    images: int = 60,
    seed: int = 7,
    min_height_px: int = 50,
    scenario: str = "",
) -> DetectorCheck:
    """Run NanoDet on ``images`` rendered scenes; count rendered people it finds.

    A rendered person counts when its visible box is at least ``min_height_px`` tall and at
    least a quarter filled by the person (not mostly hidden). A detection matches one person at
    IoU >= 0.5; unmatched detections are false alarms (some are people below the size limit).
    Scenes are random pose-dataset scenes, or with ``scenario`` frames of the simulator (one
    frame a second, every camera in turn).
    """
    import onnxruntime as ort

    from go_perception.core.detector import NanoDetDetector

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    detector = NanoDetDetector(session)
    store = load_store(store_name)
    renderer = Renderer(store)
    scenes = _check_scenes(store, images, seed, scenario)
    people = found = inner = found_inner = false_alarms = 0
    for cam, world in scenes:
        result = renderer.render_labelled(cam, world)
        h, w = result.image.shape[:2]
        boxes = [d.bbox for d in detector(result.image)]
        used: set[int] = set()
        for label in result.people:
            x, y, bw, bh = label.bbox
            if bh < min_height_px or label.visible_pixels < 0.25 * bw * bh:
                continue
            truth = np.array([x, y, x + bw, y + bh], float)
            border = x <= 0 or y <= 0 or x + bw >= w or y + bh >= h
            scores = [(_iou(truth, b), i) for i, b in enumerate(boxes) if i not in used]
            best = max(scores, default=(0.0, -1))
            hit = best[0] >= 0.5
            if hit:
                used.add(best[1])
            people += 1
            found += hit
            inner += not border
            found_inner += hit and not border
        false_alarms += len(boxes) - len(used)
    return DetectorCheck(store_name, len(scenes), people, found, inner, found_inner, false_alarms)


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of renderer timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["small", "convenience"])
    parser.add_argument("--people", nargs="+", type=int, default=[1, 5])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nanodet", default="", help="NanoDet ONNX model: also check realism")
    parser.add_argument("--images", type=int, default=60, help="images for the realism check")
    parser.add_argument(
        "--scenario", default="", help="realism check on simulator frames of this scenario"
    )
    parser.add_argument("--cv-threads", type=int, default=1, help="OpenCV threads (1: one core)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.cv_threads)
    print(
        "| store | people | cameras | size | setup ms/camera | CPU ms/frame | wall ms/frame "
        "(mean, p95) | fps each of 4 cameras, one thread |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for store in args.stores:
        for people in args.people:
            r = benchmark(store, people, args.frames, seed=args.seed)
            print(
                f"| {r.store} | {r.people} | {r.cameras} | {r.width}x{r.height} | "
                f"{r.setup_ms_per_camera:.0f} | {r.cpu_ms:.1f} | {r.mean_ms:.1f}, {r.p95_ms:.1f} | "
                f"{r.fps_per_camera_4cams:.0f} |"
            )
    if args.nanodet:
        print()
        print(
            "| store | images | rendered people | NanoDet recall | recall, off the border "
            "| false alarms / image |"
        )
        print("|---|---|---|---|---|---|")
        for store in args.stores:
            c = detector_check(store, args.nanodet, args.images, scenario=args.scenario)
            print(
                f"| {c.store} | {c.images} | {c.people} | {c.found / max(c.people, 1):.2f} | "
                f"{c.found_inner / max(c.people_inner, 1):.2f} ({c.people_inner}) | "
                f"{c.false_alarms / c.images:.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

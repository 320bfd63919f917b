"""``./gostore pose-dataset``: rendered people in a store with COCO-17 keypoint labels.

Renders random shoppers (standing, walking, reaching into bins, arms crossed, holding products)
at random free places of a store, or with ``--scenario`` the shoppers of a simulator run, seen
from the store's own calibrated cameras, and writes the images with person boxes and COCO-17
keypoints, to train and test the pose network on the same renderer the simulator uses.

Usage::

    ./gostore pose-dataset --store small --out out/pose_small --frames 2000 --seed 1
    ./gostore pose-dataset --store convenience --out out/pose_sim --frames 2000 \
        --scenario random_busy

Output layout (DIR = --out)::

    DIR/images/<frame:06d>_<camera>.jpg      BGR images at the camera's resolution
    DIR/annotations.json                     COCO "person_keypoints" format (below)

annotations.json is COCO keypoint format, readable by pycocotools and most pose trainers:

- ``images``: ``{id, file_name (relative to DIR), width, height, camera_id, t}``.
- ``annotations``: one per person that shows at least one pixel:
  ``{id, image_id, category_id: 1, person_id, iscrowd: 0,
  keypoints: [u0, v0, vis0, ..., u16, v16, vis16], num_keypoints, bbox: [x, y, w, h], area,
  keypoints_store: [x0, y0, z0, ...]}``.
  Keypoints are in the COCO-17 order (``categories[0].keypoints``). ``u, v`` are pixels in the
  OpenCV convention (the centre of the top-left pixel is (0, 0); add 0.5 for the COCO "corner"
  convention); the lens distortion of the camera is applied, so they are where the joint is in the
  distorted image. ``vis``: 0 = not labelled (outside the image or behind the camera; u = v = 0 as
  in COCO), 1 = inside the image but occluded (by a shelf, another person or the person's own
  body), 2 = visible. ``num_keypoints`` counts vis > 0. ``bbox`` [px] is the box of the person's
  visible pixels (amodal extent is not given) and ``area`` its visible pixel count.
  ``keypoints_store`` are the 3D joints [m] in the store frame (an extension, for lifting).
- ``categories``: ``[{id: 1, name: "person", keypoints: [...17 names], skeleton: [...]}]`` with
  the 1-based COCO limb pairs.
- ``info``: store, seed, cameras, frame count and this generator's name.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from go_common.core.store import StoreConfigError, StoreModel, load_store
from go_sensors.core.render import PersonLabel, Renderer, RenderOptions
from go_sensors.core.render.poses import (
    is_free,
    random_appearance,
    random_free_point,
    random_pose,
    reach_targets,
    skeleton,
)
from go_sensors.core.world import COCO_KEYPOINTS, HeldItem, PersonState, WorldState

LOGGER = logging.getLogger(__name__)

_STOCK_EVERY = 25  # frames between changes of the shelf stock

# COCO's own 19 limb pairs (1-based), as in person_keypoints annotations.
COCO_SKELETON: list[list[int]] = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip


def _scene(
    store: StoreModel,
    camera_id: str,
    rng: np.random.Generator,
    max_people: int,
    t: float,
    stock_rng: np.random.Generator,
    shelf_groups: float = 0.0,
) -> WorldState:
    """A random world: 1..max_people people mostly in view of ``camera_id``, some shelves picked.

    With probability ``shelf_groups`` the first two or three people stand side by side at one
    shelf front, each reaching into a bin within arm's reach (often across a neighbour: the
    crowded shelf of the hard cases, rare among independently placed people).
    """
    camera = store.cameras[camera_id]
    people = []
    skus = sorted(store.products)
    group = _shelf_group(store, rng) if shelf_groups > 0 and rng.random() < shelf_groups else []
    for k in range(max(len(group), int(rng.integers(1, max_people + 1)))):
        if k < len(group):
            xy, kind = group[k], "reach"
        else:
            # Most people in view of the camera; some anywhere (partly visible, far or hidden).
            xy, kind = random_free_point(store, rng, camera if rng.random() < 0.85 else None), None
        if xy is None:
            continue
        app = random_appearance(rng)
        pose = random_pose(rng, xy[0], xy[1], app.height_m, reach_targets(store, *xy), kind)
        held: tuple[HeldItem, ...] = ()
        if skus and rng.random() < 0.25:
            held = (
                HeldItem(skus[int(rng.integers(len(skus)))], str(rng.choice(["left", "right"]))),
            )
        people.append(PersonState(f"person_{k}", skeleton(pose), app, held))
    # Partly emptied shelves; they change every few frames only (a repaint costs a full render).
    contents = {}
    for bin_id, entries in store.planogram.items():
        if entries and stock_rng.random() < 0.3:
            contents[bin_id] = {e.sku: int(stock_rng.integers(0, e.count + 1)) for e in entries}
    return WorldState(t, tuple(people), contents)


def _shelf_group(store: StoreModel, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Floor points of two or three people side by side in front of a random bin [m]."""
    bins = sorted(store.bins)
    if not bins:
        return []
    b = store.bins[bins[int(rng.integers(len(bins)))]]
    normal = np.asarray(b.access_normal, float)[:2]
    normal = normal / max(float(np.linalg.norm(normal)), 1e-9)
    along = np.array([-normal[1], normal[0]])
    centre = np.asarray(b.front_center, float)[:2] + normal * rng.uniform(0.35, 0.55)
    n = int(rng.integers(2, 4))
    offsets = np.cumsum(rng.uniform(0.45, 0.75, n)) - rng.uniform(0.3, 0.6) * n
    points = []
    for offset in offsets:
        x, y = centre + along * offset + normal * rng.normal(0.0, 0.05)
        if is_free(store, float(x), float(y), clearance=0.25):
            points.append((float(x), float(y)))
    return points


def _sim_worlds(
    store: StoreModel, scenario: str, seed: int, every_s: float
) -> Iterator[WorldState]:
    """World states with people from simulator runs of ``scenario`` (seeds seed, seed + 1, ...)."""
    from go_sensors.core.simulator import Simulator  # the simulator only when asked for

    run_seed = seed
    while True:
        found = False
        for step in Simulator(store, scenario, seed=run_seed).run(step_s=every_s):
            if step.world.people:
                found = True
                yield step.world
        if not found:
            raise ValueError(f"scenario '{scenario}' has no people in store '{store.store_id}'")
        run_seed += 1


def _annotation(label: PersonLabel, person: PersonState, ann_id: int, image_id: int) -> dict:
    keypoints: list[float] = []
    for (u, v), vis in zip(label.keypoints_uv, label.visibility, strict=True):
        if vis == 0:
            keypoints += [0.0, 0.0, 0]
        else:
            keypoints += [round(float(u), 2), round(float(v), 2), int(vis)]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "person_id": label.person_id,
        "iscrowd": 0,
        "keypoints": keypoints,
        "num_keypoints": int(np.count_nonzero(label.visibility)),
        "bbox": [int(v) for v in label.bbox],
        "area": int(label.visible_pixels),
        "keypoints_store": [round(float(v), 6) for v in np.asarray(person.keypoints).ravel()],
    }


def generate(
    store: StoreModel,
    out: Path,
    frames: int,
    seed: int,
    *,
    max_people: int = 5,
    cameras: list[str] | None = None,
    jpeg_quality: int = 92,
    progress: bool = True,
    scenario: str = "",
    sim_every_s: float = 0.5,
    shelf_groups: float = 0.0,
) -> dict:
    """Render ``frames`` images into ``out``; returns the COCO dictionary it wrote.

    Scenes are random (``_scene``), or with ``scenario`` the simulator's shoppers every
    ``sim_every_s`` simulated seconds (the simulation restarts with the next seed when it ends),
    each seen from a random camera.
    """
    cam_ids = cameras or sorted(store.cameras)
    unknown = [c for c in cam_ids if c not in store.cameras]
    if unknown:
        raise ValueError(
            f"unknown camera(s) {unknown}; store '{store.store_id}' has {sorted(store.cameras)}"
        )
    (out / "images").mkdir(parents=True, exist_ok=True)
    renderer = Renderer(store, RenderOptions(seed=seed))
    images, annotations = [], []
    sim_worlds = _sim_worlds(store, scenario, seed, sim_every_s) if scenario else None
    for frame in tqdm(range(frames), desc="pose-dataset", unit="img", disable=not progress):
        rng = np.random.default_rng([seed, frame])
        camera_id = cam_ids[int(rng.integers(len(cam_ids)))]
        if sim_worlds is not None:
            world = next(sim_worlds)
        else:
            stock_rng = np.random.default_rng([seed, frame // _STOCK_EVERY, 1])
            world = _scene(store, camera_id, rng, max_people, frame / 15.0, stock_rng, shelf_groups)
        result = renderer.render_labelled(camera_id, world)
        name = f"images/{frame:06d}_{camera_id}.jpg"
        if not cv2.imwrite(str(out / name), result.image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"cannot write {out / name}")
        camera = store.cameras[camera_id]
        images.append(
            {
                "id": frame,
                "file_name": name,
                "width": camera.width,
                "height": camera.height,
                "camera_id": camera_id,
                "t": world.t,
            }
        )
        by_id = {p.person_id: p for p in world.people}
        for label in result.people:
            if label.visible_pixels == 0:
                continue
            annotations.append(
                _annotation(label, by_id[label.person_id], len(annotations) + 1, frame)
            )
    coco = {
        "info": {
            "description": "go pose-dataset: rendered shoppers with COCO-17 keypoints",
            "store": store.store_id,
            "seed": seed,
            "frames": frames,
            "cameras": cam_ids,
            "scenario": scenario or "random poses",
            "shelf_groups": shelf_groups,
            "pixel_convention": "opencv (centre of the top-left pixel is (0, 0))",
        },
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(COCO_KEYPOINTS),
                "skeleton": COCO_SKELETON,
            }
        ],
    }
    (out / "annotations.json").write_text(json.dumps(coco))
    return coco


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``./gostore pose-dataset``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="gostore pose-dataset",
        description="Render random people in a store from its cameras and write images with "
        "COCO-17 keypoint labels (format: see the module docstring of "
        "go_sensors.cli.pose_dataset).",
    )
    parser.add_argument("--store", required=True, help="shipped store name or store YAML path")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--frames", type=int, default=1000, help="images to render (>= 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    parser.add_argument("--max-people", type=int, default=5, help="people per image, 1..N")
    parser.add_argument("--cameras", nargs="+", default=None, help="cameras (default: all)")
    parser.add_argument("--jpeg-quality", type=int, default=92)
    parser.add_argument(
        "--scenario",
        default="",
        help="take the people from simulator runs of this scenario (./gostore sim --list) "
        "instead of random poses",
    )
    parser.add_argument(
        "--sim-every", type=float, default=0.5, help="simulated seconds between frames [s]"
    )
    parser.add_argument(
        "--shelf-groups",
        type=float,
        default=0.0,
        help="share of random scenes with two or three people side by side at a shelf, each "
        "reaching into a bin within arm's reach (0..1)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.frames < 1 or args.max_people < 1:
        parser.error("--frames and --max-people must be >= 1")
    if not 0.0 <= args.shelf_groups <= 1.0:
        parser.error("--shelf-groups must be in 0..1")
    try:
        store = load_store(args.store)
        coco = generate(
            store,
            args.out,
            args.frames,
            args.seed,
            max_people=args.max_people,
            cameras=args.cameras,
            jpeg_quality=args.jpeg_quality,
            scenario=args.scenario,
            sim_every_s=args.sim_every,
            shelf_groups=args.shelf_groups,
        )
    except (StoreConfigError, ValueError, OSError) as error:
        print(f"pose-dataset: {error}", file=sys.stderr)
        return 2
    LOGGER.info(
        "wrote %d images and %d person annotations to %s",
        len(coco["images"]),
        len(coco["annotations"]),
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Camera renderer of the simulated store: static background once, people per frame.

Per camera the static store (floor, walls, gondolas, shelves, labels) is ray-cast once into a
colour image and a depth map; product facings are painted over it from the live bin contents and
repainted only in the image region of a bin whose contents changed. Each frame copies that
background, draws the people into a z-buffered layer (``people.draw_people``), keeps the person
pixels that are nearer than the background, and adds mild camera realism (blur, sensor noise).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from go_common.core.store import StoreModel
from go_sensors.core.render.geometry import Box, CameraGeometry, box_rects
from go_sensors.core.render.people import PeopleLayers, body_points, draw_people, draw_shadows
from go_sensors.core.render.scene import facing_boxes, paint_boxes, static_boxes
from go_sensors.core.render.textures import TextureAtlas
from go_sensors.core.world import WorldState

LOGGER = logging.getLogger(__name__)

_MISS_BGR = np.array([40, 40, 40], np.uint8)
# A keypoint is visible when nothing in the image is nearer than its own depth minus this [m]
# (for a 1.75 m person of girth 1): each keypoint lies inside a body part whose front surface is
# up to about this much nearer (face features sit on the head's surface, hips inside the torso).
VISIBILITY_TOLERANCE_M = np.array(
    [0.06, 0.06, 0.06, 0.06, 0.06, 0.16, 0.16, 0.1, 0.1, 0.1, 0.1, 0.22, 0.22, 0.12, 0.12, 0.09,
     0.09]
)  # fmt: skip
# Noise images per camera; each frame adds one of them at a random offset (drawing fresh noise
# for 640 x 480 x 3 pixels would cost more than the rest of the frame).
_NOISE_BANKS = 4


@dataclass(frozen=True)
class RenderOptions:
    """Realism knobs of the renderer (all effects are seeded and deterministic).

    noise_sigma: sensor noise standard deviation [grey levels]; blur_sigma: optical blur [px]
    (0 = off); vignette: brightness lost at the image corners (0..1); seed: RNG seed of the noise
    and of each camera's exposure.
    """

    noise_sigma: float = 2.5
    blur_sigma: float = 0.7
    vignette: float = 0.22
    seed: int = 0


@dataclass(frozen=True)
class PersonLabel:
    """Where a person appears in one rendered image.

    keypoints_uv: (17, 2) float64 [px] COCO-17 projections (OpenCV pixel convention, centre of
    the top-left pixel at (0, 0)); visibility: (17,) uint8 COCO flags, 0 = not in the image
    (outside or behind the camera), 1 = in the image but occluded, 2 = visible; bbox: (x, y, w, h)
    [px] of the person's visible pixels; visible_pixels: count of them.
    """

    person_id: str
    keypoints_uv: np.ndarray
    visibility: np.ndarray
    bbox: tuple[int, int, int, int]
    visible_pixels: int


@dataclass(frozen=True)
class RenderResult:
    """An image (H, W, 3) uint8 BGR and the labels of the people drawn in it."""

    image: np.ndarray
    people: tuple[PersonLabel, ...]


class _CameraView:
    """Per-camera state: geometry, static layers and the facings currently painted."""

    def __init__(
        self,
        geom: CameraGeometry,
        boxes: list[Box],
        atlas: TextureAtlas,
        vignette: np.ndarray,
        exposure: float,
    ) -> None:
        self.geom = geom
        self.vignette = vignette * exposure
        h, w = geom.height, geom.width
        self.static_rgb = np.empty((h, w, 3), np.uint8)
        self.static_rgb[:] = _MISS_BGR
        self.static_depth = np.full((h, w), np.inf, np.float32)
        rects = box_rects(geom, np.array([b.lo for b in boxes]), np.array([b.hi for b in boxes]))
        paint_boxes(
            geom,
            boxes,
            rects,
            (0, 0, w, h),
            atlas,
            self.static_rgb,
            self.static_depth,
            self.vignette,
        )
        ray_z = geom.rays_store[..., 2]
        with np.errstate(divide="ignore"):
            # Depth of the floor plane z = 0 along each pixel's ray (for contact shadows).
            self.floor_depth = np.where(ray_z < 0, -geom.origin[2] / ray_z, np.inf).astype(
                np.float32
            )
        self.bg_rgb = self.static_rgb.copy()
        self.bg_depth = self.static_depth.copy()
        self.bin_rect: dict[str, tuple[int, int, int, int] | None] = {}
        self.painted: dict[str, tuple] = {}  # bin id -> contents key painted into bg
        # (bin id, contents key) -> pixel rectangles of its facing boxes in this camera
        self.facing_rects: dict[tuple[str, tuple], list] = {}


class Renderer:
    """Renders any camera of a store for a world state.

    ``store`` is a ``go_common.core.store.StoreModel``. Construction precomputes every camera's
    static background (about a second per camera for a real-size store); ``render`` then costs a
    few milliseconds per frame.
    """

    def __init__(self, store: StoreModel, options: RenderOptions | None = None) -> None:
        self.store = store
        self.options = options or RenderOptions()
        self.atlas = TextureAtlas(store.products)
        top = max((float(c.T_store_optical[2, 3]) for c in store.cameras.values()), default=3.0)
        self._static_boxes = static_boxes(store, top)
        self._facings: dict[tuple[str, tuple], list[Box]] = {}
        self._views: dict[str, _CameraView] = {}
        self._noise: dict[tuple[int, int], np.ndarray] = {}
        self._camera_index = {cid: i for i, cid in enumerate(sorted(store.cameras))}

    @property
    def camera_ids(self) -> tuple[str, ...]:
        """Cameras of the store, sorted."""
        return tuple(sorted(self.store.cameras))

    def geometry(self, camera_id: str) -> CameraGeometry:
        """The precomputed geometry of ``camera_id``."""
        return self._view(camera_id).geom

    def render(self, camera_id: str, world: WorldState) -> np.ndarray:
        """(H, W, 3) uint8 BGR image of ``camera_id`` at ``world``; KeyError for unknown cameras."""
        return self._render(camera_id, world, with_labels=False).image

    def render_labelled(self, camera_id: str, world: WorldState) -> RenderResult:
        """The image and, per person in view, COCO-17 keypoint pixels with visibility and bbox."""
        return self._render(camera_id, world, with_labels=True)

    def background(self, camera_id: str, world: WorldState) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free background (H, W, 3) uint8 and its depth (H, W) float32 [m] for ``world``."""
        view = self._view(camera_id)
        self._update_facings(view, world.bin_contents)
        return view.bg_rgb, view.bg_depth

    # ------------------------------------------------------------------------------------------

    def _view(self, camera_id: str) -> _CameraView:
        view = self._views.get(camera_id)
        if view is None:
            if camera_id not in self.store.cameras:
                raise KeyError(
                    f"unknown camera '{camera_id}' (store {self.store.store_id} has "
                    f"{', '.join(self.camera_ids)})"
                )
            geom = CameraGeometry.from_camera(self.store.cameras[camera_id])
            rng = np.random.default_rng([self.options.seed, self._camera_index[camera_id], 7])
            exposure = float(rng.uniform(0.92, 1.06))
            for bank in range(_NOISE_BANKS):
                self._noise_tile(self._camera_index[camera_id], bank, (geom.height, geom.width))
            view = _CameraView(geom, self._static_boxes, self.atlas, self._vignette(geom), exposure)
            self._views[camera_id] = view
        return view

    def _vignette(self, geom: CameraGeometry) -> np.ndarray:
        h, w = geom.height, geom.width
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - geom.K[0, 2]) / (w / 2)) ** 2 + ((yy - geom.K[1, 2]) / (h / 2)) ** 2
        return (1.0 - self.options.vignette * np.clip(r2 / 2.0, 0.0, 1.0)).astype(np.float32)

    def _contents(self, bin_contents: Mapping[str, Mapping[str, int]], bin_id: str) -> tuple:
        if bin_id in bin_contents:
            items = bin_contents[bin_id].items()
        else:
            items = ((e.sku, e.count) for e in self.store.planogram.get(bin_id, ()))
        return tuple(sorted((sku, int(n)) for sku, n in items if int(n) > 0))

    def _facing_boxes(self, bin_id: str, key: tuple) -> list[Box]:
        boxes = self._facings.get((bin_id, key))
        if boxes is None:
            contents = dict(key)
            boxes = facing_boxes(
                self.store.bins[bin_id],
                contents,
                self.store.products,
                self.atlas,
                self.store.facing_lanes(bin_id, present=contents),
            )
            if len(self._facings) > 20000:
                self._facings.clear()
            self._facings[(bin_id, key)] = boxes
        return boxes

    def _update_facings(
        self, view: _CameraView, bin_contents: Mapping[str, Mapping[str, int]]
    ) -> None:
        if not view.bin_rect:
            bins = list(self.store.bins.values())
            rects = box_rects(
                view.geom,
                np.array([b.min_corner for b in bins]),
                np.array([b.max_corner for b in bins]),
            )
            view.bin_rect = {b.bin_id: r for b, r in zip(bins, rects, strict=True)}
        changed = []
        for bin_id in self.store.bins:
            key = self._contents(bin_contents, bin_id)
            if view.painted.get(bin_id) != key:
                changed.append((bin_id, key))
        if not changed:
            return
        rects = [view.bin_rect[b] for b, _ in changed if view.bin_rect[b] is not None]
        for bin_id, key in changed:
            view.painted[bin_id] = key
        if not rects:
            return
        # Many changes at once (the first frame, a restock): one full repaint is cheaper.
        full = [(0, 0, view.geom.width, view.geom.height)]
        regions = full if len(changed) > 16 else rects
        for region in regions:
            self._repaint(view, region)

    def _repaint(self, view: _CameraView, region: tuple[int, int, int, int]) -> None:
        """Reset ``region`` to the static layers and paint every bin that overlaps it."""
        x0, y0, x1, y1 = region
        view.bg_rgb[y0:y1, x0:x1] = view.static_rgb[y0:y1, x0:x1]
        view.bg_depth[y0:y1, x0:x1] = view.static_depth[y0:y1, x0:x1]
        boxes: list[Box] = []
        rects: list[tuple[int, int, int, int] | None] = []
        for bin_id, key in view.painted.items():
            rect = view.bin_rect.get(bin_id)
            if rect is None or rect[0] >= x1 or rect[2] <= x0 or rect[1] >= y1 or rect[3] <= y0:
                continue
            bin_boxes = self._facing_boxes(bin_id, key)
            bin_rects = view.facing_rects.get((bin_id, key))
            if bin_rects is None:
                bin_rects = box_rects(
                    view.geom,
                    np.array([b.lo for b in bin_boxes]).reshape(-1, 3),
                    np.array([b.hi for b in bin_boxes]).reshape(-1, 3),
                )
                if len(view.facing_rects) > 5000:
                    view.facing_rects.clear()
                view.facing_rects[(bin_id, key)] = bin_rects
            boxes.extend(bin_boxes)
            rects.extend(bin_rects)
        if boxes:
            paint_boxes(
                view.geom,
                boxes,
                rects,
                region,
                self.atlas,
                view.bg_rgb,
                view.bg_depth,
                view.vignette,
            )

    def _noise_tile(self, camera_index: int, bank: int, shape: tuple[int, int]) -> np.ndarray:
        tile = self._noise.get((camera_index, bank))
        if tile is None:
            rng = np.random.default_rng([self.options.seed, camera_index, bank, 11])
            tile = rng.normal(0.0, self.options.noise_sigma, (shape[0] + 16, shape[1] + 16, 3))
            tile = np.clip(np.round(tile), -127, 127).astype(np.int16)
            self._noise[(camera_index, bank)] = tile
        return tile

    def _render(self, camera_id: str, world: WorldState, *, with_labels: bool) -> RenderResult:
        view = self._view(camera_id)
        geom = view.geom
        self._update_facings(view, world.bin_contents)
        image = view.bg_rgb.copy()
        draw_shadows(geom, world.people, image, view.bg_depth, view.floor_depth)
        layers = draw_people(geom, world.people, self.atlas, with_ids=with_labels)
        visible = None
        if layers is not None:
            x0, y0, x1, y1 = layers.roi
            visible = layers.depth < view.bg_depth[y0:y1, x0:x1]
            np.copyto(image[y0:y1, x0:x1], layers.color, where=visible[..., None])
        labels = self._labels(view, world, layers, visible) if with_labels else ()
        self._camera_effects(image, camera_id, world.t)
        return RenderResult(image, labels)

    def _camera_effects(self, image: np.ndarray, camera_id: str, t: float) -> None:
        """Blur and sensor noise in place; the noise pattern depends on (seed, camera, t) only."""
        opts = self.options
        if opts.blur_sigma > 0:
            cv2.GaussianBlur(image, (3, 3), opts.blur_sigma, dst=image)
        if opts.noise_sigma > 0:
            cam = self._camera_index[camera_id]
            stamp = round(t * 1000.0) & 0xFFFFFFFF
            pick = zlib.crc32(f"{opts.seed}:{cam}:{stamp}".encode())
            tile = self._noise_tile(cam, pick % _NOISE_BANKS, image.shape[:2])
            dy, dx = (pick >> 8) % 16, (pick >> 16) % 16
            noise = tile[dy : dy + image.shape[0], dx : dx + image.shape[1]]
            cv2.add(image, noise, dst=image, dtype=cv2.CV_8U)

    def _labels(
        self,
        view: _CameraView,
        world: WorldState,
        layers: PeopleLayers | None,
        visible: np.ndarray | None,
    ) -> tuple[PersonLabel, ...]:
        geom = view.geom
        out = []
        for i, person in enumerate(world.people):
            uv, depth, valid = geom.project(body_points(person)[:17])
            inside = valid & (uv[:, 0] >= 0) & (uv[:, 0] <= geom.width - 1)
            inside &= (uv[:, 1] >= 0) & (uv[:, 1] <= geom.height - 1)
            vis = np.where(inside, 1, 0).astype(np.uint8)
            size = float(person.appearance.height_m) / 1.75
            tolerance = VISIBILITY_TOLERANCE_M * size * max(1.0, float(person.appearance.girth))
            bbox, count = (0, 0, 0, 0), 0
            roi = layers.roi if layers is not None else (0, 0, 0, 0)
            if layers is not None and layers.ids is not None and visible is not None:
                mine = (layers.ids == i + 1) & visible
                count = int(mine.sum())
                if count:
                    ys, xs = np.nonzero(mine)
                    bx, by = int(xs.min()) + roi[0], int(ys.min()) + roi[1]
                    bbox = (
                        bx,
                        by,
                        int(xs.max()) + roi[0] - bx + 1,
                        int(ys.max()) + roi[1] - by + 1,
                    )
            for k in np.flatnonzero(inside):
                u = round(uv[k, 0])
                v = round(uv[k, 1])
                nearest = float(view.bg_depth[v, u])
                if layers is not None and roi[0] <= u < roi[2] and roi[1] <= v < roi[3]:
                    nearest = min(nearest, float(layers.depth[v - roi[1], u - roi[0]]))
                if nearest >= depth[k] - tolerance[k]:
                    vis[k] = 2
            if count == 0 and not inside.any():
                continue
            out.append(PersonLabel(person.person_id, uv, vis, bbox, count))
        return tuple(out)

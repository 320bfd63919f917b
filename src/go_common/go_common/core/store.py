"""The store model: layout, catalogue, planogram, cameras, gates and scale boards of one store.

Pure (numpy + PyYAML). A store is described by one YAML file, the same file a store integrator
writes for a real store; ``load_store`` reads and validates it and every error names the file and
the field (``small.yaml: bins[12].sku 'X' is not in the catalogue``).

Frames: everything is in the ``store`` frame (REP 103: origin at a floor corner, x and y on the
floor, z up; metres). Bins, shelves and gondolas are axis-aligned boxes in that frame. Cameras
follow the ROS CameraInfo convention (K, plumb_bob D, optical frame z forward, x right, y down).

YAML schema (see ``stores/small.yaml`` for a complete example)::

    store_id: small            frame_id: store      currency: SEK      floor_size: [x, y]
    gondolas: [{id, center: [x, y, z], size: [sx, sy, sz], double_sided: bool}]
    shelves:  [{id, gondola, side: +x|-x|+y|-y, z, clearance}]
    products: [{sku, name, price, weight_g, weight_sd_g, dims_m: [a, b, c], barcode, image, color}]
    bins:     [{id, shelf, center: [x, y, z], size: [sx, sy, sz], sku, count}]
                (or stock: {sku: count, ...} instead of sku and count for a mixed bin; its
                products stand in lanes across the bin in the order listed, from the left as
                a shopper facing the bin sees it: ``StoreModel.facing_lanes``)
    boards:   [{id, rate_hz, noise_sd_g, quantisation_g, channels: [bin ids]}]
    cameras:  [{id, width, height, fx, fy, cx, cy, dist: [k1, k2, p1, p2, k3], rate_hz,
                position: [x, y, z], look_at: [x, y, z]}]
    gates:    [{id, kind: entry|exit, min_xy: [x, y], max_xy: [x, y]}]
    sim:      {measured_weight_g: {sku: grams},      # simulator only: what the shelf really weighs
               shared_load: {bin: [neighbour bin, fraction]}}  # goods resting on 2 plates
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

LOGGER = logging.getLogger(__name__)

STORES_DIR = Path(__file__).resolve().parents[1] / "stores"
IMAGES_DIR = STORES_DIR / "images"

# Geometric tolerance when checking that a bin sits inside its shelf [m].
_TOL_M = 0.005

_SIDE_NORMALS: dict[str, tuple[float, float, float]] = {
    "+x": (1.0, 0.0, 0.0),
    "-x": (-1.0, 0.0, 0.0),
    "+y": (0.0, 1.0, 0.0),
    "-y": (0.0, -1.0, 0.0),
}


class StoreConfigError(ValueError):
    """A store configuration is invalid; the message names the file and the field."""


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Gondola:
    """A shelving unit: an axis-aligned box. center, size: (3,) [m], store frame."""

    gondola_id: str
    center: np.ndarray
    size: np.ndarray
    double_sided: bool = False

    @property
    def min_corner(self) -> np.ndarray:
        """(3,) [m] lowest corner."""
        return self.center - self.size / 2.0

    @property
    def max_corner(self) -> np.ndarray:
        """(3,) [m] highest corner."""
        return self.center + self.size / 2.0


@dataclass(frozen=True, eq=False)
class Shelf:
    """One shelf board of a gondola, facing one aisle.

    z: height of the shelf surface [m]. min_xy, max_xy: (2,) [m] footprint on the floor.
    access_normal: (3,) unit vector pointing from the shelf into the aisle. clearance: free height
    above the surface [m] (up to the next shelf or the gondola top).
    """

    shelf_id: str
    gondola_id: str
    z: float
    min_xy: np.ndarray
    max_xy: np.ndarray
    access_normal: np.ndarray
    clearance: float


@dataclass(frozen=True, eq=False)
class Bin:
    """A shelf bin: an axis-aligned box over one load-cell channel.

    center, size: (3,) [m] store frame. access_normal: (3,) unit vector pointing into the aisle.
    """

    bin_id: str
    shelf_id: str
    gondola_id: str
    center: np.ndarray
    size: np.ndarray
    access_normal: np.ndarray
    board_id: str
    channel: int

    @property
    def min_corner(self) -> np.ndarray:
        """(3,) [m] lowest corner."""
        return self.center - self.size / 2.0

    @property
    def max_corner(self) -> np.ndarray:
        """(3,) [m] highest corner."""
        return self.center + self.size / 2.0

    @property
    def front_center(self) -> np.ndarray:
        """(3,) [m] centre of the bin's open face on the aisle side."""
        return self.center + self.access_normal * (np.abs(self.access_normal) @ self.size) / 2.0

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N,) bool: points (N, 3) [m] inside the box grown by ``margin`` [m]."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        lo = self.min_corner - margin
        hi = self.max_corner + margin
        return np.all((pts >= lo) & (pts <= hi), axis=1)


@dataclass(frozen=True, eq=False)
class Product:
    """A catalogue product.

    price: [currency units]. unit_weight_g, unit_weight_sd_g: [g] catalogue unit weight mean and
    standard deviation. dims_m: (3,) [m] width, depth, height of one unit as it stands on the
    shelf. image: catalogue photograph or None. color_rgb: dominant package colour (for renderers
    without an image).
    """

    sku: str
    name: str
    price: float
    unit_weight_g: float
    unit_weight_sd_g: float
    dims_m: np.ndarray
    image: Path | None
    barcode: str
    color_rgb: tuple[int, int, int] = (200, 200, 200)


@dataclass(frozen=True, eq=False)
class FacingLane:
    """Where one product's units stand in a bin: a slice of the bin across its width.

    lo, hi: (3,) [m] corners of the slice (the bin's full depth and height).
    """

    sku: str
    lo: np.ndarray
    hi: np.ndarray


@dataclass(frozen=True)
class PlanogramEntry:
    """``count`` units of ``sku`` in a bin at the start of the day."""

    sku: str
    count: int


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera.

    K: (3, 3) intrinsics [px]. dist: (5,) plumb_bob k1, k2, p1, p2, k3. T_store_optical: (4, 4)
    pose of the optical frame (z forward, x right, y down) in the store frame [m].
    """

    camera_id: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray
    rate_hz: float
    T_store_optical: np.ndarray

    @property
    def frame_id(self) -> str:
        """The optical frame name used in /tf_static and image headers."""
        return f"{self.camera_id}_optical"

    @property
    def position(self) -> np.ndarray:
        """(3,) [m] optical centre in the store frame."""
        return self.T_store_optical[:3, 3]

    def to_optical(self, points_store: np.ndarray) -> np.ndarray:
        """Points (N, 3) store frame -> (N, 3) optical frame [m]."""
        pts = np.atleast_2d(np.asarray(points_store, dtype=np.float64))
        rot = self.T_store_optical[:3, :3]
        return (pts - self.T_store_optical[:3, 3]) @ rot

    def project(self, points_store: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project points (N, 3) [m, store frame] to pixels.

        Returns uv (N, 2) [px] (with plumb_bob distortion) and depth (N,) [m] along the optical
        axis; points behind the camera get depth <= 0 and meaningless uv.
        """
        pc = self.to_optical(points_store)
        depth = pc[:, 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        x = pc[:, 0] / safe
        y = pc[:, 1] / safe
        k1, k2, p1, p2, k3 = self.dist
        if np.any(self.dist != 0.0):
            r2 = x * x + y * y
            radial = 1.0 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
            xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
            yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
            x, y = xd, yd
        u = self.K[0, 0] * x + self.K[0, 1] * y + self.K[0, 2]
        v = self.K[1, 1] * y + self.K[1, 2]
        return np.stack([u, v], axis=1), depth

    def in_view(self, points_store: np.ndarray, min_depth: float = 0.1) -> np.ndarray:
        """(N,) bool: the points project inside the image and in front of the camera."""
        uv, depth = self.project(points_store)
        return (
            (depth > min_depth)
            & (uv[:, 0] >= 0.0)
            & (uv[:, 0] < self.width)
            & (uv[:, 1] >= 0.0)
            & (uv[:, 1] < self.height)
        )


@dataclass(frozen=True)
class Gate:
    """An entry or exit area on the floor. min_xy, max_xy: (2,) [m]."""

    gate_id: str
    kind: str  # "entry" | "exit"
    min_xy: tuple[float, float]
    max_xy: tuple[float, float]

    @property
    def center_xy(self) -> tuple[float, float]:
        """[m] centre of the gate area."""
        return (
            (self.min_xy[0] + self.max_xy[0]) / 2.0,
            (self.min_xy[1] + self.max_xy[1]) / 2.0,
        )

    def contains_xy(self, x: float, y: float) -> bool:
        """Whether the floor point (x, y) [m] is inside the gate area."""
        return self.min_xy[0] <= x <= self.max_xy[0] and self.min_xy[1] <= y <= self.max_xy[1]


@dataclass(frozen=True)
class ScaleBoard:
    """A load-cell board: one channel per bin, sampled together.

    rate_hz: sample rate. channels: bin ids in channel order. noise_sd_g: median sample-to-sample
    noise of its channels [g]. quantisation_g: resolution of one count [g].
    """

    board_id: str
    rate_hz: float
    channels: tuple[str, ...]
    noise_sd_g: float = 0.5
    quantisation_g: float = 0.1


@dataclass(frozen=True, eq=False)
class StoreModel:
    """A validated store. See the module docstring for the frames and the YAML schema.

    floor_size: [m] x, y extent of the floor from the store origin.
    sim_measured_weight_g: simulator only. What one unit really weighs on the shelf when it
    differs from the catalogue (catalogue weights are often off by 5-20 %); empty for real stores.
    sim_shared_load: simulator only. bin -> (adjacent bin, fraction): that fraction of the bin's
    goods rests on the neighbour's plate, as wide packs do on real shelves.
    """

    store_id: str
    frame_id: str
    currency: str
    floor_size: tuple[float, float]
    gondolas: dict[str, Gondola]
    shelves: dict[str, Shelf]
    bins: dict[str, Bin]
    products: dict[str, Product]
    planogram: dict[str, tuple[PlanogramEntry, ...]]
    cameras: dict[str, Camera]
    gates: dict[str, Gate]
    boards: dict[str, ScaleBoard]
    source: Path | None = None
    ceiling_height: float = 3.0
    sim_measured_weight_g: dict[str, float] = field(default_factory=dict)
    sim_shared_load: dict[str, tuple[str, float]] = field(default_factory=dict)

    def bin_skus(self, bin_id: str) -> tuple[str, ...]:
        """SKUs the planogram puts in ``bin_id``."""
        return tuple(entry.sku for entry in self.planogram.get(bin_id, ()))

    def facing_lanes(self, bin_id: str, present: Iterable[str] = ()) -> tuple[FacingLane, ...]:
        """The bin's lanes: equal slices across its width, one per product, from the left as a
        shopper facing the bin sees it.

        The planogram's products come first, in the order the store file lists them (a lane
        stays in place when its product runs out), then any other product in ``present`` (stock
        put back in the wrong bin), sorted. A bin with one product is one lane: the whole bin.
        """
        b = self.bins[bin_id]
        skus = list(self.bin_skus(bin_id))
        skus += sorted(set(present) - set(skus))
        if not skus:
            return ()
        normal = np.asarray(b.access_normal, dtype=np.float64)
        left = np.cross(normal, np.array([0.0, 0.0, 1.0]))  # the shopper's left, facing the bin
        axis = int(np.argmax(np.abs(left)))
        lo_all, hi_all = b.min_corner, b.max_corner
        width = (hi_all[axis] - lo_all[axis]) / len(skus)
        lanes = []
        for k, sku in enumerate(skus):
            lo, hi = lo_all.copy(), hi_all.copy()
            if left[axis] < 0:  # left is towards the low coordinate
                lo[axis] = lo_all[axis] + k * width
                hi[axis] = lo[axis] + width
            else:
                hi[axis] = hi_all[axis] - k * width
                lo[axis] = hi[axis] - width
            lanes.append(FacingLane(sku, _frozen(lo), _frozen(hi)))
        return tuple(lanes)

    def bins_of_sku(self, sku: str) -> tuple[str, ...]:
        """Bins whose planogram holds ``sku``, sorted."""
        return tuple(
            sorted(b for b, ents in self.planogram.items() if any(e.sku == sku for e in ents))
        )

    def gates_of_kind(self, kind: str) -> tuple[Gate, ...]:
        """Gates of kind ``"entry"`` or ``"exit"`` in id order."""
        return tuple(g for _, g in sorted(self.gates.items()) if g.kind == kind)

    def bin_at(self, point: np.ndarray, margin: float = 0.0) -> str | None:
        """Id of the bin containing the point (3,) [m] (grown by ``margin``), or None."""
        for bin_id, b in self.bins.items():
            if bool(b.contains(point, margin)[0]):
                return bin_id
        return None


# --------------------------------------------------------------------------------------------
# Loading and validation


class _Ctx:
    """Error context: the file name, so every message names the file and the field."""

    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, fld: str, message: str) -> StoreConfigError:
        return StoreConfigError(f"{self.name}: {fld} {message}")

    def get(self, data: Mapping[str, Any], key: str, fld: str, *, default: Any = ...) -> Any:
        if key not in data or data[key] is None:
            if default is ...:
                raise self.error(f"{fld}.{key}" if fld else key, "is missing")
            return default
        return data[key]

    def string(self, data: Mapping[str, Any], key: str, fld: str, default: Any = ...) -> str:
        value = self.get(data, key, fld, default=default)
        name = f"{fld}.{key}" if fld else key
        if not isinstance(value, str) or not value:
            raise self.error(name, f"must be a non-empty string, got {value!r}")
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        fld: str,
        default: Any = ...,
        *,
        positive: bool = False,
        non_negative: bool = False,
    ) -> float:
        value = self.get(data, key, fld, default=default)
        name = f"{fld}.{key}" if fld else key
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise self.error(name, f"must be finite, got {value!r}")
        if positive and value <= 0.0:
            raise self.error(name, f"must be positive, got {value!r}")
        if non_negative and value < 0.0:
            raise self.error(name, f"must not be negative, got {value!r}")
        return value

    def vector(
        self, data: Mapping[str, Any], key: str, fld: str, length: int, default: Any = ...
    ) -> np.ndarray:
        value = self.get(data, key, fld, default=default)
        name = f"{fld}.{key}" if fld else key
        if (
            not isinstance(value, list | tuple)
            or len(value) != length
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise self.error(name, f"must be a list of {length} numbers, got {value!r}")
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            raise self.error(name, f"must be finite, got {value!r}")
        return array

    def items(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = self.get(data, key, "", default=[])
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", f"must be a mapping, got {item!r}")
        return value


def list_stores() -> list[str]:
    """Names of the stores shipped with go_common (``load_store`` accepts them)."""
    return sorted(p.stem for p in STORES_DIR.glob("*.yaml"))


def resolve_store_path(path_or_name: str | Path) -> Path:
    """A store name (``"small"``) or a YAML path -> the YAML path; StoreConfigError if unknown."""
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise StoreConfigError(f"{path}: store file not found")
        return path
    shipped = STORES_DIR / f"{path_or_name}.yaml"
    if shipped.is_file():
        return shipped
    raise StoreConfigError(
        f"{path_or_name}: unknown store (known: {', '.join(list_stores())}; or give a YAML path)"
    )


def load_store(path_or_name: str | Path) -> StoreModel:
    """Load and validate a store from its YAML file or a shipped store name.

    Raises StoreConfigError naming the file and field for any invalid or inconsistent entry.
    """
    path = resolve_store_path(path_or_name)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise StoreConfigError(f"{path.name}: not valid YAML: {error}") from error
    return store_from_dict(data, name=path.name, base_dir=path.parent)


def store_from_dict(data: Any, name: str = "<dict>", base_dir: Path | None = None) -> StoreModel:
    """Build and validate a StoreModel from parsed YAML; ``name`` is used in error messages."""
    ctx = _Ctx(name)
    if not isinstance(data, dict):
        raise ctx.error("(top level)", f"must be a mapping, got {type(data).__name__}")
    store_id = ctx.string(data, "store_id", "")
    frame_id = ctx.string(data, "frame_id", "", default="store")
    currency = ctx.string(data, "currency", "", default="SEK")
    floor = ctx.vector(data, "floor_size", "", 2)
    if np.any(floor <= 0):
        raise ctx.error("floor_size", f"must be positive, got {floor.tolist()}")
    ceiling = ctx.number(data, "ceiling_height", "", default=3.0, positive=True)

    gondolas = _load_gondolas(ctx, data, floor, ceiling)
    shelves = _load_shelves(ctx, data, gondolas)
    products = _load_products(ctx, data, base_dir or STORES_DIR)
    boards, channel_of = _load_boards(ctx, data)
    bins, planogram = _load_bins(ctx, data, shelves, products, channel_of)
    for board in boards.values():
        for c, bin_id in enumerate(board.channels):
            if bin_id not in bins:
                raise ctx.error(
                    f"boards[{board.board_id}].channels[{c}]", f"'{bin_id}' is not a bin id"
                )
    cameras = _load_cameras(ctx, data, floor, gondolas)
    gates = _load_gates(ctx, data, floor)
    sim = _load_sim(ctx, data, products)
    shared = _load_shared(ctx, data, bins)
    return StoreModel(
        store_id=store_id,
        frame_id=frame_id,
        currency=currency,
        floor_size=(float(floor[0]), float(floor[1])),
        gondolas=gondolas,
        shelves=shelves,
        bins=bins,
        products=products,
        planogram=planogram,
        cameras=cameras,
        gates=gates,
        boards=boards,
        source=(base_dir / name) if base_dir else None,
        ceiling_height=ceiling,
        sim_measured_weight_g=sim,
        sim_shared_load=shared,
    )


def _unique_id(ctx: _Ctx, seen: set[str], item: Mapping[str, Any], fld: str, key: str) -> str:
    ident = ctx.string(item, key, fld)
    if ident in seen:
        raise ctx.error(f"{fld}.{key}", f"duplicate id '{ident}'")
    seen.add(ident)
    return ident


def _load_gondolas(
    ctx: _Ctx, data: Mapping[str, Any], floor: np.ndarray, ceiling: float
) -> dict[str, Gondola]:
    out: dict[str, Gondola] = {}
    seen: set[str] = set()
    for i, item in enumerate(ctx.items(data, "gondolas")):
        fld = f"gondolas[{i}]"
        gid = _unique_id(ctx, seen, item, fld, "id")
        center = ctx.vector(item, "center", fld, 3)
        size = ctx.vector(item, "size", fld, 3)
        if np.any(size <= 0):
            raise ctx.error(f"{fld}.size", f"must be positive, got {size.tolist()}")
        lo, hi = center - size / 2, center + size / 2
        if (
            lo[0] < -_TOL_M
            or lo[1] < -_TOL_M
            or hi[0] > floor[0] + _TOL_M
            or hi[1] > floor[1] + _TOL_M
        ):
            raise ctx.error(fld, f"'{gid}' lies outside the floor {floor.tolist()}")
        if lo[2] < -_TOL_M or hi[2] > ceiling:
            raise ctx.error(f"{fld}.center", f"'{gid}' must stand on the floor below the ceiling")
        double = item.get("double_sided", False)
        if not isinstance(double, bool):
            raise ctx.error(f"{fld}.double_sided", f"must be true or false, got {double!r}")
        out[gid] = Gondola(gid, _frozen(center), _frozen(size), double)
    if not out:
        raise ctx.error("gondolas", "must list at least one gondola")
    return out


def _load_shelves(
    ctx: _Ctx, data: Mapping[str, Any], gondolas: dict[str, Gondola]
) -> dict[str, Shelf]:
    out: dict[str, Shelf] = {}
    seen: set[str] = set()
    for i, item in enumerate(ctx.items(data, "shelves")):
        fld = f"shelves[{i}]"
        sid = _unique_id(ctx, seen, item, fld, "id")
        gid = ctx.string(item, "gondola", fld)
        if gid not in gondolas:
            raise ctx.error(f"{fld}.gondola", f"'{gid}' is not a gondola id")
        g = gondolas[gid]
        side = ctx.string(item, "side", fld)
        if side not in _SIDE_NORMALS:
            raise ctx.error(f"{fld}.side", f"must be one of {sorted(_SIDE_NORMALS)}, got {side!r}")
        normal = np.asarray(_SIDE_NORMALS[side])
        z = ctx.number(item, "z", fld, non_negative=True)
        clearance = ctx.number(item, "clearance", fld, positive=True)
        lo, hi = g.min_corner.copy(), g.max_corner.copy()
        if not lo[2] - _TOL_M <= z <= hi[2] + _TOL_M:
            raise ctx.error(f"{fld}.z", f"{z} is outside gondola '{gid}' ({lo[2]}..{hi[2]} m)")
        if g.double_sided:
            axis = 0 if side in ("+x", "-x") else 1
            if normal[axis] > 0:
                lo[axis] = g.center[axis]
            else:
                hi[axis] = g.center[axis]
        out[sid] = Shelf(sid, gid, z, _frozen(lo[:2]), _frozen(hi[:2]), _frozen(normal), clearance)
    if not out:
        raise ctx.error("shelves", "must list at least one shelf")
    return out


def _load_products(ctx: _Ctx, data: Mapping[str, Any], base_dir: Path) -> dict[str, Product]:
    out: dict[str, Product] = {}
    seen: set[str] = set()
    for i, item in enumerate(ctx.items(data, "products")):
        fld = f"products[{i}]"
        sku = _unique_id(ctx, seen, item, fld, "sku")
        weight = ctx.number(item, "weight_g", fld, positive=True)
        sd = ctx.number(item, "weight_sd_g", fld, default=0.01 * weight, non_negative=True)
        price = ctx.number(item, "price", fld, non_negative=True)
        dims = ctx.vector(item, "dims_m", fld, 3)
        if np.any(dims <= 0):
            raise ctx.error(f"{fld}.dims_m", f"must be positive, got {dims.tolist()}")
        image_name = item.get("image")
        image: Path | None = None
        if image_name is not None:
            if not isinstance(image_name, str):
                raise ctx.error(f"{fld}.image", f"must be a file name, got {image_name!r}")
            image = (base_dir / image_name).resolve()
            if not image.is_file():
                raise ctx.error(f"{fld}.image", f"file not found: {image}")
        barcode = str(item.get("barcode", ""))
        if barcode and not _valid_ean13(barcode):
            raise ctx.error(f"{fld}.barcode", f"'{barcode}' is not a valid EAN-13")
        color = item.get("color", [200, 200, 200])
        if (
            not isinstance(color, list)
            or len(color) != 3
            or not all(isinstance(c, int) and 0 <= c <= 255 for c in color)
        ):
            raise ctx.error(f"{fld}.color", f"must be 3 integers 0..255, got {color!r}")
        out[sku] = Product(
            sku=sku,
            name=ctx.string(item, "name", fld, default=sku),
            price=price,
            unit_weight_g=weight,
            unit_weight_sd_g=sd,
            dims_m=_frozen(dims),
            image=image,
            barcode=barcode,
            color_rgb=(color[0], color[1], color[2]),
        )
    if not out:
        raise ctx.error("products", "must list at least one product")
    return out


def _valid_ean13(code: str) -> bool:
    if len(code) != 13 or not code.isdigit():
        return False
    digits = [int(c) for c in code]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return check == digits[12]


def ean13(prefix12: str) -> str:
    """Complete a 12-digit prefix into an EAN-13 with its check digit."""
    digits = [int(c) for c in prefix12]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return prefix12 + str(check)


def _load_boards(
    ctx: _Ctx, data: Mapping[str, Any]
) -> tuple[dict[str, ScaleBoard], dict[str, tuple[str, int]]]:
    out: dict[str, ScaleBoard] = {}
    channel_of: dict[str, tuple[str, int]] = {}
    seen: set[str] = set()
    for i, item in enumerate(ctx.items(data, "boards")):
        fld = f"boards[{i}]"
        bid = _unique_id(ctx, seen, item, fld, "id")
        rate = ctx.number(item, "rate_hz", fld, positive=True)
        noise = ctx.number(item, "noise_sd_g", fld, default=0.5, non_negative=True)
        quant = ctx.number(item, "quantisation_g", fld, default=0.1, non_negative=True)
        channels = ctx.get(item, "channels", fld)
        if not isinstance(channels, list) or not channels:
            raise ctx.error(f"{fld}.channels", "must be a non-empty list of bin ids")
        for c, bin_id in enumerate(channels):
            if not isinstance(bin_id, str):
                raise ctx.error(f"{fld}.channels[{c}]", f"must be a bin id, got {bin_id!r}")
            if bin_id in channel_of:
                other = channel_of[bin_id]
                raise ctx.error(
                    f"{fld}.channels[{c}]",
                    f"bin '{bin_id}' is already on board '{other[0]}' channel {other[1]}",
                )
            channel_of[bin_id] = (bid, c)
        out[bid] = ScaleBoard(bid, rate, tuple(channels), noise, quant)
    return out, channel_of


def _load_bins(
    ctx: _Ctx,
    data: Mapping[str, Any],
    shelves: dict[str, Shelf],
    products: dict[str, Product],
    channel_of: dict[str, tuple[str, int]],
) -> tuple[dict[str, Bin], dict[str, tuple[PlanogramEntry, ...]]]:
    bins: dict[str, Bin] = {}
    planogram: dict[str, tuple[PlanogramEntry, ...]] = {}
    seen: set[str] = set()
    for i, item in enumerate(ctx.items(data, "bins")):
        fld = f"bins[{i}]"
        bin_id = _unique_id(ctx, seen, item, fld, "id")
        sid = ctx.string(item, "shelf", fld)
        if sid not in shelves:
            raise ctx.error(f"{fld}.shelf", f"'{sid}' is not a shelf id")
        shelf = shelves[sid]
        center = ctx.vector(item, "center", fld, 3)
        size = ctx.vector(item, "size", fld, 3)
        if np.any(size <= 0):
            raise ctx.error(f"{fld}.size", f"must be positive, got {size.tolist()}")
        lo, hi = center - size / 2, center + size / 2
        if np.any(lo[:2] < shelf.min_xy - _TOL_M) or np.any(hi[:2] > shelf.max_xy + _TOL_M):
            raise ctx.error(
                fld,
                f"'{bin_id}' lies outside its shelf '{sid}' (footprint {shelf.min_xy.tolist()}"
                f"..{shelf.max_xy.tolist()} m)",
            )
        if abs(lo[2] - shelf.z) > 0.02 or hi[2] > shelf.z + shelf.clearance + _TOL_M:
            raise ctx.error(
                f"{fld}.center",
                f"'{bin_id}' must stand on shelf '{sid}' (z {shelf.z} m, clearance "
                f"{shelf.clearance} m); its box spans z {lo[2]:.3f}..{hi[2]:.3f} m",
            )
        entries = _bin_stock(ctx, item, fld, products)
        if bin_id not in channel_of:
            raise ctx.error(fld, f"bin '{bin_id}' is on no board channel (boards[].channels)")
        board_id, channel = channel_of[bin_id]
        bins[bin_id] = Bin(
            bin_id,
            sid,
            shelf.gondola_id,
            _frozen(center),
            _frozen(size),
            shelf.access_normal,
            board_id,
            channel,
        )
        planogram[bin_id] = entries
    if not bins:
        raise ctx.error("bins", "must list at least one bin")
    return bins, planogram


def _bin_stock(
    ctx: _Ctx, item: Mapping[str, Any], fld: str, products: dict[str, Product]
) -> tuple[PlanogramEntry, ...]:
    if "stock" in item:
        stock = item["stock"]
        if not isinstance(stock, dict) or not stock:
            raise ctx.error(f"{fld}.stock", f"must be a mapping sku -> count, got {stock!r}")
        pairs = list(stock.items())
        names = [f"{fld}.stock.{sku}" for sku, _ in pairs]
    elif "sku" in item:
        pairs = [(item["sku"], item.get("count", 0))]
        names = [f"{fld}.sku"]
    else:
        return ()
    entries = []
    for (sku, count), name in zip(pairs, names, strict=True):
        if not isinstance(sku, str) or sku not in products:
            raise ctx.error(name, f"{sku!r} is not in the catalogue")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ctx.error(name, f"count must be a non-negative integer, got {count!r}")
        entries.append(PlanogramEntry(sku, count))
    return tuple(entries)


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) optical-frame pose at ``position`` looking at ``target`` with image up ~ store +z."""
    z = target - position
    z = z / np.linalg.norm(z)
    x = np.cross(z, np.array([0.0, 0.0, 1.0]))
    if np.linalg.norm(x) < 1e-6:  # looking straight down: image right = store +x
        x = np.array([1.0, 0.0, 0.0])
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    transform = np.eye(4)
    transform[:3, 0], transform[:3, 1], transform[:3, 2], transform[:3, 3] = x, y, z, position
    return transform


def _load_cameras(
    ctx: _Ctx, data: Mapping[str, Any], floor: np.ndarray, gondolas: dict[str, Gondola]
) -> dict[str, Camera]:
    out: dict[str, Camera] = {}
    seen: set[str] = set()
    # Points that a camera of this store must see at least one of: a floor grid and gondola tops.
    gx, gy = np.meshgrid(np.linspace(0, floor[0], 15), np.linspace(0, floor[1], 15))
    probes = [np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1)]
    probes += [g.center[None, :] for g in gondolas.values()]
    probe = np.concatenate(probes)
    for i, item in enumerate(ctx.items(data, "cameras")):
        fld = f"cameras[{i}]"
        cid = _unique_id(ctx, seen, item, fld, "id")
        width = ctx.number(item, "width", fld, positive=True)
        height = ctx.number(item, "height", fld, positive=True)
        if width != int(width) or height != int(height):
            raise ctx.error(f"{fld}.width", "width and height must be integers")
        fx = ctx.number(item, "fx", fld, positive=True)
        fy = ctx.number(item, "fy", fld, positive=True)
        cx = ctx.number(item, "cx", fld, default=(width - 1) / 2.0)
        cy = ctx.number(item, "cy", fld, default=(height - 1) / 2.0)
        dist = ctx.vector(item, "dist", fld, 5, default=[0.0] * 5)
        rate = ctx.number(item, "rate_hz", fld, default=15.0, positive=True)
        position = ctx.vector(item, "position", fld, 3)
        target = ctx.vector(item, "look_at", fld, 3)
        if np.linalg.norm(target - position) < 1e-3:
            raise ctx.error(f"{fld}.look_at", "must differ from position")
        camera = Camera(
            cid,
            int(width),
            int(height),
            _frozen(np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])),
            _frozen(dist),
            rate,
            _frozen(_look_at(position, target)),
        )
        if not np.any(camera.in_view(probe)):
            raise ctx.error(fld, f"camera '{cid}' sees none of the store (check position/look_at)")
        out[cid] = camera
    return out


def _load_gates(ctx: _Ctx, data: Mapping[str, Any], floor: np.ndarray) -> dict[str, Gate]:
    out: dict[str, Gate] = {}
    seen: set[str] = set()
    for i, item in enumerate(ctx.items(data, "gates")):
        fld = f"gates[{i}]"
        gid = _unique_id(ctx, seen, item, fld, "id")
        kind = ctx.string(item, "kind", fld)
        if kind not in ("entry", "exit"):
            raise ctx.error(f"{fld}.kind", f"must be 'entry' or 'exit', got {kind!r}")
        lo = ctx.vector(item, "min_xy", fld, 2)
        hi = ctx.vector(item, "max_xy", fld, 2)
        if np.any(hi <= lo):
            raise ctx.error(f"{fld}.max_xy", "must be greater than min_xy")
        if np.any(lo < -_TOL_M) or np.any(hi > floor + _TOL_M):
            raise ctx.error(fld, f"gate '{gid}' lies outside the floor {floor.tolist()}")
        out[gid] = Gate(gid, kind, (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1])))
    return out


def _load_sim(ctx: _Ctx, data: Mapping[str, Any], products: dict[str, Product]) -> dict[str, float]:
    sim = data.get("sim") or {}
    if not isinstance(sim, dict):
        raise ctx.error("sim", "must be a mapping")
    measured = sim.get("measured_weight_g") or {}
    if not isinstance(measured, dict):
        raise ctx.error("sim.measured_weight_g", "must be a mapping sku -> grams")
    out: dict[str, float] = {}
    for sku in measured:
        if sku not in products:
            raise ctx.error(f"sim.measured_weight_g.{sku}", f"{sku!r} is not in the catalogue")
        out[sku] = ctx.number(measured, sku, "sim.measured_weight_g", positive=True)
    return out


def _load_shared(
    ctx: _Ctx, data: Mapping[str, Any], bins: dict[str, Bin]
) -> dict[str, tuple[str, float]]:
    sim = data.get("sim") or {}
    shared = sim.get("shared_load") or {}
    if not isinstance(shared, dict):
        raise ctx.error("sim.shared_load", "must be a mapping bin -> [neighbour bin, fraction]")
    out: dict[str, tuple[str, float]] = {}
    for bin_id, value in shared.items():
        fld = f"sim.shared_load.{bin_id}"
        if bin_id not in bins:
            raise ctx.error(fld, f"'{bin_id}' is not a bin id")
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], str)
            or isinstance(value[1], bool)
            or not isinstance(value[1], int | float)
        ):
            raise ctx.error(fld, f"must be [neighbour bin, fraction], got {value!r}")
        other, fraction = value[0], float(value[1])
        if other not in bins or other == bin_id:
            raise ctx.error(fld, f"'{other}' is not another bin id")
        a, b = bins[bin_id], bins[other]
        gap = np.maximum(np.maximum(a.min_corner - b.max_corner, b.min_corner - a.max_corner), 0.0)
        if a.shelf_id != b.shelf_id or float(np.linalg.norm(gap)) > 0.05:
            raise ctx.error(fld, f"'{other}' is not next to '{bin_id}' on the same shelf")
        if not 0.0 < fraction <= 0.5:
            raise ctx.error(fld, f"fraction must be in (0, 0.5], got {fraction}")
        out[bin_id] = (other, fraction)
    return out

"""The part of the store that fusion needs: bin boxes, the planogram, the catalogue and the gates.

Built either from a ``go_common.core.store.StoreModel`` (the ``store`` parameter) or, by
``go_fusion.conversions``, from the latched ``store/layout`` and ``store/catalogue`` messages, so
that attribution, carts and checkout never care which of the two the node was given.
Everything is in the ``store`` frame (metres).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BinSpec:
    """One shelf bin: an axis-aligned box in the store frame.

    center: (3,) [m] centre of the bin volume. size: (3,) [m] full extent along x, y, z.
    skus: products the planogram puts in this bin (start of day).
    """

    bin_id: str
    center: np.ndarray
    size: np.ndarray
    skus: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    shelf_id: str = ""
    gondola_id: str = ""
    board_id: str = ""
    channel: int = 0

    @property
    def min_corner(self) -> np.ndarray:
        """(3,) [m] lowest corner of the box."""
        return self.center - 0.5 * self.size

    @property
    def max_corner(self) -> np.ndarray:
        """(3,) [m] highest corner of the box."""
        return self.center + 0.5 * self.size


@dataclass(frozen=True)
class ProductSpec:
    """A catalogue product. Weights in grams, price in the store currency."""

    sku: str
    name: str
    price: float
    unit_weight_g: float
    unit_weight_sd_g: float
    dims_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class GateSpec:
    """A gate area on the floor. kind: ``"entry"`` or ``"exit"``. Corners (2,) [m] x, y."""

    gate_id: str
    kind: str
    min_xy: tuple[float, float]
    max_xy: tuple[float, float]


@dataclass(frozen=True)
class GondolaSpec:
    """A gondola (shelving unit) box. center, size: (3,) [m]."""

    gondola_id: str
    center: np.ndarray
    size: np.ndarray


@dataclass(frozen=True)
class StoreView:
    """Fusion's read-only view of the store configuration."""

    store_id: str
    currency: str
    floor_size: tuple[float, float]
    bins: Mapping[str, BinSpec]
    products: Mapping[str, ProductSpec]
    gates: Mapping[str, GateSpec]
    gondolas: Mapping[str, GondolaSpec] = field(default_factory=dict)
    camera_ids: tuple[str, ...] = ()
    frame_id: str = "store"

    def planogram(self) -> dict[str, tuple[str, ...]]:
        """bin id -> SKUs the bin holds at the start of the day."""
        return {b.bin_id: b.skus for b in self.bins.values()}


def store_view_from_model(model: Any) -> StoreView:
    """Build a :class:`StoreView` from a ``go_common.core.store.StoreModel``.

    Duck-typed on the documented StoreModel fields (docs/helpers/STORE_CONTRACT.md) so that this
    pure module does not depend on the loader.
    """
    bins: dict[str, BinSpec] = {}
    for bin_id, b in model.bins.items():
        entries = model.planogram.get(bin_id, ())
        bins[bin_id] = BinSpec(
            bin_id=bin_id,
            center=np.asarray(b.center, dtype=float),
            size=np.asarray(b.size, dtype=float),
            skus=tuple(e.sku for e in entries),
            counts=tuple(int(e.count) for e in entries),
            shelf_id=str(getattr(b, "shelf_id", "")),
            gondola_id=str(getattr(b, "gondola_id", "")),
            board_id=str(getattr(b, "board_id", "")),
            channel=int(getattr(b, "channel", 0)),
        )
    products = {
        sku: ProductSpec(
            sku=sku,
            name=str(p.name),
            price=float(p.price),
            unit_weight_g=float(p.unit_weight_g),
            unit_weight_sd_g=float(p.unit_weight_sd_g),
            dims_m=tuple(float(v) for v in p.dims_m),  # type: ignore[arg-type]
        )
        for sku, p in model.products.items()
    }
    gates = {
        gid: GateSpec(
            gate_id=gid,
            kind=str(g.kind),
            min_xy=(float(g.min_xy[0]), float(g.min_xy[1])),
            max_xy=(float(g.max_xy[0]), float(g.max_xy[1])),
        )
        for gid, g in model.gates.items()
    }
    gondolas = {
        gid: GondolaSpec(
            gondola_id=gid,
            center=np.asarray(g.center, dtype=float),
            size=np.asarray(g.size, dtype=float),
        )
        for gid, g in getattr(model, "gondolas", {}).items()
    }
    return StoreView(
        store_id=str(model.store_id),
        currency=str(model.currency),
        floor_size=(float(model.floor_size[0]), float(model.floor_size[1])),
        bins=bins,
        products=products,
        gates=gates,
        gondolas=gondolas,
        camera_ids=tuple(sorted(model.cameras)),
        frame_id=str(getattr(model, "frame_id", "store")),
    )

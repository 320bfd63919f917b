"""Scenario targets -> bins of a store: a bin id, a product (``A`` or a mixed bin ``A+B``), or the
bin beside one."""

from __future__ import annotations

import numpy as np

from go_common.core.store import StoreModel
from go_sensors.core.scenario import ScenarioError, Target


def resolve_target(store: StoreModel, target: Target, where: str) -> str:
    """Bin id named by a scenario target; ScenarioError naming ``where`` when it has none."""
    if target.bin is not None:
        if target.bin not in store.bins:
            raise ScenarioError(
                f"{where}.bin '{target.bin}' is not a bin of store '{store.store_id}'"
            )
        return target.bin
    ref = target.sku if target.sku is not None else target.beside
    assert ref is not None
    if ref in store.bins:
        base = ref
    else:
        # "A+B": a bin that holds all of them (a mixed bin of look-alikes).
        wanted = ref.split("+")
        bins = tuple(
            b for b in store.bins_of_sku(wanted[0]) if set(wanted) <= set(store.bin_skus(b))
        )
        if not bins:
            key = "sku" if target.sku is not None else "beside"
            raise ScenarioError(
                f"{where}.{key} '{ref}' is in no bin of store '{store.store_id}' (and no bin id)"
            )
        single = [b for b in bins if len(store.planogram[b]) == len(wanted)]
        base = (single or list(bins))[0]
    if target.beside is None:
        return base
    return neighbour_bin(store, base)


def neighbour_bin(store: StoreModel, bin_id: str) -> str:
    """The next bin on the same shelf (the previous one for the last bin)."""
    b = store.bins[bin_id]
    along = np.array([-b.access_normal[1], b.access_normal[0], 0.0])
    row = sorted(
        (x for x in store.bins.values() if x.shelf_id == b.shelf_id), key=lambda x: x.center @ along
    )
    k = [x.bin_id for x in row].index(bin_id)
    return row[k + 1].bin_id if k + 1 < len(row) else row[k - 1].bin_id

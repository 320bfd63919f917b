"""Clothing-colour descriptors compared (pure numpy), for perception and fusion alike.

Perception makes, per person, histograms of the clothes' colours (``go_perception.core.
appearance``: regions of ``bins`` shares each, NaN where a region was not seen). Two descriptors
are compared by the Hellinger distance of each region both know, averaged over those regions
(0: the same colours, 1: nothing in common; NaN: no region in common); fusion turns it into a
cost ``min((d / sd) ** 2, cap)`` (0 where unknown) for the track assignment. (Tried for the
cross-view association too, as a cost on pairing views and attaching them to tracks: even at
0.005 m per unit it lost sessions, since a ceiling view's torso region often holds a neighbour.)
"""

from __future__ import annotations

import numpy as np


def hellinger(tracks: np.ndarray, looks: np.ndarray, bins: int) -> np.ndarray:
    """(T, S) distance of each of T descriptors to each of S others (NaN: nothing in common)."""
    n_regions = tracks.shape[1] // bins
    p = np.clip(tracks.reshape(tracks.shape[0], 1, n_regions, bins), 0.0, None)
    q = np.clip(looks.reshape(1, looks.shape[0], n_regions, bins), 0.0, None)
    return _mean_over_regions(np.sqrt(p * q).sum(axis=3))


def _mean_over_regions(bc: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))  # NaN where either region is unknown
    known = np.isfinite(d)
    total = np.where(known, d, 0.0).sum(axis=-1)
    count = known.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def colour_cost(distance: np.ndarray, sd: float, cap: float) -> np.ndarray:
    """``min((distance / sd) ** 2, cap)``, 0 where the distance is unknown (NaN)."""
    term = np.minimum((np.nan_to_num(distance, nan=0.0) / sd) ** 2, cap)
    return np.where(np.isfinite(distance), term, 0.0)


def usable(looks: np.ndarray | None, n: int, bins: int) -> np.ndarray | None:
    """``looks`` as (n, A) floats when its shape fits whole regions of ``bins``, else None."""
    if looks is None:
        return None
    arr = np.asarray(looks, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] == 0 or arr.shape[1] % bins:
        return None
    return arr

"""Building blocks of the shelf-event detector (``shelf_events``): per-bin change records, the
adjacent-bin clustering and the adjacency of bins. Pure numpy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ActiveChange:
    """A change in progress on one bin: its samples [s], [g] since ``t_start``."""

    t_start: float
    pre_level: float
    pre_var: float
    ts: list[float]
    xs: list[float]
    nan: int = 0
    lo: int = 0  # first index of the trailing settle window
    peak: float = 0.0
    provisional: bool = False  # a STATE_UNSETTLED event has been emitted for this change
    # running sums of (x - pre_level) and its square: window mean/sd in O(1) per sample
    cs: list[float] = field(default_factory=lambda: [0.0])
    cs2: list[float] = field(default_factory=lambda: [0.0])

    def push(self, t: float, x: float) -> None:
        """Append one valid sample [s], [g]."""
        self.ts.append(t)
        self.xs.append(x)
        r = x - self.pre_level
        self.cs.append(self.cs[-1] + r)
        self.cs2.append(self.cs2[-1] + r * r)
        self.peak = max(self.peak, abs(r))

    def window_stats(self, lo: int, hi: int) -> tuple[float, float]:
        """Mean (relative to pre_level) [g] and variance [g^2] of samples lo..hi-1."""
        n = hi - lo
        mean = (self.cs[hi] - self.cs[lo]) / n
        return mean, max((self.cs2[hi] - self.cs2[lo]) / n - mean * mean, 0.0)


@dataclass(frozen=True)
class CarriedChange:
    """A settled change too small for an event, waiting to join the bin's next event."""

    t_start: float
    t_detect: float
    delta: float
    var: float


@dataclass
class PendingChange:
    """A settled single-bin change waiting for the merge with its neighbours."""

    bin: int
    t_start: float
    t_end: float
    t_detect: float
    delta: float
    var: float
    major: bool
    nan: int
    peak: float
    final: bool = False  # settles a provisional (unsettled) event: always reported


NESTED_SHARE = 0.5  # a change inside a neighbour's span joins it up to this share of its size


def _share_inside(inner: PendingChange, outer: PendingChange) -> bool:
    """``inner`` lies within ``outer``'s span and is at most ``NESTED_SHARE`` of its size: the
    neighbour's share of an item that rests mostly on ``outer``'s plate."""
    return (
        outer.t_start <= inner.t_start
        and inner.t_end <= outer.t_end
        and abs(inner.delta) <= NESTED_SHARE * abs(outer.delta)
    )


def cluster_changes(
    changes: Sequence[PendingChange],
    neighbours: Sequence[set[int]],
    start_tol_s: float,
    end_tol_s: float,
) -> list[list[PendingChange]]:
    """Group settled changes that are one item across adjacent bins (union-find).

    Two changes join when their bins are neighbours (``neighbours[bin]``: set of bin indices),
    their deltas have the same sign, they start within ``start_tol_s`` [s] of each other, and
    they settle within ``end_tol_s`` [s] of each other, or one change lies wholly inside the
    other's span and is at most ``NESTED_SHARE`` of its size. One item landing on two bins starts
    and settles on both at about the same time, and the hand that places it can press on its own
    bin's plate before and after the share on the neighbour's (a milk carton returned across two
    yoghurt bins: its own bin moved from 11.86 to 12.92 s, the neighbour's 25 % share from 12.32
    to 12.52 s); a pack rests mostly on its own plate, so a nested change as big as the other is
    a second reach. Two separate reaches that get merged all the same are split again by the
    products (``hypotheses.split_merged_event``).
    """
    parent = list(range(len(changes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(changes):
        for j in range(i + 1, len(changes)):
            c = changes[j]
            if c.bin not in neighbours[a.bin] or (a.delta > 0) != (c.delta > 0):
                continue
            if abs(a.t_start - c.t_start) > start_tol_s:
                continue
            nested = _share_inside(c, a) or _share_inside(a, c)
            if nested or abs(a.t_end - c.t_end) <= end_tol_s:
                parent[find(i)] = find(j)
    groups: dict[int, list[PendingChange]] = {}
    for i, r in enumerate(changes):
        groups.setdefault(find(i), []).append(r)
    return list(groups.values())


def neighbours_from_boxes(
    boxes: Mapping[str, tuple[str, np.ndarray, np.ndarray]], *, gap_m: float = 0.03
) -> dict[str, tuple[str, ...]]:
    """Adjacent bins: same shelf, boxes touching within ``gap_m`` (dividers are a few cm thick).

    boxes: bin_id -> (shelf_id, center (3,) [m], size (3,) [m]) of axis-aligned boxes in `store`.
    Returns bin_id -> sorted neighbour ids (symmetric).
    """
    by_shelf: dict[str, list[str]] = {}
    for b, (shelf, _, _) in boxes.items():
        by_shelf.setdefault(shelf, []).append(b)
    out: dict[str, set[str]] = {b: set() for b in boxes}
    for ids in by_shelf.values():
        for i, a in enumerate(ids):
            ca, sa = np.asarray(boxes[a][1], float), np.asarray(boxes[a][2], float)
            for c in ids[i + 1 :]:
                cc, sc = np.asarray(boxes[c][1], float), np.asarray(boxes[c][2], float)
                gap = np.abs(ca - cc)[:2] - 0.5 * (sa + sc)[:2]
                if np.all(gap <= gap_m + 1e-9):
                    out[a].add(c)
                    out[c].add(a)
    return {b: tuple(sorted(ns)) for b, ns in out.items()}

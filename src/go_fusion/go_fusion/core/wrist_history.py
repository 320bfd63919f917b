"""Wrist positions of every track over time, kept for attribution (pure numpy).

The tracker writes one sample per measured track per step (``WristStore.push``, all tracks in one
call); attribution reads a track's samples over an event window as a :class:`WristHistory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WristHistory:
    """Wrist positions of one track over a time window (K samples, oldest first).

    Attributes:
        track_id, session_id: whose wrists.
        t: (K,) sample times [s].
        left, right: (K, 3) wrist positions, store frame [m]; NaN where not seen.
        left_cov, right_cov: (K, 3, 3) covariances [m^2]; NaN where not seen.
        left_score, right_score: (K,) in [0, 1]; 0 where not seen.
    """

    track_id: str
    session_id: str
    t: np.ndarray
    left: np.ndarray
    right: np.ndarray
    left_cov: np.ndarray
    right_cov: np.ndarray
    left_score: np.ndarray
    right_score: np.ndarray


class WristStore:
    """Ring buffers of wrist samples for every track, one slot (row) per track.

    All tracks measured at a step are written with one fancy-indexed assignment per array: a
    per-track buffer object would cost a few microseconds of Python per shopper per step.
    Samples of one slot are in time order because steps only move forward.
    """

    def __init__(self, capacity: int, slots: int = 16) -> None:
        self.capacity = capacity
        # float32 halves the memory (metres to micrometres); unwritten cells are never read.
        self.t = np.zeros((0, capacity))
        self.pos = np.zeros((0, capacity, 2, 3), dtype=np.float32)
        self.cov = np.zeros((0, capacity, 2, 3, 3), dtype=np.float32)
        self.score = np.zeros((0, capacity, 2), dtype=np.float32)
        self.head = np.zeros(0, dtype=np.int64)  # next write position per slot
        self.count = np.zeros(0, dtype=np.int64)
        self._free: list[int] = []
        self._grow(slots)

    def __getstate__(self) -> dict[str, object]:
        """Pickled (the fusion checkpoint) without the samples, which are most of a tracker's
        pickle (7 MB with 50 shoppers): the shape and free slots only, every slot empty when
        restored. Fusion keeps its own wrist history; these refill within a second."""
        return {"capacity": self.capacity, "slots": int(self.t.shape[0]), "free": self._free}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(int(state["capacity"]), int(state["slots"]))  # type: ignore[misc,arg-type]
        self._free = [int(i) for i in state["free"]]  # type: ignore[attr-defined]

    def _grow(self, extra: int) -> None:
        n, cap = self.t.shape[0], self.capacity
        self.t = np.concatenate([self.t, np.empty((extra, cap))])
        self.pos = np.concatenate([self.pos, np.empty((extra, cap, 2, 3), np.float32)])
        self.cov = np.concatenate([self.cov, np.empty((extra, cap, 2, 3, 3), np.float32)])
        self.score = np.concatenate([self.score, np.empty((extra, cap, 2), np.float32)])
        self.head = np.concatenate([self.head, np.zeros(extra, dtype=np.int64)])
        self.count = np.concatenate([self.count, np.zeros(extra, dtype=np.int64)])
        self._free.extend(range(n + extra - 1, n - 1, -1))

    def new_slot(self) -> int:
        """An empty slot for a new track (the store grows when none is free)."""
        if not self._free:
            self._grow(max(16, self.t.shape[0]))
        slot = self._free.pop()
        self.head[slot] = self.count[slot] = 0
        return slot

    def release(self, slot: int) -> None:
        """Give a slot back once its track's history is no longer needed."""
        self.count[slot] = 0
        self._free.append(slot)

    def push(
        self, slots: np.ndarray, t: float, pos: np.ndarray, cov: np.ndarray, score: np.ndarray
    ) -> None:
        """Append one sample at time ``t`` to K ``slots``: pos (K, 2, 3), cov (K, 2, 3, 3),
        score (K, 2)."""
        h = self.head[slots]
        self.t[slots, h] = t
        self.pos[slots, h] = pos
        self.cov[slots, h] = cov
        self.score[slots, h] = score
        self.head[slots] = (h + 1) % self.capacity
        self.count[slots] = np.minimum(self.count[slots] + 1, self.capacity)

    def window(self, slot: int, t0: float, t1: float) -> np.ndarray:
        """Ring indices of the samples of ``slot`` with t0 <= t <= t1, oldest first."""
        count, head = int(self.count[slot]), int(self.head[slot])
        order = (np.arange(count) + head - count) % self.capacity
        times = self.t[slot, order]
        lo, hi = np.searchsorted(times, t0, "left"), np.searchsorted(times, t1, "right")
        return order[lo:hi]

    def last_time(self, slot: int) -> float:
        """Time [s] of the newest sample of ``slot``; -inf when it has none."""
        if self.count[slot] == 0:
            return -math.inf
        return float(self.t[slot, (self.head[slot] - 1) % self.capacity])

"""Partial camera sets: keep tracking when a camera goes silent (pure; no ROS).

The approximate-time synchroniser (message_filters semantics, ``go_common.time_sync``) emits only
complete sets; this module is the fallback the fusion node runs beside it.
"""

from __future__ import annotations

import math
from typing import Any


class PartialSets:
    """Fallback grouping of per-camera messages when the complete-set synchroniser is silent.

    An approximate-time synchroniser (message_filters semantics) emits only sets with one message
    of *every* camera, so one dead camera would stop tracking. Each camera's messages also come
    here; while full sets keep arriving (:meth:`synced`) nothing is emitted, but once none has
    come for ``after_s`` of message time, messages are grouped by stamp (within ``slop_s``, one
    per camera) and emitted as partial sets, oldest first, once a newer message shows that the
    group is complete. Stamps are float seconds; items are opaque.
    """

    def __init__(self, slop_s: float, after_s: float, queue_size: int) -> None:
        self.slop_s = slop_s
        self.after_s = after_s
        self.queue_size = max(1, queue_size)
        self._buffers: dict[str, dict[float, Any]] = {}
        self._last_sync: float | None = None
        self._first: float | None = None
        self._last_emitted = -math.inf

    def synced(self, t: float) -> None:
        """A complete set at stamp t [s] was processed: drop what it made obsolete."""
        self._last_sync = t if self._last_sync is None else max(self._last_sync, t)
        self._last_emitted = max(self._last_emitted, t)
        for buf in self._buffers.values():
            for s in [s for s in buf if s <= t + 0.5 * self.slop_s]:
                del buf[s]

    def add(self, camera_id: str, t: float, item: Any) -> list[tuple[float, dict[str, Any]]]:
        """One camera message at stamp t [s]; returns the partial sets now due (often none)."""
        self._first = t if self._first is None else min(self._first, t)
        if t <= self._last_emitted:
            return []
        buf = self._buffers.setdefault(camera_id, {})
        buf[t] = item
        while len(buf) > self.queue_size:
            del buf[min(buf)]
        reference = self._last_sync if self._last_sync is not None else self._first
        newest = max(max(b) for b in self._buffers.values() if b)
        if newest - reference <= self.after_s:
            return []
        out = []
        while True:
            stamps = [s for b in self._buffers.values() for s in b]
            if not stamps:
                break
            anchor = min(stamps)
            if anchor > newest - self.slop_s:
                break  # its partners may still be on their way
            group: dict[str, Any] = {}
            for cam, b in self._buffers.items():
                near = [s for s in b if anchor <= s < anchor + self.slop_s]
                if near:
                    s = min(near)
                    group[cam] = b.pop(s)
            self._last_emitted = max(self._last_emitted, anchor)
            out.append((anchor, group))
        return out

"""Approximate-time synchronisation of N message streams (pure; no rclpy).

Behaviour matches ``message_filters.ApproximateTimeSynchronizer`` (ROS 2 Python), so that a node
behaves the same whether the real package is installed or not:

- Each stream keeps a queue of at most ``queue_size`` messages keyed by stamp; a second message
  with the same stamp on the same stream replaces the first, and when the queue overflows the
  message with the OLDEST stamp is dropped (which may be the one that just arrived, when it is
  late: out-of-order arrival is allowed, stale data is not kept at the expense of fresh data).
- When a message with stamp ``t`` arrives on stream ``i``, every other stream contributes its
  candidates: the queued stamps ``s`` with ``|s - t| <= slop``, sorted by ``|s - t|`` (ties in
  arrival order). If some stream has no candidate, nothing is emitted.
- The combinations of candidates are tried in lexicographic order of those sorted lists (the order
  of ``itertools.product``); the first one whose whole spread, the new message included, satisfies
  ``max - min < slop`` is emitted, and its messages leave their queues. At most one set is emitted
  per arrival.

Matching is exhaustive in the order above but the search prunes any partial combination whose
spread already reaches ``slop`` (adding messages can only widen it), so the first accepted set is
the same one ``itertools.product`` would find, without enumerating every product of large queues.

Stamps are integer nanoseconds (``builtin_interfaces/Time`` as ``sec * 10**9 + nanosec``), so
equal stamps compare exactly; ``seconds_to_ns`` converts float seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_LOG = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


def seconds_to_ns(seconds: float) -> int:
    """Float seconds -> integer nanoseconds (rounded to the nearest nanosecond)."""
    return round(seconds * NS_PER_S)


@dataclass(frozen=True)
class SyncConfig:
    """Settings of an approximate-time synchroniser.

    Attributes:
        n_streams: number of input streams (>= 2).
        queue_size: messages kept per stream while waiting for partners (>= 1).
        slop_s: largest accepted spread of the stamps of one set [s] (> 0, strictly below).
    """

    n_streams: int
    queue_size: int
    slop_s: float

    def __post_init__(self) -> None:
        if self.n_streams < 2:
            raise ValueError(f"approximate sync needs at least 2 streams, got {self.n_streams}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size}")
        if not self.slop_s > 0.0 or self.slop_s != self.slop_s:
            raise ValueError(f"slop must be a positive number of seconds, got {self.slop_s}")


MatchCallback = Callable[..., None]


class ApproxTimeSync:
    """Pure approximate-time synchroniser: feed ``add(stream, stamp_ns, msg)``, get matched sets.

    ``add`` returns the emitted set (a tuple with one message per stream, in stream order) or
    ``None``; registered callbacks are also called with the messages as positional arguments.
    Not thread-safe by itself: the rclpy adapter serialises calls with a lock.
    """

    def __init__(self, config: SyncConfig) -> None:
        self.config = config
        self._slop_ns = seconds_to_ns(config.slop_s)
        # One dict per stream: stamp [ns] -> message, in arrival order of distinct stamps.
        self._queues: list[dict[int, Any]] = [{} for _ in range(config.n_streams)]
        self._callbacks: list[MatchCallback] = []
        self.n_emitted = 0
        self.n_dropped = 0

    def register_callback(self, callback: MatchCallback) -> None:
        """Call ``callback(msg_0, ..., msg_{n-1})`` for every emitted set."""
        self._callbacks.append(callback)

    def pending(self) -> tuple[int, ...]:
        """Number of queued messages per stream."""
        return tuple(len(q) for q in self._queues)

    def add(self, stream: int, stamp_ns: int, msg: Any) -> tuple[Any, ...] | None:
        """Offer ``msg`` with stamp ``stamp_ns`` [ns] on ``stream``; return the emitted set or None.

        Raises:
            IndexError: for a stream index outside ``[0, n_streams)``.
        """
        if not 0 <= stream < self.config.n_streams:
            raise IndexError(f"stream {stream} out of range [0, {self.config.n_streams})")
        stamp_ns = int(stamp_ns)
        queue = self._queues[stream]
        queue[stamp_ns] = msg
        while len(queue) > self.config.queue_size:
            del queue[min(queue)]
            self.n_dropped += 1
        if stamp_ns not in queue:
            # The new message was the oldest of a full queue and has been dropped.
            return None
        candidates: list[list[int]] = []
        for i, other in enumerate(self._queues):
            if i == stream:
                candidates.append([stamp_ns])
                continue
            near = [s for s in other if abs(s - stamp_ns) <= self._slop_ns]
            if not near:
                return None
            near.sort(key=lambda s: abs(s - stamp_ns))  # stable: ties keep arrival order
            candidates.append(near)
        chosen = self._first_match(candidates)
        if chosen is None:
            return None
        matched = tuple(q.pop(s) for q, s in zip(self._queues, chosen, strict=True))
        self.n_emitted += 1
        for callback in self._callbacks:
            callback(*matched)
        return matched

    def _first_match(self, candidates: Sequence[Sequence[int]]) -> list[int] | None:
        """First combination (lexicographic over ``candidates``) with spread < slop, or None."""
        chosen: list[int] = []

        def search(depth: int, low: int, high: int) -> bool:
            if depth == len(candidates):
                return True
            for s in candidates[depth]:
                new_low, new_high = min(low, s), max(high, s)
                if new_high - new_low >= self._slop_ns:
                    continue
                chosen.append(s)
                if search(depth + 1, new_low, new_high):
                    return True
                chosen.pop()
            return False

        first = candidates[0]
        for s in first:
            chosen.append(s)
            if search(1, s, s):
                return chosen
            chosen.pop()
        return None

"""Newest-frame-wins buffering and per-camera statistics for a perception node.

A camera that sends faster than the models run must not build a queue: each camera keeps only its
newest unprocessed frame (an older one still waiting is dropped and counted), and one frame is
processed at a time, taking cameras in the order their waiting frames arrived. Times are float
seconds given by the caller (the node's steady clock), never read here.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class _Slot(Generic[T]):
    frame: T | None = None
    arrived: float = 0.0


class LatestFrames(Generic[T]):
    """Thread-safe "keep the newest frame per camera" buffer.

    ``put`` from subscription callbacks, ``take`` from the one worker that runs the models.
    """

    def __init__(self, cameras: list[str]) -> None:
        self._slots: dict[str, _Slot[T]] = {cam: _Slot() for cam in cameras}
        self._ready = threading.Condition()
        self.dropped: dict[str, int] = dict.fromkeys(cameras, 0)
        self.received: dict[str, int] = dict.fromkeys(cameras, 0)

    def put(self, camera: str, frame: T, now: float) -> bool:
        """Store ``frame`` as the camera's newest; True when it replaced a waiting (dropped) one.

        Raises:
            KeyError: an unknown camera.
        """
        with self._ready:
            slot = self._slots[camera]
            replaced = slot.frame is not None
            if replaced:
                self.dropped[camera] += 1
            else:
                slot.arrived = now
            slot.frame = frame
            self.received[camera] += 1
            self._ready.notify()
        return replaced

    def take(self, timeout: float | None = 0.0) -> tuple[str, T, float] | None:
        """(camera, frame, arrival time) of the longest-waiting camera, or None after timeout.

        The arrival time is when the camera's slot became non-empty: a replaced frame keeps the
        slot's place in line, so a fast camera cannot starve a slow one.
        """
        with self._ready:
            if timeout and not self._any():
                self._ready.wait(timeout)
            waiting = [(s.arrived, cam) for cam, s in self._slots.items() if s.frame is not None]
            if not waiting:
                return None
            arrived, camera = min(waiting)
            slot = self._slots[camera]
            frame, slot.frame = slot.frame, None
            assert frame is not None
            return camera, frame, arrived

    def clear(self) -> None:
        """Forget waiting frames (deactivation); they are not counted as drops."""
        with self._ready:
            for slot in self._slots.values():
                slot.frame = None

    def wake(self) -> None:
        """Wake a worker blocked in ``take`` (shutdown)."""
        with self._ready:
            self._ready.notify_all()

    def _any(self) -> bool:
        return any(s.frame is not None for s in self._slots.values())


@dataclass
class CameraStats:
    """Rolling figures of one camera over the last ``window`` processed frames.

    All times in seconds: ``done`` when each frame was published, ``latency`` from arrival in the
    node to publication, ``model`` the estimator's own time, ``work`` the whole processing
    (decode, estimate, convert, publish) and ``cpu`` the processing thread's CPU time for it
    (with one onnxruntime thread all of the work: on a shared machine, the wall time an idle core
    would take).
    """

    window: int = 100
    done: deque = field(default_factory=deque)
    latency: deque = field(default_factory=deque)
    model: deque = field(default_factory=deque)
    work: deque = field(default_factory=deque)
    cpu: deque = field(default_factory=deque)
    processed: int = 0
    bad_frames: int = 0
    last_error: str = ""
    # The worker adds while the diagnostics timer reads, from another thread.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, done: float, latency: float, model: float, work: float, cpu: float) -> None:
        """Record one processed frame."""
        with self._lock:
            self._add(done, latency, model, work, cpu)

    def _add(self, done: float, latency: float, model: float, work: float, cpu: float) -> None:
        for queue, value in (
            (self.done, done),
            (self.latency, latency),
            (self.model, model),
            (self.work, work),
            (self.cpu, cpu),
        ):
            queue.append(value)
            if len(queue) > self.window:
                queue.popleft()
        self.processed += 1

    def rate_hz(self, now: float, horizon: float = 5.0) -> float:
        """Processed frames per second over the last ``horizon`` seconds before ``now``."""
        with self._lock:
            recent = [t for t in self.done if now - t <= horizon]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], recent[-1] - recent[0])
        return (len(recent) - 1) / span if span > 0 else 0.0

    def summary(self) -> dict[str, float]:
        """Window means: latency_ms, model_ms, work_ms, cpu_ms; overhead_pct = work vs model."""
        with self._lock:
            model_s, work_s, cpu_s = list(self.model), list(self.work), list(self.cpu)
            latency_s = list(self.latency)
        if not model_s:
            return dict.fromkeys(
                ("latency_ms", "model_ms", "work_ms", "cpu_ms", "overhead_pct"), 0.0
            )
        model = float(np.mean(model_s))
        work = float(np.mean(work_s))
        return {
            "latency_ms": 1000.0 * float(np.mean(latency_s)),
            "model_ms": 1000.0 * model,
            "work_ms": 1000.0 * work,
            "cpu_ms": 1000.0 * float(np.mean(cpu_s)),
            "overhead_pct": 100.0 * (work - model) / model if model > 0 else 0.0,
        }

"""Camera capture on OpenCV with reconnection, corrupt-frame skipping and rate/drop accounting.

A source is a device index (``"0"``), a device path (``/dev/video2``), a network stream URL
(``rtsp://``, ``http(s)://``, ``udp://``, ``tcp://``) or a video file. A file is replayed at its
own frame rate and looped (optional); a device or stream that fails ``max_read_failures`` reads in
a row, or cannot be opened, is released and reopened with exponential backoff, forever.

Times are arguments (seconds of a monotonic clock), so the policy is testable without hardware:
``Capture(source, opener=...)`` accepts any factory returning an object with the
``cv2.VideoCapture`` methods ``isOpened``, ``read``, ``get``, ``set`` and ``release``.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from go_sensors.drivers.backoff import Backoff

LOGGER = logging.getLogger(__name__)

_URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")


@dataclass(frozen=True)
class CaptureSource:
    """A parsed source: ``kind`` "device" | "url" | "file" and what to hand to OpenCV."""

    kind: str
    target: int | str

    @property
    def is_live(self) -> bool:
        """Devices and streams deliver frames in real time; files are paced by the reader."""
        return self.kind != "file"


def parse_source(source: str) -> CaptureSource:
    """Classify a source string; ValueError for an empty one."""
    text = source.strip()
    if not text:
        raise ValueError("camera source is empty (give a device index, a URL or a video file)")
    if text.isdigit():
        return CaptureSource("device", int(text))
    if text.lower().startswith(_URL_SCHEMES):
        return CaptureSource("url", text)
    if text.startswith("/dev/"):
        return CaptureSource("device", text)
    return CaptureSource("file", text)


@dataclass
class CaptureStats:
    """Counters and rate for /diagnostics."""

    frames: int = 0
    read_failures: int = 0
    corrupt: int = 0
    dropped: int = 0
    opens: int = 0
    open_failures: int = 0
    loops: int = 0
    connected: bool = False
    last_error: str = ""
    width: int = 0
    height: int = 0
    source_fps: float = 0.0
    _times: deque = field(default_factory=lambda: deque(maxlen=120))

    def rate_hz(self, now: float, window_s: float = 5.0) -> float:
        """Frames per second received over the last ``window_s`` seconds before ``now``."""
        recent = [t for t in self._times if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else 0.0


@dataclass(frozen=True)
class Frame:
    """A captured frame: image (H, W, 3) uint8 BGR, receive time [s], sequence number."""

    image: np.ndarray
    t: float
    seq: int


class Capture:
    """Reads frames from one source, reopening it when it fails."""

    def __init__(
        self,
        source: str,
        *,
        opener: Callable[[int | str], Any] | None = None,
        backoff: Backoff | None = None,
        expected_fps: float = 0.0,
        loop_file: bool = True,
        max_read_failures: int = 5,
    ) -> None:
        self.source = parse_source(source)
        self._opener = opener or _open_cv2
        self.backoff = backoff or Backoff()
        self.expected_fps = expected_fps
        self.loop_file = loop_file
        self.max_read_failures = max_read_failures
        self.stats = CaptureStats()
        self.ended = False  # a file without looping reached its end
        self._cap: Any = None
        self._failures_in_row = 0
        self._last_frame_t: float | None = None
        self._seq = 0

    @property
    def period_s(self) -> float:
        """Frame period [s]: the configured rate, else the source's own, else 0 (unknown)."""
        fps = self.expected_fps or self.stats.source_fps
        return 1.0 / fps if fps > 0 else 0.0

    def read(self, now: float) -> Frame | None:
        """One frame, or None (not connected yet, waiting for the retry, or a failed read)."""
        if self.ended:
            return None
        if self._cap is None:
            if not self.backoff.due(now):
                return None
            self._open(now)
            if self._cap is None:
                return None
        try:
            ok, image = self._cap.read()
        except cv2.error as error:
            ok, image = False, None
            self.stats.last_error = f"read raised {error}"
        if not ok or image is None:
            return self._read_failed(now)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
            self.stats.corrupt += 1
            self.stats.last_error = f"corrupt frame: shape {image.shape} dtype {image.dtype}"
            return None
        if self.stats.width and (image.shape[1], image.shape[0]) != (
            self.stats.width,
            self.stats.height,
        ):
            self.stats.corrupt += 1
            self.stats.last_error = (
                f"frame size changed to {image.shape[1]}x{image.shape[0]} from "
                f"{self.stats.width}x{self.stats.height}; skipped"
            )
            return None
        self.stats.width, self.stats.height = image.shape[1], image.shape[0]
        self._failures_in_row = 0
        self._count_frame(now)
        self._seq += 1
        return Frame(image, now, self._seq)

    def release(self) -> None:
        """Release the device (a later ``read`` reopens it)."""
        if self._cap is not None:
            with contextlib.suppress(cv2.error):
                self._cap.release()
        self._cap = None
        self.stats.connected = False

    def _open(self, now: float) -> None:
        if self.source.kind == "file" and not Path(str(self.source.target)).is_file():
            self._open_failed(now, f"video file {self.source.target} not found")
            return
        try:
            cap = self._opener(self.source.target)
            opened = bool(cap is not None and cap.isOpened())
        except cv2.error as error:
            cap, opened = None, False
            self.stats.last_error = str(error)
        if not opened:
            if cap is not None:
                cap.release()
            self._open_failed(now, f"cannot open {self.source.kind} {self.source.target!r}")
            return
        self._cap = cap
        self.stats.opens += 1
        self.stats.connected = True
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.stats.source_fps = fps if 0.0 < fps < 1000.0 else 0.0
        self.backoff.succeeded()
        self._failures_in_row = 0
        self._last_frame_t = None
        LOGGER.info("opened camera %s %r (%.1f fps)", self.source.kind, self.source.target, fps)

    def _open_failed(self, now: float, message: str) -> None:
        self.stats.open_failures += 1
        self.stats.connected = False
        delay = self.backoff.failed(now)
        if message != self.stats.last_error:
            LOGGER.error("%s; retrying in %.1f s", message, delay)
        self.stats.last_error = message

    def _read_failed(self, now: float) -> None:
        if self.source.kind == "file":
            # End of the file (or a broken tail): loop from the start, or stop.
            if (
                self.loop_file
                and self.stats.frames > 0
                and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ):
                self.stats.loops += 1
                return None
            self.release()
            if not self.loop_file:
                self.ended = True
                self.stats.last_error = "end of file"
                return None
            self._open_failed(now, f"video file {self.source.target} gives no frames")
            return None
        self.stats.read_failures += 1
        self._failures_in_row += 1
        self.stats.last_error = f"read failed ({self._failures_in_row} in a row)"
        if self._failures_in_row >= self.max_read_failures:
            self.release()
            self._open_failed(
                now,
                f"{self.source.kind} {self.source.target!r} stopped delivering "
                f"frames; reconnecting",
            )
        return None

    def _count_frame(self, now: float) -> None:
        self.stats.frames += 1
        self.stats._times.append(now)
        period = self.period_s
        if self.source.is_live and period > 0 and self._last_frame_t is not None:
            gap = now - self._last_frame_t
            # A gap of k periods means k - 1 frames were lost (half-period jitter tolerated).
            missed = int((gap + 0.5 * period) // period) - 1
            if missed > 0:
                self.stats.dropped += missed
        self._last_frame_t = now


def _open_cv2(target: int | str) -> cv2.VideoCapture:
    return cv2.VideoCapture(target)

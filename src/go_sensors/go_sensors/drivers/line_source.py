"""Line-oriented input from a serial port or a file/tty path, with reconnection.

``LineSource.poll(now)`` never blocks: it opens the device when due (``Backoff``), reads what has
arrived, and returns complete lines. A device that is missing, unplugged or raising I/O errors is
closed and retried later; the error is kept in ``status`` for diagnostics. Two kinds:

- ``serial``: pyserial at ``baud`` (``/dev/ttyUSB0``, a pty, or any pyserial URL such as
  ``loop://`` or ``socket://host:port``).
- ``file``: a path opened read-only and non-blocking: a keyboard-wedge tty, a named pipe, or a
  plain file that is followed like ``tail -f`` (from its end unless ``from_start``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from dataclasses import dataclass

from go_sensors.drivers.backoff import Backoff

LOGGER = logging.getLogger(__name__)

MAX_LINE_BYTES = 4096  # a longer "line" is garbage (a reader that lost its line ends)


@dataclass
class SourceStatus:
    """State of a line source for diagnostics."""

    connected: bool = False
    opens: int = 0
    failures: int = 0
    bytes_read: int = 0
    lines: int = 0
    overlong: int = 0
    last_error: str = ""


class LineSource:
    """Non-blocking reader of ``\\n``-terminated lines from a serial port or a path."""

    def __init__(
        self,
        kind: str,
        path: str,
        *,
        baud: int = 115200,
        backoff: Backoff | None = None,
        from_start: bool = False,
    ) -> None:
        if kind not in ("serial", "file"):
            raise ValueError(f"line source kind must be 'serial' or 'file', got {kind!r}")
        if not path:
            raise ValueError("line source path is empty")
        if baud <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        self.kind = kind
        self.path = path
        self.baud = baud
        self.backoff = backoff or Backoff()
        self.from_start = from_start
        self.status = SourceStatus()
        self._serial = None
        self._fd: int | None = None
        self._buffer = b""

    def poll(self, now: float) -> list[bytes]:
        """Open if due, read everything available and return the complete lines (without EOL)."""
        if not self.status.connected:
            if not self.backoff.due(now):
                return []
            self._open(now)
            if not self.status.connected:
                return []
        try:
            data = self._read()
        except (OSError, ValueError) as error:  # pyserial raises SerialException(OSError)
            self._fail(now, f"read from {self.path} failed: {error}")
            return []
        if data:
            self.status.bytes_read += len(data)
            self._buffer += data
        return self._split()

    def close(self) -> None:
        """Close the device (a later ``poll`` reopens it)."""
        if self._serial is not None:
            with contextlib.suppress(OSError):
                self._serial.close()
            self._serial = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self.status.connected = False

    def _open(self, now: float) -> None:
        try:
            if self.kind == "serial":
                import serial  # pyserial; imported here so file sources work without it

                self._serial = serial.serial_for_url(self.path, baudrate=self.baud, timeout=0)
            else:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
                if not self.from_start and os.path.isfile(self.path):
                    os.lseek(self._fd, 0, os.SEEK_END)
        except (OSError, ValueError) as error:
            self.close()
            self._fail(now, f"cannot open {self.kind} {self.path}: {error}")
            return
        self.status.connected = True
        self.status.opens += 1
        self.backoff.succeeded()
        self._buffer = b""
        LOGGER.info("opened %s %s", self.kind, self.path)

    def _read(self) -> bytes:
        if self._serial is not None:
            waiting = self._serial.in_waiting
            return self._serial.read(waiting) if waiting else b""
        chunks = []
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno == errno.EIO:  # the other end of a tty/pty went away
                    raise OSError(errno.EIO, "device disconnected") from None
                raise
            if not chunk:
                if not os.path.exists(self.path):
                    raise OSError(errno.ENOENT, "file was removed")
                break  # end of a regular file: follow it
            chunks.append(chunk)
        return b"".join(chunks)

    def _split(self) -> list[bytes]:
        *lines, rest = self._buffer.split(b"\n")
        if len(rest) > MAX_LINE_BYTES:
            self.status.overlong += 1
            self.status.last_error = f"dropped {len(rest)} bytes without a line end"
            rest = b""
        self._buffer = rest
        out = [line.rstrip(b"\r") for line in lines]
        self.status.lines += len(out)
        return out

    def _fail(self, now: float, message: str) -> None:
        self.close()
        self.status.failures += 1
        delay = self.backoff.failed(now)
        if message != self.status.last_error:
            LOGGER.warning("%s (retrying in %.1f s)", message, delay)
        self.status.last_error = message

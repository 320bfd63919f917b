"""Serial load-cell board protocol, tare and calibration, and batching into board messages.

Line protocol (ASCII, one reading per line, ``\\n`` or ``\\r\\n`` terminated)::

    <channel>,<raw_count>            e.g. "3,-120456"
    <t>,<channel>,<raw_count>        timestamped variant, t = board time [s] (float), e.g.
                                     "12.0335,3,-120456"

``channel`` is the 0-based channel index on the board; ``raw_count`` the signed ADC count (an
HX711-style 24-bit converter gives -8388608..8388607). A board sends one line per channel per
sample period, channels in increasing order. Blank lines and lines starting with ``#`` are
comments (boards print banners on reset). Anything else that does not parse, unknown channels
and counts outside the configured range are counted and skipped (the channel is flagged
STATUS_FAULT in that batch); counts exactly at the range limits (the converter's clipping values)
are a saturated channel: no value (NaN) and STATUS_SATURATED.

Calibration per channel: ``grams = (raw - tare) * scale`` with ``scale`` [g/count]. ``tare`` is
configured, or measured as the mean of the first ``tare_samples`` samples after start (the shelf
must then be in its reference state, e.g. empty or with its planogram stock counted separately).

Samples: a new sample starts when a channel index is not above the previous one (untimed
lines; channels come in increasing order) or when the board time changes (timed lines). A
sample with missing channels keeps NaN for them (a dropout). Every
``samples_per_message`` samples make one ``BoardBatch`` (the ``go_msgs/LoadCellBoard`` content).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

LOGGER = logging.getLogger(__name__)

RAW_MIN_24BIT = -(1 << 23)
RAW_MAX_24BIT = (1 << 23) - 1

STATUS_OK = 0
STATUS_SATURATED = 1
STATUS_FAULT = 2


@dataclass(frozen=True)
class Reading:
    """One parsed line: channel index, raw count, board time [s] or None."""

    channel: int
    raw: int
    board_time: float | None = None


@dataclass
class ProtocolStats:
    """Counters of the input stream (reported on /diagnostics)."""

    lines: int = 0
    readings: int = 0
    comments: int = 0
    garbage: int = 0
    unknown_channel: int = 0
    out_of_range: int = 0
    saturated: int = 0
    samples: int = 0
    incomplete_samples: int = 0
    last_error: str = ""


class LineError(ValueError):
    """A line that is not a reading; the message says why."""


def parse_line(line: str | bytes) -> Reading | None:
    """Parse one protocol line; None for blank and comment lines.

    Raises:
        LineError: the line is neither ``<channel>,<raw>`` nor ``<t>,<channel>,<raw>``.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("ascii")
        except UnicodeDecodeError:
            raise LineError(f"non-ASCII bytes {line[:32]!r}") from None
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise LineError(f"expected 2 or 3 comma-separated fields, got {len(parts)}: {text[:40]!r}")
    board_time = None
    if len(parts) == 3:
        try:
            board_time = float(parts[0])
        except ValueError:
            raise LineError(f"bad board time {parts[0][:20]!r}") from None
        if not math.isfinite(board_time):
            raise LineError(f"board time is not finite: {parts[0]!r}")
        parts = parts[1:]
    try:
        channel = int(parts[0])
        raw = int(parts[1])
    except ValueError:
        raise LineError(f"channel and raw count must be integers: {text[:40]!r}") from None
    if channel < 0:
        raise LineError(f"negative channel {channel}")
    return Reading(channel, raw, board_time)


@dataclass(frozen=True)
class ChannelCalibration:
    """grams = (raw - tare) * scale; scale [g/count], tare [counts]."""

    tare: float
    scale: float

    def grams(self, raw: float) -> float:
        """Calibrated load [g] of a raw count."""
        return (raw - self.tare) * self.scale


def calibrate_scale(raw_loaded: float, tare: float, known_grams: float) -> float:
    """Scale [g/count] from a reading with a known mass on the channel.

    Raises:
        ValueError: a zero mass or a reading equal to the tare.
    """
    if known_grams == 0 or raw_loaded == tare:
        raise ValueError("calibration needs a non-zero known mass that changes the reading")
    return known_grams / (raw_loaded - tare)


@dataclass(frozen=True)
class BoardBatch:
    """``num_samples`` samples of all channels of one board.

    first_time: receive time of the first sample [s] (host clock: the board clock is not
    synchronised; board times only delimit samples); grams: (N, C) float32, NaN where
    a channel gave no valid reading; status: (C,) uint8 STATUS_* over the batch.
    """

    board_id: str
    channel_ids: tuple[str, ...]
    sample_period: float
    first_time: float
    grams: np.ndarray
    status: np.ndarray


@dataclass
class LoadCellBoard:
    """Stateful decoder of one board's line stream into calibrated batches.

    channel_ids: bin id per channel; scales: [g/count] per channel; tares: [counts] per channel,
    or None to measure them from the first ``tare_samples`` samples; raw_min/raw_max: valid count
    range (the converter's limits mean saturation); sample_period: [s] nominal 1 / rate.
    """

    board_id: str
    channel_ids: tuple[str, ...]
    scales: tuple[float, ...]
    tares: tuple[float, ...] | None = None
    samples_per_message: int = 3
    sample_period: float = 1.0 / 60.0
    raw_min: int = RAW_MIN_24BIT
    raw_max: int = RAW_MAX_24BIT
    tare_samples: int = 30
    stats: ProtocolStats = field(default_factory=ProtocolStats)

    def __post_init__(self) -> None:
        n = len(self.channel_ids)
        if n == 0:
            raise ValueError(f"board {self.board_id}: no channels")
        if len(self.scales) != n:
            raise ValueError(f"board {self.board_id}: {len(self.scales)} scales for {n} channels")
        if self.tares is not None and len(self.tares) != n:
            raise ValueError(f"board {self.board_id}: {len(self.tares)} tares for {n} channels")
        if not all(math.isfinite(s) and s != 0 for s in self.scales):
            raise ValueError(f"board {self.board_id}: scales must be finite and non-zero")
        if self.samples_per_message < 1 or self.sample_period <= 0 or self.raw_min >= self.raw_max:
            raise ValueError(f"board {self.board_id}: bad batch size, sample period or range")
        self._tare = None if self.tares is None else np.asarray(self.tares, np.float64)
        self._tare_sum = np.zeros(n)
        self._tare_count = np.zeros(n, np.int64)
        self._tare_seen = 0
        self._sample = np.full(n, np.nan)
        self._sample_status = np.zeros(n, np.uint8)
        self._sample_time: float | None = None
        self._sample_board_time: float | None = None
        self._last_channel: int | None = None
        self._rows: list[np.ndarray] = []
        self._batch_status = np.zeros(n, np.uint8)
        self._batch_time: float | None = None

    @property
    def tared(self) -> bool:
        """Whether the tares are known (configured or measured)."""
        return self._tare is not None

    @property
    def tare_values(self) -> np.ndarray | None:
        """(C,) [counts] current tares, or None while measuring them."""
        return None if self._tare is None else self._tare.copy()

    def feed(self, line: str | bytes, now: float) -> list[BoardBatch]:
        """Decode one line received at ``now`` [s]; returns the batches it completes (0 or 1)."""
        self.stats.lines += 1
        try:
            reading = parse_line(line)
        except LineError as error:
            self.stats.garbage += 1
            self.stats.last_error = f"garbage line: {error}"
            return []
        if reading is None:
            self.stats.comments += 1
            return []
        if reading.channel >= len(self.channel_ids):
            self.stats.unknown_channel += 1
            self.stats.last_error = (
                f"channel {reading.channel} not configured (board has {len(self.channel_ids)})"
            )
            return []
        if reading.raw < self.raw_min or reading.raw > self.raw_max:
            # Not a sample of this board (a corrupted line): flag the channel, keep the sample.
            self.stats.out_of_range += 1
            self.stats.last_error = (
                f"channel {reading.channel}: raw {reading.raw} outside "
                f"[{self.raw_min}, {self.raw_max}]"
            )
            self._batch_status[reading.channel] = STATUS_FAULT
            return []
        out: list[BoardBatch] = []
        if reading.board_time is not None:
            starts_new = reading.board_time != self._sample_board_time
        else:
            # Channels arrive in increasing order; a channel not above the last one seen starts
            # the next sample (a missing channel is then a dropout, not a merged sample).
            starts_new = self._last_channel is not None and reading.channel <= self._last_channel
        if self._sample_time is not None and starts_new:
            out.extend(self._close_sample())
        if self._sample_time is None:
            self._sample_time = now
            self._sample_board_time = reading.board_time
        self._last_channel = reading.channel
        self.stats.readings += 1
        if reading.raw in (self.raw_min, self.raw_max):
            self.stats.saturated += 1
            self._sample_status[reading.channel] = STATUS_SATURATED
        else:
            self._sample[reading.channel] = reading.raw
        return out

    def flush(self) -> list[BoardBatch]:
        """Close the current sample and emit a partial batch (e.g. when the stream stops)."""
        out = self._close_sample() if self._sample_time is not None else []
        if self._rows:
            out.append(self._emit())
        return out

    def _close_sample(self) -> list[BoardBatch]:
        raw = self._sample
        status = self._sample_status
        time = self._sample_time
        self._sample = np.full(len(self.channel_ids), np.nan)
        self._sample_status = np.zeros(len(self.channel_ids), np.uint8)
        self._sample_time = None
        self._sample_board_time = None
        self._last_channel = None
        self.stats.samples += 1
        if np.any(np.isnan(raw) & (status == STATUS_OK)):
            self.stats.incomplete_samples += 1  # a channel sent nothing (saturation is not this)
        if self._tare is None:
            ok = ~np.isnan(raw)
            self._tare_sum[ok] += raw[ok]
            self._tare_count[ok] += 1
            self._tare_seen += 1
            if self._tare_seen >= self.tare_samples:
                if np.any(self._tare_count == 0):
                    missing = [self.channel_ids[i] for i in np.flatnonzero(self._tare_count == 0)]
                    self.stats.last_error = f"no readings to tare channel(s) {missing}"
                    return []
                self._tare = self._tare_sum / self._tare_count
                LOGGER.info("board %s tared: %s", self.board_id, np.round(self._tare, 1))
            return []
        grams = (raw - self._tare) * np.asarray(self.scales)
        if self._batch_time is None:
            self._batch_time = time
        self._rows.append(grams.astype(np.float32))
        self._batch_status = np.maximum(self._batch_status, status)
        if len(self._rows) >= self.samples_per_message:
            return [self._emit()]
        return []

    def _emit(self) -> BoardBatch:
        batch = BoardBatch(
            board_id=self.board_id,
            channel_ids=self.channel_ids,
            sample_period=self.sample_period,
            first_time=float(self._batch_time),
            grams=np.vstack(self._rows),
            status=self._batch_status.copy(),
        )
        self._rows = []
        self._batch_status = np.zeros(len(self.channel_ids), np.uint8)
        self._batch_time = None
        return batch

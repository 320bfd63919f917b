"""Simulated shelf load cells: one channel per bin, sampled per board at the board's rate.

A channel reads the true mass on its bin (units with their own masses, which may differ from the
catalogue), plus the transient of a hand pressing on the shelf, the ringing of the plate after a
step, slow drift (linear creep and a temperature cycle), white noise with a per-channel level,
and quantisation. Channel noise levels are drawn log-normally around the board's ``noise_sd_g``
(median) so that across channels the median is 0.5 g, the 90th percentile about 2 g and the worst
about 8 g, as measured on a real store's 348 plates (issue 3).

Every sample is a pure function of (seed, board, sample index): batches of any size give the same
samples, so a run does not depend on how often it is stepped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from go_common.core.store import StoreModel
from go_sensors.core.truth import ShelfChange, Touch

STATUS_OK = 0
STATUS_SATURATED = 1
STATUS_FAULT = 2

NOISE_LOG_SIGMA = 1.08  # ln(p90 / median) / 1.2816 with p90 = 4 x median
NOISE_MAX_G = 8.0  # worst channel [g]
CAPACITY_G = 25000.0  # plate capacity before saturation [g]
_BLOCK = 256  # samples per noise block


@dataclass(frozen=True, eq=False)
class LoadCellBatch:
    """N consecutive samples of every channel of one board (the core form of LoadCellBoard).

    t0: time of the first sample [s]. sample_period: [s]. grams: (N, C) float32 [g], calibrated and
    tared, NaN where a channel dropped out. status: (C,) uint8 STATUS_* for the whole batch.
    """

    board_id: str
    channel_ids: tuple[str, ...]
    t0: float
    sample_period: float
    grams: np.ndarray
    status: np.ndarray

    @property
    def times(self) -> np.ndarray:
        """(N,) [s] sample times."""
        return self.t0 + self.sample_period * np.arange(self.grams.shape[0])


@dataclass(frozen=True)
class ChannelFault:
    """A scale fault on one bin: drift at ``rate_g_per_min`` from ``start``, or a dropout."""

    kind: str  # "scale_drift" | "scale_dropout"
    bin_id: str
    start: float
    end: float
    rate_g_per_min: float = 0.0


class _Board:
    """Per-board precomputed state (channel order, offsets, change and touch tables)."""

    def __init__(self, index: int, board_id: str, channels: tuple[str, ...], rate: float) -> None:
        self.index = index
        self.board_id = board_id
        self.channels = channels
        self.rate = rate
        self.col = {bin_id: c for c, bin_id in enumerate(channels)}


class LoadCellModel:
    """Samples every board of a store for a planned run."""

    def __init__(
        self,
        store: StoreModel,
        initial_units: dict[str, dict[str, list[float]]],
        changes: tuple[ShelfChange, ...],
        touches: tuple[Touch, ...],
        faults: tuple[ChannelFault, ...] = (),
        seed: int = 0,
        shared: dict[str, tuple[str, float]] | None = None,
    ) -> None:
        self.seed = seed
        # bin -> (neighbour bin, fraction of the bin's goods that rests on the neighbour's plate)
        self.shared = dict(shared or {})
        self._bin_base = {
            bin_id: float(sum(sum(w) for w in units.values()))
            for bin_id, units in initial_units.items()
        }
        rng = np.random.default_rng([seed, 17])
        self.boards: dict[str, _Board] = {}
        self.offset: dict[str, float] = {}
        self.sd: dict[str, np.ndarray] = {}
        self.quant: dict[str, float] = {}
        self.drift: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for i, (board_id, board) in enumerate(sorted(store.boards.items())):
            b = _Board(i, board_id, board.channels, board.rate_hz)
            self.boards[board_id] = b
            c = len(board.channels)
            # Boards are not synchronised: each starts at its own phase of its sample clock.
            self.offset[board_id] = float(rng.uniform(0.0, 1.0 / board.rate_hz))
            median = max(board.noise_sd_g, 1e-6)
            # Stratified log-normal draw: even a board of a few channels spans the distribution.
            u = (rng.permutation(c) + rng.uniform(0.0, 1.0, c)) / c
            self.sd[board_id] = np.clip(
                median * np.exp(NOISE_LOG_SIGMA * ndtri(u)), 0.05, NOISE_MAX_G
            )
            self.quant[board_id] = board.quantisation_g
            self.drift[board_id] = (
                rng.normal(0.0, 0.4 / 60.0, c),  # creep [g/s]
                rng.uniform(0.2, 1.0, c),  # temperature cycle amplitude [g]
                rng.uniform(600.0, 1800.0, c),  # its period [s]
                rng.uniform(0.0, 2.0 * math.pi, c),  # its phase [rad]
            )
        self._changes: dict[str, list[ShelfChange]] = {}
        for ch in changes:
            self._changes.setdefault(ch.bin_id, []).append(ch)
        self._touches: dict[str, list[Touch]] = {}
        for touch in touches:
            self._touches.setdefault(touch.bin_id, []).append(touch)
        self._faults: dict[str, list[ChannelFault]] = {}
        for fault in faults:
            self._faults.setdefault(fault.bin_id, []).append(fault)
        self._noise_cache: dict[tuple[str, int], np.ndarray] = {}

    def channel_noise_sd(self) -> np.ndarray:
        """(total channels,) [g] noise standard deviation of every channel of every board."""
        return np.concatenate([self.sd[b] for b in sorted(self.sd)])

    def sample_indices(self, board_id: str, t_prev: float, t: float) -> np.ndarray:
        """Indices k of the board's samples with t_prev < time_k <= t."""
        b = self.boards[board_id]
        off = self.offset[board_id]
        k0 = math.floor((t_prev - off) * b.rate + 1e-9) + 1
        k1 = math.floor((t - off) * b.rate + 1e-9)
        return np.arange(max(k0, 0), k1 + 1)

    def _noise(self, board_id: str, ks: np.ndarray) -> np.ndarray:
        b = self.boards[board_id]
        c = len(b.channels)
        out = np.empty((len(ks), c))
        for block in np.unique(ks // _BLOCK):
            key = (board_id, int(block))
            z = self._noise_cache.get(key)
            if z is None:
                z = np.random.default_rng([self.seed, 23, b.index, int(block)]).standard_normal(
                    (_BLOCK, c)
                )
                if len(self._noise_cache) > 4 * len(self.boards):
                    self._noise_cache.clear()
                self._noise_cache[key] = z
            mask = ks // _BLOCK == block
            out[mask] = z[ks[mask] % _BLOCK]
        return out * self.sd[board_id]

    def goods(self, bin_id: str, ts: np.ndarray) -> np.ndarray:
        """(N,) [g] mass of the products in ``bin_id`` at ts (N,), with the plate ringing
        briefly after each change."""
        load = np.full(len(ts), self._bin_base.get(bin_id, 0.0))
        for ch in self._changes.get(bin_id, ()):
            after = ts >= ch.t
            if not np.any(after):
                continue
            dt = ts[after] - ch.t
            ring = 0.12 * np.exp(-dt / 0.08) * np.cos(2.0 * math.pi * 7.0 * dt)
            load[after] += ch.grams * (1.0 - ring)
        return load

    def press(self, bin_id: str, ts: np.ndarray) -> np.ndarray:
        """(N,) [g] force of hands pressing on the plate of ``bin_id`` at ts (N,)."""
        load = np.zeros(len(ts))
        for touch in self._touches.get(bin_id, ()):
            win = (ts >= touch.t_in) & (ts <= touch.t_out + 0.6)
            if not np.any(win):
                continue
            tw = ts[win]
            during = tw <= touch.t_out
            env = np.clip((tw - touch.t_in) / 0.1, 0.0, 1.0) * np.clip(
                (touch.t_out - tw) / 0.1, 0.0, 1.0
            )
            wobble = 0.75 + 0.25 * np.sin(2.0 * math.pi * 1.3 * (tw - touch.t_in))
            dt = np.maximum(tw - touch.t_out, 0.0)
            ring = 0.2 * np.exp(-dt / 0.08) * np.cos(2.0 * math.pi * 6.0 * dt)
            load[win] += touch.peak_g * np.where(during, env * wobble, ring)
        return load

    def true_load(self, board_id: str, ts: np.ndarray) -> np.ndarray:
        """(N, C) [g] load on each channel's plate at ts (N,): the bin's products (less the part
        resting on a neighbour, plus neighbours' parts resting here) and hand presses."""
        b = self.boards[board_id]
        load = np.zeros((len(ts), len(b.channels)))
        for bin_id, c in b.col.items():
            own = self.goods(bin_id, ts)
            fraction = self.shared.get(bin_id, ("", 0.0))[1]
            load[:, c] = own * (1.0 - fraction) + self.press(bin_id, ts)
        for src, (dst, fraction) in self.shared.items():
            if dst in b.col:
                load[:, b.col[dst]] += fraction * self.goods(src, ts)
        return load

    def batch(self, board_id: str, t_prev: float, t: float) -> LoadCellBatch | None:
        """Samples of ``board_id`` with t_prev < time <= t [s], or None when there are none."""
        ks = self.sample_indices(board_id, t_prev, t)
        if ks.size == 0:
            return None
        b = self.boards[board_id]
        ts = self.offset[board_id] + ks / b.rate
        creep, amp, period, phase = self.drift[board_id]
        grams = self.true_load(board_id, ts)
        grams += ts[:, None] * creep[None, :]
        grams += amp[None, :] * np.sin(
            2.0 * math.pi * ts[:, None] / period[None, :] + phase[None, :]
        )
        grams += self._noise(board_id, ks)
        status = np.zeros(len(b.channels), dtype=np.uint8)
        for bin_id, c in b.col.items():
            for fault in self._faults.get(bin_id, ()):
                on = (ts >= fault.start) & (ts <= fault.end)
                if fault.kind == "scale_drift":
                    grams[:, c] += np.where(
                        ts >= fault.start,
                        fault.rate_g_per_min / 60.0 * (np.minimum(ts, fault.end) - fault.start),
                        0.0,
                    )
                elif np.any(on):
                    grams[on, c] = np.nan
                    status[c] = STATUS_FAULT
        q = self.quant[board_id]
        if q > 0:
            grams = np.round(grams / q) * q
        over = np.nan_to_num(grams, nan=0.0) > CAPACITY_G
        if np.any(over):
            grams = np.where(over, CAPACITY_G, grams)
            status[np.any(over, axis=0) & (status == STATUS_OK)] = STATUS_SATURATED
        return LoadCellBatch(
            board_id=board_id,
            channel_ids=b.channels,
            t0=float(ts[0]),
            sample_period=1.0 / b.rate,
            grams=grams.astype(np.float32),
            status=status,
        )


def sample_noise_sd(grams: np.ndarray) -> np.ndarray:
    """Per-channel sample-to-sample noise sigma [g] of readings (N, C) of a shelf at rest.

    The standard deviation of first differences divided by sqrt(2): the white-noise level,
    insensitive to slow drift (the statistic quoted for the real store's plates).
    """
    diffs = np.diff(np.asarray(grams, dtype=np.float64), axis=0)
    return np.nanstd(diffs, axis=0) / math.sqrt(2.0)

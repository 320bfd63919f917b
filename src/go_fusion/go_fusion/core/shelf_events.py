"""Shelf events from load cells: per-bin change detection that waits for the weight to settle.

Pure numpy; no ROS; time is always an argument (sample stamps, float seconds).

API for the fusion node
-----------------------
    detector = ShelfEventDetector(ShelfEventConfig(), bin_ids, neighbours_from_boxes(boxes),
                                  min_event_by_bin(planogram, catalogue))
    events = detector.add_samples(channel_bin_ids, stamps, grams)   # -> list[ShelfEventCore]
    events += detector.flush()          # end of a recording: release everything still pending
    # for each event that is not STATE_DRIFT (see core/hypotheses.py); catalogue: sku ->
    # (unit_g, unit_sd_g); by_bin: bin -> candidates_for_bins(live_planogram[bin], catalogue)
    for part in split_merged_event(ev, by_bin):        # two reaches rather than one item across?
        skus = [sku for b in part.bin_ids for sku in live_planogram[b]]
        cands = candidates_for_bins(skus, catalogue, off_planogram_prior=0.05)
        hyps = rank_hypotheses(part.delta_g, part.delta_sd_g, cands)  # q > 0 taken, < 0 back
        hyps = combine_with_vision(hyps, {sku: score})  # when product evidence exists

``add_samples`` takes one board message (or any batch): ``channel_bin_ids`` (C,) bin ids,
``stamps`` (N,) [s] and ``grams`` (N, C) [g], NaN = dropout (so are readings beyond
``max_abs_g``). Samples must be in time order per bin; a sample not newer than the last one seen
for its bin is dropped and counted (``health()``); call ``reset()`` when the clock jumps back (bag
replay restart). Unknown bin ids are registered on first sight (logged once). Register bins board
by board in channel order (``neighbours_from_boxes`` gives the adjacency from bin boxes): a board
whose bins are contiguous takes the cheap path. Events come out in release order.

Events for carts: STATE_SETTLED events are final. A STATE_UNSETTLED event is provisional (hold it
or send it to review); a later STATE_SETTLED event with the same ``event_id`` replaces it.
STATE_DRIFT events are diagnostics, never picks. The STATE_* values equal go_msgs/ShelfEvent's.

Per-bin model (one state machine per bin; the IDLE path is vectorised over channels)
----------------------------------------------------------------------------------------
* WARMUP: the first ``warmup_s`` of valid samples give the baseline (median) and the noise sd
  (MAD of successive differences, so a slow drift does not inflate it). A pick during warm-up is
  absorbed into the baseline.
* IDLE: the baseline ``level`` is re-zeroed to the median of each settled window and in between
  follows an EMA (``baseline_tau_s``) fed only with samples inside the noise band, so hand presses
  and steps never leak into it. The noise sd follows an EMA of clipped successive differences,
  floored at ``min_noise_sd_g`` and the quantisation step. A change starts when one sample leaves
  ``trigger_sigma`` sd of the level or the mean of the last ``smooth_samples`` leaves
  ``trigger_smooth_sigma`` sd of that mean (both at least ``min_trigger_g``); ``t_start`` walks
  back to the first sample of the excursion.
* ACTIVE: the weight has settled when the last ``settle_window_s`` of samples has a spread within
  ``settle_sigma`` sd and no trend. Then ``delta = median(window) - level``; a hand press that
  returns to the baseline settles with delta ~ 0 and produces nothing. ``t_end`` walks back to
  the first sample of the settled level; ``t_detect`` is the stamp at which it was confirmed.
  If it has not settled after ``unsettled_timeout_s``: a clean slow ramp is a STATE_DRIFT event,
  a stationary but noisier signal raises the noise estimate (no event), anything else is a
  STATE_UNSETTLED event with a provisional delta. The detector keeps waiting: when the weight
  settles, a STATE_SETTLED event with the SAME event_id supersedes it (reported even when its
  delta is ~0, i.e. "nothing moved after all"); after twice the timeout it gives up, re-zeroes at
  the current level and the provisional event stands.
* A settled change smaller than the bin's minimum (``min_event_g`` per bin, e.g.
  ``hypotheses.min_event_by_bin``: 0.4 x the lightest product) is no event: it is carried and
  joins the bin's next event within ``carry_window_s`` (a hand resting on the shelf before the
  item lands), else it goes to the drift account.
* Slow drift absorbed by the baseline is accumulated; when it exceeds ``drift_event_g`` since the
  last event a STATE_DRIFT event reports it (carts must ignore drift events).

Adjacent bins: settled changes of the same sign on neighbouring bins that start within
``merge_start_tol_s`` and settle within ``merge_end_tol_s`` of each other become one event
(``bin_ids``, summed delta, ``bin_id`` = the bin with the largest share). A settled change is held
until every neighbour has data ``merge_hold_s`` past its settle (and none is mid-change), at most
``max_hold_s``: that is the latency the merge costs. Changes too small to be an event on their
own (``minor_sigma``) are kept only to merge with a neighbour's, and a neighbour that stayed idle
is probed in its sample history (``history_samples``) for a share too small to trigger on it.
Two separate reaches on neighbouring bins that start and settle together are merged too: the
event keeps ``bin_deltas_g`` and ``hypotheses.split_merged_event`` splits it again when the
per-bin shares are better explained apart (it needs the products, the detector does not).

``event_id`` is ``"<bin_id>@<t_start with 3 decimals>"``: deterministic for replays.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from go_fusion.core.shelf_parts import (
    ActiveChange,
    CarriedChange,
    PendingChange,
    cluster_changes,
    neighbours_from_boxes,
)

LOGGER = logging.getLogger(__name__)

__all__ = [
    "STATE_DRIFT",
    "STATE_NAMES",
    "STATE_SETTLED",
    "STATE_UNSETTLED",
    "BinHealth",
    "ShelfEventConfig",
    "ShelfEventCore",
    "ShelfEventDetector",
    "event_id",
    "neighbours_from_boxes",
]

# go_msgs/ShelfEvent state constants (kept equal to the message's).
STATE_SETTLED = 0
STATE_UNSETTLED = 1
STATE_DRIFT = 2
STATE_NAMES = {STATE_SETTLED: "settled", STATE_UNSETTLED: "unsettled", STATE_DRIFT: "drift"}

_WARMUP, _IDLE, _ACTIVE = 0, 1, 2
_PICKLED_HISTORY = 128  # samples of each bin's history kept in a pickled detector (~4 s)
_MODE_NAMES = {_WARMUP: "warmup", _IDLE: "idle", _ACTIVE: "active"}


@dataclass(frozen=True)
class ShelfEventConfig:
    """Parameters of ``ShelfEventDetector`` (grams, seconds). Defaults suit 30-60 Hz load cells."""

    noise_sd_g: float = 2.0  # [g] noise sd assumed until warm-up has measured it
    min_noise_sd_g: float = 0.2  # [g] floor of the noise estimate (flat, quantised signals)
    max_noise_sd_g: float = 50.0  # [g] ceiling of the noise estimate
    quantisation_g: float = 0.0  # [g] ADC step if known (adds to the floor and the tolerances)
    warmup_s: float = 1.0  # [s] of valid samples that initialise the baseline and noise
    noise_tau_s: float = 10.0  # [s] time constant of the noise estimate
    baseline_tau_s: float = 20.0  # [s] time constant of the slow re-zeroing while idle
    trigger_sigma: float = 6.0  # one sample this many sd from the level starts a change
    trigger_smooth_sigma: float = 5.0  # the mean of smooth_samples this many sd of the mean away
    smooth_samples: int = 4  # samples in the smoothed trigger
    min_trigger_g: float = 2.0  # [g] a change never starts below this
    settle_window_s: float = 0.5  # [s] the weight must be still this long to count as settled
    settle_sigma: float = 1.5  # window spread allowed, in noise sd (hand jitter exceeds it)
    settle_trend_sigma: float = 3.0  # window trend allowed, in sd of the half-window means
    min_settle_samples: int = 3  # samples in a settle window, at least
    unsettled_timeout_s: float = 8.0  # [s] a change not settled by then is STATE_UNSETTLED
    min_event_g: float = 5.0  # [g] smallest delta reported as an event
    event_sigma: float = 5.0  # an event's |delta| must also exceed this many delta sd
    minor_sigma: float = 3.0  # smaller settled changes are kept only to merge with neighbours
    carry_window_s: float = 3.0  # [s] a change too small for an event joins the bin's next one
    min_minor_g: float = 1.0  # [g] ... and only when at least this large
    delta_sd_floor_g: float = 0.1  # [g] added in quadrature to delta_sd (load-cell creep)
    drift_event_g: float = 15.0  # [g] absorbed drift that triggers a STATE_DRIFT event
    drift_max_rate_g_s: float = 5.0  # [g/s] an unsettled clean ramp slower than this is drift
    merge_start_tol_s: float = 0.6  # [s] neighbours' changes starting this close ...
    merge_end_tol_s: float = 0.4  # [s] ... and settling this close are one item (one event)
    settle_band_frac: float = 0.05  # t_end: first sample within this share of |delta| (or 3 sd)
    merge_hold_s: float = 0.1  # [s] neighbour data past t_detect needed before releasing
    max_hold_s: float = 2.0  # [s] release anyway after this (a neighbour's data stopped)
    max_gap_s: float = 1.0  # [s] a gap longer than this resets the noise differencing
    max_abs_g: float = 200_000.0  # [g] readings beyond +-this are absurd: counted as dropouts
    history_samples: int = 256  # samples kept per bin to find a neighbour's untriggered share
    probe_before_s: float = 1.0  # [s] of a neighbour's history before the change used as its level

    def __post_init__(self) -> None:
        positive = (
            "noise_sd_g",
            "min_noise_sd_g",
            "max_noise_sd_g",
            "noise_tau_s",
            "baseline_tau_s",
            "trigger_sigma",
            "trigger_smooth_sigma",
            "settle_window_s",
            "settle_sigma",
            "settle_trend_sigma",
            "unsettled_timeout_s",
            "event_sigma",
            "max_gap_s",
            "max_abs_g",
            "carry_window_s",
        )
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"ShelfEventConfig.{name} must be > 0, got {value}")
        nonneg = (
            "quantisation_g",
            "warmup_s",
            "min_trigger_g",
            "min_event_g",
            "minor_sigma",
            "min_minor_g",
            "delta_sd_floor_g",
            "drift_event_g",
            "drift_max_rate_g_s",
            "merge_start_tol_s",
            "merge_end_tol_s",
            "settle_band_frac",
            "merge_hold_s",
            "max_hold_s",
        )
        for name in nonneg:
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"ShelfEventConfig.{name} must be >= 0, got {value}")
        if self.smooth_samples < 1 or self.min_settle_samples < 2 or self.history_samples < 8:
            raise ValueError(
                "ShelfEventConfig: need smooth_samples >= 1, min_settle_samples >= 2 and "
                "history_samples >= 8"
            )
        if self.unsettled_timeout_s <= self.settle_window_s:
            raise ValueError("ShelfEventConfig.unsettled_timeout_s must exceed settle_window_s")


@dataclass(frozen=True)
class ShelfEventCore:
    """A weight change on one bin or on adjacent bins that one item rests across.

    bin_id: bin with the largest share of the change. bin_ids: every bin that took part, bin_id
        first. bin_deltas_g: [g] each bin's share, aligned with bin_ids.
    t_start: [s] stamp of the first sample of the change. t_end: [s] stamp at which the weight
        settled (STATE_SETTLED), or of the last sample seen (others). t_detect: [s] stamp of the
        sample at which the detector decided (latency = t_detect - t_end, plus the merge hold).
    delta_g: [g] settled weight after minus before; negative = items removed.
    delta_sd_g: [g] standard deviation of delta_g.
    state: STATE_SETTLED, STATE_UNSETTLED (delta provisional) or STATE_DRIFT (not a pick).
    dropout_samples: NaN samples seen during the change. peak_abs_dev_g: [g] largest excursion
        from the old level during the change (hand presses show up here).
    bin_spans: [s] (t_start, t_end) of each bin's own change, aligned with bin_ids (empty: the
        event's span for every bin). A merged event that is split again (two reaches, not one
        item across) gives each part its own span, which attribution needs to tell the hands.
    """

    event_id: str
    bin_id: str
    bin_ids: tuple[str, ...]
    t_start: float
    t_end: float
    t_detect: float
    delta_g: float
    delta_sd_g: float
    state: int
    bin_deltas_g: tuple[float, ...]
    dropout_samples: int = 0
    peak_abs_dev_g: float = 0.0
    bin_spans: tuple[tuple[float, float], ...] = ()

    def spans(self) -> tuple[tuple[float, float], ...]:
        """[s] (t_start, t_end) of each bin of ``bin_ids``: ``bin_spans`` when it matches them,
        else the event's own span for every bin."""
        if len(self.bin_spans) == len(self.bin_ids):
            return tuple((float(a), float(b)) for a, b in self.bin_spans)
        return ((float(self.t_start), float(self.t_end)),) * len(self.bin_ids)

    @property
    def state_name(self) -> str:
        """ "settled", "unsettled" or "drift"."""
        return STATE_NAMES[self.state]


@dataclass(frozen=True)
class BinHealth:
    """Diagnostics of one bin.

    mode: "warmup", "idle" or "active". level_g, noise_sd_g: [g] baseline and noise estimate.
    nan_samples: dropouts seen; late_samples: dropped, not newer than the last; last_stamp: [s]
    stamp of the last sample seen (NaN if none).
    """

    bin_id: str
    mode: str
    level_g: float
    noise_sd_g: float
    nan_samples: int
    late_samples: int
    last_stamp: float


def event_id(bin_id: str, t_start: float) -> str:
    """Deterministic event id: ``"<bin_id>@<t_start [s] with 3 decimals>"``."""
    return f"{bin_id}@{t_start:.3f}"


class ShelfEventDetector:
    """Stateful change detector over many bins (see the module docstring)."""

    def __init__(
        self,
        config: ShelfEventConfig | None = None,
        bin_ids: Iterable[str] = (),
        neighbours: Mapping[str, Iterable[str]] | None = None,
        min_event_g: Mapping[str, float] | None = None,
    ) -> None:
        """config: parameters. bin_ids: bins to track (board by board, channel order).
        neighbours: bin -> adjacent bins (made symmetric). min_event_g: bin -> smallest change
        [g] reported as an event there (e.g. ``min_event_by_bin`` from the planogram), at least
        ``config.min_event_g``; smaller settled changes join the bin's next event."""
        self.config = config or ShelfEventConfig()
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._neigh: list[set[int]] = []
        self._cap = 0
        self._alloc(64)
        self._n = 0
        self._active: dict[int, ActiveChange] = {}
        self._warm: dict[int, tuple[list[float], list[float]]] = {}
        self._pending: list[PendingChange] = []
        self._carry: dict[int, list[CarriedChange]] = {}
        self._index_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._sel_cache: dict[int, slice] = {}  # id(index array in _index_cache) -> its slice
        for b in bin_ids:
            self._register(b)
        for b, ns in (neighbours or {}).items():
            i = self._register(b)
            for n in ns:
                j = self._register(n)
                if i != j:
                    self._neigh[i].add(j)
                    self._neigh[j].add(i)
        self._min_event_by_name = {
            b: float(v) for b, v in (min_event_g or {}).items() if math.isfinite(float(v))
        }
        for b, v in self._min_event_by_name.items():
            self._min_event[self._register(b)] = max(self.config.min_event_g, v)

    # ------------------------------------------------------------------ bookkeeping
    def _alloc(self, cap: int) -> None:
        k = self.config.smooth_samples
        old = self._cap

        def grow(name: str, shape: tuple[int, ...], fill: float, dtype: type = float) -> None:
            new = np.full(shape, fill, dtype=dtype)
            if old:
                new[:old] = getattr(self, name)[:old]
            setattr(self, name, new)

        grow("_mode", (cap,), _WARMUP, np.int8)
        grow("_level", (cap,), 0.0)
        grow("_level_var", (cap,), 0.0)
        grow("_sd2", (cap,), self.config.noise_sd_g**2)
        grow("_prev_x", (cap,), np.nan)
        grow("_valid_t", (cap,), -np.inf)
        grow("_seen_t", (cap,), -np.inf)
        grow("_drift_ref", (cap,), 0.0)
        grow("_drift_t", (cap,), 0.0)
        grow("_nan", (cap,), 0, np.int64)
        grow("_late", (cap,), 0, np.int64)
        grow("_tail_x", (cap, k), np.nan)
        grow("_tail_t", (cap, k), np.nan)
        grow("_tail_pos", (cap,), 0, np.int64)
        h = self.config.history_samples
        grow("_hist_x", (cap, h), np.nan)
        grow("_hist_t", (cap, h), np.nan)
        grow("_hist_pos", (cap,), 0, np.int64)
        grow("_idle_t", (cap,), np.inf)  # when the bin last became idle
        grow("_min_event", (cap,), self.config.min_event_g)
        self._cap = cap

    def _register(self, bin_id: str) -> int:
        i = self._index.get(bin_id)
        if i is not None:
            return i
        if not isinstance(bin_id, str) or not bin_id:
            raise ValueError(
                f"ShelfEventDetector: bin id must be a non-empty string, got {bin_id!r}"
            )
        i = len(self._names)
        if i >= self._cap:
            self._alloc(2 * self._cap)
        self._names.append(bin_id)
        self._index[bin_id] = i
        self._neigh.append(set())
        self._n = i + 1
        return i

    def _indices(self, bin_ids: Sequence[str]) -> np.ndarray:
        key = tuple(bin_ids)
        idx = self._index_cache.get(key)
        if idx is None:
            for b in key:
                if b not in self._index:
                    LOGGER.warning("shelf events: unknown bin %r, tracking it from now on", b)
            idx = np.array([self._register(b) for b in key], dtype=np.int64)
            if len(set(key)) != len(key):
                raise ValueError(f"ShelfEventDetector.add_samples: duplicate bin ids in {key}")
            self._index_cache[key] = idx
            # a board's bins registered in channel order are contiguous: slices are much cheaper
            if idx.size and bool(np.all(np.diff(idx) == 1)):
                self._sel_cache[id(idx)] = slice(int(idx[0]), int(idx[-1]) + 1)
        return idx

    def reset(self) -> None:
        """Forget every level, change and held event (bins and neighbours stay): e.g. after the
        replayed clock jumped back. Bins warm up again."""
        self._cap = 0
        self._alloc(max(64, len(self._names)))
        self._active.clear()
        self._warm.clear()
        self._pending.clear()
        self._carry.clear()
        for b, v in self._min_event_by_name.items():
            self._min_event[self._index[b]] = max(self.config.min_event_g, v)

    def forget_bins(self, bin_ids: Iterable[str]) -> None:
        """Forget the level and any change in progress of these bins: they warm up again from
        their next samples (a restored checkpoint older than an event already journalled)."""
        idx = {self._index[b] for b in bin_ids if b in self._index}
        for b in idx:
            self._mode[b] = _WARMUP
            self._prev_x[b] = np.nan
            self._tail_x[b] = np.nan
            self._tail_t[b] = np.nan
        self._drop_changes(idx)

    def _drop_changes(self, idx: set[int]) -> None:
        """Drop every change in progress, warm-up, carried change and held merge of bins
        ``idx`` (indices)."""
        for b in idx:
            self._active.pop(b, None)
            self._warm.pop(b, None)
            self._carry.pop(b, None)
        self._pending = [p for p in self._pending if p.bin not in idx]

    def levels(self, bin_ids: Sequence[str]) -> list[float]:
        """The level [g] each bin's next change will be measured from: its settled weight (the
        weight before a change in progress), NaN for a bin warming up or unknown."""
        out = []
        for b in bin_ids:
            i = self._index.get(b)
            ok = i is not None and self._mode[i] != _WARMUP
            out.append(float(self._level[i]) if ok else math.nan)  # type: ignore[index]
        return out

    def changes_in_progress(self) -> list[tuple[str, float]]:
        """(bin, t_start [s]) of every change not reported yet: moving, or settled and held for
        the merge with its neighbours."""
        out = [(self._names[b], a.t_start) for b, a in self._active.items()]
        out += [(self._names[p.bin], p.t_start) for p in self._pending]
        return out

    def restore_levels(self, levels: Mapping[str, float], t: float) -> None:
        """Set bins' levels to values known from elsewhere, as of time ``t`` [s], and make them
        idle, dropping any change in progress: a restored checkpoint older than an event already
        journalled, whose level after the event the journal holds. Measured from that level, a
        change right after the restart is found; a warm-up (``forget_bins``) would take it as
        the level. A bin without a finite level, or still warming up (no noise estimate yet),
        warms up instead. The bin's older samples are dropped from its history, so the onset of
        its next change is not traced back to the weight before the journalled event."""
        warm, known = [], set()
        for name, level in levels.items():
            b = self._index.get(name)
            if b is None:
                continue
            if not math.isfinite(level) or self._mode[b] == _WARMUP:
                warm.append(name)
                continue
            known.add(b)
            var = float(self._level_var[b])
            var = var if math.isfinite(var) else float(self._sd2[b])
            self._to_idle(b, t, float(level), var, math.nan)
            self._drift_ref[b] = level
            self._drift_t[b] = t
            self._hist_t[b] = np.nan
            self._hist_x[b] = np.nan
        self._drop_changes(known)
        if warm:
            self.forget_bins(warm)

    def __getstate__(self) -> dict[str, object]:
        """Pickled state (the fusion checkpoint): without the caches keyed by object ids, and
        with only the newest ``_PICKLED_HISTORY`` samples of each bin's history ring (the
        rings are most of the file: 2 MB with 400 bins, written every second)."""
        state = dict(self.__dict__)
        state["_index_cache"] = {}
        state["_sel_cache"] = {}
        n, h = self._n, self.config.history_samples
        k = min(h, _PICKLED_HISTORY)
        cols = (self._hist_pos[:n, None] - k + np.arange(k)) % h  # oldest to newest
        rows = np.arange(n)[:, None]
        state["_hist_x"] = self._hist_x[rows, cols]
        state["_hist_t"] = self._hist_t[rows, cols]
        del state["_hist_pos"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        kept_x = np.asarray(state.pop("_hist_x"))
        kept_t = np.asarray(state.pop("_hist_t"))
        self.__dict__.update(state)
        h = self.config.history_samples
        n, k = kept_x.shape
        self._hist_x = np.full((self._cap, h), np.nan)
        self._hist_t = np.full((self._cap, h), np.nan)
        self._hist_x[:n, :k] = kept_x
        self._hist_t[:n, :k] = kept_t
        self._hist_pos = np.zeros(self._cap, dtype=np.int64)
        self._hist_pos[:n] = k % h

    @property
    def bin_ids(self) -> tuple[str, ...]:
        """Every bin known to the detector, in registration order."""
        return tuple(self._names)

    def neighbours(self, bin_id: str) -> tuple[str, ...]:
        """Bins merged with ``bin_id`` when changes overlap, sorted."""
        i = self._index.get(bin_id)
        return () if i is None else tuple(sorted(self._names[j] for j in self._neigh[i]))

    def health(self) -> dict[str, BinHealth]:
        """Per-bin diagnostics (mode, level, noise, dropped samples)."""
        out = {}
        for i, name in enumerate(self._names):
            last = float(self._seen_t[i])
            out[name] = BinHealth(
                name,
                _MODE_NAMES[int(self._mode[i])],
                float(self._level[i]),
                float(math.sqrt(self._sd2[i])),
                int(self._nan[i]),
                int(self._late[i]),
                last if math.isfinite(last) else math.nan,
            )
        return out

    # ------------------------------------------------------------------ input
    def add_samples(
        self, bin_ids: Sequence[str], stamps: np.ndarray | Sequence[float], grams: np.ndarray
    ) -> list[ShelfEventCore]:
        """Feed samples; returns the events released by them.

        bin_ids: (C,) bin id of each channel. stamps: (N,) [s] sample times, increasing.
        grams: (N, C) [g] tared load; NaN/inf = dropout (counted, skipped).
        Raises ValueError on mismatched shapes or duplicate bin ids (nothing is consumed then).
        """
        idx = self._indices(bin_ids)
        t_arr = np.asarray(stamps, dtype=float).reshape(-1)
        g_arr = np.asarray(grams, dtype=float)
        g_arr = np.where(np.abs(g_arr) <= self.config.max_abs_g, g_arr, np.nan)  # NaN stays NaN
        if g_arr.ndim == 1 and len(idx) == 1 and g_arr.shape[0] == t_arr.shape[0]:
            g_arr = g_arr.reshape(-1, 1)
        if g_arr.ndim == 1 and t_arr.shape[0] == 1:
            g_arr = g_arr.reshape(1, -1)
        if g_arr.shape != (t_arr.shape[0], len(idx)):
            raise ValueError(
                f"ShelfEventDetector.add_samples: grams shape {g_arr.shape} does not "
                f"match (len(stamps), len(bin_ids)) = ({t_arr.shape[0]}, {len(idx)})"
            )
        out: list[ShelfEventCore] = []
        if t_arr.shape[0] > 1 and self._block(idx, t_arr, g_arr, out):
            return self._finish(out)
        for i in range(t_arr.shape[0]):
            t = float(t_arr[i])
            if not math.isfinite(t):
                LOGGER.warning("shelf events: non-finite stamp %r dropped", t)
                self._late[idx] += 1
                continue
            self._step(idx, t, g_arr[i], out)
        return self._finish(out)

    def _finish(self, out: list[ShelfEventCore]) -> list[ShelfEventCore]:
        out.extend(self._release(force=False))
        if self._carry:
            self._expire_carry()
        return out

    def flush(self, *, emit_unsettled: bool = True) -> list[ShelfEventCore]:
        """End of stream: release every held change; bins still changing give STATE_UNSETTLED."""
        out: list[ShelfEventCore] = []
        if emit_unsettled:
            for b in sorted(self._active):
                a = self._active.pop(b)
                ev = self._unsettled_event(b, a, float(self._seen_t[b]))
                if ev is not None:
                    out.append(ev)
                    self._to_idle(
                        b, float(self._seen_t[b]), a.pre_level + ev.delta_g, self._sd2[b], a.xs[-1]
                    )
        out.extend(self._release(force=True))
        return out

    # ------------------------------------------------------------------ per sample
    def _step(self, idx: np.ndarray, t: float, x: np.ndarray, out: list[ShelfEventCore]) -> None:
        fresh = t > self._seen_t[idx]
        if not fresh.all():
            self._late[idx[~fresh]] += 1
        finite = np.isfinite(x)
        self._nan[idx[fresh & ~finite]] += 1
        self._seen_t[idx[fresh]] = t
        g = idx[fresh]
        pos = self._hist_pos[g]
        self._hist_x[g, pos] = x[fresh]
        self._hist_t[g, pos] = t
        self._hist_pos[g] = (pos + 1) % self.config.history_samples
        mode = self._mode[idx]
        slow = np.flatnonzero(fresh & (mode != _IDLE))
        for j in slow:
            b = int(idx[j])
            if mode[j] == _ACTIVE:
                self._step_active(b, t, float(x[j]), out)
            elif finite[j]:
                self._step_warmup(b, t, float(x[j]))
        m = fresh & finite & (mode == _IDLE)
        if m.any():
            self._step_idle(idx[m], t, x[m], out)

    def _block(
        self, idx_all: np.ndarray, t: np.ndarray, x_all: np.ndarray, out: list[ShelfEventCore]
    ) -> bool:
        """Fast path for a block of samples whose idle bins are quiet (finite, no trigger).

        Idle bins are advanced together (the level and noise EMAs in their first-order, small
        time step form); bins mid-change or warming up go sample by sample. Returns False (and
        changes nothing) when the block needs the per-sample path for every bin.
        """
        cfg = self.config
        k = cfg.smooth_samples
        n = t.shape[0]
        sel_all = self._sel_cache.get(id(idx_all), idx_all)
        if not (math.isfinite(t[0]) and math.isfinite(t[-1]) and (t[1:] > t[:-1]).all()):
            return False
        if t[0] <= self._seen_t[sel_all].max():
            return False
        idle = self._mode[sel_all] == _IDLE
        all_idle = bool(idle.all())
        sel = sel_all if all_idle else idx_all[idle]
        x = x_all if all_idle else x_all[:, idle]
        if not np.isfinite(x).all():
            return False
        level = self._level[sel]
        sd2 = self._sd2[sel]
        sd = np.sqrt(sd2)
        r = x - level  # (n, C)
        if (np.abs(r) > np.maximum(cfg.trigger_sigma * sd, cfg.min_trigger_g)).any():
            return False
        if self._tail_pos[sel].any():  # put the ring in time order (the block path leaves it so)
            rows = np.arange(self._n)[sel][:, None]
            order = (self._tail_pos[sel][:, None] + np.arange(k)) % k
            tail, tail_t = self._tail_x[rows, order], self._tail_t[rows, order]
        else:
            tail, tail_t = self._tail_x[sel], self._tail_t[sel]  # (C, k) oldest first
        seq = np.concatenate([tail.T, x])  # (k + n, C)
        if np.isfinite(tail).all():  # k-sample means ending at each new sample
            csum = np.cumsum(seq, axis=0)
            mean_k = (csum[k:] - csum[:n]) / k  # window j ends at new sample j
            bandk = np.maximum(cfg.trigger_smooth_sigma * sd / math.sqrt(k), cfg.min_trigger_g)
            if (np.abs(mean_k - level) > bandk).any():
                return False
        elif not self._smooth_quiet(seq, level, sd, n):
            return False
        dt = np.empty_like(x)
        dt[0] = t[0] - self._valid_t[sel]
        dt[1:] = (t[1:] - t[:-1])[:, None]
        a = np.minimum(dt * (1.0 / cfg.baseline_tau_s), 1.0)
        self._level[sel] = level + (a * r).sum(axis=0)
        a_sum = np.minimum(a.sum(axis=0), 1.0)
        self._level_var[sel] = (1.0 - a_sum) ** 2 * self._level_var[sel] + (a * a).sum(axis=0) * sd2
        d = np.empty_like(x)
        d[0] = x[0] - self._prev_x[sel]
        d[1:] = x[1:] - x[:-1]
        ok = (dt <= cfg.max_gap_s) & np.isfinite(d)
        lim = 4.0 * math.sqrt(2.0) * sd
        dd = np.minimum(np.maximum(np.where(ok, d, 0.0), -lim), lim)
        b = np.minimum(dt * (1.0 / cfg.noise_tau_s), 1.0) * ok
        new = sd2 + (b * (0.5 * dd * dd - sd2)).sum(axis=0)
        self._sd2[sel] = np.minimum(np.maximum(new, self._floor_sd2()), cfg.max_noise_sd_g**2)
        self._tail_x[sel] = seq[-k:].T
        if n >= k:
            self._tail_t[sel] = t[-k:]
        else:
            self._tail_t[sel] = np.concatenate([tail_t.T, np.repeat(t[:, None], x.shape[1], 1)])[
                -k:
            ].T
        self._tail_pos[sel] = 0
        self._prev_x[sel] = x[-1]
        self._valid_t[sel] = t[-1]
        self._seen_t[sel_all] = t[-1]
        self._write_history(idx_all, sel_all, t, x_all)
        if not all_idle:
            for j in np.flatnonzero(~idle):
                b_ = int(idx_all[j])
                for i in range(n):
                    self._step_one(b_, float(t[i]), float(x_all[i, j]), out)
        drifted = np.abs(self._level[sel] - self._drift_ref[sel]) > cfg.drift_event_g
        if drifted.any():
            for bb in np.arange(self._n)[sel][drifted]:
                out.append(self._drift_event(int(bb), float(t[-1])))
        return True

    def _smooth_quiet(self, seq: np.ndarray, level: np.ndarray, sd: np.ndarray, n: int) -> bool:
        """The smoothed trigger when the tail has gaps (NaN): True when nothing triggers."""
        cfg = self.config
        k = cfg.smooth_samples
        fin = np.isfinite(seq)
        zero = np.zeros((1, seq.shape[1]))
        csum = np.concatenate([zero, np.cumsum(np.where(fin, seq, 0.0), axis=0)])
        ccnt = np.concatenate([zero, np.cumsum(fin, axis=0)])
        win_sum = csum[k + 1 :] - csum[1 : n + 1]
        win_cnt = ccnt[k + 1 :] - ccnt[1 : n + 1]
        mean_k = win_sum / np.maximum(win_cnt, 1)
        bandk = np.maximum(
            cfg.trigger_smooth_sigma * sd / np.sqrt(np.maximum(win_cnt, 1)), cfg.min_trigger_g
        )
        return not ((win_cnt >= k) & (np.abs(mean_k - level) > bandk)).any()

    def _write_history(
        self, idx_all: np.ndarray, sel_all: slice | np.ndarray, t: np.ndarray, x_all: np.ndarray
    ) -> None:
        """Append a block (N,), (N, C) to the bins' history rings."""
        h = self.config.history_samples
        n = t.shape[0]
        m = min(n, h)
        pos = self._hist_pos[sel_all]
        p0 = int(pos[0]) + n - m
        if p0 + m <= h and (pos == pos[0]).all():  # same position on the whole board
            self._hist_x[sel_all, p0 : p0 + m] = x_all[-m:].T
            self._hist_t[sel_all, p0 : p0 + m] = t[-m:]
        else:
            cols = (pos[:, None] + np.arange(n - m, n)) % h
            self._hist_x[idx_all[:, None], cols] = x_all[-m:].T
            self._hist_t[idx_all[:, None], cols] = t[-m:]
        self._hist_pos[sel_all] = (pos + n) % h

    def _step_one(self, b: int, t: float, x: float, out: list[ShelfEventCore]) -> None:
        """One fresh sample of one bin, whatever its mode (history already written)."""
        finite = math.isfinite(x)
        if not finite:
            self._nan[b] += 1
        mode = self._mode[b]
        if mode == _ACTIVE:
            self._step_active(b, t, x, out)
        elif not finite:
            return
        elif mode == _WARMUP:
            self._step_warmup(b, t, x)
        else:
            self._step_idle(np.array([b]), t, np.array([x]), out)

    def _floor_sd2(self) -> float:
        return max(self.config.min_noise_sd_g, self.config.quantisation_g / math.sqrt(12.0)) ** 2

    def _step_warmup(self, b: int, t: float, x: float) -> None:
        ts, xs = self._warm.setdefault(b, ([], []))
        ts.append(t)
        xs.append(x)
        if t - ts[0] < self.config.warmup_s or len(xs) < 5:
            return
        arr = np.asarray(xs)
        d = np.diff(arr)
        sd = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)
        sd2 = min(max(sd**2, self._floor_sd2()), self.config.max_noise_sd_g**2)
        level = float(np.median(arr))
        self._sd2[b] = sd2
        self._to_idle(b, t, level, sd2 * math.pi / (2.0 * len(arr)), x)
        self._drift_ref[b] = level
        self._drift_t[b] = t
        del self._warm[b]

    def _to_idle(self, b: int, t: float, level: float, level_var: float, last_x: float) -> None:
        self._mode[b] = _IDLE
        self._idle_t[b] = t
        self._level[b] = level
        self._level_var[b] = level_var
        self._prev_x[b] = last_x
        self._valid_t[b] = t
        self._tail_x[b] = np.nan
        self._tail_t[b] = np.nan

    def _step_idle(self, g: np.ndarray, t: float, x: np.ndarray, out: list[ShelfEventCore]) -> None:
        cfg = self.config
        k = cfg.smooth_samples
        level = self._level[g]
        sd2 = self._sd2[g]
        sd = np.sqrt(sd2)
        r = x - level
        pos = self._tail_pos[g]
        self._tail_x[g, pos] = x
        self._tail_t[g, pos] = t
        self._tail_pos[g] = (pos + 1) % k
        tail = self._tail_x[g]
        valid = np.isfinite(tail)
        cnt = valid.sum(axis=1)
        mean_k = np.where(valid, tail, 0.0).sum(axis=1) / np.maximum(cnt, 1)
        band1 = np.maximum(cfg.trigger_sigma * sd, cfg.min_trigger_g)
        bandk = np.maximum(
            cfg.trigger_smooth_sigma * sd / np.sqrt(np.maximum(cnt, 1)), cfg.min_trigger_g
        )
        trig = (np.abs(r) > band1) | ((cnt >= k) & (np.abs(mean_k - level) > bandk))
        quiet = ~trig
        if quiet.any():
            gq = g[quiet]
            dt = t - self._valid_t[gq]
            a = np.clip(dt / cfg.baseline_tau_s, 0.0, 1.0)
            self._level[gq] = level[quiet] + a * r[quiet]
            self._level_var[gq] = (1.0 - a) ** 2 * self._level_var[gq] + a**2 * sd2[quiet]
            d = x[quiet] - self._prev_x[gq]
            ok = np.isfinite(d) & (dt <= cfg.max_gap_s)
            if ok.any():
                lim = 4.0 * math.sqrt(2.0) * sd[quiet][ok]
                dd = np.clip(d[ok], -lim, lim)
                bq = np.clip(dt[ok] / cfg.noise_tau_s, 0.0, 1.0)
                new = (1.0 - bq) * sd2[quiet][ok] + bq * 0.5 * dd**2
                self._sd2[gq[ok]] = np.clip(new, self._floor_sd2(), cfg.max_noise_sd_g**2)
            self._prev_x[gq] = x[quiet]
            self._valid_t[gq] = t
            drifted = np.abs(self._level[gq] - self._drift_ref[gq]) > cfg.drift_event_g
            for b in gq[drifted]:
                out.append(self._drift_event(int(b), t))
        for j in np.flatnonzero(trig):
            self._start_active(int(g[j]), t, float(x[j]))

    def _drift_event(self, b: int, t: float) -> ShelfEventCore:
        name = self._names[b]
        delta = float(self._level[b] - self._drift_ref[b])
        t0 = float(self._drift_t[b])
        self._drift_ref[b] = self._level[b]
        self._drift_t[b] = t
        sd = math.sqrt(2.0 * self._level_var[b] + self.config.delta_sd_floor_g**2)
        LOGGER.info("shelf events: bin %s drifted %.1f g since t=%.3f", name, delta, t0)
        return ShelfEventCore(
            event_id(name, t0), name, (name,), t0, t, t, delta, sd, STATE_DRIFT, (delta,)
        )

    def _start_active(self, b: int, t: float, x: float) -> None:
        level = float(self._level[b])
        sd = math.sqrt(self._sd2[b])
        ts: list[float] = []
        xs: list[float] = []
        # walk back through the smoothing tail to the first sample of the excursion
        tail = sorted(
            (tt, xx)
            for tt, xx in zip(self._tail_t[b], self._tail_x[b], strict=True)
            if math.isfinite(tt) and math.isfinite(xx) and tt < t
        )
        for tt, xx in reversed(tail):
            if abs(xx - level) <= 2.0 * sd:
                break
            ts.insert(0, tt)
            xs.insert(0, xx)
        ts.append(t)
        xs.append(x)
        t_start = float(min(ts[0], self._onset(b, t, level, sd, 1.0 if x > level else -1.0)))
        a = ActiveChange(t_start, level, float(self._level_var[b]), [], [])
        for tt, xx in zip(ts, xs, strict=True):
            a.push(tt, xx)
        self._active[b] = a
        self._mode[b] = _ACTIVE

    def _onset(self, b: int, t: float, level: float, sd: float, sign: float) -> float:
        """Stamp [s] where the excursion that triggered at t began, from the bin's history.

        Walks back while the mean of ``smooth_samples`` stays beyond 2 sd of that mean on the
        trigger's side: on a noisy bin a small change triggers late, and adjacent-bin merging
        compares start times.
        """
        k = self.config.smooth_samples
        h = self.config.history_samples
        cols = (self._hist_pos[b] + np.arange(h)) % h
        ts = self._hist_t[b, cols]
        xs = self._hist_x[b, cols]
        keep = np.isfinite(ts) & np.isfinite(xs) & (ts <= t) & (ts >= t - 2.0)
        ts, xs = ts[keep], xs[keep]
        if ts.size < k + 1:
            return t
        means = np.convolve(sign * (xs - level), np.ones(k) / k, mode="valid")  # window j: j..j+k-1
        beyond = means > 2.0 * sd / math.sqrt(k)
        if not beyond[-1]:
            return t
        quiet = np.flatnonzero(~beyond)
        if quiet.size == 0:
            return float(ts[0])
        return float(ts[min(int(quiet[-1]) + k, ts.size - 1)])

    def _step_active(self, b: int, t: float, x: float, out: list[ShelfEventCore]) -> None:
        cfg = self.config
        a = self._active[b]
        if not math.isfinite(x):
            a.nan += 1
        else:
            a.push(t, x)
            while a.ts[a.lo] < t - cfg.settle_window_s:
                a.lo += 1
            n = len(a.ts) - a.lo
            long_enough = t - a.ts[a.lo] >= 0.9 * cfg.settle_window_s
            if n >= cfg.min_settle_samples and long_enough and self._try_settle(b, a, t):
                return
        if t - a.t_start > cfg.unsettled_timeout_s * (2.0 if a.provisional else 1.0):
            ev = self._timeout(b, a, t)
            if ev is not None:
                out.append(ev)

    def _try_settle(self, b: int, a: ActiveChange, t: float) -> bool:
        cfg = self.config
        lo, hi = a.lo, len(a.xs)
        n = hi - lo
        sd = math.sqrt(self._sd2[b])
        q = cfg.quantisation_g
        _, var_w = a.window_stats(lo, hi)
        if math.sqrt(var_w) > cfg.settle_sigma * sd + q:
            return False
        h = n // 2
        trend = abs(a.window_stats(lo, lo + h)[0] - a.window_stats(lo + h, hi)[0])
        if trend > cfg.settle_trend_sigma * sd * math.sqrt(1.0 / h + 1.0 / (n - h)) + q:
            return False
        m = float(np.median(a.xs[lo:]))
        after_var = self._sd2[b] * math.pi / (2.0 * n)
        delta = m - a.pre_level
        # t_end: where the signal came within a band of the new level; the share of |delta| makes
        # it the same point of the motion on two bins that one item rests across
        band = max(3.0 * sd + q, cfg.settle_band_frac * abs(delta))
        # (mean of 3 samples so one jitter spike does not end the walk)
        j = a.lo
        mr = m - a.pre_level
        while j > 3 and abs((a.cs[j] - a.cs[j - 3]) / 3.0 - mr) <= band:
            j -= 1
        var = a.pre_var + after_var + q**2 / 6.0 + cfg.delta_sd_floor_g**2
        sdd = math.sqrt(var)
        t_start = a.t_start
        carried = self._take_carry(b, t)
        step = delta
        if carried:
            # e.g. a hand resting on the shelf settled before the item landed: count it in
            delta += sum(c.delta for c in carried)
            var += sum(c.var for c in carried)
            t_start = min(t_start, *(c.t_start for c in carried))
        major = abs(delta) >= max(self._min_event[b], cfg.event_sigma * math.sqrt(var))
        major = major or a.provisional
        minor = abs(step) >= max(cfg.min_minor_g, cfg.minor_sigma * sdd)
        if not major:
            delta, var, t_start = step, a.pre_var + after_var + q**2 / 6.0, a.t_start
            var += cfg.delta_sd_floor_g**2
            if carried:
                self._carry[b] = carried
            if minor:
                self._carry.setdefault(b, []).append(CarriedChange(t_start, t, delta, var))
        if major or minor:
            self._pending.append(
                PendingChange(
                    b,
                    t_start,
                    a.ts[j],
                    t,
                    delta,
                    var,
                    major,
                    a.nan,
                    a.peak,
                    a.provisional,
                )
            )
        del self._active[b]
        self._to_idle(b, t, m, after_var, a.xs[-1])
        if major or minor:
            # this step is accounted for (event, carry or merge); drift the baseline absorbed
            # before it stays in the drift account
            self._drift_ref[b] += step
        return True

    def _take_carry(self, b: int, t: float) -> list[CarriedChange]:
        """The bin's carried changes if the last is recent, else [] (then they count as drift).

        All or nothing: a hand that rested and left again nets to ~0 and must not be flagged.
        """
        items = self._carry.pop(b, [])
        if items and t - items[-1].t_detect > self.config.carry_window_s:
            self._drift_ref[b] -= sum(c.delta for c in items)  # flagged if large
            return []
        return items

    def _expire_carry(self) -> None:
        """Carried changes that joined no event in time go to the drift account."""
        for b in list(self._carry):
            self._carry[b] = self._take_carry(b, float(self._seen_t[b]))
            if not self._carry[b]:
                del self._carry[b]

    def _timeout(self, b: int, a: ActiveChange, t: float) -> ShelfEventCore | None:
        cfg = self.config
        sd = math.sqrt(self._sd2[b])
        del self._active[b]
        if len(a.xs) < cfg.min_settle_samples:
            LOGGER.warning(
                "shelf events: bin %s had no valid samples for %.1f s; keeping its level",
                self._names[b],
                t - a.t_start,
            )
            self._to_idle(b, t, a.pre_level, a.pre_var, a.pre_level)
            return None
        ts = np.asarray(a.ts)
        xs = np.asarray(a.xs)
        w = xs[a.lo :]
        name = self._names[b]
        if a.provisional:
            # second deadline: the provisional event stands; carry on from the current level
            m = float(np.median(w))
            self._to_idle(b, t, m, float(w.var()) / len(w), float(xs[-1]))
            self._drift_ref[b] = m
            self._drift_t[b] = t
            LOGGER.warning(
                "shelf events: bin %s still unsettled after %.1f s; re-zeroed", name, t - a.t_start
            )
            return None
        slope, icpt = np.polyfit(ts - ts[0], xs, 1)
        resid = float(np.std(xs - (icpt + slope * (ts - ts[0]))))
        if (
            resid <= cfg.settle_sigma * sd + cfg.quantisation_g
            and abs(slope) <= cfg.drift_max_rate_g_s
        ):
            end = float(icpt + slope * (ts[-1] - ts[0]))
            delta = end - a.pre_level
            sdd = math.sqrt(a.pre_var + resid**2 / len(xs) + cfg.delta_sd_floor_g**2)
            self._to_idle(b, t, end, resid**2 / len(xs), float(xs[-1]))
            self._drift_ref[b] = end
            self._drift_t[b] = t
            LOGGER.info("shelf events: bin %s ramps %.2f g/s: drift", name, slope)
            return ShelfEventCore(
                event_id(name, a.t_start),
                name,
                (name,),
                a.t_start,
                float(ts[-1]),
                t,
                delta,
                sdd,
                STATE_DRIFT,
                (delta,),
                a.nan,
                a.peak,
            )
        m = float(np.median(w))
        band = max(cfg.min_trigger_g, cfg.trigger_smooth_sigma * sd / math.sqrt(len(w)))
        if abs(m - a.pre_level) <= band:
            mad = 1.4826 * float(np.median(np.abs(xs - np.median(xs))))
            self._sd2[b] = min(max(mad**2, self._sd2[b]), cfg.max_noise_sd_g**2)
            LOGGER.warning(
                "shelf events: bin %s got noisier: noise sd now %.1f g",
                name,
                math.sqrt(self._sd2[b]),
            )
            self._to_idle(b, t, a.pre_level, a.pre_var, float(xs[-1]))
            return None
        # keep waiting: when it settles, a STATE_SETTLED event with the same id supersedes this
        a.provisional = True
        self._active[b] = a
        return self._unsettled_event(b, a, t)

    def _unsettled_event(self, b: int, a: ActiveChange, t: float) -> ShelfEventCore | None:
        """Provisional event for a change that has not settled (state unchanged)."""
        name = self._names[b]
        if not a.xs:
            return None
        w = np.asarray(a.xs[a.lo :]) if a.lo < len(a.xs) else np.asarray(a.xs[-1:])
        m = float(np.median(w))
        var_w = float(w.var()) if w.shape[0] > 1 else self._sd2[b]
        delta = m - a.pre_level
        sdd = math.sqrt(a.pre_var + var_w / w.shape[0] + var_w + self.config.delta_sd_floor_g**2)
        LOGGER.info("shelf events: bin %s did not settle within %.1f s", name, t - a.t_start)
        return ShelfEventCore(
            event_id(name, a.t_start),
            name,
            (name,),
            a.t_start,
            a.ts[-1],
            t,
            delta,
            sdd,
            STATE_UNSETTLED,
            (delta,),
            a.nan,
            a.peak,
        )

    # ------------------------------------------------------------------ adjacent-bin merge
    def _clusters(self) -> list[list[PendingChange]]:
        cfg = self.config
        return cluster_changes(
            self._pending, self._neigh, cfg.merge_start_tol_s, cfg.merge_end_tol_s
        )

    def _ready(self, group: list[PendingChange]) -> bool:
        cfg = self.config
        members = {r.bin for r in group}
        for r in group:
            if self._seen_t[r.bin] >= r.t_detect + cfg.max_hold_s:
                return True
        for r in group:
            for nb in self._neigh[r.bin] - members:
                act = self._active.get(nb)
                if act is not None and abs(act.t_start - r.t_start) <= cfg.merge_start_tol_s:
                    return False
                if self._seen_t[nb] < r.t_detect + cfg.merge_hold_s:
                    return False
        return True

    def _history(self, b: int, t0: float, t1: float) -> np.ndarray:
        """Valid samples of bin b with t0 <= t < t1 from its history ring, (M,) [g]."""
        ts = self._hist_t[b]
        sel = (ts >= t0) & (ts < t1) & np.isfinite(self._hist_x[b])
        return self._hist_x[b][sel]

    def _probe_neighbours(self, group: list[PendingChange]) -> None:
        """Add the share of an item that a quiet neighbour took without triggering.

        On a noisy bin a small share (say 15 g at 8 g noise) stays inside the trigger band; its
        history still shows it: median after the settle minus median before the change, tested
        against the noise of those two medians. The neighbour's level is re-zeroed to it.
        """
        cfg = self.config
        members = {r.bin for r in group}
        busy = {r.bin for r in self._pending}
        sign = 1.0 if sum(r.delta for r in group) > 0 else -1.0
        for r in list(group):
            for nb in sorted(self._neigh[r.bin] - members - busy):
                # only a neighbour idle all along: one that moved lately has its own event
                if self._mode[nb] != _IDLE or self._idle_t[nb] > r.t_start - cfg.probe_before_s:
                    continue
                before = self._history(nb, r.t_start - cfg.probe_before_s, r.t_start)
                after = self._history(nb, r.t_end, r.t_detect + cfg.merge_hold_s + 1e-9)
                if before.size < cfg.min_settle_samples or after.size < cfg.min_settle_samples:
                    continue
                m_after = float(np.median(after))
                diff = m_after - float(np.median(before))
                var = self._sd2[nb] * math.pi / 2.0 * (1.0 / before.size + 1.0 / after.size)
                if diff * sign <= max(cfg.min_minor_g, cfg.minor_sigma * math.sqrt(var)):
                    continue
                group.append(
                    PendingChange(
                        nb,
                        r.t_start,
                        r.t_end,
                        r.t_detect,
                        diff,
                        var,
                        False,
                        0,
                        abs(diff),
                    )
                )
                members.add(nb)
                after_var = self._sd2[nb] * math.pi / (2.0 * after.size)
                self._drift_ref[nb] += m_after - self._level[nb]  # the share is accounted for
                self._level[nb] = m_after
                self._level_var[nb] = after_var

    def _release(self, *, force: bool) -> list[ShelfEventCore]:
        if not self._pending:
            return []
        cfg = self.config
        out = []
        keep: list[PendingChange] = []
        for group in self._clusters():
            if not force and not self._ready(group):
                keep.extend(group)
                continue
            self._probe_neighbours(group)
            delta = sum(r.delta for r in group)
            var = sum(r.var for r in group)
            floor = min(float(self._min_event[r.bin]) for r in group)
            small = abs(delta) < max(floor, cfg.event_sigma * math.sqrt(var))
            if small and not any(r.final for r in group):
                continue  # the members stay in their bins' carry
            for r in group:
                if not r.major:  # reported now: must not join the bin's next event too
                    rest = [c for c in self._carry.get(r.bin, []) if c.t_start != r.t_start]
                    self._carry[r.bin] = rest
            group.sort(key=lambda r: (-abs(r.delta), self._names[r.bin]))
            first, rest = group[0], sorted(group[1:], key=lambda r: self._names[r.bin])
            ordered = [first, *rest]
            name = self._names[first.bin]
            t_start = min(r.t_start for r in group)
            out.append(
                ShelfEventCore(
                    event_id(name, t_start),
                    name,
                    tuple(self._names[r.bin] for r in ordered),
                    t_start,
                    max(r.t_end for r in group),
                    max(r.t_detect for r in group),
                    delta,
                    math.sqrt(var),
                    STATE_SETTLED,
                    tuple(r.delta for r in ordered),
                    sum(r.nan for r in group),
                    max(r.peak for r in group),
                    tuple((r.t_start, r.t_end) for r in ordered) if len(ordered) > 1 else (),
                )
            )
        self._pending = keep
        out.sort(key=lambda e: (e.t_detect, e.event_id))
        return out

"""Shopper tracking on the floor plane with entry-gate sessions (pure numpy/scipy).

A :class:`ShopperTracker` keeps one track per shopper from the entry gate to the exit gate:

- State: a constant-velocity Kalman filter on the floor (``go_fusion.core.kalman``), measured by
  the torso centre of each 3D skeleton (its covariance propagated from the joint covariances).
- Association: one optimal assignment (``scipy.optimize.linear_sum_assignment``) of tracks to
  skeletons on the negative log likelihood ``d2 + log det S``, gated by the Mahalanobis distance
  (chi-square) and by the distance a person can walk since last seen; shoulder height is a soft,
  appearance-free cue (re-finding a coasting track among several candidates) and a skeleton built
  on a track's own previous skeleton (anchor) gets a bonus.
- Births happen only inside an entry gate area. A track is bound to a shopping session: an entry
  scan binds the unbound tracks standing in the entry area when it arrives (nearest to the scan
  position first), or unbound tracks born less than ``scan_after_birth_s`` before it that are
  still within ``bind_radius_m``; a track born after a scan takes the most recent scan that still
  has room. A scan with ``group_size = N`` binds up to N tracks, the members after the first
  born within ``group_window_s`` of it (a family, one cart).
- Occlusion: an unmatched confirmed track coasts (``OCCLUDED``) with a damped velocity and a
  growing covariance, and is re-found by the same assignment. Confirmed tracks are never dropped
  for being unseen short of ``max_occluded_s``: the set of shoppers is closed between gates.
- Exit: an exit gate event ends the nearest live track (of its session when the event has a
  token); a track last seen inside an exit area and unseen for ``exit_lost_s`` ends too. Each end
  gives an :class:`ExitEvent` (``session_closed`` when the last track of the session left).
- Wrist history: each track keeps a ring buffer of ``(t, left wrist, right wrist, covariances,
  scores)`` for attribution: :meth:`ShopperTracker.wrist_history`.

Restart: :meth:`ShopperTracker.export_state` gives the sessions and live tracks as JSON-compatible
data; :meth:`ShopperTracker.restore_state` brings them back (tracks OCCLUDED until re-found).

The value types (``Track``, ``GateArea``, ``GateEvent``, ``ExitEvent``, ``TrackingConfig``...)
live in ``go_fusion.core.tracking_types`` and are re-exported here; the wrist store lives in
``go_fusion.core.wrist_history``.

Session ids: the entry token itself (opaque, never reveals a person); a token scanned again after
its session closed gets ``"<token>~2"``, ``"<token>~3"``... so carts never merge. Tracks that
entered without a scan keep ``session_id == ""`` and are reported once as a diagnostic.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from go_common.core.appearance import colour_cost, hellinger, usable
from go_fusion.core import kalman
from go_fusion.core.association import LEFT_WRIST, RIGHT_WRIST, TORSO
from go_fusion.core.tracking_types import (
    ExitEvent,
    GateArea,
    GateEvent,
    GateKind,
    Track,
    TrackerStateError,
    TrackingConfig,
    TrackState,
    UnknownTrackError,
)
from go_fusion.core.triangulation import Skeleton3D, SkeletonBatch
from go_fusion.core.vecmath import norm2, sum_last
from go_fusion.core.wrist_history import WristHistory, WristStore

__all__ = [
    "ExitEvent",
    "GateArea",
    "GateEvent",
    "GateKind",
    "Measurements",
    "ShopperTracker",
    "Track",
    "TrackState",
    "TrackerStateError",
    "TrackingConfig",
    "TrackingResult",
    "UnknownTrackError",
    "WristHistory",
    "measure",
]

_LOG = logging.getLogger(__name__)
_SHOULDERS = np.array([5, 6])
_INFEASIBLE = 1e9


_STATE_VERSION = 1


@dataclass
class _Session:
    session_id: str
    token: str
    stamp: float
    gate_id: str
    position: np.ndarray | None
    slots: int
    tracks: list[str] = field(default_factory=list)
    closed: bool = False


@dataclass
class _TrackRecord:
    """Mutable per-track bookkeeping (the Kalman state lives in the tracker's arrays)."""

    track_id: str
    born: float
    last_seen: float
    state: TrackState = TrackState.TENTATIVE
    session_id: str = ""
    hits: int = 1
    height: float = math.nan
    appearance: np.ndarray | None = None  # running mean of the clear views' clothing colour
    skeleton: Skeleton3D | None = None
    skeleton_t: float = -math.inf
    last_xy: np.ndarray = field(default_factory=lambda: np.zeros(2))
    warned_unbound: bool = False
    slot: int = -1  # row of the track's wrist history in the tracker's WristStore
    final_x: np.ndarray = field(default_factory=lambda: np.zeros(4))  # Kalman state at exit
    final_p: np.ndarray = field(default_factory=lambda: np.eye(4))
    exit_reason: str = ""


@dataclass(frozen=True)
class TrackingResult:
    """Result of one tracker step.

    Attributes:
        tracks: live tracks, plus those that exited at this step (state EXITED).
        exits: exits that happened at this step.
        skeleton_tracks: (S,) track id of each skeleton of the step, "" for none.
        diagnostics: human-readable problems found at this step.
    """

    tracks: tuple[Track, ...]
    exits: tuple[ExitEvent, ...]
    skeleton_tracks: tuple[str, ...]
    diagnostics: tuple[str, ...]


@dataclass(frozen=True)
class Measurements:
    """Floor measurements of S skeletons.

    Attributes:
        xy: (S, 2) torso centre on the floor [m].
        cov: (S, 2, 2) its covariance [m^2].
        height: (S,) shoulder height [m], NaN when unknown or single-view.
        ok: (S,) bool, a usable measurement.
        n_joints: (S,) number of valid joints.
    """

    xy: np.ndarray
    cov: np.ndarray
    height: np.ndarray
    ok: np.ndarray
    n_joints: np.ndarray


def measure(skeletons: SkeletonBatch, body_sd_m: float) -> Measurements:
    """Torso-centre floor measurements of a skeleton batch, covariance from the joints."""
    valid = skeletons.valid
    n = valid.shape[0]
    torso = np.zeros_like(valid)
    torso[:, TORSO] = valid[:, TORSO]
    use = np.where(torso.any(axis=1)[:, None], torso, valid)
    cov_xy = np.nan_to_num(skeletons.covariance[..., :2, :2])
    var = np.trace(cov_xy, axis1=-2, axis2=-1)
    w = np.where(use, 1.0 / np.maximum(var, 1e-8), 0.0)
    wsum = np.maximum(sum_last(w), 1e-12)
    wn = w / wsum[:, None]
    xy = np.matmul(wn[:, None, :], np.nan_to_num(skeletons.keypoints[..., :2]))[:, 0]
    cov = np.matmul(wn[:, None, :] ** 2, cov_xy.reshape(n, valid.shape[1], 4))[:, 0].reshape(
        n, 2, 2
    )
    cov = cov + body_sd_m**2 * np.eye(2)
    shoulders = valid[:, _SHOULDERS] & ~skeletons.single_view[:, None]
    z = np.nan_to_num(skeletons.keypoints[:, _SHOULDERS, 2])
    cnt = shoulders.sum(axis=1)
    height = np.where(cnt > 0, (z * shoulders).sum(axis=1) / np.maximum(cnt, 1), np.nan)
    ok = use.any(axis=1) if n else np.zeros(0, dtype=bool)
    return Measurements(xy, cov, height, ok, sum_last(valid))


class ShopperTracker:
    """Tracks shoppers from entry to exit; see the module docstring for the behaviour."""

    def __init__(self, config: TrackingConfig, gates: Sequence[GateArea]) -> None:
        self.config = config
        self.gates = tuple(gates)
        self._entries = tuple(g for g in self.gates if g.kind == GateKind.ENTRY)
        self._exits = tuple(g for g in self.gates if g.kind == GateKind.EXIT)
        self._records: list[_TrackRecord] = []
        self._x = np.zeros((0, 4))
        self._p = np.zeros((0, 4, 4))
        self._t: float | None = None
        self._next_id = 1
        self._sessions: dict[str, _Session] = {}
        self._token_uses: dict[str, int] = {}
        self._finished: dict[str, tuple[float, _TrackRecord]] = {}  # exited: (time, record)
        self._wrists = WristStore(config.wrist_history_len)

    # ----------------------------------------------------------------------------- queries
    @property
    def time(self) -> float | None:
        """Time of the last step [s], None before the first."""
        return self._t

    def live_track_ids(self) -> tuple[str, ...]:
        """Ids of the tracks that have not exited."""
        return tuple(r.track_id for r in self._records)

    def session_of(self, track_id: str) -> str:
        """Session id of a live or recently exited track ("" when unbound)."""
        return self._record(track_id).session_id

    def wrist_history(self, track_id: str, t0: float, t1: float) -> WristHistory:
        """Wrist samples of ``track_id`` with ``t0 <= t <= t1`` [s].

        Raises:
            UnknownTrackError: the track never existed or its retention expired.
        """
        rec = self._record(track_id)
        store, slot = self._wrists, rec.slot
        idx = store.window(slot, t0, t1)
        f8 = np.float64
        return WristHistory(
            rec.track_id,
            rec.session_id,
            store.t[slot, idx],
            store.pos[slot, idx, 0].astype(f8),
            store.pos[slot, idx, 1].astype(f8),
            store.cov[slot, idx, 0].astype(f8),
            store.cov[slot, idx, 1].astype(f8),
            store.score[slot, idx, 0].astype(f8),
            store.score[slot, idx, 1].astype(f8),
        )

    def wrist_histories(self, t0: float, t1: float) -> dict[str, WristHistory]:
        """Wrist histories of every track (live or retained) with samples in ``[t0, t1]``."""
        out: dict[str, WristHistory] = {}
        records = self._records + [rec for _, rec in self._finished.values()]
        for rec in records:
            if self._wrists.last_time(rec.slot) >= t0:
                hist = self.wrist_history(rec.track_id, t0, t1)
                if hist.t.size:
                    out[rec.track_id] = hist
        return out

    def anchors(self, t: float, max_age_s: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Last skeletons of the live tracks seen within ``max_age_s``, moved to time ``t``.

        Returns keypoints (A, 17, 3) [m], valid (A, 17) and the track ids (A,).
        """
        keep = [
            i
            for i, r in enumerate(self._records)
            if r.skeleton is not None and t - r.skeleton_t <= max_age_s
        ]
        if not keep:
            return np.zeros((0, 17, 3)), np.zeros((0, 17), dtype=bool), []
        kp = np.stack([self._records[i].skeleton.keypoints for i in keep])  # type: ignore[union-attr]
        valid = np.stack([self._records[i].skeleton.valid for i in keep])  # type: ignore[union-attr]
        age = np.array([t - self._records[i].skeleton_t for i in keep])
        shift = np.zeros((len(keep), 3))
        shift[:, :2] = self._x[keep, 2:] * age[:, None]
        return kp + shift[:, None, :], valid, [self._records[i].track_id for i in keep]

    def _record(self, track_id: str) -> _TrackRecord:
        for rec in self._records:
            if rec.track_id == track_id:
                return rec
        if track_id in self._finished:
            return self._finished[track_id][1]
        raise UnknownTrackError(f"unknown track id {track_id!r}")

    # ------------------------------------------------------------------------- persistence
    def export_state(self) -> dict[str, Any]:
        """Sessions and live tracks as JSON-compatible data, for surviving a restart.

        Wrist histories and skeletons are not included (they are re-measured within a second).
        """
        return {
            "version": _STATE_VERSION,
            "t": self._t,
            "next_id": self._next_id,
            "token_uses": dict(self._token_uses),
            "sessions": [
                {
                    "session_id": s.session_id,
                    "token": s.token,
                    "stamp": s.stamp,
                    "gate_id": s.gate_id,
                    "position": None if s.position is None else [float(v) for v in s.position],
                    "slots": s.slots,
                    "tracks": list(s.tracks),
                    "closed": s.closed,
                }
                for s in self._sessions.values()
            ],
            "tracks": [
                {
                    "track_id": r.track_id,
                    "session_id": r.session_id,
                    "state": int(r.state),
                    "born": r.born,
                    "last_seen": r.last_seen,
                    "hits": r.hits,
                    "height": r.height if math.isfinite(r.height) else None,
                    "appearance": None
                    if r.appearance is None
                    else [v if math.isfinite(v) else None for v in r.appearance.tolist()],
                    "x": self._x[i].tolist(),
                    "p": self._p[i].ravel().tolist(),
                    "last_xy": r.last_xy.tolist(),
                }
                for i, r in enumerate(self._records)
                if r.state != TrackState.TENTATIVE
            ],
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Load :meth:`export_state` data into this (fresh) tracker.

        Restored tracks start OCCLUDED and are re-found by position like any coasting track.

        Raises:
            TrackerStateError: the data is not a tracker state this version can read; the
                message names the field.
        """
        try:
            if state.get("version") != _STATE_VERSION:
                raise TrackerStateError(f"version {state.get('version')!r} != {_STATE_VERSION}")
            records, xs, ps = [], [], []
            for i, tr in enumerate(state["tracks"]):
                x = np.asarray(tr["x"], dtype=np.float64)
                p = np.asarray(tr["p"], dtype=np.float64).reshape(4, 4)
                if x.shape != (4,) or not (np.all(np.isfinite(x)) and np.all(np.isfinite(p))):
                    raise TrackerStateError(f"tracks[{i}]: state x/p must be finite (4,), (4, 4)")
                height = tr["height"]
                last_xy = np.asarray(tr.get("last_xy", x[:2]), dtype=np.float64)
                if last_xy.shape != (2,) or not np.all(np.isfinite(last_xy)):
                    raise TrackerStateError(f"tracks[{i}]: last_xy must be finite (2,)")
                rec = _TrackRecord(
                    str(tr["track_id"]),
                    born=float(tr["born"]),
                    last_seen=float(tr["last_seen"]),
                    state=TrackState.OCCLUDED,
                    session_id=str(tr["session_id"]),
                    hits=int(tr["hits"]),
                    height=math.nan if height is None else float(height),
                    last_xy=last_xy,
                    warned_unbound=True,
                )
                look = tr.get("appearance")
                if look is not None:
                    rec.appearance = np.array(
                        [np.nan if v is None else float(v) for v in look], dtype=np.float64
                    )
                rec.slot = self._wrists.new_slot()
                records.append(rec)
                xs.append(x)
                ps.append(p)
            sessions = {}
            for s in state["sessions"]:
                pos = s["position"]
                sessions[str(s["session_id"])] = _Session(
                    str(s["session_id"]),
                    str(s["token"]),
                    float(s["stamp"]),
                    str(s["gate_id"]),
                    None if pos is None else np.asarray(pos, dtype=np.float64),
                    int(s["slots"]),
                    [str(t) for t in s["tracks"]],
                    bool(s["closed"]),
                )
            token_uses = {str(k): int(v) for k, v in state["token_uses"].items()}
            next_id = int(state["next_id"])
            t = state["t"]
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, TrackerStateError):
                raise
            raise TrackerStateError(f"tracker state is malformed: {err!r}") from err
        self._records = records
        self._x = np.array(xs).reshape(-1, 4)
        self._p = np.array(ps).reshape(-1, 4, 4)
        self._sessions = sessions
        self._token_uses = token_uses
        self._next_id = next_id
        self._t = None if t is None else float(t)

    # ------------------------------------------------------------------------------ update
    def update(
        self,
        t: float,
        skeletons: SkeletonBatch,
        skeleton_objects: Sequence[Skeleton3D],
        anchor_tracks: Sequence[str],
        gate_events: Sequence[GateEvent] = (),
        appearance: np.ndarray | None = None,
    ) -> TrackingResult:
        """One step at time ``t`` [s] (callers guarantee increasing ``t``).

        Args:
            skeletons: the step's skeletons as arrays (S skeletons).
            skeleton_objects: the same skeletons as :class:`Skeleton3D` (S,).
            anchor_tracks: (S,) track id whose anchor each skeleton was built on, "" for none.
            gate_events: gate events received since the previous step.
            appearance: (S, A) clothing-colour descriptor of each skeleton (NaN where unknown),
                or None: a soft association cue (see ``TrackingConfig.appearance_sd``).
        """
        cfg = self.config
        diags: list[str] = []
        exits: list[ExitEvent] = []
        dt_prev = 0.0 if self._t is None else t - self._t
        self._t = t
        self._predict(dt_prev, t)
        self._handle_gates(gate_events, t, exits, diags)
        meas = measure(skeletons, cfg.measurement_sd_m)
        n_skel = len(skeletons)
        skeleton_tracks = [""] * n_skel
        looks = self._checked_appearance(appearance, n_skel)
        clear = _clear_views(meas, cfg.appearance_clear_m) if looks is not None else None
        matched_rec = self._associate(t, meas, anchor_tracks, looks)
        matched_set = set()
        if matched_rec:
            rows = np.array([r for r, _ in matched_rec])
            cols = np.array([c for _, c in matched_rec])
            self._x[rows], self._p[rows] = kalman.update(
                self._x[rows], self._p[rows], meas.xy[cols], meas.cov[cols]
            )
            heights = meas.height[cols].tolist()
            for k, (r, c) in enumerate(matched_rec):
                rec = self._records[r]
                self._on_measured(rec, t, skeleton_objects[c], meas.xy[c], heights[k])
                if looks is not None and clear is not None and clear[c]:
                    self._learn_appearance(rec, looks[c])
                skeleton_tracks[c] = rec.track_id
                matched_set.add(r)
            slots = np.array([self._records[r].slot for r in rows])
            self._wrists.push(slots, t, *_wrists(skeletons, cols))
        self._age_unmatched(t, matched_set, exits, diags)
        self._births(t, skeletons, meas, skeleton_objects, skeleton_tracks, diags, looks)
        self._warn_unbound(t, diags)
        tracks = self._snapshots(t)
        tracks += [self._snapshot_finished(e.track_id) for e in exits]
        self._expire(t, diags)
        return TrackingResult(tuple(tracks), tuple(exits), tuple(skeleton_tracks), tuple(diags))

    def handle_gate_events(self, t: float, gate_events: Sequence[GateEvent]) -> TrackingResult:
        """Apply gate events without a camera step (e.g. when the step was rejected)."""
        diags: list[str] = []
        exits: list[ExitEvent] = []
        self._handle_gates(gate_events, t, exits, diags)
        tracks = [self._snapshot_finished(e.track_id) for e in exits]
        return TrackingResult(tuple(tracks), tuple(exits), (), tuple(diags))

    # ---------------------------------------------------------------------------- internals
    def _predict(self, dt: float, t: float) -> None:
        if not self._records:
            return
        last = np.array([r.last_seen for r in self._records])
        coasting = t - last > self.config.occluded_after_s
        dts = np.full(len(self._records), dt)
        self._x, self._p = kalman.predict(self._x, self._p, dts, coasting, self.config.motion)

    def _checked_appearance(self, appearance: np.ndarray | None, n: int) -> np.ndarray | None:
        """(S, A) float descriptors, or None when absent or of an unusable shape."""
        if appearance is None:
            return None
        looks = usable(appearance, n, self.config.appearance_region_bins)
        if looks is None:
            _LOG.warning("appearance of shape %s ignored (%d skeletons)", np.shape(appearance), n)
        return looks

    def _learn_appearance(self, rec: _TrackRecord, look: np.ndarray) -> None:
        """Blend a clear view's descriptor into the track's, region by region."""
        if rec.appearance is None or rec.appearance.shape != look.shape:
            rec.appearance = look.copy()
            return
        bins = self.config.appearance_region_bins
        a = self.config.appearance_rate
        for k in range(0, look.shape[0], bins):
            new, old = look[k : k + bins], rec.appearance[k : k + bins]
            if not np.all(np.isfinite(new)):
                continue
            rec.appearance[k : k + bins] = (
                new if not np.all(np.isfinite(old)) else ((1.0 - a) * old + a * new)
            )

    def _appearance_cost(self, looks: np.ndarray) -> np.ndarray:
        """(T, S) appearance cost of each track against each skeleton (0 where unknown)."""
        cfg = self.config
        size = looks.shape[1]
        mine = np.full((len(self._records), size), np.nan)
        for r, rec in enumerate(self._records):
            if rec.appearance is not None and rec.appearance.shape[0] == size:
                mine[r] = rec.appearance
        d = hellinger(mine, looks, cfg.appearance_region_bins)
        return colour_cost(d, cfg.appearance_sd, cfg.appearance_cost_cap)

    def _associate(
        self,
        t: float,
        meas: Measurements,
        anchor_tracks: Sequence[str],
        looks: np.ndarray | None = None,
    ) -> list[tuple[int, int]]:
        cfg = self.config
        n_t, n_s = len(self._records), meas.xy.shape[0]
        if n_t == 0 or n_s == 0:
            return []
        d2, logdet = kalman.position_likelihood(self._x, self._p, meas.xy, meas.cov)
        cost = d2 + logdet
        since = np.array([t - r.last_seen for r in self._records])
        reach = cfg.max_speed_mps * since + cfg.reacquire_margin_m
        dist = norm2(meas.xy[None] - self._x[:, None, :2])
        heights = np.array([r.height for r in self._records])
        dh = (meas.height[None] - heights[:, None]) / cfg.height_sd_m
        cost = cost + np.minimum(np.nan_to_num(dh**2, nan=0.0), cfg.height_cost_cap)
        if looks is not None:
            cost = cost + self._appearance_cost(looks)
        index = {r.track_id: i for i, r in enumerate(self._records)}
        for s, tid in enumerate(anchor_tracks):
            if tid and tid in index:
                cost[index[tid], s] -= cfg.anchor_bonus
        feasible = (d2 <= cfg.gate_chi2) & (dist <= reach[:, None]) & meas.ok[None]
        shadow = self._exit_shadow(t, meas.xy)
        lost = since > cfg.lost_elsewhere_s
        if shadow.any() or (self._entries and lost.any()):
            last = np.array([r.last_xy for r in self._records]).reshape(n_t, 2)
            here = norm2(meas.xy[None] - last[:, None]) < cfg.rebirth_block_m
            if self._entries and lost.any():
                # A skeleton in an entry area is a new shopper rather than a track lost
                # elsewhere for seconds, unless the track was last seen right there.
                inside = np.zeros(n_s, dtype=bool)
                for area in self._entries:
                    inside |= area.contains(meas.xy, cfg.entry_margin_m)
                feasible &= ~(lost[:, None] & ~here & inside[None])
            if shadow.any():
                # Someone who has just gone through an exit is still seen there for a moment.
                # Only a track seen moments ago or last seen right there may take such a
                # skeleton: an occluded track whose spread has grown to metres would otherwise
                # be dragged out through the exit.
                recent = since <= cfg.occluded_after_s
                feasible &= here | recent[:, None] | ~shadow[None]
        if not feasible.any():
            return []
        mat = np.where(feasible, cost, _INFEASIBLE)
        entrants = self._possible_entrants(t, meas)
        if entrants.size:
            # One extra row per possible entrant: "a new shopper", usable by that skeleton only.
            extra = np.full((entrants.size, n_s), _INFEASIBLE)
            extra[np.arange(entrants.size), entrants] = cfg.new_entrant_cost
            mat = np.vstack([mat, extra])
        rows, cols = linear_sum_assignment(mat)
        return [
            (int(r), int(c)) for r, c in zip(rows, cols, strict=True) if r < n_t and feasible[r, c]
        ]

    def _possible_entrants(self, t: float, meas: Measurements) -> np.ndarray:
        """Indices of skeletons that may be a shopper whose entry scan is waiting."""
        cfg = self.config
        if not math.isfinite(cfg.new_entrant_cost) or not self._entries:
            return np.zeros(0, dtype=int)
        if self._session_for_birth(t) is None:
            return np.zeros(0, dtype=int)
        inside = np.zeros(meas.xy.shape[0], dtype=bool)
        for gate in self._entries:
            inside |= gate.contains(meas.xy, cfg.entry_margin_m)
        return np.flatnonzero(inside & meas.ok)

    def _on_measured(
        self,
        rec: _TrackRecord,
        t: float,
        skel: Skeleton3D,
        xy: np.ndarray,
        height: float,
    ) -> None:
        """Book-keeping of a measured track (its wrists are stored by the caller)."""
        cfg = self.config
        rec.last_seen = t
        rec.hits += 1
        rec.skeleton = skel
        rec.skeleton_t = t
        rec.last_xy = xy
        if math.isfinite(height):
            rec.height = (
                height if not math.isfinite(rec.height) else 0.9 * rec.height + 0.1 * height
            )
        confirmed = rec.state == TrackState.TENTATIVE and rec.hits >= cfg.confirm_hits
        if confirmed or rec.state == TrackState.OCCLUDED:
            rec.state = TrackState.CONFIRMED

    def _age_unmatched(
        self, t: float, matched: set[int], exits: list[ExitEvent], diags: list[str]
    ) -> None:
        cfg = self.config
        drop: list[int] = []
        for i, rec in enumerate(self._records):
            if i in matched:
                continue
            unseen = t - rec.last_seen
            if rec.state == TrackState.TENTATIVE:
                if unseen > cfg.tentative_timeout_s:
                    drop.append(i)
                continue
            if unseen > cfg.occluded_after_s:
                rec.state = TrackState.OCCLUDED
            gate = self._exit_area_of(rec.last_xy)
            if gate is not None and unseen >= cfg.exit_lost_s:
                exits.append(self._finish(i, t, gate.gate_id, "lost_in_exit_area"))
                continue
            if unseen > cfg.max_occluded_s:
                diags.append(
                    f"track {rec.track_id} (session {rec.session_id!r}) unseen for "
                    f"{unseen:.0f} s: dropped without an exit"
                )
                drop.append(i)
        self._remove(drop, t)
        self._compact()

    def forget_tracks(self, track_ids: Iterable[str]) -> list[str]:
        """Drop live tracks whose exits were recorded elsewhere while this state was saved
        (the journal, after a restored checkpoint); a session left without a live track is
        closed. No exit event, no exit shadow: where they left is not known here. Returns the
        ids dropped."""
        ids = set(track_ids)
        gone = [i for i, r in enumerate(self._records) if r.track_id in ids]
        if not gone:
            return []
        dropped = [self._records[i].track_id for i in gone]
        for i in gone:
            self._wrists.release(self._records[i].slot)
        keep = [i for i in range(len(self._records)) if i not in set(gone)]
        self._records = [self._records[i] for i in keep]
        self._x, self._p = self._x[keep], self._p[keep]
        live = {r.track_id for r in self._records}
        for session in self._sessions.values():
            if set(dropped) & set(session.tracks) and not set(session.tracks) & live:
                session.closed = True
        return dropped

    def _exit_area_of(self, xy: np.ndarray) -> GateArea | None:
        for gate in self._exits:
            if gate.contains(xy[None])[0]:
                return gate
        return None

    def _finish(self, i: int, t: float, gate_id: str, reason: str) -> ExitEvent:
        """Mark record ``i`` exited (removed from the live list at the next compaction)."""
        rec = self._records[i]
        rec.state = TrackState.EXITED
        rec.exit_reason = reason
        rec.final_x, rec.final_p = self._x[i].copy(), self._p[i].copy()
        closed = False
        session = self._sessions.get(rec.session_id) if rec.session_id else None
        self._finished[rec.track_id] = (t, rec)
        if session is not None:
            live = [
                tid for tid in session.tracks if tid != rec.track_id and tid not in self._finished
            ]
            closed = not live
            session.closed = closed
        return ExitEvent(t, rec.track_id, rec.session_id, gate_id, closed, reason)

    def _compact(self) -> None:
        keep = [i for i, r in enumerate(self._records) if r.state != TrackState.EXITED]
        if len(keep) != len(self._records):
            self._records = [self._records[i] for i in keep]
            self._x, self._p = self._x[keep], self._p[keep]

    def _remove(self, indices: list[int], t: float) -> None:
        """Forget records: a tentative one entirely, a confirmed one after its retention (its
        wrist history may still be asked for)."""
        if not indices:
            return
        gone = set(indices)
        for i in indices:
            rec = self._records[i]
            if rec.state == TrackState.TENTATIVE:
                self._wrists.release(rec.slot)
            else:
                self._finished[rec.track_id] = (t, rec)
        keep = [i for i in range(len(self._records)) if i not in gone]
        self._records = [self._records[i] for i in keep]
        self._x, self._p = self._x[keep], self._p[keep]

    def _births(
        self,
        t: float,
        skeletons: SkeletonBatch,
        meas: Measurements,
        skels: Sequence[Skeleton3D],
        skeleton_tracks: list[str],
        diags: list[str],
        looks: np.ndarray | None = None,
    ) -> None:
        cfg = self.config
        if not self._entries:
            return
        for s in range(meas.xy.shape[0]):
            if skeleton_tracks[s] or not meas.ok[s] or meas.n_joints[s] < cfg.min_birth_joints:
                continue
            if (
                cfg.birth_requires_multiview
                and skels[s].single_view
                # An entry seen by one camera only (a narrow door, a camera down) still admits
                # the shopper whose scan is waiting: the scan vouches for a real person there.
                and not (cfg.single_view_birth_on_scan and self._session_for_birth(t))
            ):
                continue
            xy = meas.xy[s]
            if not any(g.contains(xy[None], cfg.entry_margin_m)[0] for g in self._entries):
                continue
            if (
                self._x.shape[0]
                and np.min(np.linalg.norm(self._x[:, :2] - xy, axis=1)) < cfg.birth_separation_m
            ):
                continue
            if self._just_left(t, xy):
                continue
            rec = _TrackRecord(f"T{self._next_id}", born=t, last_seen=t)
            self._next_id += 1
            x0, p0 = kalman.initial_state(xy, meas.cov[s], cfg.initial_speed_sd)
            self._x = np.vstack([self._x, x0[None]])
            self._p = np.concatenate([self._p, p0[None]])
            self._records.append(rec)
            height = float(meas.height[s])
            self._on_measured(rec, t, skels[s], xy, height)
            if looks is not None:
                self._learn_appearance(rec, looks[s])  # a newborn's colours, crowded or not
            rec.slot = self._wrists.new_slot()
            self._wrists.push(np.array([rec.slot]), t, *_wrists(skeletons, np.array([s])))
            rec.hits = 1
            skeleton_tracks[s] = rec.track_id
            session = self._session_for_birth(t)
            if session is not None:
                self._bind(rec, session)

    def _exit_shadow(self, t: float, xy: np.ndarray) -> np.ndarray:
        """(S,) bool: skeletons at ``xy`` (S, 2) [m] within ``rebirth_block_m`` of where a track
        ended at an exit (gate event or lost in the exit area) less than ``rebirth_block_s``
        before ``t`` (that shopper, not yet out of view). An exit stamped after ``t`` counts:
        gate events are applied with the next camera step, whose frames may be older."""
        cfg = self.config
        ends = [
            rec.final_x[:2]
            for t_exit, rec in self._finished.values()
            if rec.state == TrackState.EXITED and t - t_exit <= cfg.rebirth_block_s
        ]
        if not ends or xy.shape[0] == 0:
            return np.zeros(xy.shape[0], dtype=bool)
        d = norm2(xy[:, None] - np.array(ends)[None])
        return np.any(d < cfg.rebirth_block_m, axis=1)

    def _just_left(self, t: float, xy: np.ndarray) -> bool:
        """Whether a track exited near ``xy`` moments ago: someone leaving through a gate that
        is both entry and exit is still seen there for a while and must not be born again."""
        cfg = self.config
        for t_exit, rec in self._finished.values():
            if rec.state != TrackState.EXITED or t - t_exit > cfg.rebirth_block_s:
                continue
            if float(np.linalg.norm(rec.final_x[:2] - xy)) < cfg.rebirth_block_m:
                return True
        return False

    def _session_for_birth(self, t: float) -> _Session | None:
        cfg = self.config
        best: _Session | None = None
        for session in self._sessions.values():
            if session.closed or session.slots <= 0:
                continue
            age = t - session.stamp
            window = cfg.group_window_s if session.tracks else cfg.scan_before_birth_s
            if -cfg.scan_after_birth_s <= age <= window and (
                best is None or session.stamp >= best.stamp  # a tie: the later scan
            ):
                best = session
        return best

    def _bind(self, rec: _TrackRecord, session: _Session) -> None:
        rec.session_id = session.session_id
        session.tracks.append(rec.track_id)
        session.slots -= 1

    def _warn_unbound(self, t: float, diags: list[str]) -> None:
        """Report tracks that walked in without a scan (once each)."""
        cfg = self.config
        for rec in self._records:
            if rec.session_id or rec.warned_unbound or rec.state == TrackState.TENTATIVE:
                continue
            if t - rec.born > cfg.scan_after_birth_s:
                rec.warned_unbound = True
                diags.append(
                    f"track {rec.track_id} entered without an entry scan: it has no session"
                )

    def _handle_gates(
        self, events: Sequence[GateEvent], t: float, exits: list[ExitEvent], diags: list[str]
    ) -> None:
        for ev in sorted(events, key=lambda e: e.stamp):
            if not np.isfinite(ev.stamp):
                diags.append(f"gate event at {ev.gate_id!r} has a non-finite stamp: ignored")
                continue
            if ev.position is not None:
                pos = np.asarray(ev.position, dtype=np.float64).ravel()
                if pos.size not in (2, 3) or not np.all(np.isfinite(pos)):
                    diags.append(
                        f"gate event at {ev.gate_id!r} has an unusable position {ev.position!r}: "
                        "the gate area is used instead"
                    )
                    ev = replace(ev, position=None)
            if all(g.gate_id != ev.gate_id for g in self.gates):
                diags.append(f"gate event names gate {ev.gate_id!r}, which the store does not have")
            if ev.kind == GateKind.ENTRY:
                self._on_entry(ev, diags)
            elif ev.kind == GateKind.EXIT:
                self._on_exit(ev, t, exits, diags)
            else:
                diags.append(f"gate event at {ev.gate_id!r} has unknown kind {ev.kind}: ignored")
        self._compact()

    def _on_entry(self, ev: GateEvent, diags: list[str]) -> None:
        cfg = self.config
        if not ev.session_token:
            diags.append(f"entry scan at gate {ev.gate_id!r} without a token: ignored")
            return
        current = self._current_session(ev.session_token)
        if current is not None and not current.closed:
            diags.append(
                f"duplicate entry scan of an open session {current.session_id!r} at gate "
                f"{ev.gate_id!r}: ignored"
            )
            return
        uses = self._token_uses.get(ev.session_token, 0) + 1
        self._token_uses[ev.session_token] = uses
        sid = ev.session_token if uses == 1 else f"{ev.session_token}~{uses}"
        if ev.group_size < 1:
            diags.append(f"entry scan {sid!r} has group_size {ev.group_size}: using 1")
        session = _Session(
            sid, ev.session_token, ev.stamp, ev.gate_id, ev.position, max(1, ev.group_size)
        )
        self._sessions[sid] = session
        # Bind the unbound tracks already at the gate, nearest to the scan first.
        gate = next((g for g in self._entries if g.gate_id == ev.gate_id), None)
        where = (
            np.asarray(ev.position, dtype=np.float64)[:2]
            if ev.position is not None
            else (gate.center if gate is not None else None)
        )
        cands = []
        for i, rec in enumerate(self._records):
            if rec.session_id:
                continue
            xy = self._x[i, :2]
            d = float(np.linalg.norm(xy - where)) if where is not None else math.inf
            in_gate = any(g.contains(xy[None], cfg.entry_margin_m)[0] for g in self._entries)
            # Whoever stands at the gate when the scan happens is the best candidate, however
            # long they waited; a track that already walked on must have been born recently
            # (the scan may follow its birth by scan_after_birth_s) and still be near.
            recent = -cfg.scan_after_birth_s <= rec.born - ev.stamp <= cfg.scan_before_birth_s
            if in_gate or (recent and d <= cfg.bind_radius_m):
                cands.append((0 if in_gate else 1, d, rec.born, i))
        for *_, i in sorted(cands)[: session.slots]:
            self._bind(self._records[i], session)

    def _current_session(self, token: str) -> _Session | None:
        uses = self._token_uses.get(token, 0)
        if uses == 0:
            return None
        return self._sessions.get(token if uses == 1 else f"{token}~{uses}")

    def _on_exit(self, ev: GateEvent, t: float, exits: list[ExitEvent], diags: list[str]) -> None:
        cfg = self.config
        gate = next((g for g in self._exits if g.gate_id == ev.gate_id), None)
        if ev.position is not None:
            where = np.asarray(ev.position, dtype=np.float64)[:2]
        elif gate is not None:
            where = gate.center
        else:
            diags.append(f"exit event at unknown gate {ev.gate_id!r} without a position: ignored")
            return
        session = self._current_session(ev.session_token) if ev.session_token else None
        best, best_d = -1, math.inf
        for i, rec in enumerate(self._records):
            if rec.state in (TrackState.EXITED, TrackState.TENTATIVE):
                continue
            if session is not None and rec.session_id != session.session_id:
                continue
            d = float(np.linalg.norm(self._x[i, :2] - where))
            sd = math.sqrt(max(self._p[i, 0, 0], self._p[i, 1, 1]))
            if d <= cfg.exit_match_radius_m + 2.0 * sd and d < best_d:
                best, best_d = i, d
        if best < 0:
            if self._already_left(ev, where):
                return  # the track ended on its own (lost in the exit area) before the event came
            who = f"session {session.session_id!r}" if session is not None else "any track"
            diags.append(
                f"exit event at gate {ev.gate_id!r} ({ev.stamp:.3f} s) matched no live track "
                f"({who}): ignored"
            )
            return
        exits.append(self._finish(best, ev.stamp, ev.gate_id, "gate_event"))

    def _already_left(self, ev: GateEvent, where: np.ndarray) -> bool:
        """Whether a track already ended as lost in this exit area shortly before ``ev``."""
        cfg = self.config
        for t_exit, rec in self._finished.values():
            if (
                rec.exit_reason == "lost_in_exit_area"
                and abs(ev.stamp - t_exit) <= cfg.exit_lost_s + 2.0
                and float(np.linalg.norm(rec.final_x[:2] - where)) <= cfg.exit_match_radius_m
            ):
                return True
        return False

    def _expire(self, t: float, diags: list[str]) -> None:
        """Forget exited tracks and closed sessions after the retention time, and scans that
        nobody followed in (token counts stay, so session ids are never reused)."""
        cfg = self.config
        old = [tid for tid, (te, _) in self._finished.items() if t - te > cfg.exited_retention_s]
        for tid in old:
            self._wrists.release(self._finished.pop(tid)[1].slot)
        live = {r.session_id for r in self._records}
        unused_after = max(cfg.scan_before_birth_s, cfg.group_window_s)
        for sid, s in list(self._sessions.items()):
            if s.closed and sid not in live and t - s.stamp > cfg.exited_retention_s:
                del self._sessions[sid]
            elif not s.tracks and t - s.stamp > unused_after:
                diags.append(
                    f"entry scan {sid!r} at gate {s.gate_id!r} ({s.stamp:.1f} s) was not "
                    f"followed by anyone entering within {unused_after:.0f} s: dropped"
                )
                del self._sessions[sid]

    def _snapshots(self, t: float) -> list[Track]:
        """Tracks of every live record (arrays built for all at once)."""
        pos, vel, cov = _track_arrays(self._x, self._p)
        return [
            _make_track(rec, pos[i], vel[i], cov[i], rec.skeleton_t == t)
            for i, rec in enumerate(self._records)
        ]

    def _snapshot_finished(self, track_id: str) -> Track:
        rec = self._finished[track_id][1]
        pos, vel, cov = _track_arrays(rec.final_x[None], rec.final_p[None])
        return _make_track(rec, pos[0], vel[0], cov[0], rec.skeleton_t == rec.last_seen)


def _clear_views(meas: Measurements, radius_m: float) -> np.ndarray:
    """(S,) bool: no other skeleton's torso within ``radius_m`` (its colours are its own)."""
    n = meas.xy.shape[0]
    if n < 2:
        return np.ones(n, dtype=bool)
    d = norm2(meas.xy[:, None] - meas.xy[None])
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1) > radius_m


def _wrists(skeletons: SkeletonBatch, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Wrist positions (K, 2, 3), covariances (K, 2, 3, 3), scores (K, 2) of skeletons ``cols``."""
    sel = cols[:, None], np.array([[LEFT_WRIST, RIGHT_WRIST]])
    return skeletons.keypoints[sel], skeletons.covariance[sel], skeletons.scores[sel]


def _track_arrays(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kalman states (T, 4), (T, 4, 4) -> positions (T, 3), velocities (T, 3), covs (T, 6, 6)."""
    n = x.shape[0]
    pos, vel = np.zeros((n, 3)), np.zeros((n, 3))
    pos[:, :2], vel[:, :2] = x[:, :2], x[:, 2:]
    cov = np.zeros((n, 6, 6))
    cov[:, :2, :2], cov[:, :2, 3:5] = p[:, :2, :2], p[:, :2, 2:]
    cov[:, 3:5, :2], cov[:, 3:5, 3:5] = p[:, 2:, :2], p[:, 2:, 2:]
    cov[:, 2, 2] = cov[:, 5, 5] = 1e-4  # z is the floor by definition
    return pos, vel, cov


def _make_track(
    rec: _TrackRecord, pos: np.ndarray, vel: np.ndarray, cov: np.ndarray, seen_now: bool
) -> Track:
    return Track(
        rec.track_id,
        rec.session_id,
        rec.state,
        pos,
        vel,
        cov,
        rec.skeleton if seen_now else None,
        rec.last_seen,
        rec.born,
        rec.height,
    )

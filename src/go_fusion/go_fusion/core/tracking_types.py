"""Value types of shopper tracking: states, gates and gate events, tracks, exits, settings.

Kept apart from the tracker (``go_fusion.core.tracking``), which re-exports them, so that code
that only passes these values around does not need the tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from go_fusion.core import kalman
from go_fusion.core.triangulation import Skeleton3D


class TrackState(IntEnum):
    """Track states, equal to the ``go_msgs/ShopperTrack`` constants."""

    TENTATIVE = 0
    CONFIRMED = 1
    OCCLUDED = 2
    EXITED = 3


class GateKind(IntEnum):
    """Gate kinds, equal to the ``go_msgs/GateEvent`` and ``go_msgs/Gate`` constants."""

    ENTRY = 0
    EXIT = 1


class UnknownTrackError(KeyError):
    """A track id that the tracker does not know (never existed or its history expired)."""


class TrackerStateError(ValueError):
    """Saved tracker state that cannot be restored; the message names the field."""


@dataclass(frozen=True)
class GateArea:
    """A gate's floor area (axis-aligned, store frame). min_xy, max_xy: (2,) [m]."""

    gate_id: str
    kind: GateKind
    min_xy: tuple[float, float]
    max_xy: tuple[float, float]

    def contains(self, xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
        """(N,) bool for floor points ``xy`` (N, 2) [m] inside the area grown by ``margin_m``."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        lo = np.asarray(self.min_xy) - margin_m
        hi = np.asarray(self.max_xy) + margin_m
        return np.all((xy >= lo) & (xy <= hi), axis=1)

    @property
    def center(self) -> np.ndarray:
        """(2,) centre of the area [m]."""
        return 0.5 * (np.asarray(self.min_xy) + np.asarray(self.max_xy))

    @classmethod
    def from_store_gate(cls, gate: object) -> GateArea:
        """From ``go_common.core.store.Gate`` (kind ``"entry"`` or ``"exit"``)."""
        kind = GateKind.ENTRY if gate.kind == "entry" else GateKind.EXIT  # type: ignore[attr-defined]
        return cls(gate.gate_id, kind, tuple(gate.min_xy), tuple(gate.max_xy))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class GateEvent:
    """A gate passage (``go_msgs/GateEvent`` semantics).

    Attributes:
        stamp: sensor time of the scan or crossing [s].
        kind: entry scan or exit crossing.
        gate_id: gate from the store configuration.
        session_token: opaque app token (entry); may be empty at exit.
        group_size: people admitted on this scan (>= 1).
        position: (3,) where it happened, store frame [m], or None when unknown.
    """

    stamp: float
    kind: GateKind
    gate_id: str
    session_token: str = ""
    group_size: int = 1
    position: np.ndarray | None = None


@dataclass(frozen=True)
class TrackingConfig:
    """Parameters of the shopper tracker."""

    motion: kalman.MotionModel = field(default_factory=kalman.MotionModel)
    measurement_sd_m: float = 0.08  # [m] torso centre vs the body's floor position
    initial_speed_sd: float = 1.0  # [m/s] velocity spread of a new track
    gate_chi2: float = 13.8  # squared Mahalanobis gate (2 dof, 99.9 %)
    max_speed_mps: float = 2.5  # a track cannot be re-found further than this allows
    reacquire_margin_m: float = 0.7  # [m] added to the walking distance gate
    height_sd_m: float = 0.1  # [m] shoulder height spread between steps
    height_cost_cap: float = 9.0  # the height cue never adds more than this to a cost
    anchor_bonus: float = 4.0  # cost bonus of a skeleton built on the track's own anchor
    # Clothing colour (perception's appearance descriptor, regions of appearance_region_bins
    # histogram bins): cost += min((Hellinger distance / appearance_sd) ** 2, cap). A track's
    # colour is a running mean of its clear views (no other skeleton within appearance_clear_m).
    # A skeleton inside an entry area while a scan waits for its shopper may be that new
    # shopper: in the assignment it is left for a birth unless a track explains it for less than
    # new_entrant_cost (a track seen moments ago costs far less; one lost for seconds, whose
    # position spread has grown to metres, costs more). inf turns the alternative off.
    new_entrant_cost: float = 0.0
    # A track unseen this long may take a skeleton inside an entry area only if it was last seen
    # within rebirth_block_m of it (new shoppers appear there).
    lost_elsewhere_s: float = 0.5
    appearance_sd: float = 0.25
    appearance_cost_cap: float = 9.0
    appearance_region_bins: int = 16
    appearance_rate: float = 0.2  # weight of a new clear view in the running mean
    appearance_clear_m: float = 0.7  # [m] another skeleton this close makes a view unclear
    confirm_hits: int = 3  # measurements that confirm a tentative track
    tentative_timeout_s: float = 1.0  # an unmatched tentative track is dropped after this
    occluded_after_s: float = 0.3  # unmatched this long: a confirmed track becomes OCCLUDED
    max_occluded_s: float = 900.0  # a track unseen this long is dropped (with a diagnostic)
    entry_margin_m: float = 0.3  # [m] births allowed this far outside an entry area
    min_birth_joints: int = 8  # a birth needs a skeleton with this many joints
    birth_requires_multiview: bool = True  # single-view skeletons cannot start tracks...
    single_view_birth_on_scan: bool = True  # ...unless an entry scan waits for its shopper
    birth_separation_m: float = 0.5  # no birth this close to another live track
    rebirth_block_s: float = 3.0  # no birth for this long where a track has just exited...
    rebirth_block_m: float = 1.0  # ...within this distance of its last position
    scan_before_birth_s: float = 20.0  # a scan may precede the birth it binds by this
    scan_after_birth_s: float = 5.0  # a scan may follow the birth it binds by this
    group_window_s: float = 15.0  # group members are born within this after the scan
    bind_radius_m: float = 2.5  # a scan binds tracks this close to where it happened
    exit_match_radius_m: float = 2.0  # an exit event takes a track this close (plus 2 sigma)
    exit_lost_s: float = 1.0  # last seen in an exit area and unseen this long: exited
    wrist_history_len: int = 1024  # samples kept per track
    exited_retention_s: float = 120.0  # histories of exited tracks are kept this long


@dataclass(frozen=True)
class Track:
    """A shopper track at one step (``go_msgs/ShopperTrack`` semantics).

    Attributes:
        track_id: stable id for the life of the track.
        session_id: shopping session (cart); "" while unbound.
        state: tentative, confirmed, occluded or exited.
        position: (3,) floor position, store frame [m] (z = 0).
        velocity: (3,) [m/s] (vz = 0).
        covariance: (6, 6) of (x, y, z, vx, vy, vz) [m^2, m^2/s, m^2/s^2].
        skeleton: the skeleton measured this step, or None.
        last_seen: sensor time of the last measurement [s].
        born: sensor time of the birth [s].
        height_m: shoulder height estimate [m] (NaN until measured by several cameras).
    """

    track_id: str
    session_id: str
    state: TrackState
    position: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    skeleton: Skeleton3D | None
    last_seen: float
    born: float
    height_m: float


@dataclass(frozen=True)
class ExitEvent:
    """A track that left through an exit.

    Attributes:
        stamp: time of the exit [s] (the gate event's stamp, or the step time).
        track_id, session_id: who left.
        gate_id: exit gate.
        session_closed: True when no live track of the session remains (its cart can be closed).
        reason: ``"gate_event"`` or ``"lost_in_exit_area"``.
    """

    stamp: float
    track_id: str
    session_id: str
    gate_id: str
    session_closed: bool
    reason: str

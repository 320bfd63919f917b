"""A person's motion as a timeline of phases: walk, stand, reach into a bin, hand over an item.

Each phase is a pure function of time, so a planned person can be posed at any instant (camera
frames and load-cell samples use different clocks). Poses come from ``body.pose``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from go_sensors.core.body import BodyDims, PoseParams, pose
from go_sensors.core.world import Appearance, HeldItem, PersonState

TURN_S = 0.4  # time to turn towards a shelf or a companion [s]


def min_jerk(s: float) -> float:
    """Minimum-jerk profile 0..1 for s in 0..1 (smooth start and stop, like human reaches)."""
    s = min(1.0, max(0.0, s))
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def angle_lerp(a: float, b: float, s: float) -> float:
    """Heading [rad] a fraction s of the short way from a to b."""
    d = (b - a + math.pi) % (2.0 * math.pi) - math.pi
    return a + d * s


@dataclass(frozen=True, eq=False)
class Phase:
    """One phase of a timeline over [t0, t1) [s].

    walk: ``path`` (M, 2) [m] walked at ``speed`` [m/s]; ``cum`` (M,) arc length at each vertex.
    stand / reach / handoff: standing at ``xy`` (2,), turning from ``heading0`` to ``heading1``.
    reach / handoff: the ``hand`` wrist goes to ``approach`` (3,) then ``target`` (3,) over
    [t_out0, t_out1], stays until ``t_back0`` and returns by ``t_back1``; the body crouches and
    leans by up to ``crouch`` [m] and ``lean`` [rad].
    """

    kind: str
    t0: float
    t1: float
    xy: np.ndarray
    heading0: float
    heading1: float
    path: np.ndarray | None = None
    cum: np.ndarray | None = None
    speed: float = 1.0
    gait0: float = 0.0
    hand: str = "right"
    approach: np.ndarray | None = None
    target: np.ndarray | None = None
    t_out0: float = 0.0
    t_out1: float = 0.0
    t_back0: float = 0.0
    t_back1: float = 0.0
    crouch: float = 0.0
    lean: float = 0.0
    bin_id: str | None = None

    def xy_at(self, t: float) -> np.ndarray:
        """(2,) [m] floor position at time t."""
        if self.kind != "walk":
            return self.xy
        assert self.path is not None and self.cum is not None
        s = min(self.cum[-1], max(0.0, (t - self.t0) * self.speed))
        return np.array(
            [np.interp(s, self.cum, self.path[:, 0]), np.interp(s, self.cum, self.path[:, 1])]
        )

    def xy_many(self, ts: np.ndarray) -> np.ndarray:
        """(N, 2) [m] floor positions at times ts (N,)."""
        if self.kind != "walk":
            return np.broadcast_to(self.xy, (len(ts), 2))
        assert self.path is not None and self.cum is not None
        s = np.clip((ts - self.t0) * self.speed, 0.0, self.cum[-1])
        return np.stack(
            [np.interp(s, self.cum, self.path[:, 0]), np.interp(s, self.cum, self.path[:, 1])],
            axis=1,
        )

    def path_heading(self, s: float) -> float:
        """Walking direction [rad] at arc length s [m]: the chord over 0.4 m around s, so
        corners are rounded; ``heading0`` for shuffles shorter than 0.3 m."""
        if self.path is None or self.cum is None or self.cum[-1] < 0.3:
            return self.heading0
        a = max(0.0, s - 0.2)
        b = min(float(self.cum[-1]), s + 0.2)
        d = np.array(
            [
                np.interp(b, self.cum, self.path[:, 0]) - np.interp(a, self.cum, self.path[:, 0]),
                np.interp(b, self.cum, self.path[:, 1]) - np.interp(a, self.cum, self.path[:, 1]),
            ]
        )
        return math.atan2(d[1], d[0])

    def reach_fraction(self, t: float) -> float:
        """How far the reaching wrist has travelled: 0 relaxed .. 1 at the target."""
        if self.kind not in ("reach", "handoff"):
            return 0.0
        if t < self.t_out0 or t >= self.t_back1:
            return 0.0
        if t < self.t_out1:
            return (t - self.t_out0) / max(1e-6, self.t_out1 - self.t_out0)
        if t < self.t_back0:
            return 1.0
        return 1.0 - (t - self.t_back0) / max(1e-6, self.t_back1 - self.t_back0)

    def params(self, t: float, stride_m: float, carry: tuple[bool, bool]) -> PoseParams:
        """Pose parameters at time t; ``carry`` says which hands hold an item."""
        if self.kind == "walk":
            assert self.path is not None and self.cum is not None
            s = min(self.cum[-1], max(0.0, (t - self.t0) * self.speed))
            here = self.xy_at(t)
            turn = (t - self.t0) / TURN_S
            if turn < 1.0:  # turn towards where the walk heads once the turn is done
                s_turned = min(float(self.cum[-1]), TURN_S * self.speed)
                heading = angle_lerp(self.heading0, self.path_heading(s_turned), turn)
            else:
                heading = self.path_heading(s)
            # Gait amplitude ramps up and down over the first and last 0.4 m of a walk.
            amp = min(1.0, s / 0.4, (self.cum[-1] - s) / 0.4) if self.cum[-1] > 0 else 0.0
            return PoseParams(
                xy=(float(here[0]), float(here[1])),
                heading=heading,
                gait_phase=(self.gait0 + s / stride_m) % 1.0,
                walk=max(0.0, amp),
                carry_left=carry[0],
                carry_right=carry[1],
            )
        heading = angle_lerp(self.heading0, self.heading1, min(1.0, (t - self.t0) / TURN_S))
        xy = (float(self.xy[0]), float(self.xy[1]))
        if self.kind == "stand":
            return PoseParams(xy=xy, heading=heading, carry_left=carry[0], carry_right=carry[1])
        assert self.approach is not None and self.target is not None
        a = self.reach_fraction(t)
        if a <= 0.7:
            goal, blend = self.approach, min_jerk(a / 0.7)
        else:
            goal = self.approach + (self.target - self.approach) * min_jerk((a - 0.7) / 0.3)
            blend = 1.0
        posture = min_jerk(min(1.0, a / 0.7))
        wrist = (float(goal[0]), float(goal[1]), float(goal[2]))
        left = self.hand == "left"
        return PoseParams(
            xy=xy,
            heading=heading,
            crouch=self.crouch * posture,
            lean=self.lean * posture,
            left_wrist=wrist if left else None,
            right_wrist=None if left else wrist,
            left_blend=blend if left else 0.0,
            right_blend=0.0 if left else blend,
            carry_left=carry[0],
            carry_right=carry[1],
        )


@dataclass
class Timeline:
    """All phases of one person plus what they hold over time.

    held_changes: sorted (t, held tuple) snapshots; the person holds the last snapshot at or before
    t. present: [t_appear, t_vanish) [s].
    """

    person_id: str
    session: str
    dims: BodyDims
    appearance: Appearance
    phases: list[Phase] = field(default_factory=list)
    held_changes: list[tuple[float, tuple[HeldItem, ...]]] = field(default_factory=list)
    t_vanish: float = math.inf

    @property
    def t_appear(self) -> float:
        """First instant the person is in the store [s]."""
        return self.phases[0].t0 if self.phases else math.inf

    @property
    def t_end(self) -> float:
        """End of the last planned phase [s]."""
        return self.phases[-1].t1 if self.phases else -math.inf

    def phase_at(self, t: float) -> Phase | None:
        """The phase covering t, or None when the person is absent."""
        if not self.phases or t < self.t_appear or t >= self.t_vanish:
            return None
        k = bisect.bisect_right([p.t0 for p in self.phases], t) - 1
        return self.phases[min(k, len(self.phases) - 1)]

    def held_at(self, t: float) -> tuple[HeldItem, ...]:
        """Items in the person's hands at t."""
        k = bisect.bisect_right([c[0] for c in self.held_changes], t) - 1
        return self.held_changes[k][1] if k >= 0 else ()

    def xy_many(self, ts: np.ndarray, hold_last: bool = False) -> np.ndarray:
        """(N, 2) [m] positions at times ts (N,); NaN where absent or not yet planned.

        hold_last: beyond the planned phases (and before vanishing) the person stays where the
        plan ends, which is what a planner must assume of someone whose next move is unknown.
        """
        out = np.full((len(ts), 2), np.nan)
        for p in self.phases:
            end = min(p.t1, self.t_vanish)
            mask = (ts >= p.t0) & (ts < end)
            if np.any(mask):
                out[mask] = p.xy_many(ts[mask])
        if hold_last and self.phases and self.t_end < self.t_vanish:
            last = self.phases[-1]
            mask = (ts >= last.t1) & (ts < self.t_vanish)
            out[mask] = last.xy_at(last.t1)
        return out

    def keypoints(self, t: float) -> np.ndarray | None:
        """COCO-17 keypoints (17, 3) [m] at t, or None when absent."""
        phase = self.phase_at(t)
        if phase is None:
            return None
        held = self.held_at(t)
        carry = (any(h.hand == "left" for h in held), any(h.hand == "right" for h in held))
        return pose(self.dims, phase.params(t, 0.84 * self.dims.height_m, carry))

    def state(self, t: float) -> PersonState | None:
        """The person at t for the renderer, or None when absent."""
        kp = self.keypoints(t)
        if kp is None:
            return None
        return PersonState(self.person_id, kp, self.appearance, self.held_at(t))

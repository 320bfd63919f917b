"""Turn a scenario into timed plans: every person's timeline, the shelf changes they cause, their
hand touches, gate crossings, ground-truth events and expected receipts.

Planning is time-ordered and prioritised: the person whose plan is furthest behind plans next,
and every walk starts at the earliest moment when neither the walk nor the stop that follows
comes within ``MIN_SEPARATION_M`` of anyone already planned (people queue at a busy shelf or gate
instead of walking through each other). Everything is drawn from one seeded generator, so a
scenario and a seed give the same run.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from go_common.core.store import Bin, StoreModel
from go_sensors.core.body import BodyDims, pose, reach_posture
from go_sensors.core.crowd import random_appearance, random_shoppers
from go_sensors.core.planner import FloorGrid, NoPathError
from go_sensors.core.scenario import (
    ActionSpec,
    Scenario,
    ScenarioError,
    ShopperSpec,
)
from go_sensors.core.targets import resolve_target
from go_sensors.core.timeline import TURN_S, Phase, Timeline, angle_lerp
from go_sensors.core.truth import (
    ExpectedReceipt,
    GateCrossing,
    ReceiptLine,
    ShelfChange,
    Touch,
    TruthEvent,
)
from go_sensors.core.world import HeldItem

LOGGER = logging.getLogger(__name__)

MIN_SEPARATION_M = 0.55  # closest two body centres may come [m]
STAND_OFF_M = 0.33  # body centre to shelf face when reaching [m]
MAX_QUEUE_S = 30.0  # longest a person waits for a free way before accepting a close pass [s]
SAMPLE_S = 0.1  # time step of the separation check [s]


@dataclass
class _Held:
    sku: str
    hand: str
    grams: float  # true mass of this unit [g]


@dataclass(frozen=True, eq=False)
class _Reach:
    """A prepared reach: where to stand, with which hand, where the wrist goes, how long."""

    kind: str
    action: ActionSpec
    bin_id: str
    spot: np.ndarray
    heading: float
    hand: str
    approach: np.ndarray
    target: np.ndarray
    crouch: float
    lean: float
    reach_s: float
    dwell: float
    back_s: float

    @property
    def total(self) -> float:
        """Duration of the reach phase [s]."""
        return TURN_S + self.reach_s + self.dwell + self.back_s + 0.2


@dataclass
class _Person:
    spec: ShopperSpec
    timeline: Timeline
    speed: float
    session: str
    token: str
    leader: bool
    group_size: int
    actions: list[ActionSpec]
    t: float
    xy: np.ndarray
    heading: float
    held: list[_Held] = field(default_factory=list)
    stage: str = "enter"
    waiting: ActionSpec | None = None
    gait: float = 0.0
    t_exit: float = 0.0
    queued_s: float = 0.0  # how long the current walk has waited for a clear way [s]
    todo: list[Callable[[], bool]] = field(default_factory=list)  # steps; True when done


@dataclass(frozen=True)
class Plan:
    """The planned run: timelines and every truth record, sorted by time."""

    timelines: tuple[Timeline, ...]
    initial_units: dict[str, dict[str, list[float]]]  # bin -> sku -> true unit masses [g]
    changes: tuple[ShelfChange, ...]
    touches: tuple[Touch, ...]
    crossings: tuple[GateCrossing, ...]
    events: tuple[TruthEvent, ...]
    receipts: tuple[ExpectedReceipt, ...]
    sessions: dict[str, tuple[str, ...]]  # session -> people
    planogram_swaps: tuple[tuple[str, str], ...] = ()  # bins whose contents are swapped


class Planner:
    """Plans a scenario in a store. ``Planner(store, scenario, seed).plan()`` -> Plan."""

    def __init__(self, store: StoreModel, scenario: Scenario, seed: int = 0) -> None:
        self.store = store
        self.scenario = scenario
        self.rng = np.random.default_rng([seed, 11])
        self.grid = FloorGrid.from_store(store)
        self.units: dict[str, dict[str, list[float]]] = {}
        for bin_id, entries in sorted(store.planogram.items()):
            self.units[bin_id] = {}
            for e in entries:
                self.units[bin_id][e.sku] = [self._unit_mass(e.sku) for _ in range(e.count)]
        # A stale planogram: the shelf holds what the store's planogram says another bin holds.
        self.swaps: list[tuple[str, str]] = []
        for fault in scenario.faults:
            if fault.kind != "stale_planogram":
                continue
            assert fault.target is not None and fault.swap_with is not None
            where = f"{scenario.source}: {fault.field_name}"
            a = resolve_target(store, fault.target, where)
            b = resolve_target(store, fault.swap_with, f"{where}.swap_with")
            self.units[a], self.units[b] = self.units[b], self.units[a]
            self.swaps.append((a, b))
        self.initial_units = {b: {s: list(w) for s, w in d.items()} for b, d in self.units.items()}
        self.changes: list[ShelfChange] = []
        self.touches: list[Touch] = []
        self.crossings: list[GateCrossing] = []
        self.events: list[TruthEvent] = []
        self.receipts: list[ExpectedReceipt] = []
        self.carts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.people: list[_Person] = []
        entries = store.gates_of_kind("entry")
        exits = store.gates_of_kind("exit")
        if not entries or not exits:
            raise ScenarioError(f"store '{store.store_id}' needs an entry and an exit gate")
        self.entry_gate, self.exit_gate = entries[0], exits[0]

    # ---------------------------------------------------------------- set-up

    def _unit_mass(self, sku: str) -> float:
        p = self.store.products[sku]
        mean = self.store.sim_measured_weight_g.get(sku, p.unit_weight_g)
        return float(max(0.2 * mean, self.rng.normal(mean, p.unit_weight_sd_g)))

    def _edge_point(self, gate_xy: tuple[float, float]) -> np.ndarray:
        """Where people appear or vanish: from the gate towards the nearest floor edge."""
        x, y = gate_xy
        fx, fy = self.store.floor_size
        d = [x, fx - x, y, fy - y]
        k = int(np.argmin(d))
        step = [(-1, 0), (1, 0), (0, -1), (0, 1)][k]
        p = np.array([x + 0.6 * step[0], y + 0.6 * step[1]])
        return np.clip(p, [0.3, 0.3], [fx - 0.3, fy - 0.3])

    def _people(self) -> None:
        specs = list(self.scenario.shoppers)
        if self.scenario.random is not None:
            stocked = sorted(b for b, d in self.units.items() if any(d.values()))
            taken = {s.shopper_id for s in specs}
            specs += random_shoppers(self.scenario.random, stocked, taken, self.rng)
        groups: dict[str, list[ShopperSpec]] = defaultdict(list)
        for s in specs:
            groups[s.group or f"solo:{s.shopper_id}"].append(s)
        spawn = self._edge_point(self.entry_gate.center_xy)
        for key in groups:
            members = groups[key]
            token = "sess-" + "".join(f"{int(v):02x}" for v in self.rng.integers(0, 256, 6))
            leader_enter = members[0].enter
            for k, s in enumerate(members):
                height = s.height_m or float(np.clip(self.rng.normal(1.72, 0.08), 1.55, 1.95))
                appearance = random_appearance(self.rng, height)
                dims = BodyDims(height, appearance.girth)
                enter = s.enter if k == 0 else max(s.enter, leader_enter + 0.8 * k)
                timeline = Timeline(s.shopper_id, token, dims, appearance)
                speed = s.speed_mps or float(self.rng.uniform(0.9, 1.25))
                self.people.append(
                    _Person(
                        spec=s,
                        timeline=timeline,
                        speed=speed,
                        session=token,
                        token=token,
                        leader=k == 0,
                        group_size=len(members),
                        actions=list(s.actions),
                        t=enter,
                        xy=spawn.copy(),
                        heading=math.pi / 2,
                        gait=float(self.rng.random()),
                    )
                )

    # ---------------------------------------------------------------- motion helpers

    def _others_xy(self, me: _Person, ts: np.ndarray) -> np.ndarray:
        rows = [q.timeline.xy_many(ts, hold_last=True) for q in self.people if q is not me]
        return np.stack(rows) if rows else np.full((0, len(ts), 2), np.nan)

    def _min_gap(self, me: _Person, ts: np.ndarray, xy: np.ndarray) -> float:
        others = self._others_xy(me, ts)
        if others.shape[0] == 0:
            return math.inf
        d = np.linalg.norm(others - xy[None], axis=2)
        return float(np.nanmin(d)) if np.any(np.isfinite(d)) else math.inf

    def _stand(self, p: _Person, until: float, heading: float | None = None) -> None:
        if until <= p.t + 1e-9:
            return
        h1 = p.heading if heading is None else heading
        p.timeline.phases.append(Phase("stand", p.t, until, p.xy.copy(), p.heading, h1))
        p.t, p.heading = until, h1

    def _grid_around_standing(self, p: _Person) -> FloorGrid:
        """The floor grid with people who stand still over the next seconds marked as obstacles."""
        ts = p.t + np.array([0.0, 1.0, 2.0, 3.0])
        blocked = self.grid.blocked.copy()
        ny, nx = blocked.shape
        cell = self.grid.cell
        gx, gy = np.meshgrid((np.arange(nx) + 0.5) * cell, (np.arange(ny) + 0.5) * cell)
        for q in self.people:
            if q is p:
                continue
            xy = q.timeline.xy_many(ts, hold_last=True)
            if not np.all(np.isfinite(xy)) or np.max(np.linalg.norm(xy - xy[0], axis=1)) > 0.05:
                continue
            blocked |= np.hypot(gx - xy[0, 0], gy - xy[0, 1]) < MIN_SEPARATION_M
        return FloorGrid(blocked=blocked, cell=cell)

    def _path(self, p: _Person, goal: np.ndarray) -> np.ndarray:
        try:
            return self._grid_around_standing(p).plan(p.xy, goal)
        except NoPathError:
            try:
                return self.grid.plan(p.xy, goal)
            except NoPathError as error:
                raise ScenarioError(
                    f"{p.spec.shopper_id}: cannot walk to {goal.tolist()}: {error}"
                ) from error

    def _walk(
        self,
        p: _Person,
        goal: np.ndarray,
        hold_s: float,
        outside: bool = False,
        force: bool = False,
    ) -> bool:
        """Walk to ``goal`` [m] if the way and the stop after it (``hold_s`` [s]) are clear soon.

        Returns False after waiting a little when they are not (the scheduler then lets others
        move first and retries); after ``MAX_QUEUE_S`` of waiting, or with ``force``, the person
        goes anyway. ``outside``: the person has not entered yet, so waiting blocks nobody.
        """
        path = self._path(p, goal)
        seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        if cum[-1] < 1e-3:
            if outside:  # appear where one stands
                self._place(p, p.t, 0.05)
            p.queued_s = 0.0
            return True
        duration = cum[-1] / p.speed
        best_d, best_gap = 0.0, -1.0
        for d in np.arange(0.0, 1.0, 0.25):
            t_walk = p.t + d + np.arange(0.0, duration, SAMPLE_S)
            s = np.clip((t_walk - p.t - d) * p.speed, 0.0, cum[-1])
            xy_walk = np.stack([np.interp(s, cum, path[:, 0]), np.interp(s, cum, path[:, 1])], 1)
            # Leaving one's own spot is always allowed: skip the first 0.4 m of the walk.
            keep = s > min(0.4, 0.5 * cum[-1])
            t_hold = p.t + d + duration + np.arange(0.0, max(hold_s, SAMPLE_S), SAMPLE_S)
            ts = np.concatenate([t_walk[keep], t_hold])
            xy = np.concatenate([xy_walk[keep], np.broadcast_to(goal, (len(t_hold), 2))])
            gap = self._min_gap(p, ts, xy)
            if gap >= MIN_SEPARATION_M:
                best_d, best_gap = float(d), gap
                break
            if gap > best_gap + 1e-6:
                best_d, best_gap = float(d), gap
        else:
            if not force and p.queued_s < MAX_QUEUE_S:
                p.queued_s += 0.5
                if outside:
                    p.t += 0.5
                else:
                    self._stand(p, p.t + 0.5)
                return False
            LOGGER.warning(
                "%s: no clear way to %s after %.0f s at t=%.1f; passing at %.2f m",
                p.spec.shopper_id,
                np.round(goal, 2).tolist(),
                p.queued_s,
                p.t,
                best_gap,
            )
        p.queued_s = 0.0
        if outside:
            p.t += best_d
        else:
            self._stand(p, p.t + best_d)
        phase = Phase(
            "walk",
            p.t,
            p.t + duration,
            path[0].copy(),
            p.heading,
            p.heading,
            path=path,
            cum=cum,
            speed=p.speed,
            gait0=p.gait,
        )
        # Where the walk leaves the body facing (short walks end before the turn completes).
        heading = (
            phase.path_heading(float(cum[-1]))
            if duration >= TURN_S
            else angle_lerp(p.heading, phase.path_heading(float(cum[-1])), duration / TURN_S)
        )
        p.timeline.phases.append(replace(phase, heading1=heading))
        p.gait = (p.gait + cum[-1] / (0.84 * p.timeline.dims.height_m)) % 1.0
        p.t += duration
        p.xy = path[-1].copy()
        p.heading = heading
        return True

    def _place(self, p: _Person, t: float, seconds: float) -> None:
        p.timeline.phases.append(Phase("stand", t, t + seconds, p.xy.copy(), p.heading, p.heading))
        p.t = t + seconds

    def _set_held(self, p: _Person, t: float) -> None:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for h in p.held:
            counts[(h.sku, h.hand)] += 1
        snapshot = tuple(HeldItem(sku, hand, n) for (sku, hand), n in sorted(counts.items()))
        p.timeline.held_changes.append((t, snapshot))

    # ---------------------------------------------------------------- actions

    def _spot(self, b: Bin, offset: float) -> tuple[np.ndarray, float, np.ndarray]:
        """Standing spot (2,), heading towards the shelf, and the along-shelf unit vector (2,)."""
        n = b.access_normal[:2]
        along = np.array([-n[1], n[0]])
        face = b.center[:2] + n * (np.abs(b.access_normal) @ b.size) / 2.0
        spot = face + n * STAND_OFF_M + along * offset
        return spot, math.atan2(-n[1], -n[0]), along

    def _prepare_reach(self, p: _Person, a: ActionSpec, bin_id: str, kind: str) -> _Reach | None:
        """Where to stand, which hand, the wrist target and the timing of one reach."""
        b = self.store.bins[bin_id]
        spot, heading, along = self._spot(b, a.offset_m)
        hand = a.hand
        if kind == "return":
            held = [h for h in p.held if a.item is None or h.sku == a.item]
            if not held:
                LOGGER.warning("%s: %s has nothing to return", a.field_name, p.spec.shopper_id)
                return None
            hand = held[-1].hand
        lateral = float((b.center[:2] - spot) @ np.array([-math.sin(heading), math.cos(heading)]))
        if hand == "auto":
            hand = "left" if lateral > 0.05 else "right"
            if any(h.hand == hand for h in p.held) and not any(h.hand != hand for h in p.held):
                hand = "right" if hand == "left" else "left"
        depth = float(np.abs(b.access_normal) @ b.size)
        width = float(np.abs(along) @ np.abs(b.size[:2]))
        jitter = float(self.rng.uniform(-0.25, 0.25)) * max(0.0, width - 0.12)
        inset = min(0.15, 0.4 * depth)
        target = b.center + b.access_normal * (depth / 2.0 - inset)
        target = target + np.array([along[0], along[1], 0.0]) * jitter
        target[2] = b.min_corner[2] + min(0.09, 0.4 * b.size[2])
        approach = target + b.access_normal * (inset + 0.12)
        try:
            crouch, lean = reach_posture(
                p.timeline.dims, (float(spot[0]), float(spot[1])), heading, target, hand
            )
        except ValueError as error:
            LOGGER.warning("%s: %s skipped: %s", a.field_name, p.spec.shopper_id, error)
            return None
        reach_s = a.reach_s if a.reach_s is not None else float(self.rng.uniform(0.6, 1.1))
        if a.dwell_s is not None:
            dwell = a.dwell_s
        elif kind == "browse":
            dwell = float(self.rng.uniform(1.0, 2.5))
        else:
            dwell = float(self.rng.uniform(0.4, 0.9)) + 0.5 * (a.qty - 1)
        return _Reach(
            kind,
            a,
            bin_id,
            spot,
            heading,
            hand,
            approach,
            target,
            crouch,
            lean,
            reach_s,
            dwell,
            0.9 * reach_s,
        )

    def _reach_steps(
        self, p: _Person, r: _Reach, act: Callable[[_Person, _Reach], bool]
    ) -> list[Callable[[], bool]]:
        """Walk to a free spot in front of the bin, then reach (two scheduler steps)."""
        chosen = [r]

        def walk() -> bool:
            chosen[0] = self._choose_spot(p, r)
            return self._walk(p, chosen[0].spot, chosen[0].total)

        return [walk, lambda: act(p, chosen[0])]

    def _choose_spot(self, p: _Person, r: _Reach) -> _Reach:
        """``r`` or, when someone stands in its spot, the same reach from a spot beside it."""
        heading = r.heading
        along = np.array([math.sin(heading), -math.cos(heading)])
        for shift in (0.0, 0.3, -0.3, 0.6, -0.6):
            spot = r.spot + along * shift
            if not self.grid.is_free(spot):
                continue
            eta = float(np.linalg.norm(spot - p.xy)) / p.speed
            ts = p.t + eta + np.arange(0.0, r.total + 1.0, SAMPLE_S)
            if self._min_gap(p, ts, np.broadcast_to(spot, (len(ts), 2))) < MIN_SEPARATION_M:
                continue
            if shift == 0.0:
                return r
            try:
                crouch, lean = reach_posture(
                    p.timeline.dims, (float(spot[0]), float(spot[1])), heading, r.target, r.hand
                )
            except ValueError:
                continue
            return replace(r, spot=spot, crouch=crouch, lean=lean)
        return r

    def _do_reach(self, p: _Person, r: _Reach) -> tuple[Phase, float, float]:
        """Add the reach phase at the person's spot; returns (phase, t hand in, t hand out)."""
        if r.action.start_at is not None:
            self._stand(p, r.action.start_at - TURN_S * 0.75, r.heading)
        t0 = p.t
        t_out0 = t0 + TURN_S * 0.75
        phase = Phase(
            "reach",
            t0,
            t0 + r.total,
            p.xy.copy(),
            p.heading,
            r.heading,
            hand=r.hand,
            approach=r.approach,
            target=r.target,
            t_out0=t_out0,
            t_out1=t_out0 + r.reach_s,
            t_back0=t_out0 + r.reach_s + r.dwell,
            t_back1=t_out0 + r.reach_s + r.dwell + r.back_s,
            crouch=r.crouch,
            lean=r.lean,
            bin_id=r.bin_id,
        )
        p.timeline.phases.append(phase)
        p.t, p.heading = t0 + r.total, r.heading
        t_in, t_out = self._record_touches(p, phase)
        return phase, t_in, t_out

    def _record_touches(self, p: _Person, phase: Phase) -> tuple[float, float]:
        """Hand-in-bin intervals from the posed wrist (so truth matches the skeleton exactly)."""
        wrist_k = 9 if phase.hand == "left" else 10
        ts = np.arange(phase.t_out0, phase.t_back1 + 0.01, 0.01)
        near = [
            b for b in self.store.bins.values() if np.linalg.norm(b.center[:2] - phase.xy) < 1.5
        ]
        wrists = np.stack(
            [
                pose(p.timeline.dims, phase.params(float(t), 1.0, (False, False)))[wrist_k]
                for t in ts
            ]
        )
        inside: dict[str, list[float]] = {}
        for b in near:
            hits = ts[b.contains(wrists)]
            if hits.size:
                inside[b.bin_id] = hits.tolist()
        t_in = t_out = phase.t_out1
        for bin_id, times in inside.items():
            times_a = np.array(times)
            breaks = np.where(np.diff(times_a) > 0.015)[0]
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [len(times_a) - 1]])
            for s, e in zip(starts, ends, strict=True):
                peak = float(np.clip(self.rng.lognormal(math.log(35.0), 0.75), 5.0, 200.0))
                self.touches.append(Touch(bin_id, times_a[s], times_a[e], peak, p.spec.shopper_id))
                if bin_id == phase.bin_id:
                    t_in, t_out = float(times_a[s]), float(times_a[e])
        if phase.bin_id not in inside:
            LOGGER.warning("%s: wrist never entered %s", p.spec.shopper_id, phase.bin_id)
        return t_in, t_out

    def _pick(self, p: _Person, r: _Reach) -> bool:
        a, bin_id = r.action, r.bin_id
        stock = self.units[bin_id]
        skus = [s for s, w in stock.items() if w and (a.item is None or s == a.item)]
        if not skus:
            LOGGER.warning("%s: bin %s has no %s left", a.field_name, bin_id, a.item or "stock")
            return True
        sku = skus[int(self.rng.integers(len(skus)))] if a.item is None else skus[0]
        qty = min(a.qty, len(stock[sku]))
        phase, t_in, t_out = self._do_reach(p, r)
        dwell = phase.t_back0 - phase.t_out1
        t_last = phase.t_out1
        for k in range(qty):
            t_k = phase.t_out1 + dwell * (k + 1) / (qty + 1)
            grams = stock[sku].pop()
            self.changes.append(
                ShelfChange(t_k, bin_id, sku, -1, -grams, p.spec.shopper_id, p.session)
            )
            p.held.append(_Held(sku, phase.hand, grams))
            self._set_held(p, t_k)
            t_last = t_k
        self.carts[p.session][sku] += qty
        self.events.append(
            TruthEvent(
                t_last,
                "pick",
                bin_id,
                sku,
                qty,
                p.session,
                p.spec.shopper_id,
                t_in,
                t_out,
                phase.hand,
            )
        )
        return True

    def _return(self, p: _Person, r: _Reach) -> bool:
        a, bin_id = r.action, r.bin_id
        phase, t_in, t_out = self._do_reach(p, r)
        k = max(
            i
            for i, h in enumerate(p.held)
            if (a.item is None or h.sku == a.item) and h.hand == phase.hand
        )
        item = p.held.pop(k)
        t_place = phase.t_out1 + 0.5 * (phase.t_back0 - phase.t_out1)
        self.units[bin_id].setdefault(item.sku, []).append(item.grams)
        self.changes.append(
            ShelfChange(t_place, bin_id, item.sku, 1, item.grams, p.spec.shopper_id, p.session)
        )
        self._set_held(p, t_place)
        if self.carts[p.session][item.sku] > 0:
            self.carts[p.session][item.sku] -= 1
        wrong = item.sku not in self.store.bin_skus(bin_id)
        self.events.append(
            TruthEvent(
                t_place,
                "return",
                bin_id,
                item.sku,
                1,
                p.session,
                p.spec.shopper_id,
                t_in,
                t_out,
                phase.hand,
                wrong_bin=wrong,
            )
        )
        return True

    def _browse(self, p: _Person, r: _Reach) -> bool:
        bin_id = r.bin_id
        phase, t_in, t_out = self._do_reach(p, r)
        skus = self.store.bin_skus(bin_id)
        self.events.append(
            TruthEvent(
                phase.t_back0,
                "browse",
                bin_id,
                skus[0] if skus else "",
                0,
                p.session,
                p.spec.shopper_id,
                t_in,
                t_out,
                phase.hand,
            )
        )
        return True

    def _handoff(self, giver: _Person, receiver: _Person, a: ActionSpec) -> None:
        """Receiver walks up to the giver; both reach to a point between them; the item moves."""
        held = [h for h in giver.held if a.item is None or h.sku == a.item]
        giver.waiting = receiver.waiting = None
        if not held:
            LOGGER.warning("%s: %s holds nothing to hand over", a.field_name, giver.spec.shopper_id)
            return
        item = held[-1]
        d = receiver.xy - giver.xy
        if np.linalg.norm(d) < 1e-3:
            d = np.array([1.0, 0.0])
        d = d / np.linalg.norm(d)
        meet = self.grid.nearest_free(giver.xy + 0.8 * d)
        receiver_t = max(receiver.t, giver.t)
        self._stand(receiver, receiver_t)
        self._walk(receiver, meet, 3.0, force=True)
        t0 = max(giver.t, receiver.t)
        face = receiver.xy - giver.xy
        h_g = math.atan2(face[1], face[0])
        self._stand(giver, t0)
        self._stand(receiver, t0)
        mid = np.array(
            [
                *(giver.xy + receiver.xy) / 2.0,
                0.6 * min(giver.timeline.dims.height_m, receiver.timeline.dims.height_m),
            ]
        )
        t_out0, reach, dwell, back = t0 + 0.3, 0.8, 0.5, 0.7
        t_swap = t_out0 + reach + 0.25
        for person, heading, hand in ((giver, h_g, item.hand), (receiver, h_g + math.pi, "right")):
            person.timeline.phases.append(
                Phase(
                    "handoff",
                    t0,
                    t_out0 + reach + dwell + back + 0.2,
                    person.xy.copy(),
                    person.heading,
                    heading,
                    hand=hand,
                    approach=mid,
                    target=mid,
                    t_out0=t_out0,
                    t_out1=t_out0 + reach,
                    t_back0=t_out0 + reach + dwell,
                    t_back1=t_out0 + reach + dwell + back,
                )
            )
            person.t, person.heading = t_out0 + reach + dwell + back + 0.2, heading
        giver.held.remove(item)
        self._set_held(giver, t_swap)
        receiver.held.append(_Held(item.sku, "right", item.grams))
        self._set_held(receiver, t_swap)
        if giver.session != receiver.session and self.carts[giver.session][item.sku] > 0:
            self.carts[giver.session][item.sku] -= 1
            self.carts[receiver.session][item.sku] += 1
        self.events.append(
            TruthEvent(
                t_swap,
                "handoff",
                "",
                item.sku,
                1,
                giver.session,
                giver.spec.shopper_id,
                t_out0,
                t_out0 + reach + dwell,
                item.hand,
                peer=receiver.spec.shopper_id,
                peer_session=receiver.session,
            )
        )

    # ---------------------------------------------------------------- stages

    def _enter_steps(self, p: _Person) -> list[Callable[[], bool]]:
        center = self.grid.nearest_free(np.array(self.entry_gate.center_xy))
        # After the scan, step clear of the gate so that whoever comes next can scan too.
        inward = np.array(self.store.floor_size) / 2.0 - center
        inside = self.grid.nearest_free(center + 0.9 * inward / max(np.linalg.norm(inward), 1e-6))
        across = np.array([-inward[1], inward[0]]) / max(np.linalg.norm(inward), 1e-6)

        def step_inside() -> bool:
            return self._walk(p, self._clear_spot(p, inside, across), 0.3)

        return [partial(self._walk, p, center, 1.2, True), partial(self._scan, p), step_inside]

    def _scan(self, p: _Person) -> bool:
        gate = self.entry_gate
        if p.leader:
            self._stand(p, p.t + 1.0)
            self.crossings.append(
                GateCrossing(
                    p.t - 0.5,
                    "entry",
                    gate.gate_id,
                    p.token,
                    p.group_size,
                    (float(p.xy[0]), float(p.xy[1]), 1.0),
                    p.spec.shopper_id,
                    p.session,
                )
            )
        else:
            self._stand(p, p.t + 0.3)
        return True

    def _exit_steps(self, p: _Person) -> list[Callable[[], bool]]:
        center = self.grid.nearest_free(np.array(self.exit_gate.center_xy))
        edge = self._edge_point(self.exit_gate.center_xy)
        return [
            partial(self._walk, p, center, 0.5),
            partial(self._cross_exit, p),
            partial(self._walk, p, edge, 0.3, False, True),
            partial(self._vanish, p),
        ]

    def _cross_exit(self, p: _Person) -> bool:
        self.crossings.append(
            GateCrossing(
                p.t,
                "exit",
                self.exit_gate.gate_id,
                "",
                1,
                (float(p.xy[0]), float(p.xy[1]), 1.0),
                p.spec.shopper_id,
                p.session,
            )
        )
        p.t_exit = p.t
        return True

    def _vanish(self, p: _Person) -> bool:
        self._stand(p, p.t + 0.2)
        p.timeline.t_vanish = p.t
        p.stage = "done"
        members = [q for q in self.people if q.session == p.session]
        if all(q.stage == "done" for q in members):
            self._receipt(p.session, p.t_exit, tuple(q.spec.shopper_id for q in members))
        return True

    def _receipt(self, session: str, t: float, people: tuple[str, ...]) -> None:
        lines = []
        for sku, qty in sorted(self.carts[session].items()):
            if qty <= 0:
                continue
            price = self.store.products[sku].price
            lines.append(ReceiptLine(sku, qty, price, round(qty * price, 2)))
        total = round(sum(line.total for line in lines), 2)
        self.receipts.append(
            ExpectedReceipt(t, session, tuple(lines), total, self.store.currency, people)
        )

    def _step(self, p: _Person) -> None:
        """Run the person's next planning step (or expand their next action into steps)."""
        if p.todo:
            if p.todo[0]():
                p.todo.pop(0)
            return
        if p.stage == "enter":
            p.todo = self._enter_steps(p)
            p.stage = "act"
            return
        if not p.actions:
            p.todo = self._exit_steps(p)
            p.stage = "exiting"
            return
        a = p.actions.pop(0)
        if a.do in ("pick", "browse", "return"):
            assert a.target is not None
            bin_id = resolve_target(self.store, a.target, f"{self.scenario.source}: {a.field_name}")
            r = self._prepare_reach(p, a, bin_id, a.do)
            if r is not None:
                act = {"pick": self._pick, "browse": self._browse, "return": self._return}[a.do]
                p.todo = self._reach_steps(p, r, act)
        elif a.do == "wait":
            self._stand(p, a.start_at if a.start_at is not None else p.t + a.seconds)
        elif a.do == "walk":
            assert a.to_xy is not None
            p.todo = [partial(self._walk, p, self.grid.nearest_free(np.array(a.to_xy)), 0.5)]
        else:  # handoff / receive: step back from the shelf, then wait for the partner
            p.todo = [partial(self._step_back, p), partial(self._wait_for_partner, p, a)]

    def _step_back(self, p: _Person) -> bool:
        """Leave the spot in front of a shelf free while waiting for someone."""
        back = p.xy - 0.6 * np.array([math.cos(p.heading), math.sin(p.heading)])
        if not self.grid.is_free(back):
            return True
        return self._walk(p, back, 2.0, force=p.queued_s > 3.0)

    def _wait_for_partner(self, p: _Person, a: ActionSpec) -> bool:
        p.waiting = a
        return True

    def _clear_spot(self, p: _Person, center: np.ndarray, across: np.ndarray) -> np.ndarray:
        """``center`` or the nearest of a few spots beside it that nobody will stand in soon."""
        ts = p.t + np.arange(0.0, 4.0, SAMPLE_S)
        for shift in (0.0, 0.6, -0.6, 1.2, -1.2):
            spot = center + across * shift
            if not self.grid.is_free(spot):
                continue
            if self._min_gap(p, ts, np.broadcast_to(spot, (len(ts), 2))) >= MIN_SEPARATION_M:
                return spot
        return center

    def _try_handoffs(self) -> bool:
        by_id = {q.spec.shopper_id: q for q in self.people}
        for g in self.people:
            if g.waiting is None or g.waiting.do != "handoff":
                continue
            r = by_id[g.waiting.peer or ""]
            if (
                r.waiting is not None
                and r.waiting.do == "receive"
                and r.waiting.peer == g.spec.shopper_id
            ):
                self._handoff(g, r, g.waiting)
                return True
        return False

    def plan(self) -> Plan:
        """Plan every person until they have left the store."""
        self._people()
        for fault in self.scenario.faults:
            if fault.target is not None:
                resolve_target(
                    self.store, fault.target, f"{self.scenario.source}: {fault.field_name}"
                )
        while True:
            active = [q for q in self.people if q.stage != "done" and q.waiting is None]
            if not active:
                if self._try_handoffs():
                    continue
                stuck = [q.spec.shopper_id for q in self.people if q.stage != "done"]
                if stuck:
                    raise ScenarioError(f"{self.scenario.source}: handoff deadlock between {stuck}")
                break
            p = min(active, key=lambda q: (q.t, self.people.index(q)))
            self._step(p)
            self._try_handoffs()
        order = sorted(self.people, key=lambda q: q.timeline.t_appear)
        sessions: dict[str, list[str]] = defaultdict(list)
        for q in order:
            sessions[q.session].append(q.spec.shopper_id)
        return Plan(
            timelines=tuple(q.timeline for q in order),
            initial_units=self.initial_units,
            changes=tuple(sorted(self.changes, key=lambda c: c.t)),
            touches=tuple(sorted(self.touches, key=lambda c: c.t_in)),
            crossings=tuple(sorted(self.crossings, key=lambda c: c.t)),
            events=tuple(sorted(self.events, key=lambda e: e.t)),
            receipts=tuple(sorted(self.receipts, key=lambda r: r.t)),
            sessions={k: tuple(v) for k, v in sessions.items()},
            planogram_swaps=tuple(self.swaps),
        )

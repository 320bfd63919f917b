"""The store simulator: a scenario in a store, stepped in simulated time, without ROS.

``Simulator(store, scenario, seed)`` plans the whole run up front (deterministic by seed), then
``step(t)`` returns everything that happened in (previous t, t]: the world state at t (for the
renderer), load-cell batches per board, gate events, ground-truth events, tracks and receipts.
``run(duration, step_s)`` yields the steps. Time is always an argument; nothing reads a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from go_common.core.store import StoreModel, load_store
from go_sensors.core.loadcells import ChannelFault, LoadCellBatch, LoadCellModel
from go_sensors.core.plan import Plan, Planner
from go_sensors.core.scenario import Scenario, ScenarioError, load_scenario
from go_sensors.core.targets import resolve_target
from go_sensors.core.truth import ExpectedReceipt, GateCrossing, TruthEvent, to_json, track_json
from go_sensors.core.world import WorldState

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackTruth:
    """Where a person is at the step's time: keypoints (17, 3) [m] store frame."""

    person_id: str
    session: str
    keypoints: np.ndarray


@dataclass(frozen=True)
class SimStep:
    """Everything the simulator produced for (t_prev, t] [s].

    world: the world at t. boards: one batch per board with samples in the interval.
    gate_events: entry scans and exit crossings. cameras_down: cameras that deliver no frame at t.
    events, receipts, tracks: ground truth (scoring only).
    """

    t: float
    t_prev: float
    world: WorldState
    boards: tuple[LoadCellBatch, ...]
    gate_events: tuple[GateCrossing, ...]
    cameras_down: frozenset[str]
    events: tuple[TruthEvent, ...] = field(default_factory=tuple)
    receipts: tuple[ExpectedReceipt, ...] = field(default_factory=tuple)
    tracks: tuple[TrackTruth, ...] = field(default_factory=tuple)


class Simulator:
    """A deterministic simulated run of ``scenario`` in ``store`` for ``seed``."""

    def __init__(
        self, store: StoreModel | str | Path, scenario: Scenario | str | Path, seed: int = 0
    ) -> None:
        self.store = store if isinstance(store, StoreModel) else load_store(store)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.seed = seed
        self.plan: Plan = Planner(self.store, self.scenario, seed).plan()
        faults = []
        self.camera_faults: list[tuple[str, float, float]] = []
        cams = sorted(self.store.cameras)
        for f in self.scenario.faults:
            where = f"{self.scenario.source}: {f.field_name}"
            if f.kind == "camera_dropout":
                cam = f.camera
                if isinstance(cam, int):
                    if not 0 <= cam < len(cams):
                        raise ScenarioError(
                            f"{where}.camera index {cam} out of range (0..{len(cams) - 1})"
                        )
                    cam = cams[cam]
                if cam not in self.store.cameras:
                    raise ScenarioError(
                        f"{where}.camera '{cam}' is not a camera of store "
                        f"'{self.store.store_id}' (known: {', '.join(cams)})"
                    )
                self.camera_faults.append((str(cam), f.start, f.end))
            elif f.kind in ("scale_drift", "scale_dropout"):
                assert f.target is not None
                bin_id = resolve_target(self.store, f.target, where)
                faults.append(ChannelFault(f.kind, bin_id, f.start, f.end, f.rate_g_per_min))
        self.loadcells = LoadCellModel(
            self.store,
            self.plan.initial_units,
            self.plan.changes,
            self.plan.touches,
            tuple(faults),
            seed,
            self.store.sim_shared_load,
        )
        self._t_prev = -1e-9
        self._contents = {
            b: {s: len(w) for s, w in d.items()} for b, d in self.plan.initial_units.items()
        }
        self._change_i = 0

    @property
    def duration(self) -> float:
        """The scenario's length [s]."""
        return self.scenario.duration

    @property
    def t_end(self) -> float:
        """When the last person has left [s]."""
        return max((tl.t_vanish for tl in self.plan.timelines), default=0.0)

    def cameras_down(self, t: float) -> frozenset[str]:
        """Cameras that have dropped out at t."""
        return frozenset(c for c, t0, t1 in self.camera_faults if t0 <= t <= t1)

    def bin_contents(self, t: float) -> dict[str, dict[str, int]]:
        """Live planogram at t: bin -> {sku: units on the shelf}."""
        counts = {b: {s: len(w) for s, w in d.items()} for b, d in self.plan.initial_units.items()}
        for ch in self.plan.changes:
            if ch.t > t:
                break
            counts.setdefault(ch.bin_id, {})
            counts[ch.bin_id][ch.sku] = counts[ch.bin_id].get(ch.sku, 0) + ch.delta_units
        return counts

    def world_at(self, t: float) -> WorldState:
        """The world at t (pure: any t, any order)."""
        people = tuple(s for tl in self.plan.timelines if (s := tl.state(t)) is not None)
        return WorldState(t=t, people=people, bin_contents=self.bin_contents(t))

    def step(self, t: float) -> SimStep:
        """Advance to t [s] (> the previous step) and return what happened since."""
        if not np.isfinite(t):
            raise ValueError(f"step time must be finite, got {t}")
        if t <= self._t_prev:
            raise ValueError(f"step time {t} s is not after the previous step {self._t_prev} s")
        t_prev, self._t_prev = self._t_prev, t
        while self._change_i < len(self.plan.changes) and self.plan.changes[self._change_i].t <= t:
            ch = self.plan.changes[self._change_i]
            row = self._contents.setdefault(ch.bin_id, {})
            row[ch.sku] = row.get(ch.sku, 0) + ch.delta_units
            self._change_i += 1
        people = []
        tracks = []
        for tl in self.plan.timelines:
            state = tl.state(t)
            if state is not None:
                people.append(state)
                tracks.append(TrackTruth(tl.person_id, tl.session, state.keypoints))
        world = WorldState(
            t=t, people=tuple(people), bin_contents={b: dict(d) for b, d in self._contents.items()}
        )
        boards = tuple(
            batch
            for board_id in sorted(self.loadcells.boards)
            if (batch := self.loadcells.batch(board_id, t_prev, t)) is not None
        )

        def within(x: float) -> bool:
            return t_prev < x <= t

        return SimStep(
            t=t,
            t_prev=max(t_prev, 0.0),
            world=world,
            boards=boards,
            gate_events=tuple(g for g in self.plan.crossings if within(g.t)),
            cameras_down=self.cameras_down(t),
            events=tuple(e for e in self.plan.events if within(e.t)),
            receipts=tuple(r for r in self.plan.receipts if within(r.t)),
            tracks=tuple(tracks),
        )

    def run(self, duration: float | None = None, step_s: float = 1.0 / 15.0) -> Iterator[SimStep]:
        """Steps at k * step_s for k = 1 .. duration / step_s (default: the scenario's duration)."""
        if step_s <= 0 or not np.isfinite(step_s):
            raise ValueError(f"step_s must be positive, got {step_s}")
        total = self.duration if duration is None else duration
        n = round(total / step_s)
        for k in range(1, n + 1):
            yield self.step(k * step_s)


def meta_record(sim: Simulator) -> dict[str, object]:
    """First ground-truth record of a run: what was simulated, and who shopped on which session."""
    return {
        "type": "meta",
        "store": sim.store.store_id,
        "scenario": sim.scenario.name,
        "seed": sim.seed,
        "duration": sim.duration,
        "sessions": {k: list(v) for k, v in sim.plan.sessions.items()},
        "cameras": sorted(sim.store.cameras),
        "planogram_swaps": [list(pair) for pair in sim.plan.planogram_swaps],
        "camera_dropouts": [
            {"camera": c, "start": t0, "end": t1 if np.isfinite(t1) else None}
            for c, t0, t1 in sim.camera_faults
        ],
    }


def step_records(step: SimStep, with_tracks: bool = True) -> list[dict[str, object]]:
    """Ground-truth JSON records of one step: gate crossings, events, receipts, then tracks."""
    records = [to_json(g) for g in step.gate_events]
    records += [to_json(e) for e in step.events]
    records += [to_json(r) for r in step.receipts]
    if with_tracks:
        records += [
            track_json(step.t, tr.person_id, tr.session, tr.keypoints) for tr in step.tracks
        ]
    return records

"""Scenario files: who enters when, what each shopper does, and which sensor faults happen.

A scenario is a YAML file in ``go_sensors/scenarios/`` (or any path). Scripted shoppers list their
actions; a ``random`` block adds N random shoppers drawn from the run's seed. Targets name a bin
(``bin``), a product (``sku``: the first bin holding it) or the neighbour of one (``beside``: the
next bin on the same shelf), so most scenarios run in any store that stocks the products.

Schema::

    description: text
    store: small                      # default store
    duration: 40                      # [s] of simulated time
    shoppers:
      - id: alice
        enter: 1.0                    # [s] arrival at the entry gate
        group: fam                    # optional: one scan admits the whole group (one cart)
        height: 1.72                  # optional [m]; speed [m/s] optional
        actions:
          - {do: pick, sku: Arla-Standard-Milk, qty: 1, hand: right, reach_s: 0.8, dwell_s: 0.5}
          - {do: browse, beside: Arla-Standard-Milk}
          - {do: return, bin: g1_xp_s1_b2, item: Arla-Standard-Milk}
          - {do: wait, seconds: 2.0}                # or {do: wait, until: 12.0}
          - {do: pick, sku: X, start_at: 10.0}     # reach exactly at 10 s (after walking there)
          - {do: handoff, to: bob, item: Arla-Standard-Milk}  # bob: {do: receive, from: alice}
          - {do: walk, to: [2.0, 1.5]}
    random: {shoppers: 6, arrival_s: [1, 5], picks: [1, 3], p_browse: 0.3, p_return: 0.15,
             p_wrong_return: 0.3, p_multi: 0.25, p_group: 0.2}
    faults:
      - {kind: camera_dropout, camera: 0, start: 10, end: 20}  # camera id or index (sorted ids)
      - {kind: scale_drift, sku: Arla-Standard-Milk, rate_g_per_min: 30, start: 0}
      - {kind: scale_dropout, bin: g1_xp_s1_b1, start: 5, end: 8}
      - {kind: stale_planogram, sku: A, swap_with: B}  # the shelf holds A and B swapped
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "scenarios"

ACTIONS = ("pick", "browse", "return", "wait", "handoff", "receive", "walk")
FAULTS = ("camera_dropout", "scale_drift", "scale_dropout", "stale_planogram")


class ScenarioError(ValueError):
    """A scenario is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Target:
    """Where an action reaches: exactly one of bin id, SKU, or 'beside' (bin id or SKU)."""

    bin: str | None = None
    sku: str | None = None
    beside: str | None = None


@dataclass(frozen=True)
class ActionSpec:
    """One scripted action. Times in seconds; ``hand`` is "left", "right" or "auto"."""

    do: str
    field_name: str  # e.g. "shoppers[0].actions[2]" for error messages
    target: Target | None = None
    qty: int = 1
    hand: str = "auto"
    item: str | None = None
    peer: str | None = None  # handoff: receiver; receive: giver
    seconds: float = 0.0
    reach_s: float | None = None
    dwell_s: float | None = None
    to_xy: tuple[float, float] | None = None
    offset_m: float = 0.0  # lateral shift of the standing spot along the shelf [m]
    start_at: float | None = None  # reach no earlier than this time [s] (wait: until then)


@dataclass(frozen=True)
class ShopperSpec:
    """A scripted shopper."""

    shopper_id: str
    enter: float
    actions: tuple[ActionSpec, ...]
    group: str | None = None
    height_m: float | None = None
    speed_mps: float | None = None


@dataclass(frozen=True)
class RandomSpec:
    """Random shoppers drawn from the run's seed."""

    shoppers: int
    arrival_s: tuple[float, float] = (1.0, 5.0)
    picks: tuple[int, int] = (1, 3)
    p_browse: float = 0.3
    p_return: float = 0.15
    p_wrong_return: float = 0.3
    p_multi: float = 0.25
    p_group: float = 0.2
    first_arrival: float = 1.0


@dataclass(frozen=True)
class FaultSpec:
    """A fault: camera_dropout (camera), scale_drift / scale_dropout (target bin), or
    stale_planogram (the target bin and ``swap_with`` hold each other's products)."""

    kind: str
    field_name: str
    start: float = 0.0
    end: float = float("inf")
    camera: str | int | None = None
    target: Target | None = None
    rate_g_per_min: float = 0.0
    swap_with: Target | None = None


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario (store-independent until the simulator binds it to a store)."""

    name: str
    description: str
    store: str
    duration: float
    shoppers: tuple[ShopperSpec, ...]
    random: RandomSpec | None = None
    faults: tuple[FaultSpec, ...] = field(default_factory=tuple)
    source: str = "<dict>"


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name or a YAML file by path. Raises ScenarioError."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") and not path.is_file():
        path = SCENARIOS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(list_scenarios())
            raise ScenarioError(f"unknown scenario '{name_or_path}' (known: {known})")
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path.name}: not valid YAML: {error}") from error
    return scenario_from_dict(data, name=path.stem, source=path.name)


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, fld: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {fld} {message}")

    def number(
        self, data: Mapping[str, Any], key: str, fld: str, default: Any = ..., *, lo: float = 0.0
    ) -> float:
        if key not in data:
            if default is ...:
                raise self.error(f"{fld}{key}", "is missing")
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.error(f"{fld}{key}", f"must be a number, got {value!r}")
        if value < lo:
            raise self.error(f"{fld}{key}", f"must be >= {lo}, got {value!r}")
        return float(value)

    def integer(self, data: Mapping[str, Any], key: str, fld: str, default: int, lo: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise self.error(f"{fld}{key}", f"must be an integer >= {lo}, got {value!r}")
        return value

    def pair(self, data: Mapping[str, Any], key: str, fld: str, default: Any) -> tuple[Any, Any]:
        value = data.get(key, default)
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or value[0] > value[1]
            or value[0] < 0
        ):
            raise self.error(
                f"{fld}{key}", f"must be [low, high] with 0 <= low <= high, got {value!r}"
            )
        return value[0], value[1]

    def string(self, data: Mapping[str, Any], key: str, fld: str, default: Any = ...) -> Any:
        if key not in data:
            if default is ...:
                raise self.error(f"{fld}{key}", "is missing")
            return default
        value = data[key]
        if not isinstance(value, str) or not value:
            raise self.error(f"{fld}{key}", f"must be a non-empty string, got {value!r}")
        return value


def _target(ctx: _Ctx, data: Mapping[str, Any], fld: str, required: bool) -> Target | None:
    keys = [k for k in ("bin", "sku", "beside") if k in data]
    if len(keys) > 1:
        raise ctx.error(fld, f"give only one of bin, sku, beside (got {', '.join(keys)})")
    if not keys:
        if required:
            raise ctx.error(fld, "needs a target: bin, sku or beside")
        return None
    key = keys[0]
    return Target(**{key: ctx.string(data, key, f"{fld}.")})


def _swap(ctx: _Ctx, data: Mapping[str, Any], fld: str) -> Target | None:
    if data.get("kind") != "stale_planogram":
        return None
    other = ctx.string(data, "swap_with", f"{fld}.")
    return Target(sku=other)


def _action(ctx: _Ctx, data: Any, fld: str, ids: set[str]) -> ActionSpec:
    if not isinstance(data, dict):
        raise ctx.error(fld, f"must be a mapping, got {data!r}")
    do = data.get("do")
    if do not in ACTIONS:
        raise ctx.error(f"{fld}.do", f"must be one of {', '.join(ACTIONS)}, got {do!r}")
    hand = data.get("hand", "auto")
    if hand not in ("left", "right", "auto"):
        raise ctx.error(f"{fld}.hand", f"must be left, right or auto, got {hand!r}")
    peer = None
    if do in ("handoff", "receive"):
        key = "to" if do == "handoff" else "from"
        peer = ctx.string(data, key, f"{fld}.")
        if peer not in ids:
            raise ctx.error(f"{fld}.{key}", f"'{peer}' is not a shopper id of this scenario")
    to_xy = None
    if do == "walk":
        raw = data.get("to")
        if not isinstance(raw, list) or len(raw) != 2:
            raise ctx.error(f"{fld}.to", f"must be [x, y] in metres, got {raw!r}")
        to_xy = (float(raw[0]), float(raw[1]))
    reach = ctx.number(data, "reach_s", f"{fld}.", None, lo=0.2) if "reach_s" in data else None
    dwell = ctx.number(data, "dwell_s", f"{fld}.", None, lo=0.0) if "dwell_s" in data else None
    start_at = None
    for key in ("start_at", "until"):
        if key in data:
            start_at = ctx.number(data, key, f"{fld}.")
    offset = data.get("offset", 0.0)
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        raise ctx.error(f"{fld}.offset", f"must be a number of metres, got {offset!r}")
    return ActionSpec(
        do=do,
        field_name=fld,
        target=_target(ctx, data, fld, required=do in ("pick", "browse", "return")),
        qty=ctx.integer(data, "qty", f"{fld}.", 1, 1),
        hand=hand,
        item=ctx.string(data, "item", f"{fld}.", None),
        peer=peer,
        seconds=ctx.number(data, "seconds", f"{fld}.", 0.0),
        reach_s=reach,
        dwell_s=dwell,
        to_xy=to_xy,
        offset_m=float(offset),
        start_at=start_at,
    )


def scenario_from_dict(data: Any, name: str = "scenario", source: str = "<dict>") -> Scenario:
    """Validate parsed YAML into a Scenario; ``source`` names the file in errors."""
    ctx = _Ctx(source)
    if not isinstance(data, dict):
        raise ctx.error("(top level)", "must be a mapping")
    unknown = set(data) - {"description", "store", "duration", "shoppers", "random", "faults"}
    if unknown:
        raise ctx.error(", ".join(sorted(unknown)), "unknown top-level key(s)")
    raw_shoppers = data.get("shoppers", []) or []
    if not isinstance(raw_shoppers, list):
        raise ctx.error("shoppers", "must be a list")
    ids: set[str] = set()
    for i, s in enumerate(raw_shoppers):
        if not isinstance(s, dict):
            raise ctx.error(f"shoppers[{i}]", "must be a mapping")
        sid = ctx.string(s, "id", f"shoppers[{i}].")
        if sid in ids:
            raise ctx.error(f"shoppers[{i}].id", f"duplicate id '{sid}'")
        ids.add(sid)
    shoppers = []
    for i, s in enumerate(raw_shoppers):
        fld = f"shoppers[{i}]"
        raw_actions = s.get("actions", []) or []
        if not isinstance(raw_actions, list):
            raise ctx.error(f"{fld}.actions", "must be a list")
        actions = tuple(
            _action(ctx, a, f"{fld}.actions[{k}]", ids) for k, a in enumerate(raw_actions)
        )
        shoppers.append(
            ShopperSpec(
                shopper_id=s["id"],
                enter=ctx.number(s, "enter", f"{fld}.", 1.0),
                actions=actions,
                group=ctx.string(s, "group", f"{fld}.", None),
                height_m=ctx.number(s, "height", f"{fld}.", None, lo=1.0)
                if "height" in s
                else None,
                speed_mps=ctx.number(s, "speed", f"{fld}.", None, lo=0.2) if "speed" in s else None,
            )
        )
    _check_handoffs(ctx, shoppers)
    random_spec = None
    if data.get("random") is not None:
        r = data["random"]
        if not isinstance(r, dict):
            raise ctx.error("random", "must be a mapping")
        probs = {}
        for key in ("p_browse", "p_return", "p_wrong_return", "p_multi", "p_group"):
            value = ctx.number(r, key, "random.", getattr(RandomSpec, key))
            if value > 1.0:
                raise ctx.error(f"random.{key}", f"must be a probability in [0, 1], got {value}")
            probs[key] = value
        picks = ctx.pair(r, "picks", "random.", [1, 3])
        random_spec = RandomSpec(
            shoppers=ctx.integer(r, "shoppers", "random.", 1, 0),
            arrival_s=ctx.pair(r, "arrival_s", "random.", [1.0, 5.0]),
            picks=(int(picks[0]), int(picks[1])),
            first_arrival=ctx.number(r, "first_arrival", "random.", 1.0),
            **probs,
        )
    faults = []
    raw_faults = data.get("faults", []) or []
    if not isinstance(raw_faults, list):
        raise ctx.error("faults", "must be a list")
    for i, f in enumerate(raw_faults):
        fld = f"faults[{i}]"
        if not isinstance(f, dict) or f.get("kind") not in FAULTS:
            raise ctx.error(f"{fld}.kind", f"must be one of {', '.join(FAULTS)}")
        camera = f.get("camera")
        if f["kind"] == "camera_dropout" and not isinstance(camera, str | int):
            raise ctx.error(f"{fld}.camera", f"must be a camera id or index, got {camera!r}")
        start = ctx.number(f, "start", f"{fld}.", 0.0)
        end = ctx.number(f, "end", f"{fld}.", float("inf"))
        if end <= start:
            raise ctx.error(f"{fld}.end", f"must be after start ({start}), got {end}")
        faults.append(
            FaultSpec(
                kind=f["kind"],
                field_name=fld,
                start=start,
                end=end,
                camera=camera,
                target=_target(ctx, f, fld, required=f["kind"] != "camera_dropout"),
                rate_g_per_min=ctx.number(f, "rate_g_per_min", f"{fld}.", 0.0, lo=-1e6),
                swap_with=_swap(ctx, f, fld),
            )
        )
    duration = ctx.number(data, "duration", "", 60.0)
    if duration <= 0:
        raise ctx.error("duration", "must be positive")
    if not shoppers and random_spec is None:
        raise ctx.error("shoppers", "is empty and there is no random block: nobody shops")
    return Scenario(
        name=name,
        description=str(data.get("description", "")),
        store=ctx.string(data, "store", "", "small"),
        duration=duration,
        shoppers=tuple(shoppers),
        random=random_spec,
        faults=tuple(faults),
        source=source,
    )


def _check_handoffs(ctx: _Ctx, shoppers: list[ShopperSpec]) -> None:
    """Every handoff needs the matching receive (and vice versa), or the plan would deadlock."""
    gives = [
        (s.shopper_id, a.peer, a.field_name)
        for s in shoppers
        for a in s.actions
        if a.do == "handoff"
    ]
    takes = [
        (a.peer, s.shopper_id, a.field_name)
        for s in shoppers
        for a in s.actions
        if a.do == "receive"
    ]
    for giver, receiver, fld in gives:
        if sum(1 for t in takes if t[:2] == (giver, receiver)) != sum(
            1 for g in gives if g[:2] == (giver, receiver)
        ):
            raise ctx.error(fld, f"handoff to '{receiver}' has no matching receive from '{giver}'")
    for giver, receiver, fld in takes:
        if not any(g[:2] == (giver, receiver) for g in gives):
            raise ctx.error(fld, f"receive from '{giver}' has no matching handoff to '{receiver}'")

"""Benchmark figures against committed baselines.

A figure is a named number with a direction (lower is better for times and memory, higher is
better for rates and accuracies). A figure regresses when it is worse than its baseline by more
than the tolerance (20 % by default, as the benchmark contract says).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    name: str  # e.g. "render.small.4cam_fps"
    value: float
    unit: str
    higher_is_better: bool
    note: str = ""
    noise_floor: float = 0.0  # absolute changes smaller than this never count as regressions


@dataclass(frozen=True)
class Comparison:
    name: str
    value: float
    baseline: float | None
    change: float | None  # relative change in the "worse" direction (> 0 is worse)
    regressed: bool


def compare(
    figures: Iterable[Figure], baseline: Mapping[str, float], tolerance: float = 0.20
) -> list[Comparison]:
    """Compare each figure with its baseline value; figures without a baseline never regress."""
    result = []
    for fig in figures:
        base = baseline.get(fig.name)
        if base is None or base == 0:
            result.append(Comparison(fig.name, fig.value, base, None, False))
            continue
        worse = (
            (base - fig.value) / abs(base)
            if fig.higher_is_better
            else (fig.value - base) / abs(base)
        )
        noisy = abs(fig.value - base) <= fig.noise_floor
        result.append(Comparison(fig.name, fig.value, base, worse, worse > tolerance and not noisy))
    return result


def load_baseline(path: Path) -> dict[str, float]:
    """Read ``{"figures": {name: {"value": v, ...}}}`` (the format ``write_report`` writes)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {name: float(entry["value"]) for name, entry in data.get("figures", {}).items()}


def write_report(path: Path, figures: Iterable[Figure], machine: Mapping[str, str]) -> None:
    """Write bench.json: machine description and every figure with its unit and direction."""
    data = {
        "machine": dict(machine),
        "figures": {f.name: {k: v for k, v in asdict(f).items() if k != "name"} for f in figures},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

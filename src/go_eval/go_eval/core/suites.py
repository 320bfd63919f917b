"""Named scenario suites for ``./gostore eval --suite NAME``.

smoke: fast, for CI. standard: one shopper at a time, every kind of interaction and sensor fault.
hard: the crowded cases that broke real systems (adjacent reaches, crossed arms, hand-offs, a family
on one scan, occlusion, a busy store).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteEntry:
    store: str
    scenario: str
    seed: int = 0


SUITES: dict[str, tuple[SuiteEntry, ...]] = {
    "smoke": (
        SuiteEntry("small", "single_pick"),
        SuiteEntry("small", "return_wrong_bin"),
    ),
    "standard": tuple(
        SuiteEntry("small", name)
        for name in (
            "single_pick",
            "multi_item_reach",
            "return_same_bin",
            "return_wrong_bin",
            "browse_no_take",
            "slow_pickup",
            "lookalike_equal_weight",
            "scale_drift",
            "camera_dropout",
        )
    ),
    "hard": tuple(
        SuiteEntry("small", name)
        for name in (
            "adjacent_reach",
            "crossed_arms",
            "handoff",
            "family_one_scan",
            "occlusion_crowd",
            "random_busy",
        )
    ),
}


def suite(name: str) -> tuple[SuiteEntry, ...]:
    """The entries of suite ``name``; ValueError lists the known suites."""
    if name not in SUITES:
        raise ValueError(f"unknown suite '{name}' (known: {', '.join(SUITES)})")
    return SUITES[name]

"""Clothing-colour comparison: distances, unknown regions, costs, shapes."""

from __future__ import annotations

import numpy as np

from go_common.core.appearance import colour_cost, hellinger, usable


def _look(torso_bin: int | None, thigh_bin: int | None) -> np.ndarray:
    out = np.full(32, np.nan)
    for k, b in ((0, torso_bin), (1, thigh_bin)):
        if b is not None:
            out[16 * k : 16 * (k + 1)] = 0.0
            out[16 * k + b] = 1.0
    return out


def test_distances_average_the_regions_both_know() -> None:
    red_navy, red_grey, green_navy = _look(0, 7), _look(0, 13), _look(4, 7)
    shirt_only = _look(0, None)
    d = hellinger(np.stack([red_navy]), np.stack([red_navy, red_grey, green_navy, shirt_only]), 16)
    assert d.shape == (1, 4)
    assert d[0, 0] == 0.0 and d[0, 3] == 0.0  # the thighs of shirt_only are not compared
    assert d[0, 1] == d[0, 2] == 0.5  # one region of two differs completely
    assert np.isnan(hellinger(_look(0, None)[None], _look(None, 7)[None], 16)[0, 0])


def test_cost_is_capped_and_zero_when_unknown() -> None:
    cost = colour_cost(np.array([0.0, 0.25, 1.0, np.nan]), sd=0.25, cap=9.0)
    assert cost.tolist() == [0.0, 1.0, 9.0, 0.0]


def test_only_whole_regions_of_the_right_count_are_usable() -> None:
    assert usable(None, 2, 16) is None
    assert usable(np.zeros((2, 32)), 2, 16).shape == (2, 32)
    assert usable(np.zeros((2, 7)), 2, 16) is None
    assert usable(np.zeros((3, 32)), 2, 16) is None
    assert usable(np.zeros(32), 1, 16) is None

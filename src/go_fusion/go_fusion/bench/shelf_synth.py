"""Synthetic load-cell streams for the shelf-event tests and benchmark (numpy only).

A stream is built from a flat tare level plus: picks/returns (smooth steps with hand jitter and an
optional press as the hand grabs), hand presses that return to the level, slow drift, Gaussian
noise, ADC quantisation and NaN dropouts. ``Change`` is what really happened, for scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Change:
    """A real weight change on a bin: starts at t0 [s], lasts dur [s], delta_g [g] at the end.

    press_g: [g] extra downward push at the start (the hand leaning on the item), 0 for none.
    jitter_g: [g] sd of the hand's jitter while the item is being handled.
    """

    t0: float
    dur: float
    delta_g: float
    press_g: float = 0.0
    jitter_g: float = 0.0


@dataclass(frozen=True)
class Press:
    """A hand press that returns to the level: half-sine of amp_g [g] from t0 [s] for dur [s]."""

    t0: float
    dur: float
    amp_g: float


def smoothstep(u: np.ndarray) -> np.ndarray:
    """0 -> 1 cubic ease on u in [0, 1] (clipped outside)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def bin_signal(
    t: np.ndarray,
    *,
    level_g: float = 1000.0,
    changes: tuple[Change, ...] | list[Change] = (),
    presses: tuple[Press, ...] | list[Press] = (),
    noise_sd_g: float = 0.5,
    drift_g_s: float = 0.0,
    quant_g: float = 0.0,
    dropouts: tuple[tuple[float, float], ...] = (),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Load of one bin at stamps t (N,) [s] -> (N,) [g].

    dropouts: ((t0, t1), ...) intervals [s] that read NaN.
    """
    rng = rng or np.random.default_rng(0)
    x = np.full(t.shape, float(level_g)) + drift_g_s * (t - t[0])
    for c in changes:
        u = (t - c.t0) / max(c.dur, 1e-6)
        x += c.delta_g * smoothstep(u)
        inside = (u > 0.0) & (u < 1.0)
        if c.press_g:
            x += c.press_g * np.where(inside, np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0.0)
        if c.jitter_g:
            x += np.where(inside, rng.normal(0.0, c.jitter_g, t.shape) * np.sin(np.pi * u), 0.0)
    for p in presses:
        u = (t - p.t0) / max(p.dur, 1e-6)
        x += p.amp_g * np.where((u > 0.0) & (u < 1.0), np.sin(np.pi * u), 0.0)
    x += rng.normal(0.0, noise_sd_g, t.shape)
    if quant_g > 0.0:
        x = np.round(x / quant_g) * quant_g
    for t0, t1 in dropouts:
        x[(t >= t0) & (t < t1)] = np.nan
    return x


def noise_sd_sample(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-bin noise sd [g]: log-normal with median 0.5 g and p90 2 g, capped at 8 g."""
    sigma = np.log(2.0 / 0.5) / 1.2816
    return np.minimum(0.5 * np.exp(rng.normal(0.0, sigma, n)), 8.0)

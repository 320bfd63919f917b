"""Batched constant-velocity Kalman filter on the floor plane (pure numpy).

State per track: ``(x, y, vx, vy)`` in the ``store`` frame [m, m/s]; measurements are floor
positions ``(x, y)`` [m]. Every function works on T tracks at once (arrays with a leading T axis),
because the tracker updates tens of shoppers per step and per-track numpy calls would dominate.

Process noise is white acceleration (``accel_sd`` [m/s^2]). While a track coasts without
measurements its velocity decays towards zero with time constant ``coast_damping_s``: a shopper
hidden behind a gondola usually stops or turns, and an undamped prediction would walk off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionModel:
    """Noise and limits of the constant-velocity model."""

    accel_sd: float = 1.5  # [m/s^2] white-noise acceleration of a walking person
    coast_damping_s: float = 1.5  # [s] velocity time constant while coasting
    max_position_sd_m: float = 20.0  # [m] cap of the position uncertainty while coasting


def initial_state(
    position: np.ndarray, position_cov: np.ndarray, speed_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """State (4,) and covariance (4, 4) of a new track at ``position`` (2,) with cov (2, 2)."""
    x = np.array([position[0], position[1], 0.0, 0.0])
    p = np.zeros((4, 4))
    p[:2, :2] = position_cov
    p[2, 2] = p[3, 3] = speed_sd**2
    return x, p


def predict(
    x: np.ndarray, p: np.ndarray, dt: np.ndarray, coasting: np.ndarray, model: MotionModel
) -> tuple[np.ndarray, np.ndarray]:
    """Predict T states ``x`` (T, 4), ``p`` (T, 4, 4) by ``dt`` (T,) [s]; ``coasting`` (T,) bool."""
    n = x.shape[0]
    if n == 0:
        return x, p
    dt = np.maximum(dt, 0.0)
    decay = np.where(coasting, np.exp(-dt / model.coast_damping_s), 1.0)
    f = np.zeros((n, 4, 4))
    f[:, 0, 0] = f[:, 1, 1] = 1.0
    f[:, 0, 2] = f[:, 1, 3] = dt
    f[:, 2, 2] = f[:, 3, 3] = decay
    q = np.zeros((n, 4, 4))
    a2 = model.accel_sd**2
    q[:, 0, 0] = q[:, 1, 1] = a2 * dt**3 / 3.0
    q[:, 0, 2] = q[:, 2, 0] = q[:, 1, 3] = q[:, 3, 1] = a2 * dt**2 / 2.0
    q[:, 2, 2] = q[:, 3, 3] = a2 * dt
    x_new = np.matmul(f, x[:, :, None])[:, :, 0]
    p_new = np.matmul(np.matmul(f, p), f.transpose(0, 2, 1)) + q
    # Cap the position spread with a congruence transform, which keeps p positive definite.
    var = np.maximum(p_new[:, 0, 0], p_new[:, 1, 1])
    s = np.sqrt(np.minimum(1.0, model.max_position_sd_m**2 / np.maximum(var, 1e-12)))
    scale = np.stack([s, s, np.ones(n), np.ones(n)], axis=1)
    p_new = p_new * scale[:, :, None] * scale[:, None, :]
    return x_new, p_new


def update(
    x: np.ndarray, p: np.ndarray, z: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Update K states (K, 4) / (K, 4, 4) with positions ``z`` (K, 2), noise ``r`` (K, 2, 2)."""
    s = p[:, :2, :2] + r
    gain = np.matmul(p[:, :, :2], _inv2(s))  # (K, 4, 2)
    x_new = x + np.matmul(gain, (z - x[:, :2])[:, :, None])[:, :, 0]
    p_new = p - np.matmul(gain, p[:, :2, :])
    p_new = 0.5 * (p_new + p_new.transpose(0, 2, 1))
    return x_new, p_new


def _inv2(m: np.ndarray) -> np.ndarray:
    """Inverse of (..., 2, 2) matrices in closed form."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    det = np.where(np.abs(det) < 1e-18, 1e-18, det)
    out = np.empty_like(m)
    out[..., 0, 0] = d / det
    out[..., 0, 1] = -b / det
    out[..., 1, 0] = -c / det
    out[..., 1, 1] = a / det
    return out


def position_likelihood(
    x: np.ndarray, p: np.ndarray, z: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared Mahalanobis distances and log-determinants for T tracks x M measurements.

    Args:
        x, p: (T, 4), (T, 4, 4) predicted states.
        z, r: (M, 2) measured positions [m] and their covariances (M, 2, 2).

    Returns:
        d2 (T, M) squared Mahalanobis distance of each innovation, logdet (T, M) of its
        covariance ``S = P_pos + R`` (``d2 + logdet`` is the negative log likelihood up to a
        constant, which keeps a vague coasting track from winning over a sure one).
    """
    s = p[:, None, :2, :2] + r[None]  # (T, M, 2, 2)
    inv = _inv2(s)
    nu = z[None] - x[:, None, :2]
    d2 = (
        inv[..., 0, 0] * nu[..., 0] ** 2
        + 2.0 * inv[..., 0, 1] * nu[..., 0] * nu[..., 1]
        + inv[..., 1, 1] * nu[..., 1] ** 2
    )
    det = s[..., 0, 0] * s[..., 1, 1] - s[..., 0, 1] * s[..., 1, 0]
    return d2, np.log(np.maximum(det, 1e-18))

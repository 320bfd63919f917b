"""Small-vector arithmetic on the last axis, written out component by component.

numpy reductions over a last axis of length 2 or 3 (``np.linalg.norm(x, axis=-1)``,
``np.sum(a * b, axis=-1)``) run an order of magnitude slower than the explicit sums below on the
(people x joints x views) arrays of a fusion step, so the hot paths use these.
"""

from __future__ import annotations

import numpy as np


def dot3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products of (..., 3) vectors -> (...)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def norm3(a: np.ndarray) -> np.ndarray:
    """Euclidean norms of (..., 3) vectors -> (...)."""
    return np.sqrt(dot3(a, a))


def norm2(a: np.ndarray) -> np.ndarray:
    """Euclidean norms of (..., 2) vectors -> (...)."""
    return np.sqrt(a[..., 0] * a[..., 0] + a[..., 1] * a[..., 1])


def sum_last(a: np.ndarray) -> np.ndarray:
    """Sum over a short last axis (views, joints): (..., K) -> (...).

    A product with a vector of ones runs through BLAS and is several times faster than
    ``a.sum(axis=-1)`` for K of a few to a few tens; booleans count as 0 / 1.
    """
    if a.dtype != np.float64:
        a = a.astype(np.float64)
    return a @ np.ones(a.shape[-1])


def max_last(a: np.ndarray) -> np.ndarray:
    """Maximum over a short last axis: (..., K) -> (...), K >= 1 (a loop of K elementwise maxima,
    faster than the strided reduction ``a.max(axis=-1)`` for small K)."""
    out = a[..., 0].copy()
    for k in range(1, a.shape[-1]):
        np.maximum(out, a[..., k], out=out)
    return out

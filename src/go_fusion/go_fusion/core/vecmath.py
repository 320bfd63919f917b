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

"""Accuracy of a product classifier on a labelled split: top-k, confusions, accuracy vs size."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from go_perception.core.products.augment import degrade_to_size
from go_perception.core.products.classifier import ProductClassifier
from go_perception.core.products.dataset import LabelledImage, read_bgr

APPARENT_SIZES_PX = (24, 32, 40, 48, 64, 96, 128)


@dataclass(frozen=True)
class Confusion:
    """``count`` test images of ``true_sku`` whose top-1 answer was ``predicted_sku``."""

    true_sku: str
    predicted_sku: str
    count: int


@dataclass(frozen=True)
class SplitScore:
    """Top-1 and top-3 accuracy in [0, 1] over ``n`` images, and the top-1 confusions."""

    n: int
    top1: float
    top3: float
    confusions: tuple[Confusion, ...]


def score(
    classifier: ProductClassifier,
    items: list[LabelledImage] | tuple[LabelledImage, ...],
    *,
    size_px: int | None = None,
    blur_sigma: float = 0.6,
    jpeg_quality: int = 50,
    batch: int = 64,
) -> SplitScore:
    """Score ``classifier`` on ``items``; with ``size_px``, on images degraded to that size.

    The degradation (``degrade_to_size``) shrinks each whole photograph so that its longest side
    is ``size_px``, blurs it with ``blur_sigma`` px and JPEG-compresses it at ``jpeg_quality``:
    a product about ``size_px`` across, as a ceiling camera sees it in a hand.
    """
    images = [read_bgr(it.path) for it in items]
    if size_px is not None:
        images = [
            degrade_to_size(im, size_px, blur_sigma=blur_sigma, jpeg_quality=jpeg_quality)
            for im in images
        ]
    labels = np.array([it.label for it in items])
    probs = np.concatenate(
        [classifier.probabilities(images[i : i + batch]) for i in range(0, len(images), batch)]
    )
    order = np.argsort(-probs, axis=1, kind="stable")
    top1 = order[:, 0] == labels
    top3 = (order[:, :3] == labels[:, None]).any(axis=1)
    pairs = Counter(
        (classifier.skus[t], classifier.skus[p])
        for t, p in zip(labels, order[:, 0], strict=True)
        if t != p
    )
    confusions = tuple(
        Confusion(t, p, c) for (t, p), c in sorted(pairs.items(), key=lambda x: -x[1])
    )
    return SplitScore(len(items), float(top1.mean()), float(top3.mean()), confusions)


def ms_per_crop(
    classifier: ProductClassifier, crops: list[np.ndarray], *, repeats: int = 3
) -> float:
    """Median wall time [ms] to rank one crop at a time (batch of 1), over ``repeats`` passes.

    A benchmark helper, not an algorithm: it is the one place this package reads the clock.
    """
    classifier.rank(crops[:1])  # warm-up: first run allocates
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for crop in crops:
            classifier.rank([crop])
        runs.append((time.perf_counter() - start) * 1000.0 / max(1, len(crops)))
    return float(np.median(runs))

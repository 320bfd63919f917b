"""Accuracy of a product classifier on a labelled split: top-k, confusions, accuracy vs size."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from go_perception.core.products.augment import degrade_to_size
from go_perception.core.products.classifier import ProductClassifier, SkuScore
from go_perception.core.products.dataset import LabelledImage, read_bgr
from go_perception.core.products.verify import CatalogueVerifier

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
    verifier: CatalogueVerifier | None = None,
) -> SplitScore:
    """Score ``classifier`` on ``items``; with ``size_px``, on images degraded to that size.

    The degradation (``degrade_to_size``) shrinks each whole photograph so that its longest side
    is ``size_px``, blurs it with ``blur_sigma`` px and JPEG-compresses it at ``jpeg_quality``:
    a product about ``size_px`` across, as a ceiling camera sees it in a hand. With
    ``verifier``, the network's ranking is re-ranked by catalogue matching (large images only).
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
    if verifier is not None:
        index = {sku: i for i, sku in enumerate(classifier.skus)}
        for row, (image, p) in enumerate(zip(images, probs, strict=True)):
            ranked = [SkuScore(classifier.skus[i], float(p[i])) for i in order[row]]
            order[row] = [index[s.sku] for s in verifier.rerank(image, ranked)]
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
    classifier: ProductClassifier,
    crops: list[np.ndarray],
    *,
    repeats: int = 3,
    verifier: CatalogueVerifier | None = None,
) -> float:
    """Median wall time [ms] to rank one crop at a time (batch of 1), over ``repeats`` passes.

    Includes the ``verifier``'s re-ranking when given. A benchmark helper, not an algorithm:
    it is the one place this package reads the clock.
    """

    def one(crop: np.ndarray) -> None:
        ranked = classifier.rank([crop])[0]
        if verifier is not None:
            verifier.rerank(crop, ranked)

    one(crops[0])  # warm-up: the first run allocates
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for crop in crops:
            one(crop)
        runs.append((time.perf_counter() - start) * 1000.0 / max(1, len(crops)))
    return float(np.median(runs))

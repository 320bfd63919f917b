"""Product recognition: top-1/top-3 on the grocery test split, at 40 px, and ms per crop.

Measured as product_node runs it by default: the shipped model with test-time augmentation and
the full-size expert on large crops (``config/products.yaml``).
"""

from __future__ import annotations

from go_eval.core.baseline import Figure
from go_perception.core.products.classifier import ClassifierConfig, ProductClassifier
from go_perception.core.products.dataset import DEFAULT_DATA_DIR, load_grocery, read_bgr
from go_perception.core.products.evaluate import ms_per_crop, score


def run(quick: bool) -> list[Figure]:
    classifier = ProductClassifier(config=ClassifierConfig(top_k=5, threads=1, tta=True))
    items = list(load_grocery(DEFAULT_DATA_DIR).split("test"))
    if quick:
        items = items[::4]
    full = score(classifier, items)
    small = score(classifier, items, size_px=40)
    crops = [read_bgr(item.path) for item in items[:32]]
    return [
        Figure("products.test.top1", round(full.top1, 4), "", True),
        Figure("products.test.top3", round(full.top3, 4), "", True),
        Figure("products.test_40px.top1", round(small.top1, 4), "", True),
        Figure(
            "products.ms_per_crop", round(ms_per_crop(classifier, crops), 2), "ms", False, "", 1.0
        ),
    ]

"""Products in shoppers' hands: wrist crops -> network ranking -> optional SIFT and barcode checks.

The product node's whole algorithm, free of ROS: it takes one decoded image and the people seen
in it and returns one observation per usable wrist crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from go_perception.core.products.classifier import ProductClassifier, SkuScore
from go_perception.core.products.hand_crops import HandCropConfig, SkippedCrop, cut, hand_crops
from go_perception.core.products.verify import BarcodeReader, CatalogueVerifier


@dataclass(frozen=True)
class PersonKeypoints:
    """One detected person: COCO-17 keypoints (17, 3) [x px, y px, score] and bbox (4,) [px].

    ``index``: the person's index in its source (e.g. ``PersonDetectionArray.people``).
    """

    index: int
    keypoints: np.ndarray
    bbox: np.ndarray


@dataclass(frozen=True)
class ProductObservation:
    """The SKUs ranked for one crop.

    ``source``: "hand" (network, possibly re-ranked by SIFT) or "barcode" (a decoded code; the
    decoded SKUs score 1). ``box``: crop (x1, y1, x2, y2) [px] in the source image.
    """

    person: int
    side: str
    box: tuple[int, int, int, int]
    ranked: tuple[SkuScore, ...]
    source: str


class HandProductRecogniser:
    """Ranks SKUs for the product in each hand of each person in an image."""

    def __init__(
        self,
        classifier: ProductClassifier,
        crops: HandCropConfig | None = None,
        *,
        verifier: CatalogueVerifier | None = None,
        barcodes: BarcodeReader | None = None,
    ):
        self.classifier = classifier
        self.crop_config = crops or HandCropConfig()
        self.verifier = verifier
        self.barcodes = barcodes

    def recognise(
        self, image: np.ndarray, people: list[PersonKeypoints]
    ) -> tuple[list[ProductObservation], list[SkippedCrop]]:
        """Observations for every usable wrist crop of ``image`` (BGR uint8 (H, W, 3)).

        Returns the observations and the wrists that gave no crop, with the reason.

        Raises:
            ValueError: when ``image`` is not a non-empty (H, W, 3) uint8 array.
        """
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ValueError(
                f"expected a uint8 (H, W, 3) BGR image, got {image.dtype} {image.shape}"
            )
        height, width = image.shape[:2]
        boxes, skipped = [], []
        for person in people:
            found, missed = hand_crops(
                person.index, person.keypoints, person.bbox, (width, height), self.crop_config
            )
            boxes += found
            skipped += missed
        pixels = [cut(image, c.box) for c in boxes]
        ranked = self.classifier.rank(pixels)
        out = []
        for crop, view, answer in zip(boxes, pixels, ranked, strict=True):
            if self.barcodes is not None:
                decoded = self.barcodes.skus(view)
                if decoded:
                    scores = tuple(SkuScore(s, 1.0) for s in decoded)
                    out.append(
                        ProductObservation(crop.person, crop.side, crop.box, scores, "barcode")
                    )
            if self.verifier is not None:
                answer = self.verifier.rerank(view, answer)
            out.append(ProductObservation(crop.person, crop.side, crop.box, tuple(answer), "hand"))
        return out, skipped

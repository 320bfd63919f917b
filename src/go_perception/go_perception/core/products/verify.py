"""Checks that separate look-alike packaging beyond the network: local features and barcodes.

``CatalogueVerifier``: SIFT keypoints of a crop matched against each candidate's catalogue
image, with a RANSAC homography; a product that really is the candidate gives many geometrically
consistent matches, a look-alike with the same colours but other print gives few. It needs a
crop of at least ``min_side_px`` (SIFT finds nothing useful in a 40 px blob), so it re-ranks
only large views (a product held close, a facing seen from near).

``BarcodeReader``: EAN/UPC (``cv2.barcode``) and QR codes (``cv2.QRCodeDetector``) decoded from
a crop and looked up in the catalogue's barcode table; a decoded code that names a SKU is
certain evidence (``ProductEvidence.SOURCE_BARCODE``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from go_perception.core.products.classifier import SkuScore

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifierConfig:
    """SIFT re-ranking.

    ``min_side_px``: crops whose shorter side is smaller are not verified.
    ``candidates``: how many of the network's top SKUs are checked.
    ``ratio``: Lowe's ratio test threshold. ``ransac_px``: homography reprojection limit [px].
    ``min_inliers``: inliers needed before a candidate's match counts at all.
    ``weight``: how strongly inliers move the score: p' ~ p * exp(weight * min(inliers, cap) / cap).
    ``cap``: inlier count at which the boost saturates.
    """

    min_side_px: int = 96
    candidates: int = 3
    ratio: float = 0.75
    ransac_px: float = 5.0
    min_inliers: int = 10
    weight: float = 2.0
    cap: int = 40


class CatalogueVerifier:
    """SIFT + homography matching of a crop against catalogue images, one per SKU."""

    def __init__(self, catalogue: Mapping[str, np.ndarray], config: VerifierConfig | None = None):
        """Extract SIFT features of every catalogue image (BGR uint8 (H, W, 3))."""
        self.config = config or VerifierConfig()
        self._sift = cv2.SIFT_create()
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for sku, image in catalogue.items():
            points, desc = self._detect(image)
            if desc is not None and len(points) >= 4:
                self._features[sku] = (points, desc)
            else:
                LOG.warning("catalogue image of %s has too few SIFT features; not verified", sku)

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        keypoints, desc = self._sift.detectAndCompute(grey, None)
        return np.float32([k.pt for k in keypoints]).reshape(-1, 2), desc

    def inliers(self, crop: np.ndarray, skus: list[str]) -> dict[str, int]:
        """Homography inliers between ``crop`` and each SKU's catalogue image (0: no match)."""
        points, desc = self._detect(crop)
        out = dict.fromkeys(skus, 0)
        if desc is None or len(points) < 4:
            return out
        for sku in skus:
            if sku not in self._features:
                continue
            ref_points, ref_desc = self._features[sku]
            pairs = self._matcher.knnMatch(desc, ref_desc, k=2)
            good = [
                p[0]
                for p in pairs
                if len(p) == 2 and p[0].distance < self.config.ratio * p[1].distance
            ]
            if len(good) < 4:
                continue
            src = points[[m.queryIdx for m in good]]
            dst = ref_points[[m.trainIdx for m in good]]
            _, mask = cv2.findHomography(src, dst, cv2.RANSAC, self.config.ransac_px)
            out[sku] = int(mask.sum()) if mask is not None else 0
        return out

    def rerank(self, crop: np.ndarray, ranked: list[SkuScore]) -> list[SkuScore]:
        """Re-rank the network's answer for ``crop`` by catalogue matches (scores renormalised).

        Crops smaller than ``min_side_px`` come back unchanged.
        """
        cfg = self.config
        if min(crop.shape[:2]) < cfg.min_side_px or not ranked:
            return ranked
        checked = [s.sku for s in ranked[: cfg.candidates]]
        counts = self.inliers(crop, checked)
        boosted = []
        for s in ranked:
            n = counts.get(s.sku, 0)
            gain = np.exp(cfg.weight * min(n, cfg.cap) / cfg.cap) if n >= cfg.min_inliers else 1.0
            boosted.append((s.sku, s.score * gain))
        total = sum(v for _, v in boosted) or 1.0
        # Scores of SKUs outside the ranked list are unknown; keep the list's share of mass.
        mass = sum(s.score for s in ranked)
        out = [SkuScore(sku, float(v / total * mass)) for sku, v in boosted]
        return sorted(out, key=lambda s: -s.score)


class BarcodeReader:
    """EAN/UPC and QR decoding, mapped to SKUs by a barcode table."""

    def __init__(self, barcode_to_sku: Mapping[str, str]):
        self._table = dict(barcode_to_sku)
        self._barcode = cv2.barcode.BarcodeDetector()
        self._qr = cv2.QRCodeDetector()

    def read(self, crop: np.ndarray) -> list[str]:
        """Every code decoded from ``crop`` (BGR uint8), known or not."""
        found: list[str] = []
        try:
            ok, texts, _, _ = self._barcode.detectAndDecodeWithType(crop)
            if ok:
                found += [t for t in texts if t]
        except cv2.error as exc:  # OpenCV rejects some degenerate crops; nothing to read there
            LOG.debug("barcode detector: %s", exc)
        try:
            text, _, _ = self._qr.detectAndDecode(crop)
            if text:
                found.append(text)
        except cv2.error as exc:
            LOG.debug("QR detector: %s", exc)
        return found

    def skus(self, crop: np.ndarray) -> list[str]:
        """SKUs whose barcode (or QR payload) is decoded in ``crop``, in reading order."""
        out: list[str] = []
        for code in self.read(crop):
            sku = self._table.get(code)
            if sku is not None and sku not in out:
                out.append(sku)
        return out

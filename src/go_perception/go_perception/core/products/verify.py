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


Features = tuple[np.ndarray, "np.ndarray | None"]  # SIFT keypoint positions (N, 2), descriptors


def sift_features(image: np.ndarray, sift: cv2.SIFT | None = None) -> Features:
    """SIFT keypoint positions [px] (N, 2) and descriptors (None when none) of a BGR image."""
    sift = sift or cv2.SIFT_create()
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    keypoints, desc = sift.detectAndCompute(grey, None)
    return np.float32([k.pt for k in keypoints]).reshape(-1, 2), desc


def match_homography(
    src: Features,
    dst: Features,
    ratio: float,
    ransac_px: float,
    matcher: cv2.BFMatcher | None = None,
) -> tuple[np.ndarray | None, int]:
    """Homography mapping ``src`` points onto ``dst`` ones from SIFT matches (each ``src``
    descriptor's nearest ``dst`` one, Lowe's ratio test) and RANSAC, with its inlier count
    (None, 0 when fewer than 4 matches or no homography)."""
    (src_pts, src_desc), (dst_pts, dst_desc) = src, dst
    if src_desc is None or dst_desc is None or len(src_pts) < 4 or len(dst_pts) < 4:
        return None, 0
    pairs = (matcher or cv2.BFMatcher(cv2.NORM_L2)).knnMatch(src_desc, dst_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if len(good) < 4:
        return None, 0
    homography, mask = cv2.findHomography(
        src_pts[[m.queryIdx for m in good]],
        dst_pts[[m.trainIdx for m in good]],
        cv2.RANSAC,
        ransac_px,
    )
    return homography, int(mask.sum()) if mask is not None else 0


def product_outline(
    photo: np.ndarray,
    catalogue: np.ndarray,
    *,
    catalogue_features: Features | None = None,
    min_inliers: int = 12,
    grow_px: int = 3,
    min_share: float = 0.08,
) -> np.ndarray | None:
    """Where the product of ``catalogue`` (a catalogue image on white) lies in ``photo``.

    SIFT matches (ratio test 0.75) and a RANSAC homography (5 px) from the catalogue image to
    the photograph; the catalogue's non-white pixels are warped through it and grown by
    ``grow_px``. ``catalogue_features``: ``sift_features(catalogue)``, when the caller keeps
    them for many photographs. Returns a bool (H, W) mask of ``photo``, or None when fewer than
    ``min_inliers`` matches agree, or the outline covers less than ``min_share`` or all of the
    photograph (a degenerate homography).
    """
    ref = catalogue_features if catalogue_features is not None else sift_features(catalogue)
    homography, inliers = match_homography(ref, sift_features(photo), 0.75, 5.0)
    if homography is None or inliers < min_inliers:
        return None
    h, w = photo.shape[:2]
    product = (catalogue.min(axis=2) < 235).astype(np.uint8) * 255
    warped = cv2.warpPerspective(product, homography, (w, h), flags=cv2.INTER_NEAREST)
    if grow_px > 0:
        warped = cv2.dilate(warped, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))
    mask = warped > 0
    if not min_share <= float(mask.mean()) < 0.98:
        return None
    return mask


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

    def _detect(self, image: np.ndarray) -> Features:
        return sift_features(image, self._sift)

    def inliers(self, crop: np.ndarray, skus: list[str]) -> dict[str, int]:
        """Homography inliers between ``crop`` and each SKU's catalogue image (0: no match)."""
        query = self._detect(crop)
        cfg = self.config
        return {
            sku: match_homography(
                query, self._features[sku], cfg.ratio, cfg.ransac_px, self._matcher
            )[1]
            if sku in self._features
            else 0
            for sku in skus
        }

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

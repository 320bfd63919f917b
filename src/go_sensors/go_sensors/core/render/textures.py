"""Product textures for the renderer: one atlas of fixed-size BGR images, one slot per SKU.

Catalogue photographs often show the pack on a white background; the texture is cropped to the
pack so that the front face of a facing shows the pack and not the studio backdrop. A product
without an image (or whose image cannot be read) gets a synthetic pack in its catalogue colour
with a label band, so that look-alike SKUs still differ a little.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

LOGGER = logging.getLogger(__name__)

TEXTURE_W = 48  # [px] texture width (pack front, left to right)
TEXTURE_H = 72  # [px] texture height (pack front, top to bottom)


def _crop_to_pack(image: np.ndarray) -> np.ndarray:
    """Crop a catalogue photograph (H, W, 3) to the bounding box of its non-white pixels."""
    mask = np.any(image < 232, axis=2)
    if mask.sum() < 0.15 * mask.size:
        return image
    ys, xs = np.nonzero(mask)
    return image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def synthetic_pack(sku: str, color_rgb: tuple[int, int, int]) -> np.ndarray:
    """(TEXTURE_H, TEXTURE_W, 3) uint8 BGR pack front: catalogue colour, a label and a stripe."""
    rng = np.random.default_rng(zlib.crc32(sku.encode()))
    tex = np.empty((TEXTURE_H, TEXTURE_W, 3), np.uint8)
    tex[:] = color_rgb[::-1]
    top = int(rng.integers(TEXTURE_H // 5, TEXTURE_H // 2))
    cv2.rectangle(tex, (4, top), (TEXTURE_W - 5, top + TEXTURE_H // 4), (235, 235, 235), -1)
    stripe = tuple(int(c) for c in rng.integers(0, 255, 3))
    cv2.rectangle(tex, (4, top + 4), (TEXTURE_W - 5, top + 8), stripe, -1)
    return tex


class TextureAtlas:
    """Textures of every SKU of a catalogue, ``atlas[index_of[sku]]`` (TEXTURE_H, TEXTURE_W, 3)."""

    def __init__(self, products: Mapping[str, object]) -> None:
        """``products``: sku -> ``go_common.core.store.Product`` (its ``image``, ``color_rgb``)."""
        skus = sorted(products)
        self.index_of: dict[str, int] = {sku: i for i, sku in enumerate(skus)}
        self.atlas = np.zeros((max(len(skus), 1), TEXTURE_H, TEXTURE_W, 3), np.uint8)
        self.mean_bgr = np.zeros((max(len(skus), 1), 3), np.float32)
        for sku, i in self.index_of.items():
            product = products[sku]
            tex = self._load(sku, getattr(product, "image", None))
            if tex is None:
                tex = synthetic_pack(sku, tuple(getattr(product, "color_rgb", (200, 200, 200))))
            self.atlas[i] = tex
            self.mean_bgr[i] = tex.reshape(-1, 3).mean(axis=0)

    @staticmethod
    def _load(sku: str, path: Path | None) -> np.ndarray | None:
        if path is None:
            return None
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            LOGGER.warning("product %s: cannot read image %s; using a synthetic pack", sku, path)
            return None
        image = _crop_to_pack(image)
        return cv2.resize(image, (TEXTURE_W, TEXTURE_H), interpolation=cv2.INTER_AREA)

    def texture(self, sku: str) -> np.ndarray:
        """(TEXTURE_H, TEXTURE_W, 3) uint8 BGR texture of ``sku``; KeyError for an unknown SKU."""
        if sku not in self.index_of:
            raise KeyError(f"unknown SKU '{sku}' (not in the store catalogue)")
        return self.atlas[self.index_of[sku]]

"""Image augmentation for product recognition as a ceiling camera sees it.

A product in a shopper's hand seen from a ceiling camera is small (24-128 px across), blurred by
motion and focus, JPEG compressed by the camera, turned at any angle and lit differently from the
catalogue. Training on sharp phone photographs alone gives a network that fails at that size, so
every training sample goes through a random mix of these degradations. ``degrade_to_size`` is
also the deterministic degradation used to measure accuracy against apparent size.

All functions take and return uint8 BGR arrays (H, W, 3) and draw randomness only from the
``numpy.random.Generator`` they are given, so a seed reproduces a training run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentation.

    Sizes are in pixels of the product's apparent size (longest side) before the network's
    resize; angles in degrees; ``p_*`` are probabilities in [0, 1].
    """

    out_size: int = 112
    min_area: float = 0.45
    max_rotation_deg: float = 30.0
    p_quarter_turn: float = 0.25
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue_deg: float = 6.0
    p_small: float = 0.5
    min_apparent_px: int = 20
    max_apparent_px: int = 128
    p_blur: float = 0.5
    max_blur_sigma: float = 1.2
    p_jpeg: float = 0.7
    jpeg_quality: tuple[int, int] = (25, 90)
    p_noise: float = 0.3
    noise_sigma: float = 6.0
    # Probability that a photograph's surroundings (outside its product outline, when one was
    # found: ``verify.product_outline``) are replaced by another training photograph, so that the
    # shelf behind a product (often its look-alikes) stops telling which product it is.
    p_swap_background: float = 0.0


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` (1-100) and decode again."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def degrade_to_size(
    image: np.ndarray, size_px: int, *, blur_sigma: float = 0.6, jpeg_quality: int = 50
) -> np.ndarray:
    """The image as a camera sees it ``size_px`` across: downscaled, blurred, JPEG compressed.

    The longest side becomes ``size_px`` (area interpolation, as a sensor integrates light), then
    a Gaussian blur of ``blur_sigma`` pixels at that size (0 disables it) and a JPEG round trip
    at ``jpeg_quality`` (0 disables it). The result is small; the classifier resizes it.
    """
    h, w = image.shape[:2]
    scale = size_px / max(h, w)
    small = cv2.resize(
        image,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    if blur_sigma > 0:
        small = cv2.GaussianBlur(small, (0, 0), blur_sigma)
    if jpeg_quality > 0:
        small = jpeg_roundtrip(small, jpeg_quality)
    return small


def random_view(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A random crop, scale, rotation and shift of ``image``, warped to ``out_size`` square.

    Reflection fills the borders, as a held product is surrounded by clutter rather than black.
    """
    h, w = image.shape[:2]
    area = rng.uniform(cfg.min_area, 1.0)
    aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    side = math.sqrt(area * h * w)
    crop_w = min(w, side * math.sqrt(aspect))
    crop_h = min(h, side / math.sqrt(aspect))
    cx = rng.uniform(crop_w / 2, w - crop_w / 2)
    cy = rng.uniform(crop_h / 2, h - crop_h / 2)
    angle = rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg)
    if rng.random() < cfg.p_quarter_turn:
        angle += 90.0 * rng.integers(1, 4)
    # Map the crop's centre to the output centre, scaled so its longer side fills the output.
    scale = cfg.out_size / max(crop_w, crop_h)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[:, 2] += np.array([cfg.out_size / 2 - cx, cfg.out_size / 2 - cy])
    return cv2.warpAffine(
        image,
        matrix,
        (cfg.out_size, cfg.out_size),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def colour_jitter(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random brightness, contrast, saturation and a small hue shift.

    The hue shift stays small: colour is what separates, e.g., apple from orange juice cartons.
    """
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-cfg.hue_deg, cfg.hue_deg) / 2.0) % 180.0
    hsv[..., 1] *= rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    out = out.astype(np.float32)
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    out *= rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    return np.clip(out, 0, 255).astype(np.uint8)


def ceiling_degrade(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """With probability ``p_small``: shrink to a random apparent size, blur, add noise, JPEG.

    The apparent size is log-uniform in [min_apparent_px, max_apparent_px]; the result is
    resized back to ``out_size`` as the classifier would.
    """
    if rng.random() >= cfg.p_small:
        return image
    size = round(
        math.exp(rng.uniform(math.log(cfg.min_apparent_px), math.log(cfg.max_apparent_px)))
    )
    out = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < cfg.p_blur:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, cfg.max_blur_sigma))
    if rng.random() < cfg.p_noise:
        noise = rng.normal(0.0, rng.uniform(0, cfg.noise_sigma), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < cfg.p_jpeg:
        out = jpeg_roundtrip(out, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    return cv2.resize(out, (cfg.out_size, cfg.out_size), interpolation=cv2.INTER_LINEAR)


def paste_on_background(
    product: np.ndarray, background: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Paste a catalogue image (white background) at a random size and place on a real photo.

    Catalogue images show the product alone on white; stores do not. The product covers 55-95 %
    of the background's shorter side. Returns an array the size of ``background``.
    """
    bh, bw = background.shape[:2]
    ph, pw = product.shape[:2]
    scale = rng.uniform(0.55, 0.95) * min(bh, bw) / max(ph, pw)
    size = (max(1, round(pw * scale)), max(1, round(ph * scale)))
    small = cv2.resize(product, size, interpolation=cv2.INTER_AREA)
    x = int(rng.integers(0, bw - size[0] + 1))
    y = int(rng.integers(0, bh - size[1] + 1))
    out = background.copy()
    # Near-white pixels are the catalogue's backdrop: keep the photo there.
    mask = (small.min(axis=2) < 235)[..., None]
    region = out[y : y + size[1], x : x + size[0]]
    out[y : y + size[1], x : x + size[0]] = np.where(mask, small, region)
    return out


def swap_background(photo: np.ndarray, outline: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``photo`` inside ``outline`` (bool (H, W)), ``background`` resized to it elsewhere."""
    h, w = photo.shape[:2]
    other = cv2.resize(background, (w, h), interpolation=cv2.INTER_AREA)
    return np.where(outline[..., None], photo, other)


def augment(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """The full training augmentation: view, colour, ceiling-camera degradation."""
    return ceiling_degrade(colour_jitter(random_view(image, rng, cfg), rng, cfg), rng, cfg)

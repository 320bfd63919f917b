"""Pure product-recognition core: crop geometry, augmentation, data set, barcode and SIFT checks."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from go_perception.core.products.augment import (
    AugmentConfig,
    augment,
    degrade_to_size,
    swap_background,
)
from go_perception.core.products.classifier import SkuScore
from go_perception.core.products.dataset import DEFAULT_DATA_DIR, data_hash, load_grocery, read_bgr
from go_perception.core.products.hand_crops import HandCropConfig, hand_crops
from go_perception.core.products.verify import (
    BarcodeReader,
    CatalogueVerifier,
    VerifierConfig,
    product_outline,
)


def _person(wrist=(100.0, 100.0), elbow=(100.0, 60.0), score=0.9) -> np.ndarray:
    kp = np.zeros((17, 3))
    kp[9] = [*wrist, score]  # left wrist
    kp[7] = [*elbow, score]  # left elbow
    kp[10] = [0.0, 0.0, 0.0]  # right wrist not found
    return kp


def test_crop_is_centred_past_the_wrist_and_sized_by_forearm() -> None:
    cfg = HandCropConfig(side_per_forearm=1.5, ahead=0.25)
    crops, skipped = hand_crops(3, _person(), np.array([50, 0, 150, 300.0]), (640, 480), cfg)
    assert len(crops) == 1 and crops[0].side == "left" and crops[0].person == 3
    x1, y1, x2, y2 = crops[0].box
    # forearm 40 px pointing down: centre at y = 100 + 0.25 * 40 = 110, side 60 px.
    assert (x1 + x2) / 2 == pytest.approx(100, abs=1)
    assert (y1 + y2) / 2 == pytest.approx(110, abs=1)
    assert x2 - x1 == pytest.approx(60, abs=1)
    assert [s.side for s in skipped] == ["right"] and "not found" in skipped[0].reason


def test_crop_without_elbow_uses_person_height() -> None:
    kp = _person()
    kp[7, 2] = 0.0
    cfg = HandCropConfig(side_per_height=0.25)
    crops, _ = hand_crops(0, kp, np.array([0, 0, 100, 200.0]), (640, 480), cfg)
    assert crops[0].box[2] - crops[0].box[0] == pytest.approx(50, abs=1)


@pytest.mark.parametrize(
    ("wrist", "reason"),
    [((-30.0, 100.0), "inside"), ((math.nan, 5.0), "not found"), ((639.0, 479.0), "inside")],
)
def test_crops_off_image_or_nan_are_skipped(wrist, reason) -> None:
    crops, skipped = hand_crops(
        0, _person(wrist, (wrist[0], wrist[1] - 40)), np.zeros(4), (640, 480), HandCropConfig()
    )
    assert not crops
    assert any(reason in s.reason for s in skipped if s.side == "left")


def test_partly_outside_crop_is_clipped_to_the_image() -> None:
    crops, _ = hand_crops(
        0,
        _person((10.0, 100.0), (10.0, 60.0)),
        np.zeros(4),
        (640, 480),
        HandCropConfig(min_inside=0.5),
    )
    x1, y1, x2, y2 = crops[0].box
    assert x1 == 0 and 0 <= y1 < y2 <= 480 and x2 > 0


def test_tiny_crop_is_skipped() -> None:
    crops, skipped = hand_crops(
        0,
        _person((100.0, 100.0), (100.0, 95.0)),
        np.zeros(4),
        (640, 480),
        HandCropConfig(min_side_px=16),
    )
    assert not crops and "px" in skipped[0].reason


def test_augmentation_is_reproducible_by_seed() -> None:
    image = read_bgr(load_grocery().split("train")[0].path)
    cfg = AugmentConfig(out_size=64)
    a = [augment(image, np.random.default_rng(7), cfg) for _ in range(2)]
    b = augment(image, np.random.default_rng(8), cfg)
    assert a[0].shape == (64, 64, 3) and a[0].dtype == np.uint8
    assert np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], b)


def test_degrade_to_size_sets_the_longest_side() -> None:
    image = np.full((160, 120, 3), 128, np.uint8)
    small = degrade_to_size(image, 40)
    assert max(small.shape[:2]) == 40 and small.shape[2] == 3


def test_shipped_data_has_31_classes_and_the_official_split() -> None:
    data = load_grocery()
    assert len(data.skus) == 31 and "Arla-Standard-Milk" in data.skus
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [864, 100, 781]
    assert all(p is not None for p in data.iconic)
    assert (DEFAULT_DATA_DIR / "LICENSE").read_text().startswith("MIT License")
    with pytest.raises(ValueError, match="unknown split"):
        data.split("holdout")


def test_missing_data_folder_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_grocery(tmp_path)


def test_data_hash_changes_with_content(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("x")
    first = data_hash(tmp_path)
    (tmp_path / "a.txt").write_text("y")
    assert data_hash(tmp_path) != first


def test_qr_code_is_read_and_mapped_to_its_sku() -> None:
    code = cv2.QRCodeEncoder.create().encode("7310035078886")
    image = cv2.cvtColor(
        cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR
    )
    image = cv2.copyMakeBorder(image, 30, 30, 30, 30, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    reader = BarcodeReader({"7310035078886": "Bravo-Apple-Juice"})
    assert reader.skus(image) == ["Bravo-Apple-Juice"]
    assert reader.skus(np.full((50, 50, 3), 255, np.uint8)) == []


def test_sift_verifier_prefers_the_true_catalogue_image_over_a_look_alike() -> None:
    data = load_grocery()
    catalogue = {s: read_bgr(p) for s, p in zip(data.skus, data.iconic, strict=True)}
    verifier = CatalogueVerifier(catalogue, VerifierConfig(min_side_px=64))
    true, look_alike = "Arla-Medium-Fat-Milk", "Arla-Ecological-Medium-Fat-Milk"
    view = cv2.warpAffine(
        catalogue[true],
        cv2.getRotationMatrix2D((100, 100), 15, 0.8),
        (260, 260),
        borderValue=(90, 90, 90),
    )
    counts = verifier.inliers(view, [true, look_alike])
    assert counts[true] > 2 * max(counts[look_alike], 5)
    ranked = [SkuScore(look_alike, 0.55), SkuScore(true, 0.45)]
    assert verifier.rerank(view, ranked)[0].sku == true
    # Too small to verify: unchanged.
    assert verifier.rerank(cv2.resize(view, (40, 40)), ranked) == ranked


def _catalogue_on_shelf(angle: float = 12.0, scale: float = 0.7) -> tuple[np.ndarray, ...]:
    """A real catalogue image warped onto a textured 'shelf', and where it truly lies."""
    data = load_grocery()
    catalogue = read_bgr(data.iconic[data.skus.index("Arla-Medium-Fat-Milk")])
    rng = np.random.default_rng(3)
    shelf = cv2.GaussianBlur(rng.integers(0, 255, (240, 240, 3)).astype(np.uint8), (0, 0), 3)
    warp = cv2.getRotationMatrix2D((100, 100), angle, scale)
    warp[:, 2] += (20, 30)
    product = cv2.warpAffine(catalogue, warp, (240, 240), borderValue=(255, 255, 255))
    truth = cv2.warpAffine(
        (catalogue.min(axis=2) < 235).astype(np.uint8), warp, (240, 240), flags=cv2.INTER_NEAREST
    ).astype(bool)
    photo = np.where(truth[..., None], product, shelf)
    return photo, catalogue, truth, shelf


def test_product_outline_finds_the_catalogue_product_in_a_photograph() -> None:
    photo, catalogue, truth, _ = _catalogue_on_shelf()
    outline = product_outline(photo, catalogue, grow_px=0)
    assert outline is not None and outline.shape == truth.shape
    iou = (outline & truth).sum() / (outline | truth).sum()
    assert iou > 0.9
    # Another product's catalogue image, or a photograph without the product: no outline.
    data = load_grocery()
    other = read_bgr(data.iconic[data.skus.index("Oatly-Oat-Milk")])
    assert product_outline(photo, other) is None
    _, _, _, shelf = _catalogue_on_shelf()
    assert product_outline(shelf, catalogue) is None
    assert product_outline(np.zeros((40, 40, 3), np.uint8), catalogue) is None


def test_swap_background_keeps_the_product_and_replaces_its_surroundings() -> None:
    photo, _, truth, _ = _catalogue_on_shelf()
    other = np.full((120, 100, 3), (10, 200, 30), np.uint8)
    out = swap_background(photo, truth, other)
    assert out.shape == photo.shape
    assert np.array_equal(out[truth], photo[truth])
    assert (out[~truth] == (10, 200, 30)).all()

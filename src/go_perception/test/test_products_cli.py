"""``./gostore products`` and the shipped product model: output format, bad input, accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from go_perception.cli import products as cli
from go_perception.core.products.augment import degrade_to_size
from go_perception.core.products.classifier import (
    DEFAULT_EXPERT,
    DEFAULT_MODEL,
    SHIPPED,
    ClassifierConfig,
    ProductClassifier,
    expert_setting,
)
from go_perception.core.products.dataset import data_hash, load_grocery, read_bgr
from go_perception.core.products.evaluate import score

# The committed figures of the shipped model on the whole test split. The test below measures
# every 4th test image (fast), so it allows SUBSET_MARGIN below them before failing.
BASELINE = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "benchmarks" / "products.json").read_text()
)
SUBSET_MARGIN = 0.03


@pytest.fixture(scope="module")
def classifier() -> ProductClassifier:
    return ProductClassifier(DEFAULT_MODEL, ClassifierConfig(top_k=5))


def test_cli_prints_one_json_line_per_image(tmp_path, capsys) -> None:
    data = load_grocery()
    images = [it.path for it in data.split("test")[:2]]
    assert cli.main([str(p) for p in images] + ["--top-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, images, strict=True):
        record = json.loads(line)
        assert set(record) == {"image", "ranked"} and record["image"] == str(path)
        assert len(record["ranked"]) == 3
        assert all(set(r) == {"sku", "score"} and r["sku"] in data.skus for r in record["ranked"])
        scores = [r["score"] for r in record["ranked"]]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_cli_reports_unreadable_images_and_carries_on(tmp_path, capsys) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = load_grocery().split("test")[0].path
    status = cli.main([str(corrupt), str(tmp_path / "missing.png"), str(good)])
    out = capsys.readouterr()
    records = [json.loads(line) for line in out.out.splitlines()]
    assert status == 1
    assert [r["ranked"] for r in records[:2]] == [[], []] and "error" in records[0]
    assert len(records[2]["ranked"]) == 5
    assert "corrupt.jpg" in out.err


def test_cli_names_a_missing_model(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.onnx"
    assert cli.main(["x.jpg", "--model", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_cli_expert_weight_changes_large_crops_and_is_checked(capsys) -> None:
    image = str(load_grocery().split("test")[0].path)  # 160 px: the expert at full weight
    runs = {}
    for weight in ("0", "1"):
        assert cli.main([image, "--expert-weight", weight, "--top-k", "31"]) == 0
        ranked = json.loads(capsys.readouterr().out)["ranked"]
        runs[weight] = {r["sku"]: r["score"] for r in ranked}
    assert runs["0"] != runs["1"]
    assert cli.main([image, "--expert-weight", "1.5"]) == 2
    assert "expert_weight" in capsys.readouterr().err


def test_cli_without_images_is_a_usage_error(capsys) -> None:
    assert cli.main([]) == 2


def test_classifier_rejects_bad_crops(classifier) -> None:
    with pytest.raises(ValueError, match="crop 1"):
        classifier.rank([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])
    with pytest.raises(ValueError, match="crop 0"):
        classifier.rank([np.zeros((0, 8, 3), np.uint8)])
    assert classifier.rank([]) == []


def test_shipped_model_matches_the_shipped_data(classifier) -> None:
    assert classifier.skus == load_grocery().skus
    assert classifier.recipe["data_hash"] == data_hash()
    # The shipped model is an ensemble of trained networks, or one trained network.
    members = classifier.recipe.get("members", [classifier.recipe])
    assert members and all("./gostore train products" in m["command"] for m in members)
    assert all(m["data_hash"] == data_hash() for m in members)


def test_shipped_model_accuracy_on_test_subset(classifier) -> None:
    assert BASELINE["verify"] is False and BASELINE["tta"] is False  # the network alone
    items = load_grocery().split("test")[::4]
    full = score(classifier, items)
    small = score(classifier, items, size_px=40)
    assert full.top1 >= BASELINE["top1"] - SUBSET_MARGIN
    assert full.top3 >= BASELINE["top3"] - SUBSET_MARGIN
    assert small.top1 >= BASELINE["top1_by_size_px"]["40"] - SUBSET_MARGIN


def test_baseline_check_flags_a_regression(capsys) -> None:
    figures = json.loads(json.dumps(BASELINE))
    assert cli._check_baseline(figures, BASELINE) == 0
    figures["top1_by_size_px"]["40"] -= 0.05
    assert cli._check_baseline(figures, BASELINE) == 1
    assert "top1@40px" in capsys.readouterr().err


def test_tiny_crop_still_gets_a_ranking(classifier) -> None:
    image = read_bgr(load_grocery().split("test")[0].path)
    ranked = classifier.rank([degrade_to_size(image, 12)])[0]
    assert len(ranked) == 5 and sum(s.score for s in ranked) <= 1.0 + 1e-6


def test_tta_averages_the_crop_with_its_centre_zoom(classifier) -> None:
    crops = [read_bgr(it.path) for it in load_grocery().split("test")[:3]]
    plain = ProductClassifier(DEFAULT_MODEL, ClassifierConfig(), expert_path=None)
    zoom = ProductClassifier(DEFAULT_MODEL, ClassifierConfig(tta=True, tta_zoom=0.8), None)
    zoomed = []
    for c in crops:
        dh, dw = round(c.shape[0] * 0.1), round(c.shape[1] * 0.1)
        zoomed.append(c[dh : c.shape[0] - dh, dw : c.shape[1] - dw])
    expected = 0.5 * (plain.probabilities(crops) + plain.probabilities(zoomed))
    np.testing.assert_allclose(zoom.probabilities(crops), expected, atol=1e-5)
    # A zoom keeping everything is the crop itself: TTA changes nothing then.
    whole = ProductClassifier(DEFAULT_MODEL, ClassifierConfig(tta=True, tta_zoom=1.0), None)
    np.testing.assert_allclose(whole.probabilities(crops), plain.probabilities(crops), atol=1e-5)
    with pytest.raises(ValueError, match="tta_zoom"):
        ClassifierConfig(tta=True, tta_zoom=0.0)


def test_full_size_expert_weighs_in_by_crop_size() -> None:
    cfg = ClassifierConfig()
    share = cfg.expert_share(np.array([24, 80, 96, 112, 400]))
    np.testing.assert_allclose(share, [0.0, 0.0, 0.25, 0.5, 0.5])
    shipped = ProductClassifier(DEFAULT_MODEL, cfg)
    assert shipped.expert is not None and shipped.expert.path == DEFAULT_EXPERT
    alone = ProductClassifier(DEFAULT_MODEL, cfg, expert_path=None)
    expert = ProductClassifier(DEFAULT_EXPERT, cfg)
    assert expert.expert is None  # another model than the shipped one: no expert by default
    photo = read_bgr(load_grocery().split("test")[0].path)
    small = degrade_to_size(photo, 48)
    big = cv2.resize(photo, (120, 120))
    mixed = shipped.probabilities([small, big])
    # Small crops: the main model alone; large ones: half main, half expert.
    np.testing.assert_allclose(mixed[0], alone.probabilities([small])[0], atol=1e-5)
    half = 0.5 * (alone.probabilities([big])[0] + expert.probabilities([big])[0])
    np.testing.assert_allclose(mixed[1], half, atol=1e-5)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-5)


def test_expert_must_rank_the_same_skus(tmp_path) -> None:
    assert expert_setting("") == expert_setting("shipped") == SHIPPED
    assert expert_setting("none") is None and expert_setting("x.onnx") == Path("x.onnx")
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        ProductClassifier(DEFAULT_MODEL, expert_path=tmp_path / "nope.onnx")
    with pytest.raises(ValueError, match="expert_weight"):
        ClassifierConfig(expert_weight=1.5)
    with pytest.raises(ValueError, match="expert_min_px"):
        ClassifierConfig(expert_min_px=120.0, expert_full_px=100.0)

"""Training the product network: reproducible by seed, exported ONNX carries SKUs and recipe."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from go_perception.cli import train_products
from go_perception.core.products.classifier import ProductClassifier
from go_perception.core.products.dataset import data_hash, load_grocery
from go_perception.core.products.train import TrainConfig, steps_total, train

SKUS = ("Red-Pack", "Green-Pack", "Blue-Pack")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """Three coloured 'products' in the grocery folder layout, 4 train images each."""
    root = tmp_path_factory.mktemp("grocery")
    rng = np.random.default_rng(0)
    rows = ["Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int),a,b"]
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    (root / "iconic").mkdir()
    for k, name in enumerate(SKUS):
        rows.append(f"{name},{40 + k},Pack,9,x,y")
        colour = np.zeros(3)
        colour[2 - k] = 200
        for split, count in (("train", 4), ("val", 1), ("test", 1)):
            for i in range(count):
                image = rng.integers(0, 60, (48, 40, 3)) + colour
                rel = f"{split}/Packages/Pack/{name}/{name}_{i}.jpg"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / rel), image.clip(0, 255).astype(np.uint8))
                lists[split].append(f"{rel}, {40 + k}, 9")
        cv2.imwrite(str(root / "iconic" / f"{name}.jpg"), np.full((60, 30, 3), colour, np.uint8))
    (root / "classes.csv").write_text("\n".join(rows) + "\n")
    for split, lines in lists.items():
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def _small(seed: int) -> TrainConfig:
    return TrainConfig(
        epochs=1, seed=seed, input_size=32, batch_size=4, widths=(8, 8, 16, 16), iconic_copies=1
    )


def test_training_is_reproducible_by_seed(tiny_data) -> None:
    data = load_grocery(tiny_data)
    assert data.skus == SKUS
    a, b = train(data, _small(3)), train(data, _small(3))
    c = train(data, _small(4))
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(ta, tb), name
    assert not torch.equal(a.head[-1].weight, c.head[-1].weight)


def test_steps_total_counts_photos_and_catalogue(tiny_data) -> None:
    # 12 train photos + 3 catalogue images per epoch, batches of 4 -> 4 steps.
    assert steps_total(load_grocery(tiny_data), _small(0)) == 4


def test_cli_trains_and_writes_an_onnx_model_with_its_recipe(tiny_data, tmp_path, capsys) -> None:
    out = tmp_path / "m.onnx"
    argv = ["--data", str(tiny_data), "--out", str(out), "--epochs", "1", "--size", "32"]
    assert train_products.main([*argv, "--seed", "5", "--batch-size", "8"]) == 0
    model = ProductClassifier(out)
    assert model.skus == SKUS and model.input_size == 32
    assert model.recipe["data_hash"] == data_hash(tiny_data)
    assert model.recipe["config"]["seed"] == 5
    assert "--seed 5" in model.recipe["command"]
    ranked = model.rank([np.zeros((20, 20, 3), np.uint8)])[0]
    assert {s.sku for s in ranked} == set(SKUS)
    assert json.dumps(model.recipe)  # plain JSON


def test_cli_rejects_bad_arguments(tmp_path, capsys) -> None:
    assert train_products.main(["--out", str(tmp_path / "m.onnx"), "--epochs", "0"]) == 2
    assert train_products.main(["--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2
    assert str(tmp_path) in capsys.readouterr().err

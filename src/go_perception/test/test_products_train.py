"""Training the product network: reproducible by seed, exported ONNX carries SKUs and recipe."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from go_perception.cli import train_products
from go_perception.core.products import ensemble
from go_perception.core.products.classifier import ProductClassifier
from go_perception.core.products.dataset import data_hash, load_grocery
from go_perception.core.products.train import TrainConfig, steps_total, train, train_and_export

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
        epochs=1,
        seed=seed,
        input_size=32,
        batch_size=4,
        widths=(8, 8, 16, 16),
        iconic_copies=1,
        threads=1,
    )


def test_another_seed_gives_another_model(tiny_data, tmp_path) -> None:
    data = load_grocery(tiny_data)
    assert data.skus == SKUS
    a, b = train(data, _small(3)), train(data, _small(4))
    assert not torch.equal(a.head[-1].weight, b.head[-1].weight)


def test_worker_processes_do_not_change_the_model(tiny_data) -> None:
    data = load_grocery(tiny_data)
    alone, pooled = train(data, _small(3)), train(data, _small(3), workers=2)
    for (name, a), b in zip(alone.state_dict().items(), pooled.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_background_swap_changes_only_photographs_with_an_outline(tiny_data, monkeypatch) -> None:
    from go_perception.core.products import train as train_module
    from go_perception.core.products.augment import AugmentConfig

    # The tiny products are flat colour (no SIFT outline): the swap must leave the model as it
    # was; with an outline everywhere the samples (hence the model) change.
    base = _small(0)
    swap = replace(base, augment=AugmentConfig(p_swap_background=1.0))
    plain = train(load_grocery(tiny_data), replace(base, augment=AugmentConfig()))
    same = train(load_grocery(tiny_data), swap)
    for a, b in zip(plain.state_dict().values(), same.state_dict().values(), strict=True):
        assert torch.equal(a, b)

    def everywhere(photo, catalogue, **_):
        mask = np.zeros(photo.shape[:2], bool)
        mask[: photo.shape[0] // 2] = True
        return mask

    monkeypatch.setattr(train_module, "product_outline", everywhere)
    swapped = train(load_grocery(tiny_data), swap)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), swapped.state_dict().values(), strict=True)
    )


def test_steps_total_counts_photos_and_catalogue(tiny_data) -> None:
    # 12 train photos + 3 catalogue images per epoch, batches of 4 -> 4 steps.
    assert steps_total(load_grocery(tiny_data), _small(0)) == 4


def test_cli_trains_exports_and_reproduces_a_model(tiny_data, tmp_path) -> None:
    first, again = tmp_path / "a.onnx", tmp_path / "b.onnx"
    argv = ["--data", str(tiny_data), "--epochs", "1", "--size", "32", "--threads", "1"]
    argv += ["--augment", "p_small=0.9", "--augment", "jpeg_quality=30,60"]
    assert (
        train_products.main([*argv, "--seed", "5", "--batch-size", "8", "--out", str(first)]) == 0
    )
    model = ProductClassifier(first)
    assert model.skus == SKUS and model.input_size == 32
    assert model.recipe["data_hash"] == data_hash(tiny_data)
    assert model.recipe["config"]["seed"] == 5
    assert model.recipe["config"]["augment"]["p_small"] == 0.9
    assert model.recipe["config"]["augment"]["jpeg_quality"] == [30, 60]
    assert "--seed 5" in model.recipe["command"]
    crops = [np.random.default_rng(1).integers(0, 255, (30, 30, 3), dtype=np.uint8)]
    assert {s.sku for s in model.rank(crops)[0]} == set(SKUS)
    # Same recipe, same data: the same network, bit for bit.
    assert (
        train_products.main(["--data", str(tiny_data), "--like", str(first), "--out", str(again)])
        == 0
    )
    copy = ProductClassifier(again)
    assert copy.recipe["config"] == model.recipe["config"]
    assert np.array_equal(model.probabilities(crops), copy.probabilities(crops))


def test_cli_rejects_bad_arguments(tmp_path, capsys) -> None:
    assert train_products.main(["--out", str(tmp_path / "m.onnx"), "--epochs", "0"]) == 2
    assert train_products.main(["--data", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2
    argv = ["--out", str(tmp_path / "m.onnx"), "--widths", "8,8,8"]
    assert train_products.main(argv) == 2
    assert str(tmp_path) in capsys.readouterr().err
    for bad in ("p_tiny=0.5", "p_small", "p_small=high"):
        assert train_products.main(["--out", str(tmp_path / "m.onnx"), "--augment", bad]) == 2
        assert "--augment" in capsys.readouterr().err


def test_an_ensemble_is_one_model_giving_the_mean_probability(tiny_data, tmp_path) -> None:
    data = load_grocery(tiny_data)
    paths = []
    for seed in (1, 2):
        path = tmp_path / f"m{seed}.onnx"
        train_and_export(data, _small(seed), path, command=f"seed {seed}")
        paths.append(path)
    out = tmp_path / "ensemble.onnx"
    assert ensemble.main([str(paths[0]), str(paths[1]), "--out", str(out)]) == 0
    joined = ProductClassifier(out)
    members = [ProductClassifier(p) for p in paths]
    assert joined.skus == SKUS and joined.input_size == 32
    assert [m["command"] for m in joined.recipe["members"]] == ["seed 1", "seed 2"]
    assert joined.recipe["data_hash"] == data_hash(tiny_data)  # both trained on the same data
    files = joined.recipe["member_files"]
    assert [f["name"] for f in files] == ["m1.onnx", "m2.onnx"]
    assert files[0]["sha256"] == hashlib.sha256(paths[0].read_bytes()).hexdigest()
    crops = [
        np.random.default_rng(i).integers(0, 255, (30 + i, 20, 3), dtype=np.uint8) for i in range(3)
    ]
    mean = (members[0].probabilities(crops) + members[1].probabilities(crops)) / 2
    assert np.allclose(joined.probabilities(crops), mean, atol=1e-5)


def test_an_ensemble_refuses_members_that_do_not_fit(tiny_data, tmp_path, capsys) -> None:
    data = load_grocery(tiny_data)
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    train_and_export(data, _small(1), a, command="a")
    train_and_export(data, replace(_small(1), input_size=40), b, command="b")
    out = str(tmp_path / "e.onnx")
    assert ensemble.main([str(a), str(b), "--out", out]) == 2
    assert "input size" in capsys.readouterr().err
    assert ensemble.main([str(a), "--out", out]) == 2
    assert ensemble.main([str(a), str(tmp_path / "missing.onnx"), "--out", out]) == 2
    assert "missing.onnx" in capsys.readouterr().err

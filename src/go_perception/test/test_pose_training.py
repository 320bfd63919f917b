"""Training the simulator pose network: data loading, targets, reproducibility, export, CLI.

Uses a tiny COCO keypoint folder of stick figures drawn here, so it needs neither the renderer
nor any downloaded model.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

from go_perception.cli import train_pose
from go_perception.core.onnx_io import open_session
from go_perception.core.pose import TopDownPose, crop_transform, decode_heatmaps
from go_perception.core.pose_training import (
    IMAGE_ID_STRIDE,
    INPUT_H,
    INPUT_W,
    STRIDE,
    PersonSample,
    PoseTrainConfig,
    augmented_crop,
    export_onnx,
    heatmap_targets,
    load_people,
    split_by_image,
    train,
)

# A standing figure in a unit box (x right, y down): COCO-17 joints.
FIGURE = np.array(
    [
        [0.5, 0.08], [0.45, 0.06], [0.55, 0.06], [0.4, 0.08], [0.6, 0.08],
        [0.3, 0.22], [0.7, 0.22], [0.2, 0.38], [0.8, 0.38], [0.15, 0.52], [0.85, 0.52],
        [0.38, 0.55], [0.62, 0.55], [0.36, 0.75], [0.64, 0.75], [0.35, 0.95], [0.65, 0.95],
    ]
)  # fmt: skip


def make_dataset(folder: Path, images: int, seed: int) -> Path:
    """pose-dataset layout: images/*.jpg + COCO annotations.json with two people per image."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    coco: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    for i in range(images):
        image = np.full((240, 320, 3), 60, np.uint8)
        name = f"images/{i:06d}.jpg"
        for k in range(2):
            h = rng.uniform(80, 150)
            x0, y0 = rng.uniform(10 + 150 * k, 100 + 150 * k), rng.uniform(5, 230 - h)
            pts = np.column_stack([x0 + FIGURE[:, 0] * h * 0.5, y0 + FIGURE[:, 1] * h])
            colour = tuple(int(c) for c in rng.integers(120, 255, 3))
            for a, b in ((5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (11, 12), (5, 11), (6, 12),
                         (11, 13), (13, 15), (12, 14), (14, 16)):  # fmt: skip
                cv2.line(image, tuple(pts[a].astype(int)), tuple(pts[b].astype(int)), colour, 4)
            cv2.circle(image, tuple(pts[0].astype(int)), 7, colour, -1)
            kp = np.column_stack([pts, np.full(17, 2.0)])
            x1, y1 = pts.min(0) - 4
            x2, y2 = pts.max(0) + 4
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": i,
                    "keypoints": kp.ravel().round(2).tolist(),
                    "num_keypoints": 17,
                    "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                }
            )
        cv2.imwrite(str(folder / name), image)
        coco["images"].append(
            {"id": i, "file_name": name, "width": 320, "height": 240, "camera_id": f"cam_{i % 2}"}
        )
    coco["annotations"].append(  # too few keypoints: skipped
        {"id": 999, "image_id": 0, "keypoints": [0] * 51, "num_keypoints": 0, "bbox": [0, 0, 9, 9]}
    )
    (folder / "annotations.json").write_text(json.dumps(coco))
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("pose") / "train", images=12, seed=1)


def test_load_people_skips_unlabelled_and_split_is_by_image(dataset: Path) -> None:
    people = load_people(dataset, PoseTrainConfig())
    assert len(people) == 24
    a_train, a_val = split_by_image(people, 0.25, seed=3)
    _, b_val = split_by_image(people, 0.25, seed=3)
    assert [p.image_id for p in a_val] == [p.image_id for p in b_val]
    assert {p.image_id for p in a_train}.isdisjoint({p.image_id for p in a_val})
    assert len(a_train) + len(a_val) == 24


def test_missing_or_bad_dataset_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"annotations\.json"):
        load_people(tmp_path, PoseTrainConfig())
    (tmp_path / "annotations.json").write_text('{"images": []}')
    with pytest.raises(ValueError, match="COCO"):
        load_people(tmp_path, PoseTrainConfig())


def test_plain_crop_matches_the_runtime_crop() -> None:
    region = np.zeros((200, 200, 3), np.uint8)
    kp = np.zeros((17, 3), np.float32)
    kp[:, :2], kp[:, 2] = (100.0, 100.0), 2.0
    kp[1] = [50.0, 40.0, 2.0]
    bbox = np.float32([70, 30, 130, 170])
    crop, out = augmented_crop(PersonSample(region, bbox, kp, 0), None, 1.1)
    assert crop.shape == (INPUT_H, INPUT_W, 3)
    expected = crop_transform(bbox, INPUT_W, INPUT_H, 1.1) @ np.array([50.0, 40.0, 1.0])
    assert out[1, :2] == pytest.approx(expected, abs=1e-3)
    assert out[0, :2] == pytest.approx([INPUT_W / 2, INPUT_H / 2], abs=1e-3)


def test_heatmap_targets_decode_back_to_the_keypoints() -> None:
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0] = np.linspace(3, INPUT_W - 4, 17)
    kp[:, 1] = np.linspace(INPUT_H - 4, 3, 17)
    kp[:, 2] = 2
    kp[4, 2] = 0  # unlabelled: no target, no weight
    maps, weights = heatmap_targets(kp, sigma=1.5)
    assert maps.shape == (17, INPUT_H // STRIDE, INPUT_W // STRIDE)
    assert weights[4] == 0 and not maps[4].any() and weights.sum() == 16
    peaks = decode_heatmaps(maps)
    xy = (peaks[:, :2] + 0.5) * STRIDE - 0.5
    keep = kp[:, 2] > 0
    assert np.abs(xy[keep] - kp[keep, :2]).max() <= STRIDE * 0.5


def test_training_is_reproducible_and_exports_a_runtime_model(
    dataset: Path, tmp_path: Path
) -> None:
    people = load_people(dataset, PoseTrainConfig())
    config = PoseTrainConfig(epochs=1, seed=5, batch_size=8, threads=1)
    first, second = train(people, config), train(people, config)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    path = tmp_path / "pose.onnx"
    export_onnx(first, path, {"go.recipe": "test"})
    pose = TopDownPose(open_session(path, 1))
    assert pose.kind == "heatmaps" and (pose.height, pose.width) == (INPUT_H, INPUT_W)
    kp = pose(people[0].region, people[0].bbox)
    assert kp.shape == (17, 3) and np.isfinite(kp).all()
    with torch.no_grad():
        torch_out = first(torch.zeros(1, 3, INPUT_H, INPUT_W)).numpy()
    onnx_out = pose.session.run(None, {"image": np.zeros((1, 3, INPUT_H, INPUT_W), np.float32)})
    assert onnx_out[0] == pytest.approx(torch_out, abs=1e-4)


def test_batches_from_worker_processes_are_the_same_for_any_worker_count(dataset: Path) -> None:
    people = load_people(dataset, PoseTrainConfig())
    config = PoseTrainConfig(epochs=2, seed=3, batch_size=8, threads=1, workers=1)
    one = train(people, config)
    two = train(people, replace(config, workers=2))
    for (name, a), b in zip(one.state_dict().items(), two.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    # Workers seed every batch on its own, so the stream differs from the single generator's.
    inline = train(people, replace(config, workers=0))
    assert not all(
        torch.equal(a, b)
        for a, b in zip(one.state_dict().values(), inline.state_dict().values(), strict=True)
    )


def test_cli_trains_reports_pck_and_stores_it(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, report = tmp_path / "m.onnx", tmp_path / "r.json"
    args = f"--dataset {dataset} --val {dataset} --out {out} --epochs 1 --batch-size 8"
    args += f" --threads 1 --report {report}"
    rc = train_pose.main(args.split())
    assert rc == 0
    assert "PCK@0.1" in capsys.readouterr().out
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["go.recipe"])["epochs"] == 1
    figures = json.loads(meta["go.pck_0.1"])
    assert 0.0 <= figures["labelled"] <= 1.0
    report_figures = json.loads(report.read_text())
    assert report_figures["pck_0.1"] == figures
    # Breakdowns: wrists, and every camera of the held-out folder.
    assert 0.0 <= report_figures["pck_0.1_flip_wrists"]["labelled"] <= 1.0
    by_camera = report_figures["pck_0.1_flip_by_camera"]
    cameras = {
        im["camera_id"] for im in json.loads((dataset / "annotations.json").read_text())["images"]
    }
    assert set(by_camera) == cameras == {"cam_0", "cam_1"}
    people = sum(v["people"] for v in by_camera.values())
    assert people == report_figures["pck_0.1"]["people"]
    assert json.loads(meta["go.pck_0.1_flip_by_camera"]) == by_camera


def test_cli_pools_datasets_and_trains_at_another_input_size(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "wide.onnx"
    args = f"--dataset {dataset} {dataset} --val {dataset} --out {out} --epochs 1 --batch-size 8"
    args += " --threads 1 --width 8 --input 96x64"
    assert train_pose.main(args.split()) == 0
    err = capsys.readouterr().err
    single = len(load_people(dataset, PoseTrainConfig()))
    assert f"training on {2 * single} people" in err
    pose = TopDownPose(open_session(out, 1))
    assert (pose.height, pose.width) == (96, 64)
    recipe = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["go.recipe"])
    assert (recipe["input_height"], recipe["input_width"], recipe["width"]) == (96, 64, 8)


def test_pooled_datasets_keep_image_ids_apart(dataset: Path) -> None:
    config = PoseTrainConfig()
    a = load_people(dataset, config)
    b = load_people(dataset, config, image_id_offset=IMAGE_ID_STRIDE)
    assert not {s.image_id for s in a} & {s.image_id for s in b}


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    assert train_pose.main(["--dataset", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2
    args = ["--dataset", str(tmp_path), "--out", str(tmp_path / "m.onnx"), "--epochs", "0"]
    assert train_pose.main(args) == 2
    args = ["--dataset", str(tmp_path), "--out", str(tmp_path / "m.onnx"), "--workers", "-1"]
    assert train_pose.main(args) == 2
    for bad in ("64", "60x48", "axb"):
        args = ["--dataset", str(tmp_path), "--out", str(tmp_path / "m.onnx"), "--input", bad]
        assert train_pose.main(args) == 2


def test_train_dispatcher_names_its_targets(capsys: pytest.CaptureFixture[str]) -> None:
    from go_perception.cli import train as train_cli

    assert train_cli.main(["bogus"]) == 2
    assert "pose" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["pose", "--help"])
    assert exit_info.value.code == 0

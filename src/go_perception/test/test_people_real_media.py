"""People and skeletons on real camera media (Debian opencv-doc), with the set-up models.

Runs in CI, where ``./gostore setup`` converts the models. Skipped, saying how to get them, only
when the converted models are absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from go_perception.benchmark import LABELS, MEDIA, read_video_frames, vtest_counts, wrist_results
from go_perception.cli import perceive
from go_perception.core.backends import (
    MODEL_FILES,
    BackendConfig,
    PoseEstimator,
    default_models_dir,
    make_estimator,
)
from go_perception.core.evaluation import match_boxes

MODELS = default_models_dir()
FP32 = {"detector_precision": "fp32", "pose_precision": "fp32"}
pytestmark = [
    pytest.mark.skipif(
        not all((MODELS / f).is_file() for files in MODEL_FILES.values() for f in files.values()),
        reason=f"pretrained models (fp32 and int8) absent from {MODELS}: run ./gostore setup "
        "(tools/setup/models.sh fetches, converts and quantizes them once)",
    ),
    pytest.mark.skipif(
        not (MEDIA / "vtest.avi").is_file(),
        reason=f"{MEDIA} missing: apt-get install opencv-doc (./gostore setup does it)",
    ),
]


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    return make_estimator(BackendConfig(threads=2))


def test_people_in_hand_counted_vtest_frames(estimator: PoseEstimator) -> None:
    labels = json.loads(LABELS.read_text())
    assert len(labels["frames"]) >= 10
    counts = vtest_counts(estimator)
    assert counts.true_positives + counts.misses >= 80
    assert counts.recall >= 0.90, counts
    assert counts.precision >= 0.90, counts


def test_wrists_of_both_basketball_players(estimator: PoseEstimator) -> None:
    results = wrist_results(estimator)
    assert len(results) == 4
    for result in results:
        assert result.detected, result
        assert result.left or result.right, result
    # The player facing the camera shows both wrists on the ball.
    assert all(r.left and r.right for r in results if r.player == 0), results


def test_fp32_models_meet_the_targets_too() -> None:
    estimator = make_estimator(BackendConfig(threads=2, **FP32))
    counts = vtest_counts(estimator)
    assert counts.recall >= 0.90 and counts.precision >= 0.90, counts
    results = wrist_results(estimator)
    assert all(r.detected and r.left and r.right for r in results), results


def test_int8_models_agree_with_fp32_on_real_people() -> None:
    """Guards the set-up quantization: int8 NanoDet finds the fp32 people and int8 MoveNet puts
    their confident keypoints where fp32 does (within 0.1 x box height)."""
    import numpy as np

    int8 = make_estimator(BackendConfig(threads=2))
    fp32 = make_estimator(BackendConfig(threads=2, **FP32))
    assert int8.pose is not None and fp32.pose is not None
    frames = list(read_video_frames(MEDIA / "vtest.avi", {0, 180, 360, 540, 720}).values())
    frames += [cv2.imread(str(MEDIA / n)) for n in ("basketball1.png", "basketball2.png")]
    found = missed = close = confident = 0
    for frame in frames:
        ref = np.array([d.bbox for d in fp32.detect(frame) if d.score >= 0.4]).reshape(-1, 4)
        got = np.array([d.bbox for d in int8.detect(frame) if d.score >= 0.4]).reshape(-1, 4)
        counts = match_boxes(got, ref, np.zeros(len(ref), dtype=bool))
        found, missed = found + counts.true_positives, missed + counts.misses
        for box in ref:
            want, have = fp32.pose(frame, box), int8.pose(frame, box)
            ok = want[:, 2] > 0.3
            dist = np.linalg.norm(have[ok, :2] - want[ok, :2], axis=1) / (box[3] - box[1])
            close, confident = close + int((dist < 0.1).sum()), confident + int(ok.sum())
    assert found + missed >= 20 and confident >= 200
    assert found / (found + missed) >= 0.9, (found, missed)
    assert close / confident >= 0.93, (close, confident)


def test_perceive_writes_json_and_drawing_per_image_and_frame(tmp_path: Path) -> None:
    out = tmp_path / "out"
    image = MEDIA / "basketball1.png"
    rc = perceive.main(
        [
            str(image),
            str(MEDIA / "vtest.avi"),
            "--every",
            "50",
            "--max-frames",
            "2",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "basketball1.jpg",
        "basketball1.json",
        "vtest_000000.jpg",
        "vtest_000000.json",
        "vtest_000050.jpg",
        "vtest_000050.json",
    ]
    doc = json.loads((out / "basketball1.json").read_text())
    assert len(doc["people"]) >= 2
    for person in doc["people"]:
        x1, y1, x2, y2 = person["bbox"]
        assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
        assert 0.0 <= person["score"] <= 1.0
        assert len(person["keypoints"]) == 17
        assert all(len(k) == 3 and 0.0 <= k[2] <= 1.0 for k in person["keypoints"])
    assert cv2.imread(str(out / "basketball1.jpg")).shape == (480, 640, 3)


def test_perceive_runs_the_fp32_models_on_request(tmp_path: Path) -> None:
    out = {}
    for precision in ("int8", "fp32"):
        folder = tmp_path / precision
        argv = [str(MEDIA / "basketball1.png"), "--out", str(folder), "--no-draw"]
        assert perceive.main([*argv, "--precision", precision]) == 0
        out[precision] = json.loads((folder / "basketball1.json").read_text())["people"]
    assert len(out["int8"]) >= 2 and len(out["fp32"]) >= 2
    assert out["int8"] != out["fp32"]  # another model ran, not the same one twice


def test_perceive_reports_unreadable_inputs_and_goes_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    rc = perceive.main(
        [
            str(tmp_path / "absent.png"),
            str(broken),
            str(MEDIA / "basketball2.png"),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1
    assert (tmp_path / "basketball2.json").is_file()
    assert not (tmp_path / "broken.json").exists()


def test_perceive_missing_model_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = perceive.main(
        [
            str(MEDIA / "basketball1.png"),
            "--backend",
            "sim",
            "--pose-model",
            str(tmp_path / "p.onnx"),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2
    assert str(tmp_path / "p.onnx") in capsys.readouterr().err


def test_sim_backend_runs_nanodet_then_the_trained_heatmap_model(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    maps = np.zeros((1, 17, 16, 12), np.float32)
    maps[0, :, 8, 6] = 0.9  # every keypoint at the crop centre
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),
            helper.make_node("Mul", ["m", "zero"], ["z"]),
            helper.make_node("Add", ["maps", "z"], ["heatmaps"]),
        ],
        "sim_pose",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 48])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 17, 16, 12])],
        [numpy_helper.from_array(np.float32(0), "zero"), numpy_helper.from_array(maps, "maps")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "sim.onnx"))
    # flip_test off: the constant model's peak cell is not at the mirror's centre.
    config = BackendConfig(backend="sim", pose_model=str(tmp_path / "sim.onnx"), flip_test=False)
    estimator = make_estimator(config)
    people = estimator(cv2.imread(str(MEDIA / "basketball1.png")))
    assert len(people) >= 2
    for person in people:
        centre = (person.bbox[:2] + person.bbox[2:]) / 2
        assert np.abs(person.keypoints[:, :2] - centre).max() < 0.1 * (
            person.bbox[3] - person.bbox[1]
        )
        assert person.keypoints[:, 2] == pytest.approx(0.9)

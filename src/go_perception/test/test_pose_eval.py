"""Pose PCK breakdowns: reaching wrists, visible and occluded, per camera; ./gostore pose-eval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from go_perception.cli import pose_eval
from go_perception.core.keypoints import LEFT_WRIST, RIGHT_WRIST
from go_perception.core.pose_eval import pose_report, reaching_wrists
from go_perception.core.pose_training import PersonSample

FRONT = np.array([[0.8, 1.0, 1.0]])


def _person(camera: str, left_wrist_at: list[float], visibility: float) -> PersonSample:
    kp = np.zeros((17, 3), np.float32)
    kp[:, :2] = np.linspace(10, 90, 34).reshape(17, 2)
    kp[:, 2] = 2
    kp[LEFT_WRIST, 2] = visibility
    joints = np.zeros((17, 3), np.float32)
    joints[:] = [1.5, 1.0, 1.0]  # far from the bin
    joints[LEFT_WRIST] = left_wrist_at
    region = np.zeros((100, 100, 3), np.uint8)
    return PersonSample(region, np.float32([0, 0, 100, 100]), kp, 0, camera, joints)


class ShiftedWrist:
    """A stand-in pose model: the labels, with the left wrist moved by ``shift`` pixels."""

    def __init__(self, samples: list[PersonSample], shift: float) -> None:
        self.by_region = {id(s.region): s for s in samples}
        self.shift = shift

    def __call__(self, region: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        kp = self.by_region[id(region)].keypoints.copy()
        kp[LEFT_WRIST, 0] += self.shift
        return kp


def test_reaching_wrists_are_the_labelled_ones_at_a_bin_front() -> None:
    assert reaching_wrists(_person("a", [0.8, 1.0, 1.1], 1), FRONT) == [LEFT_WRIST]
    assert reaching_wrists(_person("a", [1.2, 1.0, 1.0], 2), FRONT) == []
    assert reaching_wrists(_person("a", [0.8, 1.0, 1.0], 0), FRONT) == []  # not labelled
    no_3d = _person("a", [0.8, 1.0, 1.0], 2)
    assert reaching_wrists(PersonSample(no_3d.region, no_3d.bbox, no_3d.keypoints, 0), FRONT) == []
    assert RIGHT_WRIST not in reaching_wrists(_person("a", [0.8, 1.0, 1.0], 2), FRONT)


def test_report_counts_reaching_wrists_apart_per_camera_and_visibility() -> None:
    samples = [
        _person("cam_a", [0.8, 1.0, 1.0], 1),  # reaching, occluded
        _person("cam_b", [0.85, 1.0, 1.0], 2),  # reaching, visible
        _person("cam_b", [1.4, 1.0, 1.0], 2),  # not reaching
    ]
    right = pose_report(ShiftedWrist(samples, 0.0), samples, FRONT)
    assert right["people"] == 3
    assert right["overall"]["all"] == {"pck": 1.0, "keypoints": 51.0}
    assert right["overall"]["reaching"]["keypoints"] == 2
    assert right["by_camera"]["cam_a"]["reaching_occluded"]["keypoints"] == 1
    assert right["by_camera"]["cam_b"]["reaching_visible"]["keypoints"] == 1
    assert np.isnan(right["by_camera"]["cam_a"]["reaching_visible"]["pck"])
    wrong = pose_report(ShiftedWrist(samples, 30.0), samples, FRONT)  # 30 px > 0.1 x 100 px
    assert wrong["overall"]["reaching"]["pck"] == 0.0
    assert wrong["overall"]["wrists"]["pck"] == pytest.approx(3 / 6)
    assert wrong["overall"]["all"]["pck"] == pytest.approx(48 / 51)


def test_cli_reports_a_rendered_dataset_and_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from go_sensors.cli import pose_dataset

    data = tmp_path / "renders"
    argv = ["--store", "small", "--out", str(data), "--frames", "6", "--seed", "15",
            "--shelf-groups", "1.0"]  # fmt: skip
    assert pose_dataset.main(argv) == 0
    model = Path(__file__).resolve().parents[1] / "models" / "pose_sim.onnx"
    out = tmp_path / "figures.json"
    args = ["--model", str(model), "--dataset", str(data), "--json", str(out)]
    assert pose_eval.main(args) == 0
    printed = capsys.readouterr().out
    assert "reaching" in printed and "cam_" in printed
    report = json.loads(out.read_text())[str(data)][str(model)]
    assert report["overall"]["reaching"]["keypoints"] > 0
    assert set(report["by_camera"]) <= {"cam_front", "cam_back", "cam_aisle"}
    assert pose_eval.main(["--model", str(model), "--dataset", str(tmp_path / "none")]) == 2
    assert "annotations.json" in capsys.readouterr().err
    assert pose_eval.main([*args[:4], "--radius", "0"]) == 2

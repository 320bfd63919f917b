"""People and skeletons on real camera media (Debian opencv-doc), with the set-up models.

Runs in CI, where ``./gostore setup`` converts the models. Skipped, saying how to get them, only
when the converted models are absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from go_perception.benchmark import LABELS, MEDIA, vtest_counts, wrist_results
from go_perception.cli import perceive
from go_perception.core.backends import (
    MOVENET_FILE,
    NANODET_FILE,
    BackendConfig,
    PoseEstimator,
    default_models_dir,
    make_estimator,
)

MODELS = default_models_dir()
pytestmark = [
    pytest.mark.skipif(
        not (MODELS / NANODET_FILE).is_file() or not (MODELS / MOVENET_FILE).is_file(),
        reason=f"pretrained models absent from {MODELS}: run ./gostore setup "
        "(tools/setup/models.sh fetches and converts them once)",
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

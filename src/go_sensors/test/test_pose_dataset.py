"""``./gostore pose-dataset``: files, COCO layout, labels consistent with the camera projection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from go_common.core.store import load_store
from go_sensors.cli import pose_dataset
from go_sensors.core.world import COCO_KEYPOINTS


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pose")
    argv = ["--store", "small", "--out", str(out), "--frames", "6", "--seed", "5"]
    assert pose_dataset.main(argv) == 0
    return out


def test_writes_images_and_coco_annotations(dataset: Path) -> None:
    coco = json.loads((dataset / "annotations.json").read_text())
    assert len(coco["images"]) == 6
    assert coco["categories"][0]["keypoints"] == list(COCO_KEYPOINTS)
    assert coco["annotations"], "no person was labelled in 6 frames"
    for image in coco["images"]:
        pixels = cv2.imread(str(dataset / image["file_name"]))
        assert pixels.shape == (image["height"], image["width"], 3)
    ids = {image["id"] for image in coco["images"]}
    for ann in coco["annotations"]:
        assert ann["image_id"] in ids
        assert len(ann["keypoints"]) == 51
        vis = ann["keypoints"][2::3]
        assert set(vis) <= {0, 1, 2}
        assert ann["num_keypoints"] == sum(v > 0 for v in vis)
        assert ann["area"] > 0


def test_keypoints_are_the_projection_of_the_3d_joints(dataset: Path) -> None:
    store = load_store("small")
    coco = json.loads((dataset / "annotations.json").read_text())
    images = {image["id"]: image for image in coco["images"]}
    checked = 0
    for ann in coco["annotations"]:
        image = images[ann["image_id"]]
        camera = store.cameras[image["camera_id"]]
        joints = np.array(ann["keypoints_store"]).reshape(17, 3)
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        t = np.linalg.inv(camera.T_store_optical)
        rvec, _ = cv2.Rodrigues(t[:3, :3])
        ref, _ = cv2.projectPoints(joints, rvec, t[:3, 3], camera.K, camera.dist)
        ref = ref.reshape(17, 2)
        labelled = kp[:, 2] > 0
        np.testing.assert_allclose(kp[labelled, :2], ref[labelled], atol=0.01)
        inside = (
            (ref[:, 0] >= 0) & (ref[:, 0] <= image["width"] - 1)
            & (ref[:, 1] >= 0) & (ref[:, 1] <= image["height"] - 1)
        )  # fmt: skip
        depth = camera.to_optical(joints)[:, 2]
        # Labelled exactly when in the image and in front of the camera.
        np.testing.assert_array_equal(labelled, inside & (depth > 0.05))
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= image["width"] and y + h <= image["height"]
        visible = kp[:, 2] == 2
        # A visible joint lies on (or within a limb's width of) the person's visible pixels.
        assert np.all(kp[visible, 0] >= x - 10) and np.all(kp[visible, 0] <= x + w + 10)
        assert np.all(kp[visible, 1] >= y - 10) and np.all(kp[visible, 1] <= y + h + 10)
        checked += int(labelled.sum())
    assert checked > 17


def test_same_seed_same_dataset(dataset: Path, tmp_path: Path) -> None:
    argv = ["--store", "small", "--out", str(tmp_path), "--frames", "6", "--seed", "5"]
    assert pose_dataset.main(argv) == 0
    a = json.loads((dataset / "annotations.json").read_text())
    b = json.loads((tmp_path / "annotations.json").read_text())
    assert a == b


def test_bad_arguments_give_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert pose_dataset.main(["--store", "no_such_store", "--out", str(tmp_path)]) == 2
    assert "no_such_store" in capsys.readouterr().err
    argv = ["--store", "small", "--out", str(tmp_path), "--frames", "1", "--cameras", "cam_x"]
    assert pose_dataset.main(argv) == 2
    assert "cam_x" in capsys.readouterr().err


def test_people_from_a_simulator_scenario(tmp_path: Path) -> None:
    argv = ["--store", "small", "--out", str(tmp_path), "--frames", "4", "--seed", "2",
            "--scenario", "single_pick", "--sim-every", "2.0"]  # fmt: skip
    assert pose_dataset.main(argv) == 0
    coco = json.loads((tmp_path / "annotations.json").read_text())
    assert coco["info"]["scenario"] == "single_pick"
    assert len(coco["images"]) == 4
    assert coco["annotations"], "the scenario's shopper is in view of some camera"
    assert pose_dataset.main([*argv[:-4], "--scenario", "no_such_scenario"]) == 2


def test_shelf_groups_stand_side_by_side_and_reach_into_bins(tmp_path: Path) -> None:
    argv = ["--store", "small", "--out", str(tmp_path), "--frames", "8", "--seed", "15",
            "--shelf-groups", "1.0", "--max-people", "1"]  # fmt: skip
    assert pose_dataset.main(argv) == 0
    coco = json.loads((tmp_path / "annotations.json").read_text())
    assert coco["info"]["shelf_groups"] == 1.0
    store = load_store("small")
    fronts = np.array([np.asarray(b.front_center, float) for b in store.bins.values()])
    by_image: dict[int, dict[int, np.ndarray]] = {}
    for ann in coco["annotations"]:
        joints = np.asarray(ann["keypoints_store"]).reshape(len(COCO_KEYPOINTS), 3)
        by_image.setdefault(ann["image_id"], {})[ann["person_id"]] = joints
    wrists = [COCO_KEYPOINTS.index("left_wrist"), COCO_KEYPOINTS.index("right_wrist")]
    groups = 0
    for people in by_image.values():
        # --max-people 1: a second person is a shelf group's. Each stands within 0.8 m of a bin
        # front, and a wrist reaches out towards it (0.1 m nearer than the head).
        reaching = 0
        for j in people.values():
            head = np.linalg.norm(fronts - j[0], axis=-1).min()
            wrist = np.linalg.norm(fronts[None] - j[wrists][:, None], axis=-1).min()
            reaching += head < 0.8 and wrist < head - 0.1
        groups += reaching >= 2
    assert groups >= 4, f"{groups} of 8 images show two people reaching at a shelf"
    argv = ["--store", "small", "--out", str(tmp_path), "--frames", "1", "--shelf-groups", "2"]
    with pytest.raises(SystemExit) as exit_info:
        pose_dataset.main(argv)
    assert exit_info.value.code == 2


def test_shelf_groups_off_leave_the_random_scenes_as_they_were(dataset: Path) -> None:
    coco = json.loads((dataset / "annotations.json").read_text())
    assert coco["info"]["shelf_groups"] == 0.0
    # The fixture's seed-5 scenes, as they were before the option existed.
    digest = hashlib.sha256(json.dumps(coco["annotations"]).encode()).hexdigest()
    assert digest.startswith("370d759c9374530d")

"""Static transform tree (pure core), camera calibration loading and transform conversions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from go_common.conversions import (
    camera_info_msg,
    matrix_to_transform_msg,
    ns_to_stamp,
    seconds_to_stamp,
    stamp_to_ns,
    stamp_to_seconds,
    transform_msg_to_matrix,
)
from go_common.core.tf_tree import (
    CalibrationError,
    ConnectivityError,
    FrameNotFoundError,
    TransformError,
    TransformTree,
    invert,
    load_calibration,
    load_calibration_yaml,
    matrix_from_translation_quaternion,
    translation_quaternion_from_matrix,
    tree_from_calibration,
)


def pose(xyz: tuple[float, float, float], euler_deg: tuple[float, float, float]) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix()
    m[:3, 3] = xyz
    return m


@pytest.fixture
def tree() -> TransformTree:
    """store -> rig -> {cam_a_optical, cam_b_optical}; store -> shelf_1; lonely -> other."""
    t = TransformTree()
    t.set_transform("store", "rig", pose((2.0, 1.0, 3.0), (0, 0, 90)))
    t.set_transform("rig", "cam_a_optical", pose((0.1, 0.0, 0.0), (-120, 0, 0)))
    t.set_transform("rig", "cam_b_optical", pose((-0.1, 0.0, 0.0), (-120, 0, 180)))
    t.set_transform("store", "shelf_1", pose((5.0, 0.5, 0.0), (0, 0, -30)))
    t.set_transform("lonely", "other", np.eye(4))
    return t


def test_lookup_composes_along_the_chain(tree: TransformTree) -> None:
    expected = pose((2.0, 1.0, 3.0), (0, 0, 90)) @ pose((0.1, 0.0, 0.0), (-120, 0, 0))
    np.testing.assert_allclose(tree.lookup("store", "cam_a_optical"), expected, atol=1e-12)


def test_lookup_inverts_and_crosses_branches(tree: TransformTree) -> None:
    a_in_store = tree.lookup("store", "cam_a_optical")
    b_in_store = tree.lookup("store", "cam_b_optical")
    np.testing.assert_allclose(tree.lookup("cam_a_optical", "store"), invert(a_in_store))
    np.testing.assert_allclose(
        tree.lookup("cam_a_optical", "cam_b_optical"), invert(a_in_store) @ b_in_store, atol=1e-12
    )
    shelf_in_a = tree.lookup("cam_a_optical", "shelf_1")
    np.testing.assert_allclose(
        shelf_in_a, invert(a_in_store) @ tree.lookup("store", "shelf_1"), atol=1e-12
    )
    np.testing.assert_allclose(tree.lookup("rig", "rig"), np.eye(4))


def test_transform_points_maps_source_points_into_target(tree: TransformTree) -> None:
    # The rig origin seen from the store is the rig's translation.
    np.testing.assert_allclose(tree.transform_points("store", "rig", [[0, 0, 0]]), [[2, 1, 3]])
    # Rig x axis (1 m along it) points along store +y (rig yawed by 90 degrees).
    np.testing.assert_allclose(
        tree.transform_points("store", "rig", [[1, 0, 0]]), [[2, 2, 3]], atol=1e-12
    )
    pts = np.random.default_rng(0).normal(size=(7, 3))
    there = tree.transform_points("cam_b_optical", "shelf_1", pts)
    np.testing.assert_allclose(tree.transform_points("shelf_1", "cam_b_optical", there), pts)


def test_unknown_and_disconnected_frames_raise_named_errors(tree: TransformTree) -> None:
    with pytest.raises(FrameNotFoundError, match=r"unknown frame 'nowhere'.*known frames: "):
        tree.lookup("store", "nowhere")
    with pytest.raises(ConnectivityError, match=r"'store'.*'other'"):
        tree.lookup("store", "other")


@pytest.mark.parametrize(
    ("parent", "child", "matrix", "match"),
    [
        ("store", "store", np.eye(4), "to itself"),
        ("", "x", np.eye(4), "non-empty"),
        ("/store", "x", np.eye(4), "leading '/'"),
        ("store", "x", np.full((4, 4), np.nan), "non-finite"),
        ("store", "x", np.diag([1.0, 1.0, -1.0, 1.0]), "not a rigid"),
        ("store", "x", np.diag([2.0, 1.0, 1.0, 1.0]), "not a rigid"),
        ("store", "x", np.eye(3), "4x4"),
        ("shelf_1", "rig", np.eye(4), "already has parent 'store'"),
        ("cam_a_optical", "store", np.eye(4), "close a loop"),
    ],
)
def test_bad_transforms_are_rejected(
    tree: TransformTree, parent: str, child: str, matrix: np.ndarray, match: str
) -> None:
    with pytest.raises(TransformError, match=match):
        tree.set_transform(parent, child, matrix)


def test_replacing_a_transform_with_the_same_parent_updates_it(tree: TransformTree) -> None:
    tree.set_transform("store", "rig", np.eye(4))
    np.testing.assert_allclose(tree.lookup("store", "rig"), np.eye(4))


def test_translation_quaternion_round_trip() -> None:
    m = pose((1.0, -2.0, 0.5), (10, 20, 30))
    t, q = translation_quaternion_from_matrix(m)
    assert q[3] >= 0.0
    np.testing.assert_allclose(matrix_from_translation_quaternion(t, q), m, atol=1e-12)
    # Unnormalised quaternions are normalised; zero ones are refused.
    np.testing.assert_allclose(
        matrix_from_translation_quaternion([0, 0, 0], [0, 0, 0, 2.0]), np.eye(4)
    )
    with pytest.raises(TransformError, match="non-zero quaternion"):
        matrix_from_translation_quaternion([0, 0, 0], [0, 0, 0, 0])


def test_transform_message_round_trip() -> None:
    m = pose((1.0, 2.0, 3.0), (-100, 5, 42))
    msg = matrix_to_transform_msg("store", "cam_0_optical", m, stamp_ns=1_500_000_001)
    assert (msg.header.frame_id, msg.child_frame_id) == ("store", "cam_0_optical")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 500_000_001)
    np.testing.assert_allclose(transform_msg_to_matrix(msg), m, atol=1e-12)


def test_stamp_conversions() -> None:
    assert stamp_to_ns(ns_to_stamp(12_345_678_901)) == 12_345_678_901
    assert stamp_to_seconds(seconds_to_stamp(3.25)) == 3.25
    with pytest.raises(ValueError, match="negative"):
        ns_to_stamp(-1)
    with pytest.raises(ValueError, match="non-finite"):
        seconds_to_stamp(float("nan"))


CALIBRATION = """\
frame_id: store
cameras:
  cam_0:
    translation: [4.0, 2.5, 3.0]
    rotation: [0.0, 0.0, 0.0, 1.0]
    image_width: 640
    image_height: 480
    camera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}
    distortion_model: plumb_bob
    distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.05, 0, 0, 0]}
  cam_1:
    translation: [1.0, 1.0, 3.0]
    rotation: [1.0, 0.0, 0.0, 0.0]
"""


def test_plain_calibration_yaml_loads_extrinsics_and_intrinsics(tmp_path: Path) -> None:
    path = tmp_path / "calib.yaml"
    path.write_text(CALIBRATION)
    cals = load_calibration_yaml(path)
    assert set(cals) == {"cam_0", "cam_1"}
    cam0 = cals["cam_0"]
    assert (cam0.width, cam0.height, cam0.optical_frame) == (640, 480, "cam_0_optical")
    np.testing.assert_allclose(cam0.K, [[500, 0, 320], [0, 500, 240], [0, 0, 1]])
    assert cals["cam_1"].K is None
    tree = tree_from_calibration(cals)
    # cam_1 is rotated 180 degrees about x: its z axis (looking direction) points down.
    np.testing.assert_allclose(
        tree.transform_points("store", "cam_1_optical", [[0, 0, 1]]), [[1, 1, 2]], atol=1e-12
    )
    np.testing.assert_allclose(tree.lookup("store", "cam_0_optical")[:3, 3], [4.0, 2.5, 3.0])
    info = camera_info_msg(cam0, stamp_ns=5)
    assert info.header.frame_id == "cam_0_optical"
    assert list(info.k) == [500, 0, 320, 0, 500, 240, 0, 0, 1]
    assert list(info.p)[:4] == [500, 0, 320, 0]
    assert len(info.d) == 5
    assert load_calibration(path).keys() == cals.keys()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("cameras: [", "not valid YAML"),
        ("frame_id: store\n", "'cameras' mapping"),
        ("cameras: {}\nextra: 1\n", "unknown top-level key"),
        ("cameras:\n  cam_0: {translation: [0, 0, 0]}\n", r"cameras.cam_0: missing 'rotation'"),
        (
            "cameras:\n  cam_0: {translation: [0, 0], rotation: [0, 0, 0, 1]}\n",
            r"cameras.cam_0: translation must be 3",
        ),
        (
            "cameras:\n  cam_0: {translation: [0, 0, 0], rotation: [0, 0, 0, 2]}\n",
            r"cameras.cam_0.rotation: quaternion norm",
        ),
        (
            "cameras:\n  cam_0: {translation: [0, 0, 0], rotation: [0, 0, 0, 1], fov: 1}\n",
            r"cameras.cam_0: unknown key\(s\) \['fov'\]",
        ),
        (
            "cameras:\n  cam_0: {translation: [0, 0, 0], rotation: [0, 0, 0, 1],\n"
            "    image_width: 10, image_height: 10, camera_matrix: {data: [1, 2]}}\n",
            r"cameras.cam_0.camera_matrix: expected 9",
        ),
    ],
)
def test_bad_calibration_files_name_file_and_entry(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=match) as info:
        load_calibration_yaml(path)
    assert "bad.yaml" in str(info.value)


def test_missing_calibration_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"nope\.yaml: calibration file not found"):
        load_calibration_yaml(tmp_path / "nope.yaml")


def test_store_cameras_give_one_optical_frame_each() -> None:
    store_module = pytest.importorskip("go_common.core.store")
    names = store_module.list_stores()
    if not names:
        pytest.skip("no shipped store yet")
    store = store_module.load_store(names[0])
    cals = load_calibration(names[0])
    assert set(cals) == set(store.cameras)
    tree = tree_from_calibration(cals)
    for cam_id, cam in store.cameras.items():
        np.testing.assert_allclose(
            tree.lookup(store.frame_id, f"{cam_id}_optical"), cam.T_store_optical, atol=1e-9
        )
        # The tree agrees with the store model's own projection into the optical frame.
        point = np.array([[1.0, 1.0, 1.0]])
        np.testing.assert_allclose(
            tree.transform_points(f"{cam_id}_optical", store.frame_id, point),
            cam.to_optical(point),
            atol=1e-9,
        )

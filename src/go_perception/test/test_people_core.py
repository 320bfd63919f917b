"""Pure people/pose core: geometry, decoding of every supported model output, scoring, config.

Tiny ONNX models built here with onnx.helper stand in for user models (they output constants), so
these tests need no downloaded model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from go_perception.core.backends import (
    BackendConfig,
    PoseEstimator,
    containment,
    make_estimator,
    pose_confidence,
)
from go_perception.core.detector import NanoDetDetector, YoloDetector
from go_perception.core.evaluation import match_boxes
from go_perception.core.keypoints import Detection, Person, draw_people, iou, nms, pck
from go_perception.core.onnx_io import ImageInput, ModelError, letterbox, open_session
from go_perception.core.pose import TopDownPose, crop_transform, decode_heatmaps


def constant_model(path: Path, input_shape: list, outputs: dict[str, np.ndarray]) -> Path:
    """An ONNX model with one image input whose outputs are constants (input * 0 + value)."""
    elem = TensorProto.INT32 if input_shape[-1] == 3 else TensorProto.FLOAT
    nodes = [helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT)]
    nodes.append(helper.make_node("ReduceMean", ["image_f"], ["mean"], keepdims=0))
    nodes.append(helper.make_node("Mul", ["mean", "zero"], ["nothing"]))
    inits = [numpy_helper.from_array(np.float32(0.0), "zero")]
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(
        nodes, "constant", [helper.make_tensor_value_info("image", elem, input_shape)], outs, inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_iou_and_nms() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], float)
    assert iou(boxes[:1], boxes[:1])[0, 0] == pytest.approx(1.0)
    assert iou(boxes[:1], boxes[2:])[0, 0] == 0.0
    assert iou(boxes[:1], boxes[1:2])[0, 0] == pytest.approx(81 / 119)
    assert nms(boxes, np.array([0.5, 0.9, 0.7]), 0.5).tolist() == [1, 2]


def test_pck_counts_only_visible_within_alpha_scale() -> None:
    labelled = np.zeros((1, 17, 2))
    predicted = labelled.copy()
    predicted[0, :8, 0] = 5.0  # 5 px off: correct at alpha 0.1 of a 100 px person
    predicted[0, 8:, 0] = 20.0  # 20 px off: wrong
    visible = np.ones((1, 17), bool)
    assert pck(predicted, labelled, visible, np.array([100.0])) == pytest.approx(8 / 17)
    visible[0, 8:] = False
    assert pck(predicted, labelled, visible, np.array([100.0])) == 1.0
    assert np.isnan(pck(predicted, labelled, np.zeros((1, 17), bool), np.array([100.0])))


def test_person_json_and_drawing() -> None:
    kp = np.tile(np.float32([[50, 60, 0.9]]), (17, 1))
    person = Person(np.float32([10, 20, 90, 200]), 0.8, kp)
    doc = person.to_json()
    assert doc["bbox"] == [10.0, 20.0, 90.0, 200.0]
    assert len(doc["keypoints"]) == 17 and doc["keypoints"][0] == [50.0, 60.0, 0.9]
    image = np.zeros((240, 320, 3), np.uint8)
    drawn = draw_people(image, [person])
    assert drawn.shape == image.shape and drawn.any() and not image.any()


def test_match_boxes_ignores_difficult_labels() -> None:
    labelled = np.array([[0, 0, 10, 30], [50, 0, 60, 30], [100, 0, 110, 30]], float)
    difficult = np.array([False, False, True])
    detected = np.array([[1, 1, 10, 30], [100, 0, 110, 30], [200, 0, 210, 30]], float)
    counts = match_boxes(detected, labelled, difficult)
    assert (counts.true_positives, counts.false_positives, counts.misses) == (1, 1, 1)
    assert counts.recall == 0.5 and counts.precision == 0.5


def test_crop_transform_keeps_aspect_and_centres_box() -> None:
    m = crop_transform(np.array([100, 50, 140, 170]), 48, 64, 1.0)
    assert m[0, 0] == pytest.approx(m[1, 1])
    centre = m @ np.array([120.0, 110.0, 1.0])
    assert centre == pytest.approx([24.0, 32.0])
    top = m @ np.array([120.0, 50.0, 1.0])
    assert top[1] == pytest.approx(0.0, abs=1e-4)  # the taller side fills the crop exactly


def test_decode_heatmaps_finds_peaks() -> None:
    ys, xs = np.mgrid[0:16, 0:12]
    maps = np.stack(
        [np.exp(-((xs - 3 - j % 5) ** 2 + (ys - 4 - j % 7) ** 2) / 2) for j in range(17)]
    )
    peaks = decode_heatmaps(maps.astype(np.float32))
    assert np.allclose(peaks[:, 0], [3 + j % 5 for j in range(17)], atol=0.25)
    assert np.allclose(peaks[:, 1], [4 + j % 7 for j in range(17)], atol=0.25)
    assert np.allclose(peaks[:, 2], 1.0)


def test_letterbox_maps_back() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    boxed, scale, pad_x, pad_y = letterbox(image, 416, 416)
    assert boxed.shape == (416, 416, 3)
    assert scale == pytest.approx(0.65) and pad_x == 0.0 and pad_y == 52.0
    assert boxed[0, 0, 0] == 114 and boxed[208, 208, 0] == 200


def test_topdown_heatmap_model_maps_keypoints_to_image(tmp_path: Path) -> None:
    maps = np.zeros((1, 17, 16, 12), np.float32)
    maps[0, :, 8, 6] = 0.8  # every keypoint at the crop centre
    path = constant_model(tmp_path / "hm.onnx", [1, 3, 64, 48], {"heatmaps": maps})
    pose = TopDownPose(open_session(path, 1), crop_padding=1.0)
    assert pose.kind == "heatmaps"
    kp = pose(np.zeros((300, 400, 3), np.uint8), np.array([100, 50, 160, 170], np.float32))
    # Heatmap cell 6 (x) / 8 (y) at stride 4 is crop pixel 25.5 / 33.5. The 60 x 120 px box
    # grows to the crop's 3:4 aspect (90 x 120 px) over 48 x 64 px: scale 48 / 90, centre
    # (130, 110).
    scale = 48 / 90
    assert kp[:, 0] == pytest.approx(130 + (25.5 - 24) / scale, abs=0.05)
    assert kp[:, 1] == pytest.approx(110 + (33.5 - 32) / scale, abs=0.05)
    assert kp[:, 2] == pytest.approx(0.8)


def test_flip_test_averages_the_mirrored_crop_with_left_and_right_swapped(
    tmp_path: Path,
) -> None:
    # A constant model: every keypoint at heatmap x = 2, except the right wrist (10) at x = 7.
    maps = np.zeros((1, 17, 16, 12), np.float32)
    maps[0, :, 8, 2] = 0.8
    maps[0, 10, 8, 2], maps[0, 10, 8, 7] = 0.0, 0.8
    path = constant_model(tmp_path / "hm.onnx", [1, 3, 64, 48], {"heatmaps": maps})
    crop = np.zeros((64, 48, 3), np.uint8)
    plain = TopDownPose(open_session(path, 1)).crop_keypoints(crop)
    flipped = TopDownPose(open_session(path, 1), flip_test=True).crop_keypoints(crop)
    assert plain[:, 2] == pytest.approx(0.8)
    # The mirrored run sees every keypoint at x' = 11 - 2 = 9 and the right wrist at 4, and its
    # left/right swap brings the left wrist (9) from the right wrist's 4: nose (0) 0.4 at 2 and
    # 0.4 at 9, left wrist 0.4 at 2 and 0.4 at 4; right wrist 0.4 at 7 and 0.4 at 9.
    assert flipped[[0, 9, 10], 2] == pytest.approx(0.4)
    assert flipped[9, 0] == pytest.approx((2 + 0.5) * 4 - 0.5, abs=1.0)


def test_sim_backend_runs_the_shipped_network_with_flip_test() -> None:
    estimator = make_estimator(BackendConfig(backend="sim"))
    assert estimator.pose is not None and estimator.pose.kind == "heatmaps"
    assert estimator.pose.flip_test and (estimator.pose.height, estimator.pose.width) == (128, 96)


def test_topdown_movenet_style_and_simcc_outputs(tmp_path: Path) -> None:
    raw = np.zeros((1, 1, 17, 3), np.float32)
    raw[..., 0], raw[..., 1], raw[..., 2] = 0.25, 0.75, 0.9  # y, x, score
    path = constant_model(tmp_path / "kp.onnx", [1, 192, 192, 3], {"kp": raw})
    pose = TopDownPose(open_session(path, 1), crop_padding=1.0)
    assert pose.kind == "keypoints"
    kp = pose(np.zeros((400, 400, 3), np.uint8), np.array([100, 100, 300, 300], np.float32))
    assert kp[0] == pytest.approx([250.0, 150.0, 0.9], abs=1.5)

    sx = np.zeros((1, 17, 96), np.float32)
    sy = np.zeros((1, 17, 128), np.float32)
    sx[0, :, 24], sy[0, :, 96] = 0.7, 0.9  # x = 12 px, y = 48 px of a 48 x 64 crop
    path = constant_model(tmp_path / "simcc.onnx", [1, 3, 64, 48], {"x": sx, "y": sy})
    pose = TopDownPose(open_session(path, 1), crop_padding=1.0)
    assert pose.kind == "simcc"
    kp = pose.crop_keypoints(np.zeros((64, 48, 3), np.uint8))
    assert kp[0] == pytest.approx([12.0, 48.0, 0.7])


def test_topdown_rejects_unknown_outputs(tmp_path: Path) -> None:
    path = constant_model(tmp_path / "bad.onnx", [1, 3, 64, 48], {"o": np.zeros((1, 5))})
    with pytest.raises(ModelError, match=r"bad\.onnx"):
        TopDownPose(open_session(path, 1), name=str(path))


def test_yolo_pose_output_is_decoded_through_the_letterbox(tmp_path: Path) -> None:
    rows = np.zeros((1, 56, 3), np.float32)  # (1, C, N) as Ultralytics exports it
    rows[0, :5, 0] = [320, 320, 100, 200, 0.9]  # cx, cy, w, h [input px], score
    rows[0, 5::3, 0], rows[0, 6::3, 0], rows[0, 7::3, 0] = 300, 250, 0.8
    rows[0, :5, 1] = [322, 318, 100, 200, 0.6]  # duplicate: NMS removes it
    rows[0, :5, 2] = [100, 100, 50, 50, 0.1]  # below the threshold
    path = constant_model(tmp_path / "yolo.onnx", [1, 3, 640, 640], {"out": rows})
    detector = YoloDetector(open_session(path, 1), score_threshold=0.25)
    assert detector.gives_keypoints
    found = detector(np.zeros((480, 640, 3), np.uint8))  # letterbox pads 80 px top
    assert len(found) == 1 and isinstance(found[0], Person)
    assert found[0].bbox == pytest.approx([270, 140, 370, 340])
    assert found[0].keypoints[0] == pytest.approx([300, 170, 0.8])


def test_plain_yolo_detector_uses_the_person_column(tmp_path: Path) -> None:
    rows = np.zeros((1, 100, 4 + 80), np.float32)  # (1, N, C), xyxy boxes
    rows[0, 0, :4], rows[0, 0, 4], rows[0, 0, 5] = [10, 20, 110, 220], 0.1, 0.9  # a bicycle
    rows[0, 1, :4], rows[0, 1, 4] = [300, 100, 400, 400], 0.7  # a person
    path = constant_model(tmp_path / "det.onnx", [1, 3, 640, 640], {"out": rows})
    detector = YoloDetector(open_session(path, 1), box_format="xyxy", score_threshold=0.25)
    assert not detector.gives_keypoints
    found = detector(np.zeros((640, 640, 3), np.uint8))
    assert len(found) == 1 and isinstance(found[0], Detection)
    assert found[0].bbox == pytest.approx([300, 100, 400, 400])


def fake_nanodet(path: Path) -> Path:
    """A constant model with NanoDet-m's six heads (nobody in any image)."""
    heads = {}
    for grid in (52, 26, 13):
        heads[f"cls{grid}"] = np.zeros((1, grid * grid, 80), np.float32)
        heads[f"reg{grid}"] = np.zeros((1, grid * grid, 44), np.float32)
    return constant_model(path, [1, 3, 416, 416], heads)


def test_missing_model_fails_configuration_naming_the_path(tmp_path: Path) -> None:
    fp32 = {"detector_precision": "fp32", "pose_precision": "fp32"}
    with pytest.raises(ModelError, match=re.escape(str(tmp_path / "nanodet.onnx"))):
        make_estimator(BackendConfig(models_dir=str(tmp_path), **fp32))
    # The int8 default names its own file and the way back to fp32.
    with pytest.raises(ModelError, match=re.escape(str(tmp_path / "nanodet.int8.onnx"))) as error:
        make_estimator(BackendConfig(models_dir=str(tmp_path)))
    assert "fp32" in str(error.value) and "./gostore setup" in str(error.value)
    fake_nanodet(tmp_path / "nanodet.onnx")
    with pytest.raises(ModelError, match=re.escape(str(tmp_path / "movenet-lightning.onnx"))):
        make_estimator(BackendConfig(models_dir=str(tmp_path), **fp32))
    with pytest.raises(ModelError, match=re.escape(str(tmp_path / "movenet-lightning.int8.onnx"))):
        make_estimator(BackendConfig(models_dir=str(tmp_path), detector_precision="fp32"))
    config = BackendConfig(
        backend="sim", models_dir=str(tmp_path), pose_model="/no/pose.onnx", **fp32
    )
    with pytest.raises(ModelError, match=re.escape("/no/pose.onnx")):
        make_estimator(config)


def test_nanodet_heads_are_checked_and_empty_output_gives_nobody(tmp_path: Path) -> None:
    detector = NanoDetDetector(open_session(fake_nanodet(tmp_path / "n.onnx"), 1))
    assert detector(np.zeros((480, 640, 3), np.uint8)) == []
    path = constant_model(tmp_path / "other.onnx", [1, 3, 416, 416], {"o": np.zeros((1, 9, 80))})
    with pytest.raises(ModelError, match="NanoDet"):
        NanoDetDetector(open_session(path, 1))


def test_corrupt_model_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        open_session(path, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backend": "magic"},
        {"score_threshold": 0.2, "candidate_threshold": 0.3},
        {"crop_padding": 0.5},
        {"threads": 0},
        {"input_std": (1.0, 0.0, 1.0)},
        {"detector_format": "ssd"},
        {"detector_precision": "fp16"},
        {"pose_precision": "int4"},
        {"check_precision": ""},
        {"detector_size": 300},
        {"detector_size": 0},
        {"candidate_overlap": -0.1},
        {"pose_nms_fraction": 0.0},
        {"pose_nms_scale": -1.0},
        {"pose_nms_min_score": 1.5},
        {"pose_nms_min_keypoints": 2},
    ],
)
def test_bad_backend_config_is_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        BackendConfig(**kwargs)


class _FakeDetector:
    def __init__(self, found: list[Detection]) -> None:
        self.found = found

    def __call__(self, image: np.ndarray) -> list[Detection]:
        return self.found


class _FakePose:
    """Confident skeleton for boxes left of x = 100, nothing elsewhere."""

    def __call__(self, image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        kp = np.zeros((17, 3), np.float32)
        kp[:, 2] = 0.9 if bbox[0] < 100 else 0.05
        return kp


class _CountingPose(_FakePose):
    def __init__(self) -> None:
        self.boxes: list[float] = []

    def __call__(self, image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        self.boxes.append(float(bbox[0]))
        return super().__call__(image, bbox)


def test_weak_candidates_are_checked_by_the_check_model_and_people_by_the_pose_model() -> None:
    found = [
        Detection(np.float32([200, 0, 260, 150]), 0.9),  # confident: pose model
        Detection(np.float32([10, 0, 60, 150]), 0.3),  # weak: check model, kept with its skeleton
        Detection(np.float32([300, 0, 340, 100]), 0.3),  # weak: check model, no body
    ]
    pose, check = _CountingPose(), _CountingPose()
    estimator = PoseEstimator(
        _FakeDetector(found),  # type: ignore[arg-type]
        pose,  # type: ignore[arg-type]
        BackendConfig(),
        check_pose=check,  # type: ignore[arg-type]
    )
    people = estimator(np.zeros((200, 400, 3), np.uint8))
    assert [p.bbox[0] for p in people] == [200, 10]
    assert pose.boxes == [200] and check.boxes == [10, 300]


@pytest.mark.parametrize("overlap, checked", [(0.3, []), (0.5, [20.0])])
def test_weak_candidates_overlapping_a_person_cost_no_pose_run(
    overlap: float, checked: list[float]
) -> None:
    found = [
        Detection(np.float32([0, 0, 30, 100]), 0.9),  # a person
        Detection(np.float32([20, 0, 45, 100]), 0.3),  # shifted box: 40 % inside the person
    ]
    pose, check = _CountingPose(), _CountingPose()
    estimator = PoseEstimator(
        _FakeDetector(found),  # type: ignore[arg-type]
        pose,  # type: ignore[arg-type]
        BackendConfig(candidate_overlap=overlap),
        check_pose=check,  # type: ignore[arg-type]
    )
    estimator(np.zeros((200, 400, 3), np.uint8))
    assert check.boxes == checked


class _OnePersonPose:
    """The same person (x 20-60 px) in every box that contains her, nothing elsewhere: a
    top-down pose model run on her box and on a box around her and her neighbour."""

    def __call__(self, image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        kp = np.zeros((17, 3), np.float32)
        if bbox[0] <= 20 and bbox[2] >= 60:
            kp[:, 0] = np.linspace(20.0, 60.0, 17)
            kp[:, 1] = np.linspace(5.0, 145.0, 17)
            kp[:, 2] = 0.8
        else:  # someone else, further right
            kp[:, 0] = np.linspace(bbox[0], bbox[2], 17)
            kp[:, 1] = np.linspace(bbox[1], bbox[3], 17)
            kp[:, 2] = 0.7
        return kp


@pytest.mark.parametrize("fraction, skeletons", [(0.7, 2), (1.1, 3)])
def test_a_skeleton_found_in_two_overlapping_boxes_is_published_once(
    fraction: float, skeletons: int
) -> None:
    found = [
        Detection(np.float32([10, 0, 70, 150]), 0.9),  # her
        Detection(np.float32([200, 0, 260, 150]), 0.8),  # someone else
        Detection(np.float32([5, 0, 120, 150]), 0.6),  # her and her neighbour: her skeleton again
    ]
    config = BackendConfig(pose_nms_fraction=fraction)
    estimator = PoseEstimator(_FakeDetector(found), _OnePersonPose(), config)  # type: ignore[arg-type]
    out = estimator(np.zeros((200, 400, 3), np.uint8))
    assert [float(p.bbox[0]) for p in out] == [10.0, 200.0, 5.0]  # every box stays
    assert sum(bool((p.keypoints[:, 2] > 0).any()) for p in out) == skeletons
    assert (out[0].keypoints[:, 2] > 0).all()  # the more confident skeleton is the one kept


class _PartialPose(_OnePersonPose):
    """Her whole skeleton in her own box; three very confident joints of her in the wide box."""

    def __call__(self, image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        kp = super().__call__(image, bbox)
        if bbox[2] > 100:
            kp[3:, 2] = 0.0
            kp[:3, 2] = 0.95
        return kp


@pytest.mark.parametrize("min_keypoints, stripped", [(4, None), (3, 0)])
def test_a_partial_skeleton_does_not_strip_a_whole_one(
    min_keypoints: int, stripped: int | None
) -> None:
    found = [
        Detection(np.float32([10, 0, 70, 150]), 0.8),  # her: 17 joints at 0.8
        Detection(np.float32([5, 0, 120, 150]), 0.7),  # the wide box: 3 joints at 0.95
    ]
    config = BackendConfig(pose_nms_min_keypoints=min_keypoints)
    out = PoseEstimator(_FakeDetector(found), _PartialPose(), config)(  # type: ignore[arg-type]
        np.zeros((200, 400, 3), np.uint8)
    )
    found_any = [bool((p.keypoints[:, 2] > 0).any()) for p in out]
    if stripped is None:  # the 3-joint skeleton takes no part: both stay as they are
        assert found_any == [True, True]
    else:  # were it allowed to, its mean score (0.95 x 0.7) would beat hers (0.8 x 0.8)
        assert found_any[stripped] is False


def test_weak_detections_need_a_body_and_must_not_sit_inside_a_person() -> None:
    found = [
        Detection(np.float32([200, 0, 260, 150]), 0.9),  # confident: kept
        Detection(np.float32([10, 0, 60, 150]), 0.3),  # weak, body found: kept
        Detection(np.float32([300, 0, 340, 100]), 0.3),  # weak, no body (a cone): dropped
        Detection(np.float32([20, 10, 50, 80]), 0.3),  # weak, inside a kept person: dropped
        Detection(np.float32([80, 0, 95, 50]), 0.1),  # under candidate_threshold: dropped
    ]
    estimator = PoseEstimator(_FakeDetector(found), _FakePose(), BackendConfig())  # type: ignore[arg-type]
    people = estimator(np.zeros((200, 400, 3), np.uint8))
    assert [p.bbox[0] for p in people] == [200, 10]
    assert pose_confidence(people[0].keypoints) == pytest.approx(0.05)
    assert containment(np.float32([20, 10, 50, 80]), np.float32([10, 0, 60, 150])) == 1.0


def test_free_size_nanodet_letterboxes_to_multiples_of_32(tmp_path: Path) -> None:
    heads = {}
    for stride in (8, 16, 32):
        cells = (320 // stride) * (416 // stride)
        heads[f"cls{stride}"] = np.zeros((1, cells, 80), np.float32)
        heads[f"reg{stride}"] = np.zeros((1, cells, 44), np.float32)
    heads["cls8"][0, 10 * 52 + 20, 0] = 0.9  # a person centred on cell (row 10, column 20)
    path = constant_model(tmp_path / "n.onnx", [1, 3, "height", "width"], heads)
    detector = NanoDetDetector(open_session(path, 1))
    assert detector.free_size
    assert detector.input_size(480, 640) == (320, 416)
    assert detector.input_size(576, 768) == (320, 416)
    assert detector.input_size(1000, 100) == (416, 64)
    (found,) = detector(np.zeros((480, 640, 3), np.uint8))
    # Uniform side distributions: 5 bins x 8 px on each side of the cell centre (164, 84) in
    # the 416 x 320 input; the 640 x 480 image sits there at scale 0.65 below a 4 px band.
    expected = (np.array([124.0, 44.0, 204.0, 124.0]) - [0, 4, 0, 4]) / 0.65
    assert found.bbox == pytest.approx(expected, abs=0.01)
    assert found.score == pytest.approx(0.9)
    # A smaller input (detector_size): the longer side becomes 320 px.
    small = NanoDetDetector(open_session(path, 1), size=320)
    assert small.input_size(480, 640) == (256, 320)
    assert small.input_size(1000, 100) == (320, 32)
    with pytest.raises(ValueError, match="multiple of 32"):
        NanoDetDetector(open_session(path, 1), size=330)


def test_fixed_size_nanodet_ignores_the_input_size(tmp_path: Path) -> None:
    detector = NanoDetDetector(open_session(fake_nanodet(tmp_path / "n.onnx"), 1), size=320)
    assert detector.input_size(480, 640) == (416, 416)


@pytest.mark.parametrize("channels_first", [True, False])
def test_float_image_tensor_is_normalised_rgb_in_the_model_layout(channels_first: bool) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
    shape = (3, 5, 7) if channels_first else (5, 7, 3)
    tensor = ImageInput("x", "tensor(float)", channels_first, *shape[-2:]).tensor(rgb, mean, std)
    expected = (rgb.astype(np.float64) - mean) / std
    if channels_first:
        expected = expected.transpose(2, 0, 1)
    assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
    assert tensor.shape == (1, *expected.shape)
    assert tensor[0] == pytest.approx(expected, abs=1e-5)
    ints = ImageInput("x", "tensor(int32)", False, 5, 7).tensor(rgb)
    assert ints.dtype == np.int32 and (ints[0] == rgb).all()

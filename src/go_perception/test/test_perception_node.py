"""perception_node: conversions, newest-frame buffering, and the lifecycle node on a ROS graph.

The node tests use the ``onnx`` backend with a constant YOLO-pose model built here (one person
in every image), so they need no downloaded model and their outputs are exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State
from onnx import TensorProto, helper, numpy_helper
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from go_common import qos, topics
from go_common.image import ImageConversionError, numpy_to_compressed, numpy_to_image
from go_msgs.msg import PersonDetectionArray
from go_perception.conversions import image_to_bgr, people_from_msg, people_to_msg
from go_perception.core.appearance import DESCRIPTOR_SIZE
from go_perception.core.frame_buffer import CameraStats, LatestFrames
from go_perception.core.keypoints import Person
from go_perception.nodes.perception_node import PerceptionNode, PerceptionNodeConfig


def yolo_pose_model(path: Path) -> Path:
    """Constant YOLO-pose ONNX model: one person box centred in the 320 x 320 input."""
    rows = np.zeros((1, 56, 10), np.float32)
    rows[0, :5, 0] = [160, 160, 80, 160, 0.9]
    rows[0, 5::3, 0], rows[0, 6::3, 0], rows[0, 7::3, 0] = 150, 170, 0.7
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["rows", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo_pose",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 56, 10])],
        [numpy_helper.from_array(np.float32(0), "zero"), numpy_helper.from_array(rows, "rows")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def header(sec: int, frame_id: str = "cam_a_optical") -> Header:
    h = Header(frame_id=frame_id)
    h.stamp.sec, h.stamp.nanosec = sec, 250
    return h


def bgr_image(sec: int) -> Image:
    return numpy_to_image(np.full((240, 320, 3), 90, np.uint8), "bgr8", header(sec))


# --- conversions ---------------------------------------------------------------------------------


def test_people_round_trip_keeps_header_and_layout() -> None:
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0], kp[:, 1], kp[:, 2] = np.arange(17), np.arange(17) + 100, 0.5
    kp[9] = [40.0, 50.0, 1.0]
    person = Person(np.float32([1, 2, 30, 40]), 0.8, kp)
    msg = people_to_msg(header(7), "cam_a", 320, 240, [person])
    assert msg.header == header(7) and msg.camera_id == "cam_a"
    assert (msg.image_width, msg.image_height) == (320, 240)
    assert list(msg.people[0].keypoints[18:20]) == [40.0, 50.0]
    assert len(msg.people[0].appearance) == 0  # none given: empty, "not computed"
    look = np.full(DESCRIPTOR_SIZE, np.nan, np.float32)
    look[:3] = [0.5, 0.25, 0.25]
    dressed = people_to_msg(header(7), "cam_a", 320, 240, [person], look[None])
    assert np.array_equal(np.array(dressed.people[0].appearance), look, equal_nan=True)
    back = people_from_msg(msg)[0]
    assert back.keypoints == pytest.approx(kp)
    assert back.bbox == pytest.approx(person.bbox) and back.score == pytest.approx(0.8)


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8"])
def test_raw_encodings_become_bgr(encoding: str) -> None:
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 200  # blue
    array = {"bgr8": bgr, "rgb8": bgr[..., ::-1].copy(), "mono8": bgr[..., 0].copy()}[encoding]
    out = image_to_bgr(numpy_to_image(array, encoding))
    assert out.shape == (4, 6, 3)
    assert out[0, 0, 0] == 200 and (encoding == "mono8" or out[0, 0, 2] == 0)


def test_compressed_image_becomes_bgr() -> None:
    msg = numpy_to_compressed(np.full((32, 48, 3), 120, np.uint8))
    assert image_to_bgr(msg).shape == (32, 48, 3)


def _bad_images() -> list[tuple[str, Image | CompressedImage]]:
    depth = numpy_to_image(np.zeros((4, 4), np.uint16), "16UC1")
    empty = Image(encoding="bgr8", height=0, width=0, step=0)
    truncated = bgr_image(1)
    truncated.data = bytes(truncated.data)[:100]
    good = numpy_to_compressed(np.full((32, 48, 3), 120, np.uint8))
    corrupt = CompressedImage(format="jpeg", data=b"\xff\xd8" + bytes(range(256)) * 4)
    cut = CompressedImage(format=good.format, data=bytes(good.data)[: len(good.data) // 2])
    return [
        ("16UC1", depth),
        ("empty", empty),
        ("truncated", truncated),
        ("corrupt", corrupt),
        ("cut", cut),
    ]


@pytest.mark.parametrize(
    ("name", "msg"), _bad_images(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_bad_images_raise_a_conversion_error(name: str, msg: Image | CompressedImage) -> None:
    with pytest.raises(ImageConversionError):
        image_to_bgr(msg)


# --- frame buffer ---------------------------------------------------------------------------------


def test_latest_frames_keeps_the_newest_and_counts_drops() -> None:
    frames: LatestFrames[int] = LatestFrames(["a", "b"])
    assert not frames.put("a", 1, now=0.0)
    assert frames.put("a", 2, now=0.1)  # replaces 1: a drop
    frames.put("b", 10, now=0.05)
    assert frames.put("a", 3, now=0.2)
    assert frames.dropped == {"a": 2, "b": 0} and frames.received == {"a": 3, "b": 1}
    # "a" has waited since 0.0 (its slot keeps its place), so it goes first, with its newest frame.
    assert frames.take() == ("a", 3, 0.0)
    assert frames.take() == ("b", 10, 0.05)
    assert frames.take() is None
    with pytest.raises(KeyError):
        frames.put("c", 1, now=0.0)


def test_camera_stats_rate_and_overhead() -> None:
    stats = CameraStats(window=10)
    for i in range(21):
        stats.add(done=i * 0.1, latency=0.05, model=0.04, work=0.044, cpu=0.03)
    assert stats.processed == 21 and len(stats.model) == 10
    assert stats.rate_hz(now=2.0) == pytest.approx(10.0)
    summary = stats.summary()
    assert summary["model_ms"] == pytest.approx(40.0)
    assert summary["overhead_pct"] == pytest.approx(10.0)
    assert summary["cpu_ms"] == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"camera_ids": []}, "camera_ids"),
        ({"camera_ids": ["a", "a"]}, "duplicates"),
        ({"camera_ids": ["bad id"]}, "camera id"),
        ({"transport": "theora"}, "transport"),
        ({"backend": "magic"}, "backend"),
        ({"score_threshold": 0.1}, "candidate_threshold"),
        ({"diagnostics_period_s": 0.0}, "diagnostics_period_s"),
        ({"pose_precision": "fp16"}, "pose_precision"),
        ({"detector_size": 400}, "detector_size"),
        ({"pose_nms_min_score": 2.0}, "pose_nms_min_score"),
        ({"candidate_overlap": 1.5}, "candidate_overlap"),
    ],
)
def test_bad_node_config_is_rejected(change: dict, match: str) -> None:
    values = dict(
        camera_ids=["cam_a"],
        transport="raw",
        backend="default",
        models_dir="",
        detector_model="",
        pose_model="",
        detector_format="auto",
        box_format="cxcywh",
        person_class=0,
        score_threshold=0.4,
        candidate_threshold=0.25,
        min_pose_confidence=0.45,
        candidate_overlap=0.3,
        nms_iou=0.5,
        crop_padding=1.1,
        input_mean=[0.0, 0.0, 0.0],
        input_std=[255.0, 255.0, 255.0],
        threads=1,
        max_people=20,
        flip_test=True,
        detector_precision="int8",
        pose_precision="int8",
        check_precision="fp32",
        detector_size=416,
        pose_nms_fraction=0.8,
        pose_nms_scale=0.15,
        pose_nms_min_score=0.25,
        pose_nms_min_keypoints=5,
        diagnostics_period_s=1.0,
        warn_period_s=5.0,
    )
    backend = PerceptionNodeConfig(**values).backend_config()
    assert (backend.detector_precision, backend.pose_precision) == ("int8", "int8")
    assert (backend.check_precision, backend.detector_size) == ("fp32", 416)
    nms = (
        backend.pose_nms_fraction,
        backend.pose_nms_scale,
        backend.pose_nms_min_score,
        backend.pose_nms_min_keypoints,
    )
    assert nms == (0.8, 0.15, 0.25, 5)
    with pytest.raises(ValueError, match=match):
        PerceptionNodeConfig(**{**values, **change})


# --- the node on a ROS graph ----------------------------------------------------------------------


@pytest.fixture
def ros() -> Iterator[Context]:
    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.shutdown(context=context)


def _node(context: Context, overrides: list[Parameter]) -> PerceptionNode:
    return PerceptionNode(start_worker=False, context=context, parameter_overrides=overrides)


def _spin_until(
    executor: SingleThreadedExecutor, done: Callable[[], object], timeout: float = 5.0
) -> None:
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
    assert done(), "timed out waiting on the ROS graph"


@pytest.mark.ros
def test_missing_model_fails_configure(ros: Context, tmp_path: Path) -> None:
    node = _node(
        ros,
        [
            Parameter("backend", value="onnx"),
            Parameter("detector_model", value=str(tmp_path / "absent.onnx")),
        ],
    )
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.estimator is None
    finally:
        node.destroy_node()


@pytest.mark.ros
def test_node_publishes_people_drops_stale_frames_and_reports(ros: Context, tmp_path: Path) -> None:
    model = yolo_pose_model(tmp_path / "yolo_pose.onnx")
    node = _node(
        ros,
        [
            Parameter("camera_ids", value=["cam_a", "cam_b"]),
            Parameter("backend", value="onnx"),
            Parameter("detector_model", value=str(model)),
            Parameter("warn_period_s", value=0.0),
        ],
    )
    peer = Node("peer", context=ros)
    executor = SingleThreadedExecutor(context=ros)
    executor.add_node(node)
    executor.add_node(peer)
    received: dict[str, list[PersonDetectionArray]] = {"cam_a": [], "cam_b": []}
    diagnostics: list[DiagnosticArray] = []
    for cam in received:
        peer.create_subscription(
            PersonDetectionArray, topics.camera_people(cam), received[cam].append, qos.EVENTS
        )
    peer.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, diagnostics.append, qos.EVENTS)
    pub_a = peer.create_publisher(Image, topics.camera_image("cam_a"), qos.SENSOR)
    pub_b = peer.create_publisher(Image, topics.camera_image("cam_b"), qos.SENSOR)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert node._state_machine.current_state[0] == State.PRIMARY_STATE_ACTIVE
        _spin_until(executor, lambda: pub_a.get_subscription_count() > 0)
        _spin_until(executor, lambda: pub_b.get_subscription_count() > 0)

        # Three frames of cam_a arrive before the worker runs: only the newest is processed.
        for sec in (1, 2, 3):
            pub_a.publish(bgr_image(sec))
            _spin_until(executor, lambda sec=sec: node.frames.received["cam_a"] == sec)
        pub_b.publish(numpy_to_image(np.zeros((240, 320), np.uint8), "mono8", header(9, "b")))
        _spin_until(executor, lambda: node.frames.received["cam_b"] == 1)
        assert node.process_next() and node.process_next() and not node.process_next()
        _spin_until(executor, lambda: received["cam_a"] and received["cam_b"])
        out = received["cam_a"][0]
        assert out.header == header(3)
        assert out.camera_id == "cam_a" and (out.image_width, out.image_height) == (320, 240)
        (person,) = out.people
        assert len(person.appearance) == DESCRIPTOR_SIZE  # clothing colour rides along
        # The 320 x 240 image is letterboxed into 320 x 320 (40 px bands): the box centre
        # (160, 160) of the model is image pixel (160, 120).
        assert list(person.bbox) == pytest.approx([120.0, 40.0, 200.0, 200.0])
        assert person.keypoints[0:2] == pytest.approx([150.0, 130.0])
        assert received["cam_b"][0].header == header(9, "b")
        assert node.frames.dropped == {"cam_a": 2, "cam_b": 0}

        # Bad frames are skipped and counted; the node keeps going.
        bad = Image(encoding="yuv422", height=2, width=2, step=4, data=bytes(8))
        bad.header = header(4)
        pub_a.publish(bad)
        _spin_until(executor, lambda: node.frames.received["cam_a"] == 4)
        assert node.process_next()
        pub_a.publish(bgr_image(5))
        _spin_until(executor, lambda: node.frames.received["cam_a"] == 5)
        assert node.process_next()
        _spin_until(executor, lambda: len(received["cam_a"]) == 2)
        assert received["cam_a"][1].header == header(5)

        node.publish_diagnostics()
        _spin_until(executor, lambda: bool(diagnostics))
        status = {s.hardware_id: s for s in diagnostics[-1].status}
        values_a = {kv.key: kv.value for kv in status["cam_a"].values}
        assert status["cam_a"].level == status["cam_a"].WARN and "yuv422" in status["cam_a"].message
        assert values_a["dropped"] == "2" and values_a["bad_frames"] == "1"
        assert values_a["processed"] == "2" and values_a["received"] == "5"
        assert float(values_a["model_ms"]) > 0.0
        assert status["cam_b"].level == status["cam_b"].OK

        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.estimator is None
    finally:
        executor.shutdown()
        peer.destroy_node()
        node.destroy_node()


@pytest.mark.ros
def test_worker_thread_serves_compressed_images(ros: Context, tmp_path: Path) -> None:
    model = yolo_pose_model(tmp_path / "yolo_pose.onnx")
    node = PerceptionNode(
        context=ros,
        parameter_overrides=[
            Parameter("camera_ids", value=["cam_c"]),
            Parameter("transport", value="compressed"),
            Parameter("backend", value="onnx"),
            Parameter("detector_model", value=str(model)),
        ],
    )
    peer = Node("peer", context=ros)
    executor = SingleThreadedExecutor(context=ros)
    executor.add_node(node)
    executor.add_node(peer)
    received: list[PersonDetectionArray] = []
    peer.create_subscription(
        PersonDetectionArray, topics.camera_people("cam_c"), received.append, qos.EVENTS
    )
    pub = peer.create_publisher(
        CompressedImage, topics.camera_image_compressed("cam_c"), qos.SENSOR
    )
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        _spin_until(executor, lambda: pub.get_subscription_count() > 0)
        jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 80, np.uint8))[1].tobytes()
        msg = CompressedImage(format="jpeg", data=jpeg)
        msg.header = header(11, "cam_c_optical")
        pub.publish(msg)
        _spin_until(executor, lambda: bool(received))
        assert received[0].header == header(11, "cam_c_optical")
        assert len(received[0].people) == 1
    finally:
        node.trigger_shutdown()
        executor.shutdown()
        peer.destroy_node()
        node.destroy_node()

"""Driver nodes on a ROS graph: camera on a video file and a missing device, scale on a pty,
gate from the topic and a keyboard-wedge file. Each test owns its rclpy context."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from go_common import qos, topics
from go_common.image import compressed_to_numpy, image_to_numpy
from go_msgs.msg import GateEvent, LoadCellBoard
from go_sensors.nodes.camera_node import CameraNode
from go_sensors.nodes.gate_node import GateNode, gate_scans_topic
from go_sensors.nodes.scale_node import ScaleNode

pytestmark = pytest.mark.ros

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DATA = Path(__file__).parent / "data" / "load_cell_board.txt"


@pytest.fixture
def context() -> Iterator[Context]:
    ctx = Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        rclpy.try_shutdown(context=ctx)


class Collector:
    """Subscribes to topics on a helper node and keeps what arrives."""

    def __init__(self, context: Context) -> None:
        self.node = Node("collector", context=context)
        self.msgs: dict[str, list] = {}

    def listen(self, msg_type: type, topic: str, profile: object) -> list:
        box: list = []
        self.msgs[topic] = box
        self.node.create_subscription(msg_type, topic, box.append, profile)
        return box


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
        if done():
            return True
    return False


def _start(node: object, executor: SingleThreadedExecutor) -> None:
    executor.add_node(node)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS


def _statuses(diags: list[DiagnosticArray], name_part: str) -> list[DiagnosticStatus]:
    return [s for d in diags for s in d.status if name_part in s.name]


@pytest.mark.skipif(not VTEST.is_file(), reason="opencv-doc example video not installed")
def test_camera_node_publishes_a_video_file(context: Context, tmp_path: Path) -> None:
    calib = tmp_path / "cam.yaml"
    calib.write_text(
        "image_width: 768\nimage_height: 576\ncamera_name: cam_test\n"
        "camera_matrix: {rows: 3, cols: 3, data: [600, 0, 384, 0, 600, 288, 0, 0, 1]}\n"
        "distortion_model: plumb_bob\n"
        "distortion_coefficients: {rows: 1, cols: 5, data: [-0.1, 0.01, 0, 0, 0]}\n"
    )
    params = [
        Parameter("camera_id", value="cam_test"),
        Parameter("source", value=str(VTEST)),
        Parameter("calibration_file", value=str(calib)),
        Parameter("diagnostics_period_s", value=0.2),
    ]
    node = CameraNode(context=context, parameter_overrides=params)
    col = Collector(context)
    raw = col.listen(Image, topics.camera_image("cam_test"), qos.SENSOR)
    jpeg = col.listen(CompressedImage, topics.camera_image_compressed("cam_test"), qos.SENSOR)
    info = col.listen(CameraInfo, topics.camera_info("cam_test"), qos.SENSOR)
    diags = col.listen(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(col.node)
    try:
        _start(node, executor)

        def healthy() -> list[DiagnosticStatus]:
            return [s for s in _statuses(diags, "cam_test") if s.level == DiagnosticStatus.OK]

        ok = spin_until(
            executor,
            lambda: len(raw) >= 3 and len(jpeg) >= 3 and len(info) >= 3 and healthy(),
            timeout=20.0,
        )
        assert ok, (len(raw), len(jpeg), len(info), [s.message for s in diags[-1].status])
        image = image_to_numpy(raw[0])
        assert image.shape == (576, 768, 3) and raw[0].encoding == "bgr8"
        assert raw[0].header.frame_id == "cam_test_optical"
        decoded = compressed_to_numpy(jpeg[0])
        assert decoded.shape == image.shape
        assert np.abs(decoded.astype(int) - image_to_numpy(raw[0]).astype(int)).mean() < 8
        assert info[0].k[0] == 600.0 and info[0].d[0] == -0.1 and info[0].width == 768
        assert info[0].header.frame_id == "cam_test_optical"
        status = healthy()[-1]
        values = {kv.key: kv.value for kv in status.values}
        assert int(values["frames"]) >= 1 and values["connected"] == "True"
    finally:
        node.trigger_shutdown()
        node.destroy_node()
        col.node.destroy_node()
        executor.shutdown()


def test_camera_node_with_a_missing_device_reports_and_retries(context: Context) -> None:
    params = [
        Parameter("camera_id", value="cam_gone"),
        Parameter("source", value="/dev/video_go_missing"),
        Parameter("retry_initial_s", value=0.05),
        Parameter("retry_max_s", value=0.1),
        Parameter("diagnostics_period_s", value=0.1),
    ]
    node = CameraNode(context=context, parameter_overrides=params)
    col = Collector(context)
    diags = col.listen(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(col.node)
    try:
        _start(node, executor)
        assert spin_until(executor, lambda: len(_statuses(diags, "cam_gone")) >= 3, 10.0)
        assert spin_until(executor, lambda: node.capture.stats.open_failures >= 3, 10.0)
        status = _statuses(diags, "cam_gone")[-1]
        assert status.level == DiagnosticStatus.ERROR
        assert "video_go_missing" in status.message
        assert node._thread is not None and node._thread.is_alive()  # still trying
    finally:
        node.trigger_shutdown()
        node.destroy_node()
        col.node.destroy_node()
        executor.shutdown()


def test_camera_node_rejects_bad_parameters_without_exiting(context: Context) -> None:
    params = [Parameter("camera_id", value="bad id"), Parameter("autostart", value=False)]
    node = CameraNode(context=context, parameter_overrides=params)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "camera id" in node._config_error
    finally:
        node.destroy_node()


def test_scale_node_on_a_pty_publishes_calibrated_batches(context: Context) -> None:
    master, slave = os.openpty()
    params = [
        Parameter("board_id", value="shelf_A1"),
        Parameter("port", value=os.ttyname(slave)),
        Parameter("channel_ids", value=["bin_a", "bin_b", "bin_c", "bin_d"]),
        Parameter("scale_g_per_count", value=[0.002]),
        Parameter("tare_samples", value=30),
        Parameter("diagnostics_period_s", value=0.1),
    ]
    node = ScaleNode(context=context, parameter_overrides=params)
    col = Collector(context)
    boards = col.listen(LoadCellBoard, topics.SHELVES_LOAD_CELLS, qos.EVENTS)
    diags = col.listen(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(col.node)
    try:
        _start(node, executor)
        assert spin_until(executor, lambda: node.source.status.connected, 5.0)
        payload = DATA.read_bytes()
        for start in range(0, len(payload), 256):
            os.write(master, payload[start : start + 256])
            executor.spin_once(timeout_sec=0.005)
        assert spin_until(executor, lambda: len(boards) >= 29, 10.0), len(boards)
        msg = boards[-1]
        assert msg.board_id == "shelf_A1" and list(msg.channel_ids)[2] == "bin_c"
        assert msg.num_samples == 3 and len(msg.grams) == 12
        assert msg.sample_period == pytest.approx(1 / 60)
        grams = np.array(msg.grams).reshape(3, 4)
        assert np.nanmedian(grams[:, 2]) == pytest.approx(350.0, abs=2.0)
        assert spin_until(
            executor,
            lambda: any(
                {kv.key: kv.value for kv in s.values}.get("garbage_lines") == "4"
                for s in _statuses(diags, "shelf_A1")
            ),
            5.0,
        )
        assert _statuses(diags, "shelf_A1")[-1].level == DiagnosticStatus.WARN
    finally:
        node.trigger_shutdown()
        node.destroy_node()
        col.node.destroy_node()
        executor.shutdown()
        os.close(master)
        os.close(slave)


def test_scale_node_with_a_missing_port_reports_an_error(context: Context) -> None:
    params = [
        Parameter("port", value="/dev/ttyUSB_go_missing"),
        Parameter("diagnostics_period_s", value=0.1),
        Parameter("retry_initial_s", value=0.05),
    ]
    node = ScaleNode(context=context, parameter_overrides=params)
    col = Collector(context)
    diags = col.listen(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(col.node)
    try:
        _start(node, executor)
        assert spin_until(executor, lambda: len(_statuses(diags, "board_0")) >= 2, 5.0)
        status = _statuses(diags, "board_0")[-1]
        assert status.level == DiagnosticStatus.ERROR and "ttyUSB_go_missing" in status.message
        assert node.source.status.failures >= 2
    finally:
        node.trigger_shutdown()
        node.destroy_node()
        col.node.destroy_node()
        executor.shutdown()


def test_gate_node_from_topic_and_keyboard_wedge_file(context: Context, tmp_path: Path) -> None:
    wedge = tmp_path / "scanner.txt"
    wedge.write_text("")
    params = [
        Parameter("gate_id", value="entry_0"),
        Parameter("input_kind", value="file"),
        Parameter("port", value=str(wedge)),
        Parameter("position", value=[1.0, 0.5, 0.0]),
        Parameter("diagnostics_period_s", value=0.1),
    ]
    node = GateNode(context=context, parameter_overrides=params)
    col = Collector(context)
    events = col.listen(GateEvent, topics.GATES_EVENTS, qos.EVENTS)
    diags = col.listen(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
    scans = col.node.create_publisher(String, gate_scans_topic("entry_0"), qos.EVENTS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(col.node)
    try:
        _start(node, executor)
        assert spin_until(executor, lambda: node.source.status.connected, 5.0)
        assert spin_until(executor, lambda: scans.get_subscription_count() > 0, 5.0)
        scans.publish(String(data="GO1:family42:3"))
        scans.publish(String(data="not a code"))
        with wedge.open("a") as f:
            f.write("GO1:walker_7\nGO1:walker_7\n")
        assert spin_until(executor, lambda: len(events) >= 2, 5.0)
        spin_until(executor, lambda: False, 0.3)
        assert len(events) == 2  # the repeated wedge scan is one event
        by_token = {e.session_token: e for e in events}
        assert by_token["family42"].group_size == 3
        assert by_token["family42"].kind == GateEvent.KIND_ENTRY
        assert by_token["walker_7"].position.x == 1.0
        assert by_token["walker_7"].header.frame_id == "store"
        assert spin_until(
            executor,
            lambda: any(
                s.level == DiagnosticStatus.WARN and "rejected" in s.message
                for s in _statuses(diags, "entry_0")
            ),
            5.0,
        )
    finally:
        node.trigger_shutdown()
        node.destroy_node()
        col.node.destroy_node()
        executor.shutdown()

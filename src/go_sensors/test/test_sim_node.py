"""sim_node on a ROS graph: /clock, load cells, latched store, camera info, ground truth; CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from go_common import qos, topics
from go_msgs.msg import GateEvent, LoadCellBoard, StoreLayout
from go_sensors.cli.sim import main as sim_main
from go_sensors.nodes.sim_node import SimNode

pytestmark = pytest.mark.ros


def test_sim_node_publishes_sensors_and_truth(tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.jsonl"
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    try:
        sim = SimNode(
            context=context,
            parameter_overrides=[
                Parameter("scenario", value="single_pick"),
                Parameter("rate", value=0.0),
                Parameter("duration", value=8.0),
                Parameter("step_hz", value=5.0),
                Parameter("render_images", value=False),
                Parameter("ground_truth_file", value=str(truth_file)),
            ],
        )
        probe = rclpy.create_node("probe", context=context)
        nodes = [sim, probe]
        got: dict[str, list] = {k: [] for k in ("clock", "cells", "gates", "info", "gt", "tf")}
        layouts: list[StoreLayout] = []
        probe.create_subscription(Clock, topics.CLOCK, got["clock"].append, qos.SENSOR)
        probe.create_subscription(
            LoadCellBoard, topics.SHELVES_LOAD_CELLS, got["cells"].append, qos.EVENTS
        )
        probe.create_subscription(GateEvent, topics.GATES_EVENTS, got["gates"].append, qos.EVENTS)
        probe.create_subscription(
            CameraInfo, topics.camera_info("cam_front"), got["info"].append, qos.SENSOR
        )
        probe.create_subscription(
            String, topics.ground_truth("events"), got["gt"].append, qos.EVENTS
        )
        probe.create_subscription(StoreLayout, topics.STORE_LAYOUT, layouts.append, qos.STATE)
        probe.create_subscription(TFMessage, topics.TF_STATIC, got["tf"].append, qos.STATIC_TF)
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        for _ in range(3000):
            executor.spin_once(timeout_sec=0.01)
            if sim.done.done() and got["cells"] and got["gates"]:
                break
        for _ in range(50):  # drain what is in flight
            executor.spin_once(timeout_sec=0.01)
        assert sim.done.done()
        assert got["clock"], "no /clock"
        assert got["cells"], "no LoadCellBoard"
        cell = got["cells"][0]
        assert 1 <= cell.num_samples <= 4
        assert len(cell.grams) == cell.num_samples * len(cell.channel_ids)
        assert cell.header.frame_id == "store"
        stamps = [c.clock.sec + c.clock.nanosec * 1e-9 for c in got["clock"]]
        assert stamps == sorted(stamps) and stamps[-1] == pytest.approx(8.0)
        assert any(g.kind == GateEvent.KIND_ENTRY and g.session_token for g in got["gates"])
        assert got["info"] and got["info"][0].header.frame_id == "cam_front_optical"
        assert layouts and len(layouts[0].bins) == 12
        frames = {t.child_frame_id for m in got["tf"] for t in m.transforms}
        assert frames == {"cam_front_optical", "cam_back_optical", "cam_aisle_optical"}
        kinds = {json.loads(m.data)["type"] for m in got["gt"]}
        assert "pick" in kinds and "gate" in kinds
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
    lines = [json.loads(line) for line in truth_file.read_text().splitlines()]
    assert lines[0]["type"] == "meta" and lines[0]["scenario"] == "single_pick"
    assert any(r["type"] == "pick" and r["sku"] == "Arla-Standard-Milk" for r in lines)


def test_cli_lists_and_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert sim_main(["--list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {"small", "convenience"} <= set(listing["stores"])
    assert "random_busy" in listing["scenarios"]
    assert sim_main(["--scenario", "nope"]) == 2
    assert "known: adjacent_reach" in capsys.readouterr().err
    assert sim_main(["--store", "mall", "--scenario", "single_pick"]) == 2
    assert "unknown store" in capsys.readouterr().err
    assert sim_main(["--rate", "-1"]) == 2


def test_cli_runs_a_short_simulation(tmp_path: Path) -> None:
    truth = tmp_path / "gt.jsonl"
    rc = sim_main(
        ["--scenario", "single_pick", "--rate", "0", "--duration", "2", "--no-render",
         "--step-hz", "5", "--ground-truth", str(truth), "--no-progress"]
    )  # fmt: skip
    assert rc == 0
    first = json.loads(truth.read_text().splitlines()[0])
    assert first["type"] == "meta" and first["duration"] == 30.0


def test_sim_node_publishes_rendered_images() -> None:
    pytest.importorskip("go_sensors.core.render")
    from sensor_msgs.msg import CompressedImage, Image

    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    try:
        sim = SimNode(
            context=context,
            parameter_overrides=[
                Parameter("scenario", value="single_pick"),
                Parameter("rate", value=0.0),
                Parameter("duration", value=0.4),
                Parameter("step_hz", value=5.0),
            ],
        )
        probe = rclpy.create_node("probe_images", context=context)
        nodes = [sim, probe]
        raw: list[Image] = []
        jpeg: list[CompressedImage] = []
        probe.create_subscription(Image, topics.camera_image("cam_back"), raw.append, qos.SENSOR)
        probe.create_subscription(
            CompressedImage, topics.camera_image_compressed("cam_back"), jpeg.append, qos.SENSOR
        )
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        for _ in range(500):
            executor.spin_once(timeout_sec=0.01)
            if sim.done.done() and raw and jpeg:
                break
        assert raw and jpeg
        assert (raw[0].width, raw[0].height, raw[0].encoding) == (640, 480, "bgr8")
        assert raw[0].header.frame_id == "cam_back_optical"
        assert "jpeg" in jpeg[0].format and len(jpeg[0].data) > 1000
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_bad_parameter_is_named() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(ValueError, match="rate must be >= 0"):
            SimNode(context=context, parameter_overrides=[Parameter("rate", value=-2.0)])
        with pytest.raises(ValueError, match=r"samples_per_message must be 1\.\.16"):
            SimNode(
                context=context, parameter_overrides=[Parameter("samples_per_message", value=0)]
            )
    finally:
        rclpy.try_shutdown(context=context)

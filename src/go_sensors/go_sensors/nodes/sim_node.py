"""sim_node: the store simulator on the ROS graph, publishing exactly what the real drivers do.

Drives itself on a wall-clock timer paced by the ``rate`` real-time factor; every tick advances
simulated time by one step and publishes, stamped with simulated time: ``/clock``, load cells
(``shelves/load_cells``), gate events (``gates/events``), camera_info and images per camera,
and the ground truth (``ground_truth/*``, JSON in std_msgs/String, plus a JSON-lines file).
Static data goes out once, latched: ``/tf_static`` (store -> <cam>_optical), ``store/layout``
and ``store/catalogue``. Consumers run with ``use_sim_time`` to follow ``/clock``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.task import Future
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header, String

from go_common import qos, topics
from go_common.conversions import camera_info_msg, seconds_to_stamp
from go_common.core.store import StoreConfigError
from go_common.core.tf_tree import calibration_from_store
from go_common.image import numpy_to_compressed, numpy_to_image
from go_common.params import declare_config
from go_common.tf_tree import StaticTransformBroadcaster, calibration_transforms
from go_msgs.msg import Catalogue, GateEvent, LoadCellBoard, StoreLayout
from go_sensors.conversions import (
    catalogue_msg,
    gate_event_msg,
    json_msg,
    load_cell_msgs,
    store_layout_msg,
)
from go_sensors.core.scenario import ScenarioError
from go_sensors.core.simulator import SimStep, Simulator, meta_record, step_records

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "sim.yaml"
TRUTH_STREAMS = ("events", "receipts", "tracks")


@dataclass(frozen=True)
class SimConfig:
    """Parameters of sim_node (meaning and defaults: config/sim.yaml)."""

    store: str
    scenario: str
    seed: int
    rate: float
    duration: float
    step_hz: float
    render_images: bool
    publish_raw: bool
    publish_compressed: bool
    jpeg_quality: int
    samples_per_message: int
    ground_truth_file: str
    truth_tracks_every: int

    def __post_init__(self) -> None:
        if not (self.rate >= 0.0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be >= 0, got {self.rate}")
        if not (self.duration >= 0.0 and math.isfinite(self.duration)):
            raise ValueError(f"duration must be >= 0, got {self.duration}")
        if not self.step_hz > 0.0:
            raise ValueError(f"step_hz must be > 0, got {self.step_hz}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        if not 1 <= self.samples_per_message <= 16:
            raise ValueError(f"samples_per_message must be 1..16, got {self.samples_per_message}")
        if self.truth_tracks_every < 1:
            raise ValueError(f"truth_tracks_every must be >= 1, got {self.truth_tracks_every}")


class SimNode(Node):
    """Runs one simulated scenario; ``done`` completes when its duration has been simulated."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("sim", **node_kwargs)
        cfg = declare_config(self, SimConfig, CONFIG_FILE, "sim")
        self.config = cfg
        self.sim = Simulator(cfg.store, cfg.scenario, cfg.seed)
        self.duration = cfg.duration or self.sim.duration
        self.step_s = 1.0 / cfg.step_hz
        self.steps_total = round(self.duration / self.step_s)
        self.step_index = 0
        self.done = Future()
        store = self.sim.store
        self.renderer = self._make_renderer() if cfg.render_images else None

        self._clock_pub = self.create_publisher(Clock, topics.CLOCK, qos.SENSOR)
        self._cells = self.create_publisher(LoadCellBoard, topics.SHELVES_LOAD_CELLS, qos.EVENTS)
        self._gates = self.create_publisher(GateEvent, topics.GATES_EVENTS, qos.EVENTS)
        self._layout = self.create_publisher(StoreLayout, topics.STORE_LAYOUT, qos.STATE)
        self._catalogue = self.create_publisher(Catalogue, topics.STORE_CATALOGUE, qos.STATE)
        self._truth = {
            s: self.create_publisher(String, topics.ground_truth(s), qos.EVENTS)
            for s in TRUTH_STREAMS
        }
        self._info = {}
        self._raw = {}
        self._jpeg = {}
        for cam in sorted(store.cameras):
            self._info[cam] = self.create_publisher(CameraInfo, topics.camera_info(cam), qos.SENSOR)
            if self.renderer is not None and cfg.publish_raw:
                self._raw[cam] = self.create_publisher(Image, topics.camera_image(cam), qos.SENSOR)
            if self.renderer is not None and cfg.publish_compressed:
                self._jpeg[cam] = self.create_publisher(
                    CompressedImage, topics.camera_image_compressed(cam), qos.SENSOR
                )
        self._calibrations = calibration_from_store(store)
        self._tf = StaticTransformBroadcaster(self)
        self._tf.send_transform(calibration_transforms(self._calibrations))
        self._layout.publish(store_layout_msg(store))
        self._catalogue.publish(catalogue_msg(store))

        self._truth_file: IO[str] | None = None
        if cfg.ground_truth_file:
            path = Path(cfg.ground_truth_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._truth_file = path.open("w")
            self._truth_file.write(json.dumps(meta_record(self.sim)) + "\n")
        period = self.step_s / cfg.rate if cfg.rate > 0.0 else 1e-4
        self._step_timer = self.create_timer(period, self._tick)
        self._diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
        self._wall = time.monotonic()
        self._wall_start = self._wall
        self._sim_at_report = 0.0
        self._diag_timer = self.create_timer(1.0, self._report)
        self.get_logger().info(
            f"simulating '{self.sim.scenario.name}' in store '{store.store_id}' (seed {cfg.seed}) "
            f"for {self.duration:.1f} s at {cfg.rate:g}x, images "
            f"{'on' if self.renderer is not None else 'off'}"
        )

    def _report(self) -> None:
        """Diagnostics once a wall second: simulated time and the real-time factor achieved."""
        now = time.monotonic()
        t = self.step_index * self.step_s
        factor = (t - self._sim_at_report) / max(now - self._wall, 1e-6)
        self._wall, self._sim_at_report = now, t
        cfg = self.config
        lagging = cfg.rate > 0.0 and factor < 0.8 * cfg.rate and not self.done.done()
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if lagging else DiagnosticStatus.OK,
            name="sim",
            hardware_id=self.sim.store.store_id,
            message="slower than the requested rate" if lagging else "running",
            values=[
                KeyValue(key="scenario", value=self.sim.scenario.name),
                KeyValue(key="sim_time_s", value=f"{t:.2f}"),
                KeyValue(key="duration_s", value=f"{self.duration:.2f}"),
                KeyValue(key="real_time_factor", value=f"{factor:.2f}"),
                KeyValue(key="requested_rate", value=f"{cfg.rate:g}"),
                KeyValue(key="cameras_down", value=",".join(sorted(self.sim.cameras_down(t)))),
            ],
        )
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = seconds_to_stamp(t)
        self._diagnostics.publish(msg)
        if lagging:
            self.get_logger().warning(
                f"running at {factor:.2f}x, requested {cfg.rate:g}x", throttle_duration_sec=10.0
            )

    def _make_renderer(self) -> Any:
        try:
            from go_sensors.core.render import Renderer  # heavy and optional: only when asked
        except ImportError as error:
            self.get_logger().warning(f"no renderer ({error}); publishing camera_info only")
            return None
        renderer = Renderer(self.sim.store)
        # Painting the static store and the facings takes seconds per camera: do it before the
        # clock starts so that the first simulated seconds run at the requested rate.
        self.get_logger().info(f"preparing the renderer for {len(self.sim.store.cameras)} cameras")
        world = self.sim.world_at(0.0)
        for cam in sorted(self.sim.store.cameras):
            renderer.render(cam, world)
        return renderer

    def _tick(self) -> None:
        if self.done.done():
            return
        self.step_index += 1
        t = self.step_index * self.step_s
        step = self.sim.step(t)
        self._publish(step)
        if self.step_index >= self.steps_total:
            self._step_timer.cancel()
            self._report()
            self.close()
            self.done.set_result(self.step_index)

    def _publish(self, step: SimStep) -> None:
        stamp = seconds_to_stamp(step.t)
        self._clock_pub.publish(Clock(clock=stamp))
        for batch in step.boards:
            for msg in load_cell_msgs(batch, self.config.samples_per_message):
                self._cells.publish(msg)
        for crossing in step.gate_events:
            self._gates.publish(gate_event_msg(crossing))
        self._publish_cameras(step)
        with_tracks = self.step_index % self.config.truth_tracks_every == 0
        records = step_records(step, with_tracks)
        for record in records:
            kind = record["type"]
            stream = "tracks" if kind == "track" else "receipts" if kind == "receipt" else "events"
            self._truth[stream].publish(json_msg(record))
        if self._truth_file is not None:
            for record in records:
                self._truth_file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _publish_cameras(self, step: SimStep) -> None:
        stamp_ns = round(step.t * 1e9)
        for cam, camera in sorted(self.sim.store.cameras.items()):
            # A camera publishes when its own frame clock ticks within this step.
            if (
                math.floor(step.t * camera.rate_hz + 1e-9)
                <= math.floor(step.t_prev * camera.rate_hz + 1e-9)
                and step.t_prev > 0.0
            ):
                continue
            if cam in step.cameras_down:
                continue
            self._info[cam].publish(camera_info_msg(self._calibrations[cam], stamp_ns))
            if self.renderer is None or not (self._raw or self._jpeg):
                continue
            image = self.renderer.render(cam, step.world)
            header = Header(stamp=seconds_to_stamp(step.t), frame_id=camera.frame_id)
            if cam in self._raw:
                self._raw[cam].publish(numpy_to_image(image, "bgr8", header))
            if cam in self._jpeg:
                self._jpeg[cam].publish(
                    numpy_to_compressed(image, "bgr8", self.config.jpeg_quality, header)
                )

    def close(self) -> None:
        """Flush and close the ground-truth file (idempotent)."""
        if self._truth_file is not None:
            self._truth_file.close()
            self._truth_file = None

    def destroy_node(self) -> None:
        self.close()
        self._tf.destroy()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv)
    node = None
    try:
        node = SimNode()
        rclpy.spin_until_future_complete(node, node.done)
    except (ScenarioError, StoreConfigError, ValueError) as error:
        rclpy.logging.get_logger("sim").error(str(error))
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

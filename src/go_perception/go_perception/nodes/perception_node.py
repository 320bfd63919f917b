"""perception_node: people and COCO-17 skeletons from one or more cameras.

Lifecycle node. configure: reads the parameters (config/perception.yaml) and loads the models;
a missing model fails the transition with its path in the log. activate: subscribes
``cameras/<cam>/image_raw`` (bgr8, rgb8, mono8) or ``.../compressed`` for each camera and starts
the worker. Each camera keeps only its newest unprocessed frame (older ones are dropped, not
queued) and one frame is processed at a time; the result goes to ``cameras/<cam>/people``
(go_msgs/PersonDetectionArray) with the image's header unchanged. Rate, latency, model time,
node overhead, drops and bad frames per camera go to /diagnostics. Bad frames (wrong encoding,
zero size, truncated, corrupt JPEG) are skipped with a throttled warning.

Run alone, ``main`` configures and activates the node (``autostart``, as a lifecycle manager
would); with ``autostart:=false`` it waits for an external manager.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CompressedImage, Image

from go_common import qos, topics
from go_common.image import ImageConversionError
from go_common.lifecycle import run_lifecycle_node
from go_common.params import declare_config
from go_msgs.msg import PersonDetectionArray
from go_perception.conversions import image_to_bgr, people_to_msg
from go_perception.core.appearance import describe_people
from go_perception.core.backends import BackendConfig, PoseEstimator, make_estimator
from go_perception.core.frame_buffer import CameraStats, LatestFrames
from go_perception.core.onnx_io import ModelError

NODE_NAME = "perception_node"
CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "perception.yaml"
TRANSPORTS = ("raw", "compressed")


@dataclass(frozen=True)
class PerceptionNodeConfig:
    """Parameters of perception_node (meaning and defaults: config/perception.yaml)."""

    camera_ids: list[str]
    transport: str
    backend: str
    models_dir: str
    detector_model: str
    pose_model: str
    detector_format: str
    box_format: str
    person_class: int
    score_threshold: float
    candidate_threshold: float
    min_pose_confidence: float
    candidate_overlap: float
    nms_iou: float
    crop_padding: float
    input_mean: list[float]
    input_std: list[float]
    threads: int
    max_people: int
    flip_test: bool
    detector_precision: str
    pose_precision: str
    check_precision: str
    detector_size: int
    pose_nms_fraction: float
    pose_nms_scale: float
    pose_nms_min_score: float
    pose_nms_min_keypoints: int
    diagnostics_period_s: float
    warn_period_s: float

    def __post_init__(self) -> None:
        if not self.camera_ids:
            raise ValueError("camera_ids is empty: name at least one camera")
        if len(set(self.camera_ids)) != len(self.camera_ids):
            raise ValueError(f"camera_ids {self.camera_ids} has duplicates")
        for cam in self.camera_ids:
            topics.camera_prefix(cam)  # raises ValueError naming a bad id
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport '{self.transport}' is not one of {TRANSPORTS}")
        if not self.diagnostics_period_s > 0 or self.warn_period_s < 0:
            raise ValueError("diagnostics_period_s must be > 0 and warn_period_s >= 0")
        self.backend_config()  # validates the model parameters

    def backend_config(self) -> BackendConfig:
        """The core's view of the model parameters (raises ValueError naming a bad one)."""
        return BackendConfig(
            backend=self.backend,
            models_dir=self.models_dir,
            detector_model=self.detector_model,
            pose_model=self.pose_model,
            detector_format=self.detector_format,
            box_format=self.box_format,
            person_class=self.person_class,
            score_threshold=self.score_threshold,
            candidate_threshold=self.candidate_threshold,
            min_pose_confidence=self.min_pose_confidence,
            candidate_overlap=self.candidate_overlap,
            nms_iou=self.nms_iou,
            crop_padding=self.crop_padding,
            input_mean=tuple(self.input_mean),  # type: ignore[arg-type]
            input_std=tuple(self.input_std),  # type: ignore[arg-type]
            threads=self.threads,
            max_people=self.max_people,
            flip_test=self.flip_test,
            detector_precision=self.detector_precision,
            pose_precision=self.pose_precision,
            check_precision=self.check_precision,
            detector_size=self.detector_size,
            pose_nms_fraction=self.pose_nms_fraction,
            pose_nms_scale=self.pose_nms_scale,
            pose_nms_min_score=self.pose_nms_min_score,
            pose_nms_min_keypoints=self.pose_nms_min_keypoints,
        )


class PerceptionNode(LifecycleNode):
    """Thin ROS wrapper: convert, run PoseEstimator, convert, publish (see module doc)."""

    def __init__(self, *, start_worker: bool = True, **node_kwargs: object) -> None:
        """``start_worker=False`` leaves frame processing to ``process_next`` (tests, benchmarks);
        ``node_kwargs`` go to rclpy's Node (context, parameter_overrides)."""
        super().__init__(NODE_NAME, **node_kwargs)
        self._start_worker = start_worker
        self._declared = False
        self.config: PerceptionNodeConfig | None = None
        self.estimator: PoseEstimator | None = None
        self.frames: LatestFrames | None = None
        self.stats: dict[str, CameraStats] = {}
        self._people_pubs: dict[str, object] = {}
        self._image_subs: list = []
        self._diagnostics = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
        self._diag_timer = None
        self._worker: threading.Thread | None = None
        self._running = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read and check the parameters, load the models, create the publishers."""
        try:
            config = self._load_config()
            estimator = make_estimator(config.backend_config())
        except (ValueError, ModelError) as error:
            self.get_logger().error(f"configuration failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self.config, self.estimator = config, estimator
        self.frames = LatestFrames(config.camera_ids)
        self.stats = {cam: CameraStats() for cam in config.camera_ids}
        self._people_pubs = {
            cam: self.create_lifecycle_publisher(
                PersonDetectionArray, topics.camera_people(cam), qos.EVENTS
            )
            for cam in config.camera_ids
        }
        self._diag_timer = self.create_timer(config.diagnostics_period_s, self.publish_diagnostics)
        self.get_logger().info(
            f"configured: backend {config.backend}, cameras {', '.join(config.camera_ids)}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the cameras and start processing."""
        assert self.config is not None
        compressed = self.config.transport == "compressed"
        for cam in self.config.camera_ids:
            self._image_subs.append(
                self.create_subscription(
                    CompressedImage if compressed else Image,
                    topics.camera_image_compressed(cam) if compressed else topics.camera_image(cam),
                    lambda msg, cam=cam: self.on_image(cam, msg),
                    qos.SENSOR,
                )
            )
        self._running.set()
        if self._start_worker:
            self._worker = threading.Thread(target=self._work, name="perception", daemon=True)
            self._worker.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing and unsubscribe; waiting frames are forgotten."""
        self._stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the models and publishers."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything from any state."""
        self._stop()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # --- data path ---------------------------------------------------------------------------

    def on_image(self, cam: str, msg: Image | CompressedImage) -> None:
        """Keep the newest frame of ``cam``; a frame still waiting is dropped (counted)."""
        if self.frames is not None and self._running.is_set():
            self.frames.put(cam, msg, time.perf_counter())

    def process_next(self, timeout: float = 0.0) -> bool:
        """Process the longest-waiting camera's newest frame; False when none is waiting."""
        assert self.frames is not None and self.estimator is not None and self.config is not None
        item = self.frames.take(timeout)
        if item is None:
            return False
        cam, msg, arrived = item
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            image = image_to_bgr(msg)
        except ImageConversionError as error:
            stats = self.stats[cam]
            stats.bad_frames += 1
            stats.last_error = str(error)
            self.get_logger().warning(
                f"{cam}: skipping frame: {error}", throttle_duration_sec=self.config.warn_period_s
            )
            return True
        model_start = time.perf_counter()
        people = self.estimator(image)
        model_end = time.perf_counter()
        height, width = image.shape[:2]
        looks = describe_people(image, [p.keypoints for p in people])
        self._people_pubs[cam].publish(people_to_msg(msg.header, cam, width, height, people, looks))
        done = time.perf_counter()
        cpu = time.thread_time() - start_cpu
        self.stats[cam].add(done, done - arrived, model_end - model_start, done - start, cpu)
        return True

    def _work(self) -> None:
        while self._running.is_set():
            try:
                self.process_next(timeout=0.1)
            except Exception as error:  # keep serving the other cameras
                self.get_logger().error(
                    f"frame processing failed: {error!r}", throttle_duration_sec=5.0
                )

    def publish_diagnostics(self) -> None:
        """Per camera: rate, latency, model time, node overhead, drops and bad frames."""
        if self.frames is None:
            return
        now = time.perf_counter()
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        for cam, stats in self.stats.items():
            figures = stats.summary()
            status = DiagnosticStatus()
            status.name = f"{self.get_name()}: {topics.camera_prefix(cam)}"
            status.hardware_id = cam
            rate = stats.rate_hz(now)
            recent_bad = bool(stats.last_error)
            status.level = DiagnosticStatus.WARN if recent_bad else DiagnosticStatus.OK
            status.message = f"bad frame: {stats.last_error}" if recent_bad else "ok"
            stats.last_error = ""
            values = {
                "rate_hz": f"{rate:.2f}",
                "latency_ms": f"{figures['latency_ms']:.1f}",
                "model_ms": f"{figures['model_ms']:.1f}",
                "work_ms": f"{figures['work_ms']:.1f}",
                "cpu_ms": f"{figures['cpu_ms']:.1f}",
                "overhead_pct": f"{figures['overhead_pct']:.1f}",
                "received": str(self.frames.received[cam]),
                "processed": str(stats.processed),
                "dropped": str(self.frames.dropped[cam]),
                "bad_frames": str(stats.bad_frames),
            }
            status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
            msg.status.append(status)
        self._diagnostics.publish(msg)

    # --- helpers -----------------------------------------------------------------------------

    def _load_config(self) -> PerceptionNodeConfig:
        if not self._declared:
            self._declared = True
            return declare_config(self, PerceptionNodeConfig, CONFIG_FILE, NODE_NAME)
        values = {f.name: self.get_parameter(f.name).value for f in fields(PerceptionNodeConfig)}
        return PerceptionNodeConfig(**values)

    def _stop(self) -> None:
        self._running.clear()
        if self.frames is not None:
            self.frames.wake()
            self.frames.clear()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        for sub in self._image_subs:
            self.destroy_subscription(sub)
        self._image_subs = []

    def _release(self) -> None:
        for publisher in self._people_pubs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._people_pubs = {}
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        self.estimator = None
        self.frames = None


def main(args: list[str] | None = None) -> int:
    """Run perception_node until interrupted; with ``autostart`` (default) configure + activate."""
    return run_lifecycle_node(PerceptionNode, args)

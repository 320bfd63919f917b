"""camera_node: a camera on OpenCV capture (device, video file or RTSP/HTTP stream).

Publishes, with header.frame_id = ``<camera_id>_optical`` and the capture time as stamp:
``cameras/<id>/image_raw`` (sensor_msgs/Image bgr8), ``cameras/<id>/image_raw/compressed``
(JPEG sensor_msgs/CompressedImage), ``cameras/<id>/camera_info`` (from a camera_calibration
YAML) and ``/diagnostics`` (rate, drops, failures, connection state).

A lifecycle node (see ``driver_common``): configure reads the parameters and the calibration,
activate opens the device and starts a capture thread (reads block on devices and streams, so
they stay off the executor), deactivate stops it, cleanup releases the device. A missing or
unplugged device is reported (log + ERROR diagnostic) and retried with backoff, forever; the node
never exits because of it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from go_common import qos, topics
from go_common.image import numpy_to_compressed, numpy_to_image
from go_sensors.drivers.backoff import Backoff
from go_sensors.drivers.calibration import (
    CalibrationFileError,
    CameraIntrinsics,
    load_camera_intrinsics,
)
from go_sensors.drivers.capture import Capture, Frame, parse_source
from go_sensors.nodes.driver_common import (
    ERROR,
    OK,
    WARN,
    diagnostic_array,
    load_config,
    log_level_change,
    run_lifecycle,
)

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "camera.yaml"


@dataclass(frozen=True)
class CameraConfig:
    """Parameters of camera_node (meaning and defaults: config/camera.yaml)."""

    camera_id: str
    source: str
    calibration_file: str
    rate_hz: float
    publish_raw: bool
    publish_compressed: bool
    jpeg_quality: int
    loop_file: bool
    retry_initial_s: float
    retry_max_s: float
    max_read_failures: int
    diagnostics_period_s: float
    autostart: bool

    def __post_init__(self) -> None:
        topics.camera_prefix(self.camera_id)  # raises for an invalid camera id
        parse_source(self.source)  # raises for an empty source
        if self.rate_hz < 0:
            raise ValueError(f"rate_hz must be >= 0, got {self.rate_hz}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if not (0 < self.retry_initial_s <= self.retry_max_s):
            raise ValueError("retry delays need 0 < retry_initial_s <= retry_max_s")
        if self.max_read_failures < 1 or self.diagnostics_period_s <= 0:
            raise ValueError("max_read_failures must be >= 1 and diagnostics_period_s > 0")


def camera_info_from_intrinsics(cal: CameraIntrinsics, header: Header) -> CameraInfo:
    """sensor_msgs/CameraInfo of ``cal`` with ``header``."""
    msg = CameraInfo(header=header, width=int(cal.width), height=int(cal.height))
    msg.distortion_model = cal.distortion_model
    msg.d = [float(v) for v in cal.D]
    msg.k = [float(v) for v in np.asarray(cal.K).reshape(9)]
    msg.r = [float(v) for v in np.asarray(cal.R).reshape(9)]
    msg.p = [float(v) for v in np.asarray(cal.P).reshape(12)]
    return msg


class CameraNode(LifecycleNode):
    """OpenCV capture -> image, compressed image, camera info and diagnostics."""

    def __init__(self, **node_kwargs: object) -> None:
        super().__init__("camera_node", **node_kwargs)
        self.config, self._config_error = load_config(
            self, CameraConfig, CONFIG_FILE, "camera_node"
        )
        self.capture: Capture | None = None
        self.intrinsics: CameraIntrinsics | None = None
        self.published = 0
        self.throttled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pubs: dict[str, object] = {}
        self._diag_pub = None
        self._diag_timer = None
        self._last_level: list[bytes] = []
        self._size_warning = ""

    # -- lifecycle transitions ---------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate parameters, read the calibration, create publishers and the capture."""
        if self.config is None:
            self.get_logger().error(f"bad parameters: {self._config_error}")
            return TransitionCallbackReturn.FAILURE
        cfg = self.config
        if cfg.calibration_file:
            try:
                self.intrinsics = load_camera_intrinsics(cfg.calibration_file)
            except CalibrationFileError as error:
                self.get_logger().error(f"camera {cfg.camera_id}: {error}")
                return TransitionCallbackReturn.FAILURE
        cam = cfg.camera_id
        if cfg.publish_raw:
            self._pubs["raw"] = self.create_lifecycle_publisher(
                Image, topics.camera_image(cam), qos.SENSOR
            )
        if cfg.publish_compressed:
            self._pubs["compressed"] = self.create_lifecycle_publisher(
                CompressedImage, topics.camera_image_compressed(cam), qos.SENSOR
            )
        self._pubs["info"] = self.create_lifecycle_publisher(
            CameraInfo, topics.camera_info(cam), qos.SENSOR
        )
        # Diagnostics are a plain publisher: an inactive camera still reports why.
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
        self.capture = Capture(
            cfg.source,
            backoff=Backoff(cfg.retry_initial_s, 2.0, cfg.retry_max_s),
            expected_fps=0.0,
            loop_file=cfg.loop_file,
            max_read_failures=cfg.max_read_failures,
        )
        self._diag_timer = self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        self.get_logger().info(f"camera {cam}: source {cfg.source!r} configured")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start the capture thread (it opens the device, retrying while it is missing)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the capture thread; the device stays open."""
        self._stop_thread()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the device and drop the publishers."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and release everything."""
        self._stop_thread()
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        """Stop the capture thread before the publishers go (also on Ctrl-C without shutdown)."""
        self._stop_thread()
        if self.capture is not None:
            self.capture.release()
        super().destroy_node()

    # -- capture thread ----------------------------------------------------------------------

    def _run(self) -> None:
        capture = self.capture
        min_period = 1.0 / self.config.rate_hz if self.config.rate_hz > 0 else 0.0
        last_pub = -np.inf
        next_due = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            frame = capture.read(now)
            if frame is None:
                if capture.ended:
                    self.get_logger().info("video file ended; not looping")
                    return
                wait = (
                    0.01
                    if capture.stats.connected
                    else max(0.01, min(0.25, capture.backoff.next_attempt - now))
                )
                self._stop.wait(wait)
                continue
            if not capture.source.is_live:
                # A file is replayed at its own frame rate (or at rate_hz when lower); after a
                # stall it catches up at most one second of frames.
                period = max(capture.period_s, min_period) or 1.0 / 30.0
                self._stop.wait(max(0.0, next_due - time.monotonic()))
                next_due = max(next_due + period, time.monotonic() - 1.0)
            elif now - last_pub < min_period * 0.95:
                self.throttled += 1
                continue
            last_pub = time.monotonic()
            try:
                self._publish(frame)
            except Exception as error:  # the capture thread must not die silently
                if not self.context.ok():
                    return  # Ctrl-C: the context went down under the thread
                self.get_logger().error(
                    f"publishing a frame failed: {error}", throttle_duration_sec=5.0
                )

    def _publish(self, frame: Frame) -> None:
        cfg = self.config
        header = Header(frame_id=topics.camera_optical_frame(cfg.camera_id))
        header.stamp = self.get_clock().now().to_msg()
        if "raw" in self._pubs:
            self._pubs["raw"].publish(numpy_to_image(frame.image, "bgr8", header))
        if "compressed" in self._pubs:
            self._pubs["compressed"].publish(
                numpy_to_compressed(frame.image, "bgr8", cfg.jpeg_quality, header)
            )
        h, w = frame.image.shape[:2]
        cal = self.intrinsics or CameraIntrinsics.uncalibrated(cfg.camera_id, w, h)
        if (cal.width, cal.height) != (w, h) and not self._size_warning:
            self._size_warning = (
                f"calibration is for {cal.width}x{cal.height} but frames are {w}x{h}"
            )
            self.get_logger().warning(f"camera {cfg.camera_id}: {self._size_warning}")
        self._pubs["info"].publish(camera_info_from_intrinsics(cal, header))
        self.published += 1

    def _publish_diagnostics(self) -> None:
        if self.capture is None or self._diag_pub is None:
            return
        stats = self.capture.stats
        now = time.monotonic()
        rate = stats.rate_hz(now)
        if not stats.connected:
            level, message = ERROR, stats.last_error or "not connected"
        elif self._size_warning:
            level, message = WARN, self._size_warning
        elif stats.frames and rate == 0.0:
            level, message = WARN, "connected but no frames for 5 s"
        else:
            level, message = OK, f"{rate:.1f} fps"
        values = {
            "source": self.config.source,
            "connected": stats.connected,
            "rate_hz": rate,
            "frames": stats.frames,
            "published": self.published,
            "throttled": self.throttled,
            "dropped": stats.dropped,
            "read_failures": stats.read_failures,
            "corrupt_frames": stats.corrupt,
            "opens": stats.opens,
            "open_failures": stats.open_failures,
            "loops": stats.loops,
            "last_error": stats.last_error,
        }
        name = f"{self.get_name()}: camera {self.config.camera_id}"
        log_level_change(self, name, level, message, self._last_level)
        self._diag_pub.publish(
            diagnostic_array(
                self.get_clock().now(), name, self.config.source, level, message, values
            )
        )

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _teardown(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        self._pubs = {}
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self._diag_pub is not None:
            self.destroy_publisher(self._diag_pub)
            self._diag_pub = None


def main(argv: list[str] | None = None) -> int:
    """Console script ``camera_node``."""
    return run_lifecycle(CameraNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())

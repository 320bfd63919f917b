"""gate_node: app-code scans at an entry or exit gate -> go_msgs/GateEvent on ``gates/events``.

Scan payloads (``GO1:<token>[:<group_size>]``, see ``go_sensors.drivers.gate_payload``) come
from a serial scanner, from a keyboard-wedge scanner's tty or any line stream (``input_kind:
file``), and from the topic ``gates/<gate_id>/scans`` (std_msgs/String: an app backend or a test
can inject scans). Bad payloads are rejected with a diagnostic; repeats within ``debounce_s`` are
one scan. The event's stamp is the time the scan was received.

A lifecycle node (see ``driver_common``): configure resolves the gate, activate opens the
scanner and subscribes, deactivate stops, cleanup closes the scanner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from std_msgs.msg import String

from go_common import qos, topics
from go_msgs.msg import GateEvent
from go_sensors.drivers.backoff import Backoff
from go_sensors.drivers.gate_payload import GateDecoder, GateScan
from go_sensors.drivers.line_source import LineSource
from go_sensors.nodes.driver_common import (
    ERROR,
    OK,
    WARN,
    diagnostic_array,
    load_config,
    log_level_change,
    run_lifecycle,
)

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "gate.yaml"


def gate_scans_topic(gate_id: str) -> str:
    """``gates/<gate_id>/scans`` (std_msgs/String payloads, EVENTS QoS)."""
    return f"gates/{gate_id}/scans"


@dataclass(frozen=True)
class GateConfig:
    """Parameters of gate_node (meaning and defaults: config/gate.yaml)."""

    gate_id: str
    kind: str
    input_kind: str
    port: str
    baud: int
    from_start: bool
    store: str
    position: list[float]
    debounce_s: float
    poll_period_s: float
    retry_initial_s: float
    retry_max_s: float
    diagnostics_period_s: float
    autostart: bool

    def __post_init__(self) -> None:
        topics.camera_optical_frame(self.gate_id)  # the same token rule as camera ids
        if self.kind not in ("entry", "exit"):
            raise ValueError(f"kind must be 'entry' or 'exit', got {self.kind!r}")
        if self.input_kind not in ("none", "serial", "file"):
            raise ValueError(f"input_kind must be none, serial or file, got {self.input_kind!r}")
        if self.input_kind != "none" and not self.port:
            raise ValueError(f"input_kind {self.input_kind} needs a port")
        if len(self.position) != 3:
            raise ValueError(f"position must be [x, y, z], got {self.position}")
        if self.debounce_s < 0 or self.poll_period_s <= 0 or self.diagnostics_period_s <= 0:
            raise ValueError("debounce_s >= 0, poll_period_s > 0, diagnostics_period_s > 0")
        if not (0 < self.retry_initial_s <= self.retry_max_s):
            raise ValueError("retry delays need 0 < retry_initial_s <= retry_max_s")


def resolve_gate(cfg: GateConfig) -> tuple[str, tuple[float, float, float]]:
    """Kind and position of the gate: from the store when one is given, else the parameters."""
    if not cfg.store:
        x, y, z = (float(v) for v in cfg.position)
        return cfg.kind, (x, y, z)
    from go_common.core.store import load_store

    store = load_store(cfg.store)
    if cfg.gate_id not in store.gates:
        raise ValueError(
            f"gate '{cfg.gate_id}' is not in store '{store.store_id}' (gates: "
            f"{sorted(store.gates)})"
        )
    gate = store.gates[cfg.gate_id]
    cx, cy = gate.center_xy
    return gate.kind, (float(cx), float(cy), 0.0)


def scan_to_msg(scan: GateScan, position: tuple[float, float, float], stamp: object) -> GateEvent:
    """go_msgs/GateEvent of a decoded scan."""
    msg = GateEvent(
        kind=GateEvent.KIND_ENTRY if scan.kind == "entry" else GateEvent.KIND_EXIT,
        gate_id=scan.gate_id,
        session_token=scan.token,
        group_size=scan.group_size,
        position=Point(x=position[0], y=position[1], z=position[2]),
    )
    msg.header.stamp = stamp
    msg.header.frame_id = topics.STORE_FRAME
    return msg


class GateNode(LifecycleNode):
    """Gate scanner driver."""

    def __init__(self, **node_kwargs: object) -> None:
        super().__init__("gate_node", **node_kwargs)
        self.config, self._config_error = load_config(self, GateConfig, CONFIG_FILE, "gate_node")
        self.decoder: GateDecoder | None = None
        self.source: LineSource | None = None
        self.position = (0.0, 0.0, 0.0)
        self.published = 0
        self._pub = None
        self._diag_pub = None
        self._sub = None
        self._poll_timer = None
        self._diag_timer = None
        self._last_level: list[bytes] = []

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Resolve the gate (kind, position), create the decoder, scanner and publishers."""
        if self.config is None:
            self.get_logger().error(f"bad parameters: {self._config_error}")
            return TransitionCallbackReturn.FAILURE
        cfg = self.config
        try:
            kind, self.position = resolve_gate(cfg)
            self.decoder = GateDecoder(cfg.gate_id, kind, cfg.debounce_s)
            if cfg.input_kind != "none":
                self.source = LineSource(
                    cfg.input_kind,
                    cfg.port,
                    baud=cfg.baud,
                    from_start=cfg.from_start,
                    backoff=Backoff(cfg.retry_initial_s, 2.0, cfg.retry_max_s),
                )
        except ValueError as error:
            self.get_logger().error(f"gate {cfg.gate_id}: {error}")
            return TransitionCallbackReturn.FAILURE
        self._pub = self.create_lifecycle_publisher(GateEvent, topics.GATES_EVENTS, qos.EVENTS)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
        self._diag_timer = self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        self.get_logger().info(f"gate {cfg.gate_id} ({kind}) configured")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the scan topic and start polling the scanner."""
        self._sub = self.create_subscription(
            String, gate_scans_topic(self.config.gate_id), self._on_topic_scan, qos.EVENTS
        )
        if self.source is not None:
            self._poll_timer = self.create_timer(self.config.poll_period_s, self.poll)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop reading scans."""
        self._stop_inputs()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Close the scanner, drop publishers."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and close everything."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def poll(self) -> None:
        """Read scanner lines and publish their events."""
        for line in self.source.poll(time.monotonic()):
            self._handle(line)

    def _on_topic_scan(self, msg: String) -> None:
        self._handle(msg.data)

    def _handle(self, payload: str | bytes) -> None:
        now = self.get_clock().now()
        before = self.decoder.rejected
        scan = self.decoder.decode(payload, now.nanoseconds * 1e-9)
        if self.decoder.rejected > before:
            self.get_logger().warning(
                f"gate {self.config.gate_id}: rejected scan: {self.decoder.last_error}",
                throttle_duration_sec=1.0,
            )
        if scan is not None:
            self._pub.publish(scan_to_msg(scan, self.position, now.to_msg()))
            self.published += 1

    def _publish_diagnostics(self) -> None:
        if self.decoder is None or self._diag_pub is None:
            return
        dec, src = self.decoder, self.source
        if src is not None and not src.status.connected:
            level, message = ERROR, src.status.last_error or "scanner not open"
        elif dec.rejected:
            level, message = WARN, f"{dec.rejected} rejected scans; last: {dec.last_error}"
        else:
            level, message = OK, f"{dec.accepted} scans"
        values = {
            "kind": dec.kind,
            "input": f"{self.config.input_kind} {self.config.port}".strip(),
            "accepted": dec.accepted,
            "rejected": dec.rejected,
            "repeats": dec.repeats,
            "events": self.published,
            "last_error": dec.last_error,
        }
        if src is not None:
            values |= {
                "connected": src.status.connected,
                "opens": src.status.opens,
                "open_failures": src.status.failures,
                "scanner_error": src.status.last_error,
            }
        name = f"{self.get_name()}: gate {self.config.gate_id}"
        hardware = self.config.port or gate_scans_topic(self.config.gate_id)
        log_level_change(self, name, level, message, self._last_level)
        self._diag_pub.publish(
            diagnostic_array(self.get_clock().now(), name, hardware, level, message, values)
        )

    def _stop_inputs(self) -> None:
        if self._poll_timer is not None:
            self.destroy_timer(self._poll_timer)
            self._poll_timer = None
        if self._sub is not None:
            self.destroy_subscription(self._sub)
            self._sub = None

    def _teardown(self) -> None:
        self._stop_inputs()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        if self.source is not None:
            self.source.close()
        for pub in (self._pub, self._diag_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self._pub = self._diag_pub = None


def main(argv: list[str] | None = None) -> int:
    """Console script ``gate_node``."""
    return run_lifecycle(GateNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())

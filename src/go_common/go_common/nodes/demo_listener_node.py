"""demo_listener_node: subscribes to go_msgs/GateEvent on ``chatter`` and logs what arrives.

The partner of demo_talker_node. With ``expected_count`` > 0 it exits cleanly after that many
messages, and with ``timeout_s`` > 0 it exits with status 1 when they have not all arrived in
time: a launch file that marks it ``on_exit: shutdown`` then ends with the listener's verdict.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.task import Future

from go_common import qos
from go_common.nodes.demo_talker_node import CHATTER
from go_common.params import declare_config
from go_msgs.msg import GateEvent

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"


@dataclass(frozen=True)
class DemoListenerConfig:
    """Parameters of demo_listener_node (meaning and defaults: config/demo.yaml)."""

    expected_count: int
    timeout_s: float

    def __post_init__(self) -> None:
        if self.expected_count < 0:
            raise ValueError(f"expected_count must be >= 0, got {self.expected_count}")
        if not self.timeout_s >= 0.0:
            raise ValueError(f"timeout_s must be >= 0, got {self.timeout_s}")


class DemoListener(Node):
    """Counts GateEvents; ``done`` resolves to True (all arrived) or False (timed out)."""

    def __init__(self, **node_kwargs: object) -> None:
        super().__init__("demo_listener", **node_kwargs)
        self.config = declare_config(self, DemoListenerConfig, CONFIG_FILE, "demo_listener")
        self.done = Future()
        self.received = 0
        self._subscription = self.create_subscription(
            GateEvent, CHATTER, self._on_event, qos.EVENTS
        )
        if self.config.timeout_s > 0.0:
            self._timer = self.create_timer(self.config.timeout_s, self._on_timeout)

    def _on_event(self, msg: GateEvent) -> None:
        self.received += 1
        self.get_logger().info(f"heard gate '{msg.gate_id}' event #{msg.group_size}")
        expected = self.config.expected_count
        if expected and self.received >= expected and not self.done.done():
            self.done.set_result(True)

    def _on_timeout(self) -> None:
        if not self.done.done():
            self.get_logger().error(
                f"{self.received} of {self.config.expected_count} messages after "
                f"{self.config.timeout_s} s"
            )
            self.done.set_result(False)


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv)
    node = None
    status = 0
    try:
        node = DemoListener()
        rclpy.spin_until_future_complete(node, node.done)
        status = 0 if node.done.result() in (True, None) else 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())

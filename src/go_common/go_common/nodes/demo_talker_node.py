"""demo_talker_node: publishes go_msgs/GateEvent on ``chatter`` at ``rate_hz``.

A small node of the go graph for launch smoke tests and for checking a set-up end to end
(``./gostore launch launch/test_talker_listener.yaml``). Each message carries a rising
``group_size`` counter, so a listener can check order and loss. With ``count`` > 0 it exits
cleanly after that many messages.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.task import Future

from go_common import qos, topics
from go_common.params import declare_config
from go_msgs.msg import GateEvent

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"
CHATTER = "chatter"  # demo-only topic, remapped by the launch files


@dataclass(frozen=True)
class DemoTalkerConfig:
    """Parameters of demo_talker_node (meaning and defaults: config/demo.yaml)."""

    rate_hz: float
    gate_id: str
    count: int

    def __post_init__(self) -> None:
        if not self.rate_hz > 0.0:
            raise ValueError(f"rate_hz must be > 0, got {self.rate_hz}")
        if self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")


class DemoTalker(Node):
    """Publishes numbered GateEvents; ``done`` completes after ``count`` of them."""

    def __init__(self, **node_kwargs: object) -> None:
        super().__init__("demo_talker", **node_kwargs)
        self.config = declare_config(self, DemoTalkerConfig, CONFIG_FILE, "demo_talker")
        self.done = Future()
        self.sent = 0
        self._publisher = self.create_publisher(GateEvent, CHATTER, qos.EVENTS)
        self._timer = self.create_timer(1.0 / self.config.rate_hz, self._tick)

    def _tick(self) -> None:
        self.sent += 1
        msg = GateEvent(kind=GateEvent.KIND_ENTRY, gate_id=self.config.gate_id)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = topics.STORE_FRAME
        msg.group_size = self.sent
        self._publisher.publish(msg)
        if self.config.count and self.sent >= self.config.count:
            self._timer.cancel()
            self.done.set_result(self.sent)


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv)
    node = None
    try:
        node = DemoTalker()
        rclpy.spin_until_future_complete(node, node.done)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

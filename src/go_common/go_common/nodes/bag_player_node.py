"""Replay a rosbag2 bag from a launch file: the node form of ``./gostore replay``.

On a full ROS 2 install ``ros2 bag play`` does the same; this node exists so that one YAML launch
file replays a bag both there and on the PyPI wheels, where rosbag2 is not installable. It exits
when the bag ends (mark it ``on_exit: shutdown`` to end the launch with it).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import rclpy
from rclpy.node import Node

from go_common.bags.ros import Player, PlayOptions
from go_common.bags.storage import BagError, BagReader
from go_common.params import declare_config

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "bag_player.yaml"


@dataclass(frozen=True)
class BagPlayerConfig:
    bag: str
    rate: float
    loop: bool
    topics: list[str]
    clock: bool
    wait_for_subscribers_s: float
    linger_s: float

    def __post_init__(self) -> None:
        if not self.bag:
            raise ValueError("parameter 'bag' is empty: name the bag directory to play")
        if self.rate <= 0:
            raise ValueError(f"parameter 'rate' must be > 0, got {self.rate}")


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv)
    node = Node("bag_player")
    try:
        config = declare_config(node, BagPlayerConfig, CONFIG_FILE, "bag_player")
        reader = BagReader(config.bag)
        player = Player(
            node,
            reader,
            PlayOptions(
                rate=config.rate,
                loop=config.loop,
                topics=tuple(t for t in config.topics if t),
                publish_clock=config.clock,
                wait_for_subscribers_s=config.wait_for_subscribers_s,
            ),
        )
        count = player.play(spin=lambda t: rclpy.spin_once(node, timeout_sec=t))
        node.get_logger().info(f"played {count} messages from {config.bag}")
        end = time.monotonic() + config.linger_s
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        return 0
    except (BagError, ValueError) as error:
        node.get_logger().error(str(error))
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())

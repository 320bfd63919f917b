"""One side of the two-process publish/subscribe test (run as a script, not collected).

``pubsub_peer.py pub TOPIC SEED``: publishes a filled go_msgs/Receipt every 0.1 s until stopped.
``pubsub_peer.py sub TOPIC``: waits for one Receipt (20 s at most), prints its serialised bytes
as hex on stdout and exits 0 (1 on timeout).
"""

from __future__ import annotations

import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.serialization import serialize_message

from go_common import qos
from go_common.testing import filled_message
from go_msgs.msg import Receipt


def main(argv: list[str]) -> int:
    mode, topic = argv[0], argv[1]
    rclpy.init()
    node = rclpy.create_node(f"pubsub_peer_{mode}")
    try:
        if mode == "pub":
            publisher = node.create_publisher(Receipt, topic, qos.RECEIPTS)
            msg = filled_message(Receipt, seed=int(argv[2]))
            node.create_timer(0.1, lambda: publisher.publish(msg))
            rclpy.spin(node)
            return 0
        got: list[Receipt] = []
        node.create_subscription(Receipt, topic, got.append, qos.RECEIPTS)
        deadline = time.monotonic() + 20.0
        while not got and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        if not got:
            return 1
        print(serialize_message(got[0]).hex())
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

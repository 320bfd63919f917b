"""Two processes exchange a go_msgs message over DDS (the test's own ROS domain)."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rclpy.serialization import deserialize_message

from go_common.testing import filled_message
from go_msgs.msg import Receipt

PEER = Path(__file__).with_name("pubsub_peer.py")


@pytest.mark.ros
def test_receipt_travels_between_two_processes() -> None:
    topic = f"checkout/receipts_{uuid.uuid4().hex[:8]}"
    subscriber = subprocess.Popen(
        [sys.executable, str(PEER), "sub", topic], stdout=subprocess.PIPE, text=True
    )
    publisher = subprocess.Popen([sys.executable, str(PEER), "pub", topic, "11"])
    try:
        out, _ = subscriber.communicate(timeout=30)
    finally:
        publisher.send_signal(signal.SIGINT)
        publisher_code = publisher.wait(timeout=10)
        if subscriber.poll() is None:
            subscriber.kill()
    assert subscriber.returncode == 0, "no Receipt arrived"
    received = deserialize_message(bytes.fromhex(out.strip()), Receipt)
    assert received == filled_message(Receipt, seed=11)
    assert received.lines and received.lines[0] == filled_message(Receipt, seed=11).lines[0]
    assert publisher_code == 0

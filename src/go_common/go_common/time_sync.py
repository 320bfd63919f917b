"""Approximate-time synchronisation of ROS topics: a thin rclpy adapter.

Uses ``message_filters.ApproximateTimeSynchronizer`` where the real package imports (a full
ROS 2 install) and ``go_common.core.approx_sync.ApproxTimeSync`` otherwise; both have the same
semantics (queue size, slop, out-of-order arrival, ``allow_headerless``), see the core module.

Example::

    sync = ApproximateTimeSynchronizer(
        node,
        [(Image, topics.camera_image("cam_0")), (CameraInfo, topics.camera_info("cam_0"))],
        queue_size=10, slop_s=0.02, callback=on_pair, qos_profile=qos.SENSOR,
    )
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile

from go_common import qos
from go_common.core.approx_sync import ApproxTimeSync, SyncConfig

try:  # the real package on a full ROS 2 install
    import message_filters as _message_filters
except ImportError:  # pip-installed rclpy: the pure core below does the same job
    _message_filters = None

TopicSpec = tuple[type, str] | tuple[type, str, QoSProfile]

__all__ = ["ApproximateTimeSynchronizer", "stamp_ns_of"]


def stamp_ns_of(msg: Any) -> int | None:
    """``msg.header.stamp`` as integer nanoseconds, or None for a message without a header."""
    header = getattr(msg, "header", None)
    stamp = getattr(header, "stamp", None)
    if stamp is None:
        return None
    if hasattr(stamp, "nanoseconds"):  # rclpy.time.Time
        return int(stamp.nanoseconds)
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class ApproximateTimeSynchronizer:
    """Subscribe to N topics and call ``callback(msg_0, ..., msg_{n-1})`` for each matched set.

    Args:
        node: the node that owns the subscriptions.
        subscriptions: ``(msg_type, topic)`` or ``(msg_type, topic, qos)`` per stream, in the
            order of the callback's arguments.
        queue_size: messages kept per stream while waiting for partners.
        slop_s: largest spread of the stamps of one set [s].
        callback: called with one message per stream.
        qos_profile: QoS of the streams that do not name their own (default ``qos.SENSOR``).
        allow_headerless: stamp messages without a header with the node clock's current time
            (as message_filters does); off by default, and such messages are dropped with a
            throttled warning.
        use_message_filters: use the real package when it imports (default); False forces the
            built-in core (tests).
    """

    def __init__(
        self,
        node: Node,
        subscriptions: Sequence[TopicSpec],
        *,
        queue_size: int,
        slop_s: float,
        callback: Callable[..., None],
        qos_profile: QoSProfile = qos.SENSOR,
        allow_headerless: bool = False,
        use_message_filters: bool = True,
    ) -> None:
        self._node = node
        self._allow_headerless = allow_headerless
        specs = [(s[0], s[1], s[2] if len(s) > 2 else qos_profile) for s in subscriptions]
        self._config = SyncConfig(n_streams=len(specs), queue_size=queue_size, slop_s=slop_s)
        self.topics = tuple(topic for _, topic, _ in specs)
        if use_message_filters and _message_filters is not None:
            self.backend = "message_filters"
            self._filters = [
                _message_filters.Subscriber(node, msg_type, topic, qos_profile=profile)
                for msg_type, topic, profile in specs
            ]
            self._sync = _message_filters.ApproximateTimeSynchronizer(
                self._filters, queue_size, slop_s, allow_headerless=allow_headerless
            )
            self._sync.registerCallback(callback)
            return
        self.backend = "go_common"
        self._lock = threading.Lock()
        self._core = ApproxTimeSync(self._config)
        self._core.register_callback(callback)
        self._subscriptions = [
            node.create_subscription(
                msg_type, topic, lambda msg, index=index: self._on_message(index, msg), profile
            )
            for index, (msg_type, topic, profile) in enumerate(specs)
        ]

    def _on_message(self, index: int, msg: Any) -> None:
        stamp = stamp_ns_of(msg)
        if stamp is None:
            if not self._allow_headerless:
                self._node.get_logger().warning(
                    f"approximate sync: dropping a message without header.stamp on "
                    f"'{self.topics[index]}' (allow_headerless is off)",
                    throttle_duration_sec=5.0,
                )
                return
            stamp = self._node.get_clock().now().nanoseconds
        with self._lock:
            self._core.add(index, stamp, msg)

    def destroy(self) -> None:
        """Destroy the subscriptions."""
        if self.backend == "message_filters":
            for f in self._filters:
                self._node.destroy_subscription(f.sub)
        else:
            for sub in self._subscriptions:
                self._node.destroy_subscription(sub)

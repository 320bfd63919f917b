"""Record and replay ROS 2 topics as raw CDR with rclpy (the ``ros2 bag`` equivalents).

The recorder discovers topics by exact name or regular expression, subscribes with the QoS the
publishers offer (so ``/tf_static`` is recorded transient-local and replayed the same way) and
writes each message stamped with the node clock at reception (sim time when ``use_sim_time`` is
set), as ``ros2 bag record`` does. The player republishes the raw bytes with the recorded QoS and
the original spacing divided by ``rate``, optionally publishing ``/clock`` for sim-time consumers.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from go_common.bags.storage import BagError, BagReader, BagWriter, TopicQos

CLOCK_TOPIC = "/clock"
RECORD_QUEUE_DEPTH = 1000


def message_class(msgtype: str) -> type:
    """Import the Python class of ``pkg/msg/Name`` (raises BagError naming the type)."""
    try:
        package, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ValueError, ImportError, AttributeError) as error:
        raise BagError(
            f"unknown message type '{msgtype}': not importable here ({error}); "
            "build and source the package that defines it"
        ) from error


def to_rclpy_qos(qos: TopicQos) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=(
            DurabilityPolicy.TRANSIENT_LOCAL if qos.transient_local else DurabilityPolicy.VOLATILE
        ),
    )


@dataclass(frozen=True)
class TopicFilter:
    """Which topics to record: exact names and/or regular expressions, minus exclusions."""

    names: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    record_all: bool = False

    def matches(self, topic: str) -> bool:
        if any(re.fullmatch(p, topic) for p in self.exclude):
            return False
        if self.record_all or topic in self.names:
            return True
        return any(re.fullmatch(p, topic) for p in self.patterns)


class Recorder:
    """Subscribe to matching topics on ``node`` and write them to ``writer``.

    Call ``discover()`` periodically (the record command does it on a timer); new publishers are
    picked up as they appear.
    """

    def __init__(self, node: Node, writer: BagWriter, topics: TopicFilter):
        self._node = node
        self._writer = writer
        self._filter = topics
        self._subscriptions: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    def discover(self) -> list[str]:
        """Subscribe to matching topics not yet recorded; returns the newly added names."""
        added = []
        for topic, types in self._node.get_topic_names_and_types():
            if topic in self._subscriptions or not self._filter.matches(topic) or not types:
                continue
            qos = self._offered_qos(topic)
            if qos is None:
                continue  # publisher QoS not discovered yet: subscribing blind could mismatch
            msgtype = types[0]
            try:
                cls = message_class(msgtype)
                self._writer.add_topic(topic, msgtype, qos)
            except BagError as error:
                self._node.get_logger().warning(f"not recording {topic}: {error}")
                self._subscriptions[topic] = None
                continue
            # Subscribe deeper than the publishers' history: a recorder must not drop a burst.
            listen = TopicQos(qos.reliable, qos.transient_local, depth=RECORD_QUEUE_DEPTH)
            self._subscriptions[topic] = self._node.create_subscription(
                cls, topic, self._callback_for(topic), to_rclpy_qos(listen), raw=True
            )
            self.counts[topic] = 0
            added.append(topic)
        return added

    def _offered_qos(self, topic: str) -> TopicQos | None:
        infos = self._node.get_publishers_info_by_topic(topic)
        if not infos:
            return None
        profiles = [info.qos_profile for info in infos]
        return TopicQos(
            # One best-effort publisher makes the topic best effort: a reliable subscription
            # would be incompatible with it and receive nothing.
            reliable=all(p.reliability == ReliabilityPolicy.RELIABLE for p in profiles),
            transient_local=all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in profiles),
            # Remote endpoints report depth 0 (unknown); keep the rclpy default then.
            depth=max(int(p.depth) for p in profiles) or 10,
        )

    def _callback_for(self, topic: str) -> Callable[[bytes], None]:
        def callback(data: bytes) -> None:
            self._writer.write(topic, self._node.get_clock().now().nanoseconds, data)
            self.counts[topic] += 1

        return callback


@dataclass(frozen=True)
class PlayOptions:
    rate: float = 1.0
    loop: bool = False
    topics: tuple[str, ...] = ()
    publish_clock: bool = False
    clock_hz: float = 50.0
    wait_for_subscribers_s: float = 1.0
    start_offset_s: float = 0.0


class Player:
    """Republish a bag on ``node`` with its timing. ``play()`` blocks until done (or ``stop()``)."""

    def __init__(self, node: Node, reader: BagReader, options: PlayOptions):
        if options.rate <= 0:
            raise BagError(f"rate must be > 0, got {options.rate}")
        self._node = node
        self._reader = reader
        self._options = options
        self._stopped = False
        topics = reader.topics
        selected = list(options.topics) or list(topics)
        missing = [t for t in selected if t not in topics]
        if missing:
            raise BagError(
                f"topic(s) {missing} not in bag '{reader.path}' (it has {sorted(topics)})"
            )
        self._publishers = {
            name: node.create_publisher(
                message_class(topics[name].msgtype), name, to_rclpy_qos(topics[name].qos)
            )
            for name in selected
        }
        self._clock_pub = None
        if options.publish_clock:
            from rosgraph_msgs.msg import Clock

            self._clock_cls = Clock
            self._clock_pub = node.create_publisher(Clock, CLOCK_TOPIC, 10)
        self.published = 0

    def stop(self) -> None:
        self._stopped = True

    def _publish_clock(self, stamp_ns: int) -> None:
        if self._clock_pub is None:
            return
        msg = self._clock_cls()
        msg.clock.sec, msg.clock.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        self._clock_pub.publish(msg)

    def _wait_until(self, due: float, wall0: float, bag0: int) -> None:
        """Sleep until wall time ``due``, publishing /clock at clock_hz meanwhile."""
        period = 1.0 / self._options.clock_hz
        while not self._stopped:
            now = time.perf_counter()
            if now >= due:
                return
            if self._clock_pub is not None:
                self._publish_clock(bag0 + int((now - wall0) * self._options.rate * 1e9))
            time.sleep(min(period, due - now))

    def play(self, spin: Callable[[float], None] | None = None) -> int:
        """Play once (or forever with loop); returns the number of messages published."""
        deadline = time.perf_counter() + self._options.wait_for_subscribers_s
        while time.perf_counter() < deadline and any(
            p.get_subscription_count() == 0 for p in self._publishers.values()
        ):
            if spin:
                spin(0.05)
            else:
                time.sleep(0.05)
        offset_ns = int(self._options.start_offset_s * 1e9)
        while not self._stopped:
            wall0 = time.perf_counter()
            bag0: int | None = None
            for topic, stamp_ns, raw in self._reader.messages(list(self._publishers)):
                if self._stopped:
                    break
                if bag0 is None:
                    bag0 = stamp_ns + offset_ns
                    wall0 = time.perf_counter()
                if stamp_ns < bag0:
                    continue
                due = wall0 + (stamp_ns - bag0) / 1e9 / self._options.rate
                self._wait_until(due, wall0, bag0)
                self._publish_clock(stamp_ns)
                self._publishers[topic].publish(raw)
                self.published += 1
            if not self._options.loop:
                break
        return self.published

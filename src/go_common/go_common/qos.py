"""Named QoS profiles of the go store (docs/ARCHITECTURE.md, "Topics").

Every publisher and subscriber picks one of these by name, so that a topic's producer and its
consumers always agree: a best-effort subscriber on a reliable topic works, but a transient-local
subscriber on a volatile publisher silently misses the latched message, which is the kind of
mismatch a single module prevents.

- ``SENSOR``: camera frames, camera info, ``/clock``, RViz markers. Best effort, keep last 5: a
  late frame is worth less than the next one, and large images must never back up the writer.
- ``EVENTS``: detections, tracks, shelf, cart and gate events, diagnostics. Reliable, keep last 50:
  every event matters, and the depth absorbs a burst while a subscriber is busy.
- ``RECEIPTS``: ``checkout/receipts``. Reliable, keep last 100: a receipt must never be dropped.
- ``STATE`` (alias ``LATCHED``): store layout and catalogue. Reliable, transient local, depth 1:
  a node that starts late still receives the last message ("latched" in ROS 1).
- ``STATIC_TF``: ``/tf_static`` publisher, exactly as ``tf2_ros.StaticTransformBroadcaster``
  (reliable, transient local, keep last 1; every static transform travels in one TFMessage).
- ``STATIC_TF_LISTENER``: ``/tf_static`` subscriber, as ``tf2_ros.TransformListener`` (depth 100,
  so the latched messages of many broadcasters all arrive).
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

SENSOR_DEPTH = 5
EVENTS_DEPTH = 50
RECEIPTS_DEPTH = 100

SENSOR = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=SENSOR_DEPTH,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)

EVENTS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=EVENTS_DEPTH,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

RECEIPTS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=RECEIPTS_DEPTH,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

STATE = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
LATCHED = STATE

STATIC_TF = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

STATIC_TF_LISTENER = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

PROFILES: dict[str, QoSProfile] = {
    "sensor": SENSOR,
    "events": EVENTS,
    "receipts": RECEIPTS,
    "state": STATE,
    "latched": LATCHED,
    "static_tf": STATIC_TF,
    "static_tf_listener": STATIC_TF_LISTENER,
}


def profile(name: str) -> QoSProfile:
    """Return the profile called ``name`` (case-insensitive), e.g. from a node parameter.

    Raises:
        ValueError: naming the unknown profile and the known ones.
    """
    try:
        return PROFILES[name.lower()]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown QoS profile '{name}' (known: {known})") from None

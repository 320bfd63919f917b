"""Topic and service names of the go store (docs/ARCHITECTURE.md, "Topics").

Names are relative so that a namespace or a launch-file remap places them; only ``/clock``,
``/tf_static`` and ``/diagnostics`` are absolute, as every ROS tool expects them there. Nodes use
these constants and helpers instead of literal strings, so a rename is one edit here (and in the
architecture page, in the same commit).
"""

from __future__ import annotations

import re

CLOCK = "/clock"
TF_STATIC = "/tf_static"
TF = "/tf"
DIAGNOSTICS = "/diagnostics"

CAMERAS_PREFIX = "cameras"
PERCEPTION_PRODUCTS = "perception/products"
SHELVES_LOAD_CELLS = "shelves/load_cells"
GATES_EVENTS = "gates/events"
STORE_LAYOUT = "store/layout"
STORE_CATALOGUE = "store/catalogue"
FUSION_SKELETONS = "fusion/skeletons"
FUSION_TRACKS = "fusion/tracks"
FUSION_SHELF_EVENTS = "fusion/shelf_events"
FUSION_CART_EVENTS = "fusion/cart_events"
FUSION_REVIEW_QUEUE = "fusion/review_queue"
FUSION_CARTS = "fusion/carts"
FUSION_MARKERS = "fusion/markers"
CHECKOUT_RECEIPTS = "checkout/receipts"
GROUND_TRUTH_PREFIX = "ground_truth"

# Services.
FUSION_GET_CART = "fusion/get_cart"
FUSION_RECORD_REVIEW = "fusion/record_review"

# A ROS name token: letters, digits and underscores, not starting with a digit (REP 144 rules
# for one token; a camera id or a ground-truth stream is exactly one token).
_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _token(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value) or "__" in value:
        raise ValueError(
            f"invalid {kind} '{value}': a ROS name token is letters, digits and single "
            "underscores, not starting with a digit"
        )
    return value


def camera_prefix(cam: str) -> str:
    """``cameras/<cam>``: the namespace of one camera's topics."""
    return f"{CAMERAS_PREFIX}/{_token('camera id', cam)}"


def camera_image(cam: str) -> str:
    """``cameras/<cam>/image_raw`` (sensor_msgs/Image, bgr8, SENSOR QoS)."""
    return f"{camera_prefix(cam)}/image_raw"


def camera_image_compressed(cam: str) -> str:
    """``cameras/<cam>/image_raw/compressed`` (sensor_msgs/CompressedImage, jpeg, SENSOR QoS)."""
    return f"{camera_image(cam)}/compressed"


def camera_info(cam: str) -> str:
    """``cameras/<cam>/camera_info`` (sensor_msgs/CameraInfo, SENSOR QoS)."""
    return f"{camera_prefix(cam)}/camera_info"


def camera_people(cam: str) -> str:
    """``cameras/<cam>/people`` (go_msgs/PersonDetectionArray, EVENTS QoS)."""
    return f"{camera_prefix(cam)}/people"


def camera_id_from_topic(topic: str) -> str:
    """Return ``<cam>`` of any ``[/ns/]cameras/<cam>/...`` topic.

    Raises:
        ValueError: when the topic has no ``cameras/<cam>/`` part.
    """
    parts = [p for p in topic.split("/") if p]
    # The camera id must be followed by at least one more token (the stream name).
    for i, part in enumerate(parts[:-2]):
        if part == CAMERAS_PREFIX:
            return _token("camera id", parts[i + 1])
    raise ValueError(f"topic '{topic}' is not a camera topic (no '{CAMERAS_PREFIX}/<cam>/')")


def camera_optical_frame(cam: str) -> str:
    """``<cam>_optical``: the camera's optical frame (z forward, x right, y down)."""
    return f"{_token('camera id', cam)}_optical"


def ground_truth(stream: str) -> str:
    """``ground_truth/<stream>``: simulator ground truth, read by go_eval only."""
    return f"{GROUND_TRUTH_PREFIX}/{_token('ground-truth stream', stream)}"


STORE_FRAME = "store"

"""Message round trips (serialise/deserialise without rclpy.init), QoS profiles and topic names."""

from __future__ import annotations

import inspect

import pytest
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message

import go_msgs.msg
import go_msgs.srv
from go_common import qos, topics
from go_common.testing import filled_message

MESSAGES = sorted(
    (
        cls
        for _, cls in inspect.getmembers(go_msgs.msg, inspect.isclass)
        if hasattr(cls, "SLOT_TYPES")
    ),
    key=lambda c: c.__name__,
)
SERVICES = sorted(
    (cls for _, cls in inspect.getmembers(go_msgs.srv, inspect.isclass) if hasattr(cls, "Request")),
    key=lambda c: c.__name__,
)


def test_every_interface_of_the_contract_is_built() -> None:
    names = {c.__name__ for c in MESSAGES}
    for expected in (
        "LoadCellBoard",
        "ShelfEvent",
        "GateEvent",
        "PersonDetectionArray",
        "Skeleton3DArray",
        "ShopperTrackArray",
        "ProductEvidenceArray",
        "CartEvent",
        "Cart",
        "Receipt",
        "StoreLayout",
        "Catalogue",
    ):
        assert expected in names
    assert {c.__name__ for c in SERVICES} >= {"GetCart", "RecordReview"}


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_message_round_trip(cls: type) -> None:
    msg = filled_message(cls, seed=5)
    wire = serialize_message(msg)
    back = deserialize_message(wire, cls)
    # Compare messages, not bytes: CDR alignment padding is not zeroed, so equal messages can
    # serialise to different bytes.
    assert back == msg
    # A different seed gives a different message: the comparison above can fail.
    if cls.get_fields_and_field_types():
        assert filled_message(cls, seed=6) != msg


@pytest.mark.parametrize("srv", SERVICES, ids=lambda c: c.__name__)
def test_service_round_trip(srv: type) -> None:
    for part in (srv.Request, srv.Response):
        msg = filled_message(part, seed=9)
        assert deserialize_message(serialize_message(msg), part) == msg


def test_truncated_bytes_do_not_deserialise() -> None:
    wire = serialize_message(filled_message(go_msgs.msg.Receipt, seed=2))
    with pytest.raises(Exception):  # noqa: B017 - rclpy raises a plain RuntimeError-like error
        deserialize_message(wire[: len(wire) // 2], go_msgs.msg.Receipt)


def test_qos_profiles_match_the_architecture() -> None:
    assert qos.SENSOR.reliability == ReliabilityPolicy.BEST_EFFORT
    assert qos.SENSOR.durability == DurabilityPolicy.VOLATILE
    assert qos.EVENTS.reliability == ReliabilityPolicy.RELIABLE
    assert qos.RECEIPTS.depth == 100
    for latched in (qos.STATE, qos.LATCHED, qos.STATIC_TF):
        assert latched.durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert latched.reliability == ReliabilityPolicy.RELIABLE
        assert latched.depth == 1
    assert qos.profile("Sensor") is qos.SENSOR
    with pytest.raises(ValueError, match="unknown QoS profile 'fast'"):
        qos.profile("fast")


def test_topic_names() -> None:
    assert topics.camera_image("cam_0") == "cameras/cam_0/image_raw"
    assert topics.camera_image_compressed("cam_0") == "cameras/cam_0/image_raw/compressed"
    assert topics.camera_info("cam_0") == "cameras/cam_0/camera_info"
    assert topics.camera_people("cam_0") == "cameras/cam_0/people"
    assert topics.camera_optical_frame("cam_0") == "cam_0_optical"
    assert topics.camera_id_from_topic("/store/cameras/cam_0/people") == "cam_0"
    assert topics.ground_truth("tracks") == "ground_truth/tracks"
    assert not topics.FUSION_TRACKS.startswith("/")
    for bad in ("", "0cam", "cam-0", "cam/0", "a__b"):
        with pytest.raises(ValueError, match="invalid camera id"):
            topics.camera_image(bad)
    with pytest.raises(ValueError, match="not a camera topic"):
        topics.camera_id_from_topic("fusion/tracks")

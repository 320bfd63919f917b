"""product_node: message conversions and bad-input handling, without a running ROS graph."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from go_common import qos, topics
from go_common.params import read_defaults
from go_msgs.msg import (
    Catalogue,
    PersonDetection,
    PersonDetectionArray,
    Product,
    ProductEvidence,
    ProductEvidenceArray,
)
from go_perception.core.facings import FacingReport
from go_perception.core.products.classifier import SkuScore
from go_perception.core.products.dataset import load_grocery, read_bgr
from go_perception.core.products.recognise import ProductObservation
from go_perception.nodes.product_node import (
    CONFIG_FILE,
    ProductNode,
    ProductNodeConfig,
    build_facing_watchers,
    build_recogniser,
)
from go_perception.product_conversions import barcode_table, evidence_array_msg, people_from_msg


def _person_msg(wrist=(320.0, 240.0), elbow=(320.0, 160.0)) -> PersonDetection:
    p = PersonDetection(score=0.9, bbox=[250.0, 50.0, 400.0, 470.0])
    kp = np.zeros(34, np.float32)
    kp[18:20] = wrist  # left wrist (index 9)
    kp[14:16] = elbow  # left elbow (index 7)
    scores = np.zeros(17, np.float32)
    scores[[7, 9]] = 0.9
    p.keypoints, p.keypoint_scores = kp.tolist(), scores.tolist()
    return p


def _header(sec: int = 12, nanosec: int = 500) -> Header:
    h = Header(frame_id="cam_0_optical")
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


def test_people_from_msg_keeps_indices_and_keypoint_layout() -> None:
    msg = PersonDetectionArray(people=[_person_msg(), _person_msg((10.0, math.nan))])
    people = people_from_msg(msg)
    assert [p.index for p in people] == [0, 1]
    assert people[0].keypoints.shape == (17, 3)
    assert people[0].keypoints[9].tolist() == pytest.approx([320.0, 240.0, 0.9])
    assert people[0].bbox.tolist() == [250.0, 50.0, 400.0, 470.0]
    assert math.isnan(people[1].keypoints[9, 1])


def test_evidence_array_msg_copies_header_and_ranks() -> None:
    obs = [
        ProductObservation(
            2, "right", (1, 2, 30, 40), (SkuScore("A", 0.7), SkuScore("B", 0.2)), "hand"
        ),
        ProductObservation(2, "right", (1, 2, 30, 40), (SkuScore("A", 1.0),), "barcode"),
    ]
    header = _header()
    msg = evidence_array_msg(header, "cam_0", obs)
    assert msg.header == header
    hand, code = msg.evidence
    assert hand.evidence_id == "cam_0/12000000500/p2/right"
    assert code.evidence_id.endswith("/barcode") and code.source == ProductEvidence.SOURCE_BARCODE
    assert hand.source == ProductEvidence.SOURCE_HAND and hand.camera_id == "cam_0"
    assert list(hand.bbox) == [1.0, 2.0, 30.0, 40.0]
    assert math.isnan(hand.position.x) and hand.bin_id == ""
    assert [(s.sku, round(s.score, 3)) for s in hand.ranked] == [("A", 0.7), ("B", 0.2)]


def test_facing_reports_follow_the_hand_evidence_with_their_lane_and_since() -> None:
    reports = [
        FacingReport("cam_0", "g1_xp_s3_b3", "Alpro-Vanilla-Soyghurt", 10.25, 12.5, 0.3, True),
        FacingReport("cam_0", "g1_xp_s3_b3", "Alpro-Blueberry-Soyghurt", 11.0, 12.5, 0.0, False),
    ]
    msg = evidence_array_msg(_header(), "cam_0", [], reports)
    moved, still = msg.evidence
    assert moved.source == ProductEvidence.SOURCE_FACING and moved.bin_id == "g1_xp_s3_b3"
    assert moved.evidence_id == "cam_0/12000000500/facing/g1_xp_s3_b3/Alpro-Vanilla-Soyghurt"
    assert [(r.sku, r.score) for r in moved.ranked] == [("Alpro-Vanilla-Soyghurt", 1.0)]
    assert [r.score for r in still.ranked] == [0.0]
    assert (moved.since.sec, moved.since.nanosec) == (10, 250_000_000)
    assert math.isnan(moved.position.x)


def test_facing_watchers_need_the_cameras_to_be_in_the_store() -> None:
    assert build_facing_watchers(ProductNodeConfig(**_config_values())) == {}  # store ""
    cfg = ProductNodeConfig(**{**_config_values(), "store": "small", "camera_ids": ["cam_aisle"]})
    assert list(build_facing_watchers(cfg)) == ["cam_aisle"]
    cfg = ProductNodeConfig(**{**_config_values(), "store": "small", "camera_ids": ["cam_0"]})
    with pytest.raises(ValueError, match="cam_0"):
        build_facing_watchers(cfg)


def test_barcode_table_skips_products_without_code() -> None:
    msg = Catalogue(products=[Product(sku="A", barcode="123"), Product(sku="B", barcode="")])
    assert barcode_table(msg) == {"123": "A"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"camera_ids": []}, "camera_ids"),
        ({"camera_ids": ["bad id"]}, "camera id"),
        ({"top_k": 0}, "top_k"),
        ({"sync_slop_s": 0.0}, "sync_slop_s"),
    ],
)
def test_bad_config_is_named(change, match) -> None:
    with pytest.raises(ValueError, match=match):
        ProductNodeConfig(**{**_config_values(), **change})


def test_missing_model_is_named(tmp_path) -> None:
    cfg = ProductNodeConfig(**{**_config_values(), "model_path": str(tmp_path / "m.onnx")})
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "m.onnx")):
        build_recogniser(cfg)


def _config_values() -> dict[str, object]:
    return read_defaults(CONFIG_FILE, "product_node")[0]


class _Recorder:
    def __init__(self) -> None:
        self.messages: list = []

    def publish(self, msg) -> None:
        self.messages.append(msg)


@pytest.fixture(scope="module")
def node():
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        n = ProductNode(
            context=context,
            parameter_overrides=[Parameter("verify_sift", value=False)],
        )
        assert n.trigger_configure() == TransitionCallbackReturn.SUCCESS
        yield n
        n.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_configure_fails_naming_a_missing_model(tmp_path) -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        missing = str(tmp_path / "missing.onnx")
        n = ProductNode(
            context=context, parameter_overrides=[Parameter("model_path", value=missing)]
        )
        assert n.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert n.recogniser is None
        n.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def _scene() -> np.ndarray:
    """A 640x480 grey frame with a grocery photograph where the left hand is."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    product = cv2.resize(read_bgr(load_grocery().split("test")[0].path), (100, 100))
    frame[225:325, 270:370] = product
    return frame


def test_node_publishes_evidence_for_a_raw_image(node) -> None:
    node.publisher = recorder = _Recorder()
    frame = _scene()
    image = Image(header=_header(), height=480, width=640, encoding="bgr8", step=640 * 3)
    image.data = frame.tobytes()
    node.on_pair("cam_0", image, PersonDetectionArray(header=_header(), people=[_person_msg()]))
    (msg,) = recorder.messages
    assert msg.header == image.header
    (ev,) = msg.evidence  # left wrist only: the right one has score 0
    assert ev.camera_id == "cam_0" and len(ev.ranked) == node.config.top_k
    assert ev.ranked[0].sku in load_grocery().skus


def test_node_with_a_store_publishes_the_lanes_of_its_mixed_bins() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        n = ProductNode(
            context=context,
            parameter_overrides=[
                Parameter("verify_sift", value=False),
                Parameter("store", value="small"),
                Parameter("camera_ids", value=["cam_aisle"]),
            ],
        )
        assert n.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert list(n.facings) == ["cam_aisle"]
        n.publisher = recorder = _Recorder()
        frame = np.full((480, 640, 3), 120, np.uint8)
        for k in range(16):  # 10 Hz, nobody in view: each lane is reported once it is steady
            image = Image(
                header=_header(sec=10 + k // 10, nanosec=(k % 10) * 100_000_000),
                height=480,
                width=640,
                encoding="bgr8",
                step=640 * 3,
            )
            image.data = frame.tobytes()
            n.on_pair("cam_aisle", image, PersonDetectionArray(header=image.header))
        facing = [
            e
            for m in recorder.messages
            for e in m.evidence
            if e.source == ProductEvidence.SOURCE_FACING
        ]
        assert {e.bin_id for e in facing} == {"g1_xp_s3_b3"}
        assert {e.ranked[0].sku for e in facing} == {
            "Alpro-Blueberry-Soyghurt",
            "Alpro-Vanilla-Soyghurt",
        }
        assert all(e.ranked[0].score == 0.0 and e.since.sec == 10 for e in facing)  # unmoved
        assert n.counts["facing_reports"] == len(facing)
        n.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_node_reads_compressed_images(node) -> None:
    node.publisher = recorder = _Recorder()
    _, jpeg = cv2.imencode(".jpg", _scene())
    image = CompressedImage(header=_header(), format="jpeg", data=jpeg.tobytes())
    node.on_pair("cam_0", image, PersonDetectionArray(people=[_person_msg()]))
    assert len(recorder.messages[0].evidence) == 1


@pytest.mark.parametrize(
    "image",
    [
        Image(header=_header(), height=4, width=4, encoding="32FC1", step=16, data=bytes(64)),
        Image(header=_header(), height=480, width=640, encoding="bgr8", step=1920, data=bytes(100)),
        Image(header=_header(), height=0, width=0, encoding="bgr8", step=0),
        CompressedImage(header=_header(), format="jpeg", data=b"\xff\xd8\xff garbage"),
    ],
    ids=["wrong-encoding", "truncated", "zero-size", "corrupt-jpeg"],
)
def test_node_skips_bad_images_without_publishing(node, image) -> None:
    node.publisher = recorder = _Recorder()
    bad_before = node.counts["bad_images"]
    node.on_pair("cam_0", image, PersonDetectionArray(people=[_person_msg()]))
    assert recorder.messages == []
    assert node.counts["bad_images"] == bad_before + 1 and "cam_0" in node.last_problem


def test_node_reports_skips_on_diagnostics(node) -> None:
    node._diagnostics = recorder = _Recorder()
    node.counts["bad_images"] += 1
    node.publish_diagnostics()
    (status,) = recorder.messages[0].status
    assert status.level == DiagnosticStatus.WARN
    assert {kv.key for kv in status.values} >= {"images", "bad_images", "crops"}


def test_node_publishes_empty_evidence_for_crops_off_image(node) -> None:
    node.publisher = recorder = _Recorder()
    image = Image(header=_header(), height=480, width=640, encoding="bgr8", step=1920)
    image.data = bytes(480 * 1920)
    people = PersonDetectionArray(people=[_person_msg((700.0, 900.0), (700.0, 820.0))])
    node.on_pair("cam_0", image, people)
    assert len(recorder.messages) == 1 and recorder.messages[0].evidence == []


def test_node_pairs_image_and_people_topics_and_publishes() -> None:
    """Through a ROS graph: image + people on cameras/cam_0/* -> perception/products."""

    from go_msgs.msg import ProductEvidenceArray

    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        node = ProductNode(
            context=context,
            parameter_overrides=[
                Parameter("verify_sift", value=False),
                Parameter("read_barcodes", value=False),
            ],
        )
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        peer = rclpy.create_node("product_node_test_peer", context=context)
        received: list[ProductEvidenceArray] = []
        peer.create_subscription(
            ProductEvidenceArray, topics.PERCEPTION_PRODUCTS, received.append, qos.EVENTS
        )
        images = peer.create_publisher(Image, topics.camera_image("cam_0"), qos.SENSOR)
        people = peer.create_publisher(
            PersonDetectionArray, topics.camera_people("cam_0"), qos.EVENTS
        )
        executor.add_node(node)
        executor.add_node(peer)
        frame = _scene()
        image = Image(header=_header(), height=480, width=640, encoding="bgr8", step=1920)
        image.data = frame.tobytes()
        for _ in range(200):  # discovery takes a few spins; stop as soon as it arrives
            images.publish(image)
            people.publish(PersonDetectionArray(header=_header(), people=[_person_msg()]))
            executor.spin_once(timeout_sec=0.05)
            if received:
                break
        assert received, "no ProductEvidenceArray on perception/products"
        assert received[0].header.stamp == image.header.stamp
        assert len(received[0].evidence) == 1
        executor.remove_node(node)
        executor.remove_node(peer)
        node.destroy_node()
        peer.destroy_node()
    finally:
        executor.shutdown()
        rclpy.shutdown(context=context)

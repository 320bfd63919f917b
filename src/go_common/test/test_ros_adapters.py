"""rclpy adapters on a live (local, per-test-domain) graph: /tf_static and approximate sync.

Driven deterministically with ``executor.spin_once`` in one process; each test owns its context.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from go_common import qos, topics
from go_common.conversions import matrix_to_transform_msg, ns_to_stamp
from go_common.core.tf_tree import TransformError
from go_common.tf_tree import StaticTransformBroadcaster, StaticTransformBuffer
from go_common.time_sync import ApproximateTimeSynchronizer

pytestmark = pytest.mark.ros

# The official RIHS01 type hash of tf2_msgs/msg/TFMessage (ROS 2 Jazzy and later: shown by
# `ros2 topic info -v /tf` and in rosbag2 metadata). The fallback build must produce the same, or
# a real tf2_ros node on the same graph would not match our /tf_static publisher.
OFFICIAL_TFMESSAGE_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"


Ros = tuple[Context, SingleThreadedExecutor, Callable[[str], Node]]


@pytest.fixture
def ros() -> Iterator[Ros]:
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    nodes: list[Node] = []

    def make_node(name: str) -> Node:
        node = Node(name, context=context)
        executor.add_node(node)
        nodes.append(node)
        return node

    try:
        yield context, executor, make_node
    finally:
        for node in nodes:
            node.destroy_node()
        executor.shutdown()
        rclpy.shutdown(context=context)


def spin_until(
    executor: SingleThreadedExecutor, done: Callable[[], bool], steps: int = 200
) -> bool:
    for _ in range(steps):
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return done()


def test_fallback_tfmessage_has_the_official_type_hash(ros: Ros) -> None:
    _, _, make_node = ros
    node = make_node("hash_probe")
    node.create_publisher(TFMessage, "/tf_static_hash_probe", qos.STATIC_TF)
    infos = node.get_publishers_info_by_topic("/tf_static_hash_probe")
    assert len(infos) == 1
    assert str(infos[0].topic_type_hash) == OFFICIAL_TFMESSAGE_HASH
    # Same value in the type description installed with the package.
    import tf2_msgs

    share = Path(tf2_msgs.__file__).resolve().parents[4] / "share/tf2_msgs/msg/TFMessage.json"
    if share.is_file():
        hashes = json.loads(share.read_text())["type_hashes"]
        assert hashes[0]["type_name"] == "tf2_msgs/msg/TFMessage"
        assert hashes[0]["hash_string"] == OFFICIAL_TFMESSAGE_HASH


def test_static_transforms_reach_a_late_buffer(ros: Ros) -> None:
    _, executor, make_node = ros
    pub_node = make_node("calibration_publisher")
    broadcaster = StaticTransformBroadcaster(pub_node, use_tf2_ros=False)
    t_store_rig = np.eye(4)
    t_store_rig[:3, 3] = [1.0, 2.0, 3.0]
    t_rig_cam = np.array([[1.0, 0, 0, 0.5], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])
    broadcaster.send_transform(matrix_to_transform_msg("store", "rig", t_store_rig))
    # A second call adds to the set: late subscribers still receive both transforms.
    broadcaster.send_transform([matrix_to_transform_msg("rig", "cam_0_optical", t_rig_cam)])
    # The buffer starts after both were published: transient local delivers them.
    sub_node = make_node("calibration_user")
    buffer = StaticTransformBuffer(sub_node, use_tf2_ros=False)
    assert spin_until(executor, lambda: buffer.can_transform("store", "cam_0_optical"))
    np.testing.assert_allclose(buffer.lookup("store", "cam_0_optical"), t_store_rig @ t_rig_cam)
    info = sub_node.get_subscriptions_info_by_topic(topics.TF_STATIC)[0]
    assert info.qos_profile.durability == qos.STATIC_TF.durability
    with pytest.raises(TransformError, match="unknown frame 'cam_9_optical'"):
        buffer.lookup("store", "cam_9_optical")


def test_broadcaster_refuses_a_transform_without_frames(ros: Ros) -> None:
    _, _, make_node = ros
    broadcaster = StaticTransformBroadcaster(make_node("bad_tf"), use_tf2_ros=False)
    bad = matrix_to_transform_msg("store", "x", np.eye(4))
    bad.child_frame_id = ""
    with pytest.raises(TransformError, match="lacks a frame id"):
        broadcaster.send_transform(bad)


def test_approximate_sync_adapter_pairs_image_and_camera_info(ros: Ros) -> None:
    _, executor, make_node = ros
    node = make_node("sync_user")
    pairs: list[tuple[Image, CameraInfo]] = []
    sync = ApproximateTimeSynchronizer(
        node,
        [(Image, topics.camera_image("cam_0")), (CameraInfo, topics.camera_info("cam_0"))],
        queue_size=5,
        slop_s=0.01,
        callback=lambda image, info: pairs.append((image, info)),
        qos_profile=qos.EVENTS,
        use_message_filters=False,
    )
    assert sync.backend == "go_common"
    pub_node = make_node("camera")
    image_pub = pub_node.create_publisher(Image, topics.camera_image("cam_0"), qos.EVENTS)
    info_pub = pub_node.create_publisher(CameraInfo, topics.camera_info("cam_0"), qos.EVENTS)
    assert spin_until(executor, lambda: image_pub.get_subscription_count() == 1)
    assert spin_until(executor, lambda: info_pub.get_subscription_count() == 1)
    for k in range(3):
        stamp = ns_to_stamp(1_000_000_000 + k * 100_000_000)
        image, info = Image(), CameraInfo()
        image.header.stamp = stamp
        info.header.stamp = ns_to_stamp(1_000_000_000 + k * 100_000_000 + 3_000_000)  # 3 ms late
        image.width = k + 1
        image_pub.publish(image)
        info_pub.publish(info)
    assert spin_until(executor, lambda: len(pairs) == 3)
    assert [p[0].width for p in pairs] == [1, 2, 3]


@pytest.mark.parametrize("allow_headerless", [False, True])
def test_approximate_sync_adapter_headerless_messages(ros: Ros, allow_headerless: bool) -> None:
    """Dropped by default (as message_filters); stamped on arrival when allowed."""
    _, executor, make_node = ros
    node = make_node("headerless_user")
    got: list[tuple] = []
    ApproximateTimeSynchronizer(
        node,
        [(String, "a"), (String, "b")],
        queue_size=5,
        slop_s=5.0,
        callback=lambda *msgs: got.append(msgs),
        qos_profile=qos.EVENTS,
        allow_headerless=allow_headerless,
        use_message_filters=False,
    )
    pub_a = node.create_publisher(String, "a", qos.EVENTS)
    pub_b = node.create_publisher(String, "b", qos.EVENTS)
    assert spin_until(executor, lambda: pub_b.get_subscription_count() == 1)
    pub_a.publish(String(data="x"))
    pub_b.publish(String(data="y"))
    if allow_headerless:
        assert spin_until(executor, lambda: len(got) == 1)
        assert [m.data for m in got[0]] == ["x", "y"]
    else:
        for _ in range(10):
            executor.spin_once(timeout_sec=0.02)
        assert got == []


def test_static_tf_node_publishes_the_calibration(ros: Ros, tmp_path: Path) -> None:
    from rclpy.parameter import Parameter

    from go_common.core.tf_tree import CalibrationError
    from go_common.nodes.static_tf_node import StaticTfNode

    context, executor, make_node = ros
    calib = tmp_path / "calib.yaml"
    calib.write_text(
        "frame_id: store\ncameras:\n"
        "  cam_0: {translation: [1.0, 2.0, 3.0], rotation: [1.0, 0.0, 0.0, 0.0]}\n"
    )
    node = StaticTfNode(
        context=context, parameter_overrides=[Parameter("calibration", value=str(calib))]
    )
    executor.add_node(node)
    buffer = StaticTransformBuffer(make_node("tf_user"), use_tf2_ros=False)
    try:
        assert spin_until(executor, lambda: buffer.can_transform("store", "cam_0_optical"))
        expected = np.diag([1.0, -1.0, -1.0, 1.0])
        expected[:3, 3] = [1.0, 2.0, 3.0]
        np.testing.assert_allclose(buffer.lookup("store", "cam_0_optical"), expected, atol=1e-12)
    finally:
        node.destroy_node()
    with pytest.raises(CalibrationError, match=r"missing\.yaml"):
        StaticTfNode(
            context=context,
            parameter_overrides=[Parameter("calibration", value=str(tmp_path / "missing.yaml"))],
        )

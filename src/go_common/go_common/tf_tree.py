"""Static transforms on the ROS graph: a /tf_static broadcaster and a lookup buffer.

Uses ``tf2_ros`` where it imports (a full ROS 2 install) and small equivalents otherwise:

- ``StaticTransformBroadcaster(node)``: like ``tf2_ros.StaticTransformBroadcaster``, keeps every
  transform sent so far (one per child frame) and publishes them all as one
  ``tf2_msgs/TFMessage`` on ``/tf_static`` with ``qos.STATIC_TF`` (reliable, transient local,
  depth 1), so late subscribers get the whole set.
- ``StaticTransformBuffer(node)``: subscribes to ``/tf_static`` (``qos.STATIC_TF_LISTENER``) and
  answers ``lookup(target, source) -> (4, 4) T_target_source`` through
  ``go_common.core.tf_tree.TransformTree``. Only static transforms: the go pipeline has no moving
  frames (everything is fused in ``store``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.time import Time
from tf2_msgs.msg import TFMessage

from go_common import qos, topics
from go_common.conversions import matrix_to_transform_msg, stamp_to_ns, transform_msg_to_matrix
from go_common.core.tf_tree import CameraCalibration, TransformError, TransformTree

try:  # the real package on a full ROS 2 install
    import tf2_ros as _tf2_ros
except ImportError:  # pip-installed rclpy: the equivalents below
    _tf2_ros = None

__all__ = ["StaticTransformBroadcaster", "StaticTransformBuffer", "calibration_transforms"]


def calibration_transforms(
    calibrations: Mapping[str, CameraCalibration], stamp_ns: int = 0
) -> list[TransformStamped]:
    """``parent -> <camera>_optical`` TransformStamped for each calibrated camera."""
    return [
        matrix_to_transform_msg(cal.parent_frame, cal.optical_frame, cal.T_parent_optical, stamp_ns)
        for _, cal in sorted(calibrations.items())
    ]


class StaticTransformBroadcaster:
    """Publish static transforms on ``/tf_static`` (latched; one TFMessage with all of them)."""

    def __init__(self, node: Node, *, use_tf2_ros: bool = True) -> None:
        self._node = node
        self._transforms: dict[str, TransformStamped] = {}
        if use_tf2_ros and _tf2_ros is not None:
            self.backend = "tf2_ros"
            self._impl = _tf2_ros.StaticTransformBroadcaster(node, qos=qos.STATIC_TF)
            return
        self.backend = "go_common"
        self._publisher = node.create_publisher(TFMessage, topics.TF_STATIC, qos.STATIC_TF)

    def send_transform(self, transforms: TransformStamped | Sequence[TransformStamped]) -> None:
        """Add or replace transforms (keyed by child frame) and publish the whole set."""
        batch = [transforms] if isinstance(transforms, TransformStamped) else list(transforms)
        for t in batch:
            if not t.header.frame_id or not t.child_frame_id:
                raise TransformError(
                    f"transform '{t.header.frame_id}' -> '{t.child_frame_id}' lacks a frame id"
                )
            # Validates the rotation before anything is published.
            transform_msg_to_matrix(t)
        if self.backend == "tf2_ros":
            self._impl.sendTransform(batch)
            return
        for t in batch:
            self._transforms[t.child_frame_id] = t
        self._publisher.publish(TFMessage(transforms=list(self._transforms.values())))

    def destroy(self) -> None:
        if self.backend == "go_common":
            self._node.destroy_publisher(self._publisher)


class StaticTransformBuffer:
    """Collect ``/tf_static`` and look up transforms between any two connected frames."""

    def __init__(self, node: Node, *, use_tf2_ros: bool = True) -> None:
        self._node = node
        if use_tf2_ros and _tf2_ros is not None:
            self.backend = "tf2_ros"
            self._buffer = _tf2_ros.Buffer()
            self._listener = _tf2_ros.TransformListener(self._buffer, node)
            return
        self.backend = "go_common"
        self.tree = TransformTree()
        self._subscription = node.create_subscription(
            TFMessage, topics.TF_STATIC, self._on_tf_static, qos.STATIC_TF_LISTENER
        )

    def _on_tf_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            try:
                self.tree.set_transform(
                    t.header.frame_id,
                    t.child_frame_id,
                    transform_msg_to_matrix(t),
                    stamp_to_ns(t.header.stamp),
                )
            except TransformError as error:
                self._node.get_logger().error(
                    f"/tf_static: ignoring {t.header.frame_id} -> {t.child_frame_id}: {error}",
                    throttle_duration_sec=10.0,
                )

    def can_transform(self, target: str, source: str) -> bool:
        """Whether ``lookup(target, source)`` would succeed now."""
        try:
            self.lookup(target, source)
        except TransformError:
            return False
        return True

    def lookup(self, target: str, source: str) -> np.ndarray:
        """T_target_source (4, 4): maps points in ``source`` into ``target`` [m].

        Raises:
            TransformError: unknown frame or frames not connected (the message names them).
        """
        if self.backend == "tf2_ros":
            try:
                msg = self._buffer.lookup_transform(target, source, Time())
            except (_tf2_ros.LookupException, _tf2_ros.ConnectivityException) as error:
                raise TransformError(f"no transform {target} <- {source}: {error}") from None
            return transform_msg_to_matrix(msg)
        return self.tree.lookup(target, source)

    def destroy(self) -> None:
        if self.backend == "go_common":
            self._node.destroy_subscription(self._subscription)

"""Messages <-> core types shared by every package: stamps, transforms, camera calibration.

Image conversions live in ``go_common.image``. Stamps are integer nanoseconds in the cores (exact
equality for synchronisation) or float seconds (algorithms); both convert losslessly from
``builtin_interfaces/Time`` within float precision.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from sensor_msgs.msg import CameraInfo

from go_common.core.tf_tree import (
    CameraCalibration,
    StampedTransform,
    matrix_from_translation_quaternion,
    translation_quaternion_from_matrix,
)

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Time) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Integer nanoseconds (>= 0) -> ``builtin_interfaces/Time``."""
    if ns < 0:
        raise ValueError(f"negative stamp {ns} ns")
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


def stamp_to_seconds(stamp: Time) -> float:
    """``builtin_interfaces/Time`` -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds: float) -> Time:
    """Float seconds (>= 0, finite) -> ``builtin_interfaces/Time`` (rounded to 1 ns)."""
    if not np.isfinite(seconds):
        raise ValueError(f"non-finite stamp {seconds}")
    return ns_to_stamp(round(seconds * NS_PER_S))


def matrix_to_transform_msg(
    parent: str, child: str, matrix: np.ndarray, stamp_ns: int = 0
) -> TransformStamped:
    """(4, 4) T_parent_child -> ``geometry_msgs/TransformStamped`` (frame_id = parent)."""
    t, q = translation_quaternion_from_matrix(matrix)
    msg = TransformStamped()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = parent
    msg.child_frame_id = child
    msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = (
        float(v) for v in t
    )
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return msg


def transform_msg_to_matrix(msg: TransformStamped) -> np.ndarray:
    """``geometry_msgs/TransformStamped`` -> (4, 4) T_parent_child (quaternion normalised)."""
    t, r = msg.transform.translation, msg.transform.rotation
    return matrix_from_translation_quaternion((t.x, t.y, t.z), (r.x, r.y, r.z, r.w))


def transform_msg_to_core(msg: TransformStamped) -> StampedTransform:
    """``geometry_msgs/TransformStamped`` -> ``StampedTransform``."""
    return StampedTransform(
        parent=msg.header.frame_id,
        child=msg.child_frame_id,
        matrix=transform_msg_to_matrix(msg),
        stamp_ns=stamp_to_ns(msg.header.stamp),
    )


def camera_info_msg(calibration: CameraCalibration, stamp_ns: int = 0) -> CameraInfo:
    """``sensor_msgs/CameraInfo`` of a calibrated camera (header.frame_id = its optical frame).

    R is the identity and P = [K | 0] (a monocular, unrectified camera).
    """
    if calibration.K is None:
        raise ValueError(f"camera '{calibration.camera_id}' has no intrinsics")
    msg = CameraInfo()
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = calibration.optical_frame
    msg.width, msg.height = int(calibration.width), int(calibration.height)
    msg.distortion_model = calibration.distortion_model
    msg.d = [float(v) for v in (calibration.D if calibration.D is not None else [])]
    msg.k = [float(v) for v in np.asarray(calibration.K).reshape(9)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    p = np.zeros((3, 4))
    p[:, :3] = calibration.K
    msg.p = [float(v) for v in p.reshape(12)]
    return msg

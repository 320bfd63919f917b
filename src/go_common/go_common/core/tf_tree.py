"""Static transform tree and camera calibration (pure; numpy + scipy + PyYAML, no rclpy).

A ``TransformTree`` stores rigid transforms between named frames as tf2 does (a forest: each
frame has at most one parent) and answers ``lookup(target, source)`` by composing and inverting
along the path through the common ancestor. Conventions follow tf2:

- ``set_transform(parent, child, T)``: ``T`` (4, 4) is the pose of ``child`` in ``parent``, i.e.
  it maps points expressed in ``child`` into ``parent`` (``p_parent = T @ p_child``); this is what a
  ``geometry_msgs/TransformStamped`` with ``header.frame_id = parent`` carries.
- ``lookup(target, source)`` returns ``T_target_source``: it maps points in ``source`` into
  ``target`` (tf2's ``lookup_transform(target_frame, source_frame)``).

Camera calibration comes from the store model (``go_common.core.store``, cameras with
``T_store_optical``) or from a plain calibration YAML (format in ``load_calibration_yaml``).
Quaternions are ROS order (x, y, z, w); units are metres.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

_LOG = logging.getLogger(__name__)

_ORTHO_TOL = 1e-6  # |R^T R - I| accepted for a rotation matrix (float round-off of stored values)
_QUAT_NORM_TOL = 1e-3  # quaternions in YAML are often written with 4-6 digits


class TransformError(ValueError):
    """A transform could not be stored or looked up; the message names the frames."""


class FrameNotFoundError(TransformError):
    """A frame that the tree has never seen."""


class ConnectivityError(TransformError):
    """Both frames exist but lie in different trees (no chain of transforms joins them)."""


class CalibrationError(ValueError):
    """A calibration file is missing or malformed; the message names the file and the entry."""


def matrix_from_translation_quaternion(
    translation: Iterable[float], quaternion_xyzw: Iterable[float]
) -> np.ndarray:
    """(4, 4) homogeneous transform from a translation (3,) [m] and a quaternion (x, y, z, w).

    The quaternion is normalised; a zero or non-finite one raises ``TransformError``.
    """
    t = np.asarray(list(translation), dtype=np.float64)
    q = np.asarray(list(quaternion_xyzw), dtype=np.float64)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise TransformError(f"translation must be 3 finite numbers, got {t.tolist()}")
    norm = float(np.linalg.norm(q)) if q.shape == (4,) else 0.0
    if q.shape != (4,) or not np.all(np.isfinite(q)) or norm < 1e-9:
        raise TransformError(
            f"rotation must be a non-zero quaternion (x, y, z, w), got {q.tolist()}"
        )
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(q / norm).as_matrix()
    out[:3, 3] = t
    return out


def translation_quaternion_from_matrix(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a (4, 4) rigid transform into translation (3,) [m] and quaternion (x, y, z, w)."""
    m = validate_rigid(matrix)
    q = Rotation.from_matrix(m[:3, :3]).as_quat()
    if q[3] < 0.0:  # one canonical sign, so round trips compare equal
        q = -q
    return m[:3, 3].copy(), q


def validate_rigid(matrix: Any, what: str = "transform") -> np.ndarray:
    """Return ``matrix`` as a (4, 4) float array after checking it is a finite rigid transform."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (4, 4):
        raise TransformError(f"{what} must be a 4x4 matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise TransformError(f"{what} has non-finite entries")
    rot = m[:3, :3]
    if (
        not np.allclose(rot.T @ rot, np.eye(3), atol=_ORTHO_TOL)
        or np.linalg.det(rot) <= 0.0
        or not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0])
    ):
        raise TransformError(f"{what} is not a rigid transform (rotation not orthonormal, det +1)")
    return m


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (4, 4) rigid transform (exact: R^T, -R^T t)."""
    out = np.eye(4)
    rot = matrix[:3, :3]
    out[:3, :3] = rot.T
    out[:3, 3] = -rot.T @ matrix[:3, 3]
    return out


@dataclass(frozen=True)
class StampedTransform:
    """One edge of the tree: the pose of ``child`` in ``parent``.

    Attributes:
        parent: parent frame id (``header.frame_id``).
        child: child frame id (``child_frame_id``).
        matrix: (4, 4) T_parent_child, maps child coordinates to parent coordinates [m].
        stamp_ns: stamp of the transform [ns] (static transforms: when it was published).
    """

    parent: str
    child: str
    matrix: np.ndarray
    stamp_ns: int = 0


class TransformTree:
    """A forest of static transforms with lookups between any two connected frames."""

    def __init__(self) -> None:
        self._edges: dict[str, StampedTransform] = {}  # child -> edge to its parent
        self._frames: set[str] = set()

    def frames(self) -> tuple[str, ...]:
        """Every frame seen, sorted."""
        return tuple(sorted(self._frames))

    def transforms(self) -> tuple[StampedTransform, ...]:
        """Every stored edge, sorted by child frame."""
        return tuple(self._edges[c] for c in sorted(self._edges))

    def has_frame(self, frame: str) -> bool:
        return frame in self._frames

    def parent_of(self, frame: str) -> str | None:
        edge = self._edges.get(frame)
        return None if edge is None else edge.parent

    def set_transform(self, parent: str, child: str, matrix: Any, stamp_ns: int = 0) -> None:
        """Store T_parent_child (4, 4); replaces an earlier transform of ``child``.

        Raises:
            TransformError: empty or equal frame ids, a non-rigid matrix, a child that already
                has a different parent, or a transform that would close a loop.
        """
        for name, value in (("parent", parent), ("child", child)):
            if not isinstance(value, str) or not value or value.startswith("/"):
                raise TransformError(
                    f"{name} frame id must be a non-empty name without a leading '/', got {value!r}"
                )
        if parent == child:
            raise TransformError(f"transform from '{parent}' to itself")
        m = validate_rigid(matrix, f"transform {parent} -> {child}")
        old = self._edges.get(child)
        if old is not None and old.parent != parent:
            raise TransformError(
                f"frame '{child}' already has parent '{old.parent}', refusing parent '{parent}' "
                "(a tf tree gives each frame one parent)"
            )
        if old is None and child in self._ancestors(parent):
            raise TransformError(f"transform {parent} -> {child} would close a loop")
        self._edges[child] = StampedTransform(parent, child, m, int(stamp_ns))
        self._frames.update((parent, child))

    def _ancestors(self, frame: str) -> list[str]:
        """``frame`` and its parents up to the root, in that order."""
        chain = [frame]
        while chain[-1] in self._edges:
            chain.append(self._edges[chain[-1]].parent)
        return chain

    def _to_root(self, frame: str) -> list[np.ndarray]:
        """Matrices T_parent_child from ``frame`` up to its root (frame first)."""
        out = []
        while frame in self._edges:
            edge = self._edges[frame]
            out.append(edge.matrix)
            frame = edge.parent
        return out

    def lookup(self, target: str, source: str) -> np.ndarray:
        """T_target_source (4, 4): maps points in ``source`` into ``target``.

        Raises:
            FrameNotFoundError: a frame the tree does not know (the message lists known frames).
            ConnectivityError: the frames are in different trees.
        """
        for frame in (target, source):
            if frame not in self._frames:
                known = ", ".join(self.frames()) or "none"
                raise FrameNotFoundError(f"unknown frame '{frame}' (known frames: {known})")
        if target == source:
            return np.eye(4)
        up_source = self._ancestors(source)
        up_target = self._ancestors(target)
        common = next((f for f in up_source if f in set(up_target)), None)
        if common is None:
            raise ConnectivityError(
                f"no transform between '{target}' (tree of '{up_target[-1]}') and '{source}' "
                f"(tree of '{up_source[-1]}')"
            )
        # T_common_source = T_common_a @ ... @ T_b_source; same for target; then compose.
        t_common_source = np.eye(4)
        for frame in up_source[: up_source.index(common)]:
            t_common_source = self._edges[frame].matrix @ t_common_source
        t_common_target = np.eye(4)
        for frame in up_target[: up_target.index(common)]:
            t_common_target = self._edges[frame].matrix @ t_common_target
        return invert(t_common_target) @ t_common_source

    def transform_points(self, target: str, source: str, points: Any) -> np.ndarray:
        """Points (N, 3) [m] in ``source`` -> (N, 3) [m] in ``target``."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        m = self.lookup(target, source)
        return pts @ m[:3, :3].T + m[:3, 3]


@dataclass(frozen=True)
class CameraCalibration:
    """Calibration of one camera in the ROS CameraInfo convention.

    Attributes:
        camera_id: camera name; its optical frame is ``<camera_id>_optical``.
        parent_frame: frame the extrinsics are expressed in (``store``).
        T_parent_optical: (4, 4) optical frame pose in ``parent_frame`` (z forward, x right,
            y down) [m].
        width, height: image size [px]; 0 when the file gives no intrinsics.
        K: (3, 3) intrinsics [px], or None.
        D: (N,) distortion coefficients (plumb_bob: k1, k2, p1, p2, k3), or None.
        distortion_model: e.g. ``plumb_bob``.
    """

    camera_id: str
    parent_frame: str
    T_parent_optical: np.ndarray
    width: int = 0
    height: int = 0
    K: np.ndarray | None = None
    D: np.ndarray | None = None
    distortion_model: str = "plumb_bob"

    @property
    def optical_frame(self) -> str:
        return f"{self.camera_id}_optical"


def calibration_from_store(store: Any) -> dict[str, CameraCalibration]:
    """Camera calibrations of a ``go_common.core.store.StoreModel`` (uses T_store_optical)."""
    out = {}
    for camera_id, cam in sorted(store.cameras.items()):
        out[camera_id] = CameraCalibration(
            camera_id=camera_id,
            parent_frame=store.frame_id,
            T_parent_optical=validate_rigid(cam.T_store_optical, f"camera {camera_id} pose"),
            width=int(cam.width),
            height=int(cam.height),
            K=np.asarray(cam.K, dtype=np.float64),
            D=np.asarray(cam.dist, dtype=np.float64),
        )
    return out


def _matrix_entry(entry: Any, rows: int, cols: int, where: str) -> np.ndarray:
    """A camera_info YAML matrix ``{rows, cols, data}`` (or a plain list) as an array."""
    data = entry.get("data") if isinstance(entry, Mapping) else entry
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: expected numbers, got {data!r}") from None
    if arr.size != rows * cols or not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{where}: expected {rows * cols} finite numbers, got {arr.size}")
    return arr.reshape(rows, cols) if rows > 1 else arr.reshape(-1)


def _camera_from_entry(camera_id: str, entry: Any, parent: str, where: str) -> CameraCalibration:
    if not isinstance(entry, Mapping):
        raise CalibrationError(f"{where}: expected a mapping, got {type(entry).__name__}")
    known = {
        "translation",
        "rotation",
        "image_width",
        "image_height",
        "camera_name",
        "camera_matrix",
        "distortion_model",
        "distortion_coefficients",
        "rectification_matrix",
        "projection_matrix",
    }
    unknown = sorted(set(entry) - known)
    if unknown:
        raise CalibrationError(f"{where}: unknown key(s) {unknown} (known: {sorted(known)})")
    for key in ("translation", "rotation"):
        if key not in entry:
            raise CalibrationError(f"{where}: missing '{key}'")
    try:
        pose = matrix_from_translation_quaternion(entry["translation"], entry["rotation"])
    except (TransformError, TypeError, ValueError) as error:
        raise CalibrationError(f"{where}: {error}") from None
    q_norm = float(np.linalg.norm(np.asarray(entry["rotation"], dtype=np.float64)))
    if abs(q_norm - 1.0) > _QUAT_NORM_TOL:
        raise CalibrationError(f"{where}.rotation: quaternion norm {q_norm:.4f} is not 1")
    k = d = None
    width = height = 0
    if "camera_matrix" in entry:
        k = _matrix_entry(entry["camera_matrix"], 3, 3, f"{where}.camera_matrix")
        coeffs = entry.get("distortion_coefficients", {"data": [0.0] * 5})
        raw = coeffs.get("data") if isinstance(coeffs, Mapping) else coeffs
        d = _matrix_entry(coeffs, 1, len(raw or []), f"{where}.distortion_coefficients")
        width, height = int(entry.get("image_width", 0)), int(entry.get("image_height", 0))
        if width <= 0 or height <= 0:
            raise CalibrationError(f"{where}: camera_matrix needs positive image_width/height")
    return CameraCalibration(
        camera_id=camera_id,
        parent_frame=parent,
        T_parent_optical=pose,
        width=width,
        height=height,
        K=k,
        D=d,
        distortion_model=str(entry.get("distortion_model", "plumb_bob")),
    )


def load_calibration_yaml(path: str | Path) -> dict[str, CameraCalibration]:
    """Load a plain calibration YAML (one file per installation)::

        frame_id: store                 # parent frame of every camera (default "store")
        cameras:
          cam_0:
            translation: [4.0, 2.5, 3.0]          # optical frame origin in frame_id [m]
            rotation: [0.0, 0.9239, -0.3827, 0.0] # optical frame orientation, (x, y, z, w)
            # optional intrinsics, with the key names of a ROS camera_info YAML
            # (camera_calibration's ost.yaml), so its output can be pasted in:
            image_width: 1280
            image_height: 720
            camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
            distortion_model: plumb_bob
            distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, p1, p2, k3]}

    Raises:
        CalibrationError: missing file, bad YAML, unknown keys or malformed entries, naming the
            file and the entry (e.g. ``calib.yaml: cameras.cam_0.rotation: ...``).
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"{p}: calibration file not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as error:
        raise CalibrationError(f"{p}: not valid YAML: {error}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("cameras"), Mapping):
        raise CalibrationError(f"{p}: expected a mapping with a 'cameras' mapping")
    unknown = sorted(set(data) - {"frame_id", "cameras"})
    if unknown:
        raise CalibrationError(f"{p}: unknown top-level key(s) {unknown}")
    parent = str(data.get("frame_id", "store"))
    return {
        str(cam): _camera_from_entry(str(cam), entry, parent, f"{p.name}: cameras.{cam}")
        for cam, entry in data["cameras"].items()
    }


def load_calibration(path_or_store: str | Path) -> dict[str, CameraCalibration]:
    """Camera calibrations from a plain calibration YAML, a store YAML or a shipped store name."""
    p = Path(path_or_store)
    if p.suffix in (".yaml", ".yml") and not p.is_file():
        raise CalibrationError(f"{p}: calibration file not found")
    if p.is_file():
        try:
            head = yaml.safe_load(p.read_text())
        except yaml.YAMLError as error:
            raise CalibrationError(f"{p}: not valid YAML: {error}") from None
        if isinstance(head, Mapping) and "store_id" not in head:
            return load_calibration_yaml(p)
    from go_common.core.store import StoreConfigError, load_store

    try:
        return calibration_from_store(load_store(path_or_store))
    except StoreConfigError as error:
        raise CalibrationError(str(error)) from None


def tree_from_calibration(
    calibrations: Mapping[str, CameraCalibration], tree: TransformTree | None = None
) -> TransformTree:
    """Add ``parent -> <camera>_optical`` for each camera to ``tree`` (a new one by default)."""
    tree = TransformTree() if tree is None else tree
    for cal in calibrations.values():
        tree.set_transform(cal.parent_frame, cal.optical_frame, cal.T_parent_optical)
    return tree

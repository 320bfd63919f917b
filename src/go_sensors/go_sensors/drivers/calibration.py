"""Camera intrinsics from a ROS ``camera_calibration`` YAML (the ``ost.yaml`` it writes)::

    image_width: 640
    image_height: 480
    camera_name: cam_front
    camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
    distortion_model: plumb_bob
    distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, p1, p2, k3]}
    rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
    projection_matrix: {rows: 3, cols: 4, data: [fx', 0, cx', 0, 0, fy', cy', 0, 0, 0, 1, 0]}

``rectification_matrix`` and ``projection_matrix`` are optional (identity and [K | 0]).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

DISTORTION_MODELS = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}


class CalibrationFileError(ValueError):
    """A calibration file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, eq=False)
class CameraIntrinsics:
    """Content of a camera_info YAML. K (3, 3), D (n,), R (3, 3), P (3, 4); sizes in px.

    An all-zero K means "uncalibrated" (the ROS convention when no file is given).
    """

    camera_name: str
    width: int
    height: int
    K: np.ndarray
    D: np.ndarray
    distortion_model: str
    R: np.ndarray
    P: np.ndarray

    @classmethod
    def uncalibrated(cls, camera_name: str, width: int, height: int) -> CameraIntrinsics:
        """Zero K, D, P: what a driver publishes for a camera without a calibration file."""
        return cls(
            camera_name,
            width,
            height,
            np.zeros((3, 3)),
            np.zeros(5),
            "plumb_bob",
            np.eye(3),
            np.zeros((3, 4)),
        )


def _matrix(data: dict[str, Any], key: str, rows: int, cols: int | None, where: str) -> np.ndarray:
    entry = data[key]
    values = entry.get("data") if isinstance(entry, dict) else entry
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise CalibrationFileError(f"{where}: {key} must hold a list of numbers, got {values!r}")
    array = np.asarray(values, dtype=np.float64)
    n = rows * cols if cols is not None else array.size
    if array.size != n or not np.all(np.isfinite(array)):
        raise CalibrationFileError(f"{where}: {key} needs {n} finite numbers, got {array.size}")
    return array.reshape(rows, -1) if rows > 1 else array


def load_camera_intrinsics(path: str | Path) -> CameraIntrinsics:
    """Read a camera_calibration YAML.

    Raises:
        CalibrationFileError: missing file, bad YAML, missing or malformed fields.
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationFileError(f"{p}: calibration file not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as error:
        raise CalibrationFileError(f"{p}: not valid YAML: {error}") from None
    where = p.name
    if not isinstance(data, dict):
        raise CalibrationFileError(f"{where}: expected a mapping")
    for key in ("image_width", "image_height", "camera_matrix", "distortion_coefficients"):
        if key not in data:
            raise CalibrationFileError(f"{where}: {key} is missing")
    width, height = data["image_width"], data["image_height"]
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise CalibrationFileError(f"{where}: image_width/image_height must be positive integers")
    k = _matrix(data, "camera_matrix", 3, 3, where)
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise CalibrationFileError(f"{where}: camera_matrix needs positive fx and fy")
    model = str(data.get("distortion_model", "plumb_bob"))
    if model not in DISTORTION_MODELS:
        raise CalibrationFileError(
            f"{where}: distortion_model '{model}' unknown (known: {sorted(DISTORTION_MODELS)})"
        )
    d = _matrix(data, "distortion_coefficients", 1, None, where)
    if d.size != DISTORTION_MODELS[model]:
        raise CalibrationFileError(
            f"{where}: distortion_coefficients has {d.size} values, {model} needs "
            f"{DISTORTION_MODELS[model]}"
        )
    r = (
        _matrix(data, "rectification_matrix", 3, 3, where)
        if "rectification_matrix" in data
        else np.eye(3)
    )
    if "projection_matrix" in data:
        proj = _matrix(data, "projection_matrix", 3, 4, where)
    else:
        proj = np.hstack([k, np.zeros((3, 1))])
    return CameraIntrinsics(
        str(data.get("camera_name", p.stem)), width, height, k, d, model, r, proj
    )

"""onnxruntime sessions and the tensor conventions shared by the detectors and pose models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

_INT_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(uint8)": np.uint8}


class ModelError(RuntimeError):
    """A model file is missing or its inputs/outputs are not what the backend expects."""


def open_session(path: Path, threads: int, hint: str = "") -> ort.InferenceSession:
    """Open an ONNX model on the CPU with ``threads`` intra-op threads.

    Raises:
        ModelError: naming the path when the file is missing or not a loadable ONNX model.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}" + (f" ({hint})" if hint else ""))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Idle pool threads sleep instead of spinning: cameras share cores with other nodes.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises several private exception types
        raise ModelError(f"cannot load ONNX model {path}: {error}") from error


@dataclass(frozen=True)
class ImageInput:
    """The image input of a model: name, ONNX element type, layout and fixed size (None = any)."""

    name: str
    onnx_type: str
    channels_first: bool
    height: int | None
    width: int | None

    @classmethod
    def of(cls, session: ort.InferenceSession, path: str = "model") -> ImageInput:
        """Read the first input of ``session``: NCHW when dimension 1 is 3, else NHWC.

        Raises:
            ModelError: the input is not a rank-4 image with 3 channels.
        """
        meta = session.get_inputs()[0]
        shape = list(meta.shape)
        if len(shape) != 4 or 3 not in shape[1:]:
            raise ModelError(
                f"{path}: input '{meta.name}' has shape {shape}, expected 1x3xHxW or 1xHxWx3"
            )
        channels_first = shape[1] == 3
        h, w = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
        return cls(
            meta.name,
            meta.type,
            channels_first,
            h if isinstance(h, int) else None,
            w if isinstance(w, int) else None,
        )

    def tensor(
        self,
        rgb: np.ndarray,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        std: tuple[float, float, float] = (255.0, 255.0, 255.0),
    ) -> np.ndarray:
        """Batch of one from an RGB image (H, W, 3) uint8 already at the model's size.

        Integer inputs (MoveNet) take raw 0-255 values; float inputs take (pixel - mean) / std.
        """
        if self.onnx_type in _INT_TYPES:
            x = rgb.astype(_INT_TYPES[self.onnx_type])
        elif self.channels_first:
            # Plane by plane straight into the NCHW batch: no float HWC copy and no strided
            # transpose copy (2.9 -> 0.2 ms for NanoDet's 416 x 320 input).
            out = np.empty((1, 3, *rgb.shape[:2]), dtype=np.float32)
            for c in range(3):
                plane = out[0, c]
                np.subtract(rgb[:, :, c], np.float32(mean[c]), out=plane, dtype=np.float32)
                plane *= np.float32(1.0 / std[c])
            return out
        else:
            x = (rgb.astype(np.float32) - np.float32(mean)) / np.float32(std)
        if self.channels_first:
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None])


def bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    """RGB copy of a BGR (H, W, 3) or grey (H, W) uint8 image."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def letterbox(image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float, float, float]:
    """Resize keeping the aspect ratio and pad (grey 114) to height x width.

    Returns (resized image, scale, pad_x, pad_y): image px = (model px - pad) / scale.
    """
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    pad_x, pad_y = (width - nw) / 2.0, (height - nh) / 2.0
    out = np.full((height, width, 3), 114, dtype=np.uint8)
    top, left = int(pad_y), int(pad_x)
    out[top : top + nh, left : left + nw] = cv2.resize(
        image, (nw, nh), interpolation=cv2.INTER_LINEAR
    )
    return out, scale, float(left), float(top)

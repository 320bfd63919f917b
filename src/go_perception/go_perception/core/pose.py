"""Top-down single-person pose: crop one person, run a pose model, map keypoints back.

``TopDownPose`` accepts any ONNX model with one image input (1x3xHxW or 1xHxWx3; integer inputs
take raw RGB 0-255 as MoveNet does, float inputs (pixel - mean) / std) and one of these outputs,
all in COCO-17 order, told apart by shape:

- keypoints ``(..., 17, 3)``: y, x in [0, 1] of the crop and a score, as MoveNet Lightning/Thunder;
- heatmaps ``(1, 17, h, w)``: one map per keypoint, peak = position, peak value = score (the
  network ``./gostore train pose`` trains has this output);
- SimCC ``(1, 17, k*W)`` and ``(1, 17, k*H)``: per-axis classification over k bins per input
  pixel (RTMPose exports).
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from go_perception.core.keypoints import FLIP_ORDER, NUM_KEYPOINTS
from go_perception.core.onnx_io import ImageInput, ModelError, bgr_to_rgb


def crop_transform(bbox: np.ndarray, width: int, height: int, padding: float) -> np.ndarray:
    """Affine (2, 3) from image px to a width x height crop centred on ``bbox``.

    bbox: (4,) x1, y1, x2, y2 [px]. The box grows to the crop's aspect ratio, then by ``padding``,
    so the whole person with some margin fills the crop without distortion.
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    aspect = width / height
    if bw / bh > aspect:
        bh = bw / aspect
    else:
        bw = bh * aspect
    scale = width / (bw * padding)
    return np.float32(
        [[scale, 0.0, width / 2.0 - cx * scale], [0.0, scale, height / 2.0 - cy * scale]]
    )


def decode_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
    """Peaks of (17, h, w) heatmaps: (17, 3) x, y [heatmap px, pixel centres at integers], score.

    A quarter-pixel step towards the higher neighbour refines the argmax (the usual sub-pixel fix).
    """
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx = flat.argmax(1)
    ys, xs = np.divmod(idx, w)
    out = np.zeros((k, 3), dtype=np.float32)
    for j in range(k):
        x, y = int(xs[j]), int(ys[j])
        hm = heatmaps[j]
        # No step on the border, where one neighbour is missing.
        dx = np.sign(hm[y, x + 1] - hm[y, x - 1]) * 0.25 if 0 < x < w - 1 else 0.0
        dy = np.sign(hm[y + 1, x] - hm[y - 1, x]) * 0.25 if 0 < y < h - 1 else 0.0
        out[j] = (x + dx, y + dy, np.clip(hm[y, x], 0.0, 1.0))
    return out


class TopDownPose:
    """COCO-17 keypoints of one person from an image and the person's box (see module doc)."""

    def __init__(
        self,
        session: ort.InferenceSession,
        name: str = "pose_model",
        crop_padding: float = 1.25,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        std: tuple[float, float, float] = (255.0, 255.0, 255.0),
        flip_test: bool = False,
    ) -> None:
        self.session = session
        self.flip_test = flip_test
        self.input = ImageInput.of(session, name)
        if self.input.height is None or self.input.width is None:
            raise ModelError(f"{name}: a top-down pose model needs a fixed input size")
        self.height, self.width = self.input.height, self.input.width
        shapes = [list(o.shape) for o in session.get_outputs()]
        self.kind = self._kind(shapes, name)
        self.crop_padding = crop_padding
        self.mean = mean
        self.std = std

    def _kind(self, shapes: list[list], name: str) -> str:
        first = shapes[0]
        if len(first) >= 2 and first[-2:] == [NUM_KEYPOINTS, 3]:
            return "keypoints"
        if len(first) == 4 and first[1] == NUM_KEYPOINTS:
            return "heatmaps"
        if (
            len(shapes) >= 2
            and all(len(s) == 3 and s[1] == NUM_KEYPOINTS for s in shapes[:2])
            and all(isinstance(s[2], int) for s in shapes[:2])
        ):
            return "simcc"
        raise ModelError(
            f"{name}: outputs {shapes} are none of (..., 17, 3) keypoints, (1, 17, h, w) heatmaps"
            " or (1, 17, k*W) + (1, 17, k*H) SimCC"
        )

    def crop(self, image: np.ndarray, bbox: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RGB crop (height, width, 3) uint8 of the person and the (2, 3) image -> crop affine."""
        transform = crop_transform(bbox, self.width, self.height, self.crop_padding)
        crop = cv2.warpAffine(
            image, transform, (self.width, self.height), flags=cv2.INTER_LINEAR, borderValue=0
        )
        return bgr_to_rgb(crop), transform

    def crop_keypoints(self, rgb_crop: np.ndarray) -> np.ndarray:
        """(17, 3) x, y [crop px], score [0, 1] from an RGB crop (height, width, 3) uint8."""
        outputs = self.session.run(
            None, {self.input.name: self.input.tensor(rgb_crop, self.mean, self.std)}
        )
        if self.kind == "keypoints":
            raw = np.asarray(outputs[0], dtype=np.float32).reshape(NUM_KEYPOINTS, 3)
            return np.stack(
                [raw[:, 1] * self.width, raw[:, 0] * self.height, np.clip(raw[:, 2], 0, 1)], 1
            )
        if self.kind == "heatmaps":
            maps = np.asarray(outputs[0][0], dtype=np.float32)
            if self.flip_test:
                # Average with the mirrored crop's heatmaps, mirrored back with left and right
                # swapped (pixel centres map exactly: crop x -> W-1-x is heatmap x' -> w-1-x').
                mirrored = np.ascontiguousarray(rgb_crop[:, ::-1])
                tensor = self.input.tensor(mirrored, self.mean, self.std)
                flipped = np.asarray(self.session.run(None, {self.input.name: tensor})[0][0])
                maps = 0.5 * (maps + flipped[FLIP_ORDER, :, ::-1])
            peaks = decode_heatmaps(maps)
            stride_x = self.width / maps.shape[2]
            stride_y = self.height / maps.shape[1]
            peaks[:, 0] = (peaks[:, 0] + 0.5) * stride_x - 0.5
            peaks[:, 1] = (peaks[:, 1] + 0.5) * stride_y - 0.5
            return peaks
        simcc_x = np.asarray(outputs[0][0], dtype=np.float32)
        simcc_y = np.asarray(outputs[1][0], dtype=np.float32)
        x = simcc_x.argmax(1) * (self.width / simcc_x.shape[1])
        y = simcc_y.argmax(1) * (self.height / simcc_y.shape[1])
        score = np.clip(np.minimum(simcc_x.max(1), simcc_y.max(1)), 0.0, 1.0)
        return np.stack([x, y, score], 1).astype(np.float32)

    def __call__(self, image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """(17, 3) float32 keypoints x, y [image px], score [0, 1] of the person in ``bbox``.

        image: BGR (H, W, 3) uint8; bbox: (4,) x1, y1, x2, y2 [px].
        """
        crop, transform = self.crop(image, bbox)
        kp = self.crop_keypoints(crop)
        scale, tx, ty = transform[0, 0], transform[0, 2], transform[1, 2]
        kp[:, 0] = (kp[:, 0] - tx) / scale
        kp[:, 1] = (kp[:, 1] - ty) / scale
        return kp.astype(np.float32)

"""Person detectors on onnxruntime: the shipped NanoDet-m and user YOLO / YOLO-pose exports.

A detector is called with a BGR image (H, W, 3) uint8 and returns people best first: ``Detection``
boxes, or ``Person`` with keypoints for a YOLO-pose model. Coordinates are image pixels.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from go_perception.core.keypoints import NUM_KEYPOINTS, Detection, Person, nms
from go_perception.core.onnx_io import ImageInput, ModelError, bgr_to_rgb, letterbox

# NanoDet-m head: per stride, class scores (G*G, 80; COCO, person = 0, already sigmoid) and box
# side distances as 4 distributions over 11 bins of ``stride`` px (generalised focal loss).
NANODET_SIZE = 416
NANODET_STRIDES = (8, 16, 32)
NANODET_BINS = 11
YOLO_POSE_CHANNELS = 4 + 1 + 3 * NUM_KEYPOINTS  # box, person score, 17 x (x, y, score)
DEFAULT_DYNAMIC_SIZE = 640  # input side used when a user model's input size is symbolic


class NanoDetDetector:
    """NanoDet-m (COCO) restricted to the person class.

    The image is letterboxed (aspect kept, grey padding) so that its longer side is ``size`` px
    (416, the training size, by default): on the hand-labelled vtest.avi frames this found more
    people with fewer false alarms than stretching it. With a free input size
    (tools/setup/models.sh converts it so) the shorter side is only rounded up to a multiple of
    32 (640 x 480 -> 416 x 320); a fixed-size model gets 416 x 416 whatever ``size`` says.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        name: str = "nanodet",
        score_threshold: float = 0.35,
        nms_iou: float = 0.5,
        size: int = NANODET_SIZE,
    ) -> None:
        stride = NANODET_STRIDES[-1]
        if size < stride or size % stride:
            raise ValueError(f"NanoDet input size {size} must be a multiple of {stride}")
        self.size = size
        self.session = session
        self.input = ImageInput.of(session, name)
        fixed = self.input.height is not None and self.input.width is not None
        if fixed and (self.input.height, self.input.width) != (NANODET_SIZE, NANODET_SIZE):
            raise ModelError(f"{name}: input {self.input} is not NanoDet-m's 416 x 416")
        shapes = [tuple(o.shape[1:]) for o in session.get_outputs()]
        channels = sorted(s[1] for s in shapes if len(s) == 2)
        if len(shapes) != 6 or channels != [4 * NANODET_BINS] * 3 + [80] * 3:
            raise ModelError(f"{name}: outputs {shapes} are not NanoDet-m's six heads")
        self.free_size = not fixed
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """Network input (height, width) [px] for an image of that size."""
        if not self.free_size:
            return NANODET_SIZE, NANODET_SIZE
        scale = self.size / max(height, width)
        stride = NANODET_STRIDES[-1]

        def fit(side: int) -> int:
            return min(self.size, max(stride, -(-round(side * scale) // stride) * stride))

        return fit(height), fit(width)

    def __call__(self, image: np.ndarray) -> list[Detection]:
        """People in a BGR image (H, W, 3) uint8, best first."""
        h, w = image.shape[:2]
        in_h, in_w = self.input_size(h, w)
        boxed, scale, pad_x, pad_y = letterbox(bgr_to_rgb(image), in_h, in_w)
        outputs = self.session.run(None, {self.input.name: self.input.tensor(boxed)})
        by_shape = {o.shape[1:]: o[0] for o in outputs}
        boxes, scores = [], []
        for stride in NANODET_STRIDES:
            grid_h, grid_w = -(-in_h // stride), -(-in_w // stride)
            cells = grid_h * grid_w
            person = by_shape[(cells, 80)][:, 0]
            keep = np.nonzero(person > self.score_threshold)[0]
            if keep.size == 0:
                continue
            dist = by_shape[(cells, 4 * NANODET_BINS)][keep].reshape(-1, 4, NANODET_BINS)
            prob = np.exp(dist - dist.max(-1, keepdims=True))
            prob /= prob.sum(-1, keepdims=True)
            sides = (prob * np.arange(NANODET_BINS, dtype=np.float32)).sum(-1) * stride
            cx = (keep % grid_w + 0.5) * stride
            cy = (keep // grid_w + 0.5) * stride
            boxes.append(
                np.stack(
                    [cx - sides[:, 0], cy - sides[:, 1], cx + sides[:, 2], cy + sides[:, 3]], 1
                )
            )
            scores.append(person[keep])
        if not boxes:
            return []
        pad = np.float32([pad_x, pad_y, pad_x, pad_y])
        all_boxes = (np.concatenate(boxes) - pad) / np.float32(scale)
        all_boxes = np.clip(all_boxes, 0, [w, h, w, h]).astype(np.float32)
        all_scores = np.concatenate(scores)
        return [
            Detection(all_boxes[i], float(all_scores[i]))
            for i in nms(all_boxes, all_scores, self.nms_iou)
        ]


class YoloDetector:
    """A user's YOLO-style ONNX export (e.g. Ultralytics ``yolo export format=onnx``).

    Input: one RGB image, 1x3xHxW (or 1xHxWx3) float, (pixel - mean) / std, letterboxed to the
    model's fixed size (640 when symbolic). Output 0: (1, C, N) or (1, N, C), one row per
    candidate:

    - ``yolo``: C = 4 + classes: box, then one score per class; ``person_class`` is used.
    - ``yolo_pose``: C = 56: box, person score, then 17 x (x, y, score) keypoints in input pixels
      (COCO-17 order).

    Box: ``cxcywh`` (centre, size) or ``xyxy``, in input pixels. NMS runs here, so raw heads work;
    outputs that already went through NMS pass unchanged.
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        name: str = "detector_model",
        fmt: str = "auto",
        box_format: str = "cxcywh",
        person_class: int = 0,
        score_threshold: float = 0.35,
        nms_iou: float = 0.5,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        std: tuple[float, float, float] = (255.0, 255.0, 255.0),
    ) -> None:
        self.session = session
        self.input = ImageInput.of(session, name)
        self.height = self.input.height or DEFAULT_DYNAMIC_SIZE
        self.width = self.input.width or DEFAULT_DYNAMIC_SIZE
        shape = list(session.get_outputs()[0].shape)
        fixed = [d for d in shape[1:] if isinstance(d, int)]
        if len(shape) != 3:
            raise ModelError(f"{name}: output 0 has shape {shape}, expected (1, C, N) or (1, N, C)")
        if fmt == "auto":
            fmt = "yolo_pose" if YOLO_POSE_CHANNELS in fixed else "yolo"
        if fmt == "yolo_pose" and YOLO_POSE_CHANNELS not in fixed:
            raise ModelError(f"{name}: output 0 {shape} has no dimension of {YOLO_POSE_CHANNELS}")
        self.channels = YOLO_POSE_CHANNELS if fmt == "yolo_pose" else min(fixed, default=0)
        if self.channels < 5 or (fmt == "yolo" and 4 + person_class >= self.channels):
            raise ModelError(
                f"{name}: output 0 {shape} gives no score for class {person_class}"
                " (expected 4 + classes columns)"
            )
        self.gives_keypoints = fmt == "yolo_pose"
        self.box_format = box_format
        self.score_column = 4 if self.gives_keypoints else 4 + person_class
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.mean = mean
        self.std = std

    def __call__(self, image: np.ndarray) -> list[Detection | Person]:
        """People in a BGR image (H, W, 3) uint8, best first."""
        boxed, scale, pad_x, pad_y = letterbox(bgr_to_rgb(image), self.height, self.width)
        out = self.session.run(
            None, {self.input.name: self.input.tensor(boxed, self.mean, self.std)}
        )
        rows = np.asarray(out[0][0], dtype=np.float32)
        if rows.shape[0] == self.channels and rows.shape[1] != self.channels:
            rows = rows.T
        scores = rows[:, self.score_column]
        rows = rows[scores > self.score_threshold]
        if rows.size == 0:
            return []
        box = rows[:, :4].copy()
        if self.box_format == "cxcywh":
            box = np.concatenate([box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2], 1)
        h, w = image.shape[:2]
        box = (box - np.float32([pad_x, pad_y, pad_x, pad_y])) / np.float32(scale)
        box = np.clip(box, 0, [w, h, w, h]).astype(np.float32)
        scores = rows[:, self.score_column]
        found: list[Detection | Person] = []
        for i in nms(box, scores, self.nms_iou):
            if self.gives_keypoints:
                kp = rows[i, 5:].reshape(NUM_KEYPOINTS, 3).copy()
                kp[:, 0] = (kp[:, 0] - pad_x) / scale
                kp[:, 1] = (kp[:, 1] - pad_y) / scale
                kp[:, 2] = np.clip(kp[:, 2], 0.0, 1.0)
                found.append(Person(box[i], float(scores[i]), kp.astype(np.float32)))
            else:
                found.append(Detection(box[i], float(scores[i])))
        return found

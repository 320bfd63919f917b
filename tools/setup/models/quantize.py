"""Quantize the converted NanoDet and MoveNet Lightning to int8 (static, QDQ), once, at set-up.

On one core int8 takes NanoDet from 31 to 12 ms (416 x 320 input) and MoveNet Lightning from 8.1
to 6.2 ms per person (AVX-512 VNNI VM, onnxruntime 1.23), which is what lets perception_node keep
15 fps with 5 people on one core (docs/benchmarks/perception.md). Weights are int8 per output
channel; activations uint8 per tensor with ranges (min/max) calibrated on real people:

- calibration images: vtest.avi frames 10, 30, 50, ... 790 of Debian's opencv-doc, i.e. at least
  10 frames (1 s) away from every hand-labelled frame (0, 60, ..., 780) the recall/precision
  figures are measured on; the basketball images (wrist test) are not used;
- NanoDet sees each frame letterboxed as the detector does, and also the product photographs of
  src/go_common/go_common/stores/images (31 packs, bright saturated colours that vtest.avi's dim
  street lacks: calibrated on vtest.avi alone, int8 NanoDet lost people on simulator renders and
  the standard evaluation suite's IDF1 fell from 0.976 to 0.937; with the photos 0.972);
  MoveNet sees the crops of the people the fp32 NanoDet finds in the frames (score >= 0.25;
  about 310 crops). Whole-set MinMax (about 0.8 GB
  at its peak): onnxruntime's chunked range merging (CalibMaxIntermediateOutputs) over the frames
  plus their mirror images gave MoveNet keypoint scores of about a third of fp32's here.

NanoDet: only the convolutions are quantized. Its heads concatenate class scores (0-1) and box
distributions (logits up to ~15) in one tensor that is then split; a shared per-tensor range
there erased every detection. MoveNet: everything but its four heads and the keypoint decoding
(``fp32_nodes``).

A quantized file records its recipe and the fp32 weights digest (metadata_props); ``--check``
accepts a folder whose int8 files match both (nothing to do: set-up stays idempotent and
offline). Making a file refuses a quantization that disagrees with the fp32 model on the
calibration images (detections or keypoints), so a change of onnxruntime cannot slip in a broken
model. Calibration ranges come from a float forward pass, so files made on different CPUs may
differ in the last bits of a scale (their weights digest is not pinned, the recipe is).

usage: python quantize.py MODELS_DIR          (writes {nanodet,movenet-lightning}.int8.onnx there)
       python quantize.py --check MODELS_DIR  (exit 0 when both are present and current)
Needs go_perception and go_common on PYTHONPATH (models.sh sets both) and opencv-doc's vtest.avi.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = Path(__file__).resolve().parent
SPEC = HERE / "models.json"
VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# Product photographs shipped with the store definitions (Grocery Store Dataset, MIT licence).
PHOTOS = HERE.parents[2] / "src" / "go_common" / "go_common" / "stores" / "images"
# Bump when the recipe (frames, options, checks) changes: existing files are then remade.
RECIPE = (
    "go-int8-v3: QDQ, per-channel s8 weights, u8 activations, MinMax; vtest.avi 10+20k"
    " (+ store product photos for NanoDet); MoveNet heads and decoding fp32"
)
CALIBRATION_FRAMES = tuple(range(10, 800, 20))
MODELS = {
    # name: (int8 file, op types to quantize; None = all that onnxruntime supports)
    "nanodet": ("nanodet.int8.onnx", ["Conv"]),
    "movenet-lightning": ("movenet-lightning.int8.onnx", None),
}
# MoveNet's four heads (scopes of their nodes) stay fp32, as does the keypoint decoding after them.
MOVENET_HEADS = ("kpt_heatmap_0", "center_0", "kpt_regress_0", "kpt_offset_0")
# Acceptance against the fp32 model on the calibration images.
MIN_DETECTION_AGREEMENT = 0.9  # fp32 people (score >= 0.4) found by int8 at IoU >= 0.5
MIN_KEYPOINT_AGREEMENT = 0.9  # confident fp32 keypoints within 0.1 x box height


def say(message: str) -> None:
    print(f"[models] {message}", flush=True)


def fp32_digest(name: str) -> str:
    return json.loads(SPEC.read_text())[name]["weights_sha256"]


def current(path: Path, name: str) -> bool:
    """Is ``path`` an int8 model made by this recipe from the pinned fp32 weights, and loadable?"""
    if not path.is_file():
        return False
    try:
        model = onnx.load(str(path), load_external_data=False)
        props = {p.key: p.value for p in model.metadata_props}
        if props.get("go.recipe") != RECIPE or props.get("go.source_weights") != fp32_digest(name):
            return False
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # any unreadable file is simply remade
        return False
    return True


def read_frames(indices: tuple[int, ...]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(VIDEO))
    if not capture.isOpened():
        raise SystemExit(f"[models] ERROR: cannot read {VIDEO} (apt-get install opencv-doc)")
    wanted, frames, index = set(indices), [], 0
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(frame)
        index += 1
    capture.release()
    if len(frames) != len(wanted):
        raise SystemExit(f"[models] ERROR: {VIDEO} has fewer frames than expected")
    return frames


class Feeds(CalibrationDataReader):
    """The calibration tensors, one feed dict at a time."""

    def __init__(self, name: str, tensors: list[np.ndarray]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter([{name: t} for t in tensors])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def fp32_nodes(model: onnx.ModelProto, name: str) -> list[str]:
    """Nodes left in fp32: MoveNet's heads and everything but convolutions from its first sigmoid
    (the heatmaps) on: the centre pick, offsets and scores are decoded at full precision. With
    them quantized too, keypoints agreed as well on average but the end-to-end evaluation lost a
    receipt (wrist positions feed the pick attribution)."""
    if name != "movenet-lightning":
        return []
    keep, decoding = [], False
    for node in model.graph.node:
        decoding = decoding or node.op_type == "Sigmoid"
        if any(head in node.name for head in MOVENET_HEADS) or (
            decoding and node.op_type != "Conv"
        ):
            keep.append(node.name)
    if not keep:
        raise SystemExit(f"[models] ERROR: {name}: no head nodes found to keep in fp32")
    return keep


def quantize(src: Path, dst: Path, name: str, tensors: list[np.ndarray], ops: list | None) -> None:
    session = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        out = Path(tmp) / "int8.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # onnxruntime's calibration warns about numpy casts of every tensor: noise in set-up logs.
        warnings.simplefilter("ignore")
        quantize_static(
            str(pre),
            str(out),
            Feeds(input_name, tensors),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=ops,
            nodes_to_exclude=fp32_nodes(onnx.load(str(src)), name),
        )
        model = onnx.load(str(out))
        onnx.helper.set_model_props(
            model, {"go.recipe": RECIPE, "go.source_weights": fp32_digest(name)}
        )
        onnx.save(model, str(dst))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--check":
        folder = Path(argv[1])
        return 0 if all(current(folder / f, n) for n, (f, _) in MODELS.items()) else 1
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    if all(current(folder / f, n) for n, (f, _) in MODELS.items()):
        return 0
    # go_perception's own pre-processing, so that calibration sees what inference sees.
    from go_perception.core.backends import BackendConfig, make_estimator
    from go_perception.core.evaluation import match_boxes
    from go_perception.core.onnx_io import bgr_to_rgb, letterbox

    fp32 = make_estimator(
        BackendConfig(models_dir=str(folder), detector_precision="fp32", pose_precision="fp32")
    )
    assert fp32.pose is not None
    frames = read_frames(CALIBRATION_FRAMES)
    detector_in, pose_in, boxes = [], [], []
    for frame in frames:
        in_h, in_w = fp32.detector.input_size(*frame.shape[:2])
        boxed = letterbox(bgr_to_rgb(frame), in_h, in_w)[0]
        detector_in.append(fp32.detector.input.tensor(boxed))
        found = fp32.detect(frame)
        boxes.append(np.array([d.bbox for d in found if d.score >= 0.4]).reshape(-1, 4))
        for detection in found:
            crop = fp32.pose.crop(frame, detection.bbox)[0]
            pose_in.append(fp32.pose.input.tensor(crop))
    photos = sorted(PHOTOS.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"[models] ERROR: no product photographs (*.jpg) in {PHOTOS}")
    for photo in photos:
        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"[models] ERROR: cannot read {photo}")
        in_h, in_w = fp32.detector.input_size(*image.shape[:2])
        detector_in.append(fp32.detector.input.tensor(letterbox(bgr_to_rgb(image), in_h, in_w)[0]))
    say(
        f"calibrating int8 models on {len(frames)} vtest.avi frames + {len(photos)} product photos"
        f" (NanoDet), {len(pose_in)} person crops (MoveNet)"
    )
    inputs = {"nanodet": detector_in, "movenet-lightning": pose_in}
    for name, (file, ops) in MODELS.items():
        if current(folder / file, name):
            continue
        say(f"quantizing {name} -> {file}")
        quantize(folder / f"{name}.onnx", folder / f"{file}.tmp", name, inputs[name], ops)
        (folder / f"{file}.tmp").replace(folder / file)

    # Acceptance: the int8 pair against fp32 on the calibration images.
    int8 = make_estimator(
        BackendConfig(models_dir=str(folder), detector_precision="int8", pose_precision="int8")
    )
    assert int8.pose is not None
    found = missed = agree = confident = 0
    for frame, reference in zip(frames, boxes, strict=True):
        got = np.array([d.bbox for d in int8.detect(frame) if d.score >= 0.4]).reshape(-1, 4)
        counts = match_boxes(got, reference, np.zeros(len(reference), dtype=bool))
        found, missed = found + counts.true_positives, missed + counts.misses
        for box in reference:
            ref_kp, kp = fp32.pose(frame, box), int8.pose(frame, box)
            ok = ref_kp[:, 2] > 0.3
            dist = np.linalg.norm(kp[ok, :2] - ref_kp[ok, :2], axis=1) / (box[3] - box[1])
            agree, confident = agree + int((dist < 0.1).sum()), confident + int(ok.sum())
    detections = found / max(found + missed, 1)
    keypoints = agree / max(confident, 1)
    say(f"int8 vs fp32: {detections:.3f} of people found, {keypoints:.3f} of keypoints agree")
    if detections < MIN_DETECTION_AGREEMENT or keypoints < MIN_KEYPOINT_AGREEMENT:
        for file, _ in MODELS.values():
            (folder / file).unlink(missing_ok=True)
        say(
            f"ERROR: int8 models disagree with fp32 (need {MIN_DETECTION_AGREEMENT} and "
            f"{MIN_KEYPOINT_AGREEMENT}); removed them. The fp32 models are in place: run"
            " perception with detector_precision:=fp32 pose_precision:=fp32"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The choice of person/pose backend.

Backends (``BackendConfig.backend``):

- ``default``: NanoDet-m person detector (letterboxed to a 416 px longer side) then MoveNet
  Lightning (192 x 192) on each person crop. Both come from ``./gostore setup``
  (tools/setup/models.sh) in the models folder, in fp32 and int8 (``detector_precision``,
  ``pose_precision``; int8 is the default: about 2.6x faster NanoDet, 1.3x faster MoveNet on
  one core, same recall/precision on the labelled vtest.avi frames).
- ``onnx``: user-supplied ONNX models by path. ``detector_model`` is a YOLO-style detector or
  YOLO-pose model (see ``detector.YoloDetector``), or empty for NanoDet; ``pose_model`` is a
  top-down pose model (see ``pose.TopDownPose``), or empty for MoveNet Lightning (not run when the
  detector is a YOLO-pose model, which gives keypoints itself).
- ``sim``: NanoDet, then the top-down heatmap network trained on simulator renders by
  ``./gostore train pose`` (``pose_model``; empty = the shipped ``models/pose_sim.onnx``), run
  with flip test (the crop and its mirror image, heatmaps averaged).

Nothing is downloaded here: a missing model file raises ``ModelError`` naming its path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from go_common.core.pose_nms import duplicate_poses
from go_perception.core.detector import NanoDetDetector, YoloDetector
from go_perception.core.keypoints import NUM_KEYPOINTS, Detection, Person
from go_perception.core.onnx_io import open_session
from go_perception.core.pose import TopDownPose

BACKENDS = ("default", "onnx", "sim")
NANODET_FILE = "nanodet.onnx"
MOVENET_FILE = "movenet-lightning.onnx"
# int8 versions made at set-up (tools/setup/models/quantize.py), by precision.
MODEL_FILES: dict[str, dict[str, str]] = {
    "fp32": {"detector": NANODET_FILE, "pose": MOVENET_FILE},
    "int8": {"detector": "nanodet.int8.onnx", "pose": "movenet-lightning.int8.onnx"},
}
PRECISIONS = tuple(MODEL_FILES)
SETUP_HINT = "run ./gostore setup, which converts the pretrained models into .gostore/models"


@dataclass(frozen=True)
class BackendConfig:
    """Which models run and how.

    models_dir: folder of the set-up models; empty = $GOSTORE_MODELS or <repo>/.gostore/models.
    detector_model / pose_model: ONNX paths for the ``onnx`` and ``sim`` backends.
    detector_format: ``auto`` (from the output shape), ``yolo`` or ``yolo_pose`` for user detectors.
    box_format: ``cxcywh`` (Ultralytics raw head) or ``xyxy``, for YOLO-style outputs [input px].
    person_class: class index of "person" in a multi-class YOLO detector.
    score_threshold: detections scoring at least this [0, 1] are people.
    candidate_threshold: detections scoring in [candidate_threshold, score_threshold) are people
    only when the pose model finds a body in them (mean of the 10 best keypoint scores >=
    min_pose_confidence) and no more than ``candidate_overlap`` of their box lies inside a
    person already kept (checked first, so such candidates cost no pose run). This recovers
    people seen from behind or cut by the frame edge without admitting cones and bins; set it
    equal to score_threshold to turn it off (saves the pose runs on candidates).
    nms_iou: overlap above which detector boxes merge.
    crop_padding: person crop side = longer box side * crop_padding (top-down pose).
    input_mean / input_std: per-channel RGB normalisation of float inputs of user models, in 0-255
    units ((pixel - mean) / std); (0, 0, 0) / (255, 255, 255) scales to [0, 1].
    threads: onnxruntime intra-op threads per session. max_people: most people kept per image.
    flip_test: heatmap pose models also see the mirrored crop, heatmaps averaged (twice the pose
    cost; PCK@0.1 of the shipped sim network 0.890 -> 0.901). Other model kinds ignore it.
    detector_precision / pose_precision: ``int8`` or ``fp32`` copy of the set-up NanoDet /
    MoveNet Lightning (user models given by path are run as they are).
    check_precision: the MoveNet Lightning copy that runs the body test of weak candidates.
    fp32 by default: that test decides whether a detection is a person at all, and int8 scores
    run slightly low (the right basketball player, a weak candidate, fails it in int8).
    detector_size: NanoDet's input longer side [px], a multiple of 32 (416 = its training size;
    smaller is faster and misses small people). A fixed-size NanoDet file ignores it.
    pose_nms_fraction / pose_nms_scale / pose_nms_min_score: pose-level NMS
    (``go_common.core.pose_nms``). A top-down pose model run on two overlapping boxes finds the
    same skeleton twice; two skeletons of one image whose keypoints (those scoring at least
    ``pose_nms_min_score``) lie within ``pose_nms_scale`` x the larger keypoint box diagonal of
    each other for at least ``pose_nms_fraction`` of them are one, and the less confident
    person keeps only its box and score (see ``drop_duplicate_skeletons``). A fraction above 1
    switches it off. pose_nms_min_keypoints: skeletons with fewer keypoints take no part.
    """

    backend: str = "default"
    models_dir: str = ""
    detector_model: str = ""
    pose_model: str = ""
    detector_format: str = "auto"
    box_format: str = "cxcywh"
    person_class: int = 0
    score_threshold: float = 0.4
    candidate_threshold: float = 0.25
    min_pose_confidence: float = 0.45
    candidate_overlap: float = 0.3
    nms_iou: float = 0.5
    crop_padding: float = 1.1
    input_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    input_std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    threads: int = 1
    max_people: int = 20
    flip_test: bool = True
    detector_precision: str = "int8"
    pose_precision: str = "int8"
    check_precision: str = "fp32"
    detector_size: int = 416
    pose_nms_fraction: float = 0.7
    pose_nms_scale: float = 0.1
    pose_nms_min_score: float = 0.2
    pose_nms_min_keypoints: int = 4

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend '{self.backend}' is not one of {', '.join(BACKENDS)}")
        if self.detector_format not in ("auto", "yolo", "yolo_pose"):
            raise ValueError(
                f"detector_format '{self.detector_format}': use auto, yolo or yolo_pose"
            )
        if self.box_format not in ("cxcywh", "xyxy"):
            raise ValueError(f"box_format '{self.box_format}': use cxcywh or xyxy")
        if not 0.0 <= self.candidate_threshold <= self.score_threshold <= 1.0:
            raise ValueError("need 0 <= candidate_threshold <= score_threshold <= 1")
        if not 0.0 <= self.candidate_overlap <= 1.0:
            raise ValueError(f"candidate_overlap {self.candidate_overlap} must be in [0, 1]")
        if not 0.0 <= self.min_pose_confidence <= 1.0 or not 0.0 < self.nms_iou <= 1.0:
            raise ValueError("min_pose_confidence must be in [0, 1] and nms_iou in (0, 1]")
        if self.crop_padding < 1.0:
            raise ValueError(f"crop_padding {self.crop_padding} must be >= 1")
        if self.threads < 1 or self.max_people < 1:
            raise ValueError("threads and max_people must be >= 1")
        if len(self.input_mean) != 3 or len(self.input_std) != 3 or min(self.input_std) <= 0:
            raise ValueError("input_mean and input_std need 3 values, std > 0")
        for name in ("detector_precision", "pose_precision", "check_precision"):
            if getattr(self, name) not in PRECISIONS:
                raise ValueError(
                    f"{name} '{getattr(self, name)}' is not one of {', '.join(PRECISIONS)}"
                )
        if self.detector_size < 32 or self.detector_size % 32:
            raise ValueError(f"detector_size {self.detector_size} must be a multiple of 32")
        if not self.pose_nms_fraction > 0 or not self.pose_nms_scale > 0:
            raise ValueError("pose_nms_fraction and pose_nms_scale must be > 0 (fraction > 1: off)")
        if not 0.0 <= self.pose_nms_min_score <= 1.0:
            raise ValueError(f"pose_nms_min_score {self.pose_nms_min_score} must be in [0, 1]")
        if not 3 <= self.pose_nms_min_keypoints <= NUM_KEYPOINTS:
            raise ValueError(
                f"pose_nms_min_keypoints {self.pose_nms_min_keypoints} must be in [3, 17]"
            )


# The simulator-trained pose network shipped with go_perception (src/go_perception/models/).
SHIPPED_SIM_POSE = Path(__file__).resolve().parents[2] / "models" / "pose_sim.onnx"


def default_models_dir() -> Path:
    """$GOSTORE_MODELS, else .gostore/models of the repository this file lives in."""
    env = os.environ.get("GOSTORE_MODELS")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / ".gostore").is_dir():
            return parent / ".gostore" / "models"
    return Path.cwd() / ".gostore" / "models"


def pose_confidence(keypoints: np.ndarray, best: int = 10) -> float:
    """Mean score of the ``best`` most confident of (17, 3) keypoints: is there a body here?"""
    return float(np.sort(keypoints[:, 2])[::-1][:best].mean())


def containment(inner: np.ndarray, outer: np.ndarray) -> float:
    """Fraction of box ``inner``'s area inside box ``outer`` (both (4,) x1, y1, x2, y2 [px])."""
    w = min(inner[2], outer[2]) - max(inner[0], outer[0])
    h = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return float(max(w, 0.0) * max(h, 0.0) / area) if area > 0 else 1.0


class PoseEstimator:
    """Person detector followed (when it gives no keypoints) by a top-down pose model.

    Confident detections are people; weaker candidates must show a body to the pose model (see
    ``BackendConfig.candidate_threshold``), ``check_pose`` when given (default: ``pose``).
    """

    def __init__(
        self,
        detector: NanoDetDetector | YoloDetector,
        pose: TopDownPose | None,
        config: BackendConfig,
        check_pose: TopDownPose | None = None,
    ) -> None:
        self.detector = detector
        self.pose = pose
        self.check_pose = check_pose or pose
        self.config = config

    def detect(self, image: np.ndarray) -> list[Detection | Person]:
        """Detector output down to candidate_threshold, best first (no pose check yet).

        image: BGR (H, W, 3) uint8.
        """
        return self.detector(image)

    def _skeleton(
        self, image: np.ndarray, found: Detection | Person, pose: TopDownPose | None
    ) -> Person:
        if isinstance(found, Person):
            return found
        if pose is None:
            return Person(found.bbox, found.score, np.zeros((NUM_KEYPOINTS, 3), np.float32))
        return Person(found.bbox, found.score, pose(image, found.bbox))

    def __call__(self, image: np.ndarray) -> list[Person]:
        """People with COCO-17 skeletons in a BGR image (H, W, 3) uint8, best first.

        Keypoints are in image pixels; a person no pose model ran on has zero keypoint scores.
        """
        config = self.config
        people: list[Person] = []
        for found in self.detect(image):
            if len(people) >= config.max_people:
                break
            if found.score >= config.score_threshold:
                people.append(self._skeleton(image, found, self.pose))
                continue
            if found.score < config.candidate_threshold or (
                self.pose is None and not isinstance(found, Person)
            ):
                continue
            if any(containment(found.bbox, p.bbox) > config.candidate_overlap for p in people):
                continue
            person = self._skeleton(image, found, self.check_pose)
            if pose_confidence(person.keypoints) >= config.min_pose_confidence:
                people.append(person)
        return drop_duplicate_skeletons(people, config)


def drop_duplicate_skeletons(people: list[Person], config: BackendConfig) -> list[Person]:
    """``people`` (of one image) with the skeletons that repeat a more confident one removed
    (pose NMS): such a person keeps the detector's box and score, with zero keypoint scores.

    The box is usually a real person whose crop the pose model read as her neighbour (in the
    labelled vtest.avi frames, two of the 79 people found); dropping the whole detection would
    lose that person, keeping the skeleton would show the neighbour twice. Skeletons with
    fewer than ``pose_nms_min_keypoints`` keypoints take no part: confidence is a mean over
    the keypoints found, so a few confident joints could otherwise strip a whole body (and
    fusion ignores such skeletons anyway).
    """
    if len(people) < 2 or config.pose_nms_fraction > 1.0:
        return people
    kps = np.stack([p.keypoints for p in people]).astype(np.float64)
    scores = np.where(kps[:, :, 2] >= config.pose_nms_min_score, kps[:, :, 2], 0.0)
    scores = np.nan_to_num(scores, nan=0.0)
    whole = np.flatnonzero((scores > 0).sum(axis=1) >= config.pose_nms_min_keypoints)
    if len(whole) < 2:
        return people
    dup = np.zeros(len(people), dtype=bool)
    dup[whole] = duplicate_poses(
        np.zeros(len(whole), dtype=np.int64),
        kps[whole, :, :2],
        scores[whole],
        np.array([people[i].score for i in whole], dtype=np.float64),
        fraction=config.pose_nms_fraction,
        scale=config.pose_nms_scale,
    )
    if not dup.any():
        return people
    return [
        Person(p.bbox, p.score, np.zeros((NUM_KEYPOINTS, 3), np.float32)) if d else p
        for p, d in zip(people, dup.tolist(), strict=True)
    ]


def _setup_hint(precision: str) -> str:
    if precision == "fp32":
        return SETUP_HINT
    return f"{SETUP_HINT}; or set detector_precision/pose_precision to fp32"


def make_estimator(config: BackendConfig) -> PoseEstimator:
    """Build the estimator ``config`` describes.

    Raises:
        ModelError: a model file is missing (path named) or has unexpected inputs/outputs.
    """
    models = Path(config.models_dir) if config.models_dir else default_models_dir()
    detector: NanoDetDetector | YoloDetector
    if config.backend == "onnx" and config.detector_model:
        path = Path(config.detector_model)
        detector = YoloDetector(
            open_session(path, config.threads, "detector_model"),
            name=str(path),
            fmt=config.detector_format,
            box_format=config.box_format,
            person_class=config.person_class,
            score_threshold=config.candidate_threshold,
            nms_iou=config.nms_iou,
            mean=config.input_mean,
            std=config.input_std,
        )
    else:
        path = models / MODEL_FILES[config.detector_precision]["detector"]
        detector = NanoDetDetector(
            open_session(path, config.threads, _setup_hint(config.detector_precision)),
            name=str(path),
            score_threshold=config.candidate_threshold,
            nms_iou=config.nms_iou,
            size=config.detector_size,
        )
    if config.backend == "sim" and not config.pose_model:
        path, hint = (
            SHIPPED_SIM_POSE,
            "the shipped sim pose network; train one: ./gostore train pose",
        )
    elif config.pose_model:
        path = Path(config.pose_model)
        hint = "pose_model" if config.backend == "onnx" else "train it with ./gostore train pose"
    elif isinstance(detector, YoloDetector) and detector.gives_keypoints:
        return PoseEstimator(detector, None, config)
    else:
        # Set-up MoveNet Lightning, possibly in two precisions (people / candidate checks).
        def movenet(precision: str) -> TopDownPose:
            file = models / MODEL_FILES[precision]["pose"]
            return _top_down(file, config, _setup_hint(precision))

        pose = movenet(config.pose_precision)
        check = None
        if config.check_precision != config.pose_precision:
            check = movenet(config.check_precision)
        return PoseEstimator(detector, pose, config, check)
    return PoseEstimator(detector, _top_down(path, config, hint), config)


def _top_down(path: Path, config: BackendConfig, hint: str) -> TopDownPose:
    """A top-down pose model on ``path`` with the crop and input settings of ``config``."""
    return TopDownPose(
        open_session(path, config.threads, hint),
        name=str(path),
        crop_padding=config.crop_padding,
        mean=config.input_mean,
        std=config.input_std,
        flip_test=config.flip_test,
    )

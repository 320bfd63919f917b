"""Training a top-down COCO-17 heatmap network on rendered people (``./gostore train pose``).

Data: the COCO keypoint folders written by ``./gostore pose-dataset`` (``annotations.json`` +
``images/``; pixel convention: OpenCV, centre of the top-left pixel at (0, 0)). Each labelled
person becomes a crop from its box (the same ``crop_transform`` the runtime uses) with random
scale, shift, rotation, flip and colour jitter; the target is one Gaussian per labelled keypoint
on a heatmap at 1/4 of the crop resolution.

The exported ONNX model follows the heatmap contract of ``pose.TopDownPose``: input ``image``
(1, 3, 64, 48) float RGB in [0, 1], output ``heatmaps`` (1, 17, 16, 12).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from go_perception.core.keypoints import FLIP_ORDER, NUM_KEYPOINTS, pck
from go_perception.core.pose import TopDownPose, crop_transform

LOG = logging.getLogger(__name__)
# Small on purpose: it trains on shared 2-core CPUs in minutes.
INPUT_H, INPUT_W, STRIDE = 64, 48, 4
# Context kept around each cached person so that scale/shift augmentation stays inside it.
CACHE_PADDING = 1.8


@dataclass(frozen=True)
class PoseTrainConfig:
    """Training recipe. Same config, data and seed give the same network."""

    epochs: int = 9
    seed: int = 0
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    sigma: float = 1.0  # Gaussian radius [heatmap px]
    crop_padding: float = 1.1  # must match the runtime's BackendConfig.crop_padding
    val_fraction: float = 0.1  # images held out when no separate validation folder is given
    min_keypoints: int = 5  # people with fewer labelled keypoints are skipped
    min_box_px: int = 12  # people whose box is smaller on either side are skipped
    threads: int = 2
    # Processes making the augmented batches (0: the training process itself, one generator for
    # the whole run). With workers > 0 each batch has its own generator seeded by (seed, epoch,
    # batch), so the sample stream is the same for any number of workers, but not the same as
    # with 0 (the shipped pose_sim.onnx was trained with 0).
    workers: int = 0
    width: int = 16  # channels of the first stage (PoseNet)
    input_height: int = INPUT_H  # network input [px]; a multiple of 16
    input_width: int = INPUT_W


@dataclass(frozen=True)
class PersonSample:
    """One labelled person, cached as a padded region of its image.

    region: (h, w, 3) uint8 BGR; bbox: (4,) x1, y1, x2, y2 and keypoints: (17, 3) x, y [px],
    visibility (0 unlabelled, 1 occluded, 2 visible), both in region pixels. camera: the image's
    camera id and joints_store: (17, 3) 3D joints [m] in the store frame, where the dataset gives
    them (``./gostore pose-dataset`` does).
    """

    region: np.ndarray
    bbox: np.ndarray
    keypoints: np.ndarray
    image_id: int
    camera: str = ""
    joints_store: np.ndarray | None = None


# Several datasets pooled for training keep distinct image ids: folder k adds k * IMAGE_ID_STRIDE.
IMAGE_ID_STRIDE = 10_000_000


def load_people(
    folder: Path, config: PoseTrainConfig, image_id_offset: int = 0
) -> list[PersonSample]:
    """Labelled people of a pose-dataset folder, each cut out with context.

    ``image_id_offset`` is added to the folder's image ids (to pool several folders).

    Raises:
        FileNotFoundError: no annotations.json or a listed image is missing (path named).
        ValueError: annotations.json is not COCO keypoint format.
    """
    path = Path(folder) / "annotations.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make a dataset with ./gostore pose-dataset")
    coco = json.loads(path.read_text())
    try:
        by_image: dict[int, list[dict]] = {}
        for ann in coco["annotations"]:
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
        images = {int(im["id"]): im["file_name"] for im in coco["images"]}
        cameras = {int(im["id"]): str(im.get("camera_id", "")) for im in coco["images"]}
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: not COCO keypoint annotations ({error})") from error
    samples = []
    for image_id in sorted(by_image):
        image_path = Path(folder) / images[image_id]
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{image_path}: missing or unreadable image")
        for ann in by_image[image_id]:
            kp = np.asarray(ann["keypoints"], dtype=np.float32).reshape(NUM_KEYPOINTS, 3)
            x, y, w, h = (float(v) for v in ann["bbox"])
            if (kp[:, 2] > 0).sum() < config.min_keypoints or min(w, h) < config.min_box_px:
                continue
            box = np.float32([x, y, x + w, y + h])
            sample = _cut(image, box, kp, image_id + image_id_offset)
            joints = ann.get("keypoints_store")
            if joints is not None and len(joints) == 3 * NUM_KEYPOINTS:
                joints = np.asarray(joints, np.float32).reshape(NUM_KEYPOINTS, 3)
            else:
                joints = None
            samples.append(replace(sample, camera=cameras[image_id], joints_store=joints))
    return samples


def _cut(image: np.ndarray, bbox: np.ndarray, kp: np.ndarray, image_id: int) -> PersonSample:
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    half = CACHE_PADDING * max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / 2
    x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    x1 = int(min(cx + half, image.shape[1]))
    y1 = int(min(cy + half, image.shape[0]))
    offset = np.float32([x0, y0])
    kp = kp.copy()
    kp[:, :2] = np.where(kp[:, 2:] > 0, kp[:, :2] - offset, 0.0)
    return PersonSample(image[y0:y1, x0:x1].copy(), bbox - np.tile(offset, 2), kp, image_id)


def split_by_image(
    samples: list[PersonSample], fraction: float, seed: int
) -> tuple[list[PersonSample], list[PersonSample]]:
    """(train, held out): whole images go to one side, chosen by a seeded hash of their id."""

    def held(image_id: int) -> bool:
        digest = hashlib.sha256(f"{seed}:{image_id}".encode()).digest()
        return int.from_bytes(digest[:4], "little") / 2**32 < fraction

    train = [s for s in samples if not held(s.image_id)]
    return train, [s for s in samples if held(s.image_id)]


def augmented_crop(
    sample: PersonSample,
    rng: np.random.Generator | None,
    padding: float,
    size: tuple[int, int] = (INPUT_H, INPUT_W),
) -> tuple[np.ndarray, np.ndarray]:
    """RGB crop (height, width, 3) uint8 and its keypoints (17, 3) x, y [crop px], visibility.

    rng None: the plain runtime crop (validation). Otherwise random scale 0.8-1.25, shift up to
    10 % of the box, rotation up to 20 degrees, horizontal flip (left/right swapped) and colour.
    """
    in_h, in_w = size
    transform = crop_transform(sample.bbox, in_w, in_h, padding).astype(np.float64)
    kp = sample.keypoints.copy()
    if rng is not None:
        centre = (in_w / 2, in_h / 2)
        rot = cv2.getRotationMatrix2D(
            centre, float(rng.uniform(-20, 20)), float(rng.uniform(0.8, 1.25))
        )
        rot[:, 2] += rng.uniform(-0.1, 0.1, 2) * (in_w, in_h)
        transform = rot @ np.vstack([transform, [0, 0, 1]])
        if rng.random() < 0.5:
            flip = np.array([[-1.0, 0, in_w - 1], [0, 1, 0], [0, 0, 1]])
            transform = (flip @ np.vstack([transform, [0, 0, 1]]))[:2]
            kp = kp[FLIP_ORDER]
    crop = cv2.warpAffine(
        sample.region, transform, (in_w, in_h), flags=cv2.INTER_LINEAR, borderValue=0
    )
    xy = kp[:, :2] @ transform[:, :2].T + transform[:, 2]
    out = np.concatenate([xy, kp[:, 2:]], 1).astype(np.float32)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < in_w) & (xy[:, 1] >= 0) & (xy[:, 1] < in_h)
    out[~inside, 2] = 0
    if rng is not None:
        gain = rng.uniform(0.7, 1.3, 3)
        crop = np.clip(crop * gain + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            crop = cv2.GaussianBlur(crop, (3, 3), 0)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), out


def heatmap_targets(
    kp: np.ndarray, sigma: float, size: tuple[int, int] = (INPUT_H, INPUT_W)
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian targets (..., 17, height / 4, width / 4) and weights (..., 17) from crop keypoints
    (..., 17, 3): one person or a batch.

    A keypoint at crop pixel x sits at heatmap x' = (x + 0.5) / STRIDE - 0.5, the inverse of
    ``TopDownPose``'s decoding. Unlabelled keypoints get weight 0.
    """
    h, w = size[0] // STRIDE, size[1] // STRIDE
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = ((kp[..., 0] + 0.5) / STRIDE - 0.5)[..., None, None]
    cy = ((kp[..., 1] + 0.5) / STRIDE - 0.5)[..., None, None]
    maps = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
    weights = (kp[..., 2] > 0).astype(np.float32)
    return (maps * weights[..., None, None]).astype(np.float32), weights


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class PoseNet(nn.Module):
    """Small encoder-decoder: (N, 3, 64, 48) in [0, 1] -> (N, 17, 16, 12) heatmaps.

    Encoder to 1/16 for context; the decoder adds 1x1-projected upsampled features to the skip
    connections (cheaper than concatenation: training runs on shared CPUs).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        c1, c2, c3, c4 = width, 2 * width, 3 * width, 4 * width
        self.stem = nn.Sequential(_block(3, c1 // 2, 2), _block(c1 // 2, c1, 2), _block(c1, c1))
        self.down8 = nn.Sequential(_block(c1, c2, 2), _block(c2, c2))
        self.down16 = nn.Sequential(_block(c2, c3, 2), _block(c3, c3), _block(c3, c4))
        self.lateral8 = nn.Conv2d(c4, c2, 1)
        self.up8 = _block(c2, c2)
        self.lateral4 = nn.Conv2d(c2, c1, 1)
        self.up4 = _block(c1, c1)
        self.head = nn.Conv2d(c1, NUM_KEYPOINTS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s4 = self.stem(x)
        s8 = self.down8(s4)
        s16 = self.down16(s8)
        up = nn.functional.interpolate
        u8 = self.up8(s8 + up(self.lateral8(s16), scale_factor=2.0))
        u4 = self.up4(s4 + up(self.lateral4(u8), scale_factor=2.0))
        return self.head(u4)


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between each keypoint's spatial softmax and its normalised Gaussian.

    logits, target: (N, 17, h, w); weight: (N, 17), 0 for unlabelled keypoints. A softmax over
    positions learns much faster than the usual mean-squared heatmap error, which matters when
    training gets minutes of a shared CPU.
    """
    log_p = torch.log_softmax(logits.flatten(2), -1)
    q = target.flatten(2)
    q = q / q.sum(-1, keepdim=True).clamp(min=1e-6)
    per_keypoint = -(q * log_p).sum(-1)
    return (per_keypoint * weight).sum() / weight.sum().clamp(min=1.0)


class ExportedPoseNet(nn.Module):
    """PoseNet with its output as the runtime's heatmaps: spatial softmax x 2 pi sigma^2.

    The scale makes the peak about 1 when the network is as sure as its training target (a
    normalised Gaussian of radius sigma peaks at 1 / (2 pi sigma^2)); TopDownPose clips to [0, 1].
    """

    def __init__(self, net: PoseNet, sigma: float) -> None:
        super().__init__()
        self.net = net
        self.scale = float(2 * np.pi * sigma**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        n, k, h, w = logits.shape
        return (torch.softmax(logits.flatten(2), -1) * self.scale).reshape(n, k, h, w)


def _augmented(
    samples: list[PersonSample], rng: np.random.Generator, config: PoseTrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Augmented crops (N, H, W, 3) uint8 and their keypoints (N, 17, 3) in crop pixels."""
    size = (config.input_height, config.input_width)
    crops, kps = zip(
        *(augmented_crop(sample, rng, config.crop_padding, size) for sample in samples),
        strict=True,
    )
    return np.stack(crops), np.stack(kps)


def _as_tensors(
    crops: np.ndarray, kps: np.ndarray, config: PoseTrainConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Network input, heatmap targets and keypoint weights of a batch."""
    maps, weights = heatmap_targets(kps, config.sigma, (config.input_height, config.input_width))
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    return x, torch.from_numpy(maps), torch.from_numpy(weights)


def _batch(
    samples: list[PersonSample], rng: np.random.Generator, config: PoseTrainConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _as_tensors(*_augmented(samples, rng, config), config)


# The samples worker processes cut batches from (set before the pool forks; the children read it).
_WORKER_SAMPLES: list[PersonSample] = []


def _worker_batch(
    job: tuple[np.ndarray, tuple[int, int, int], PoseTrainConfig],
) -> tuple[np.ndarray, np.ndarray]:
    indices, seed, config = job
    batch = [_WORKER_SAMPLES[i] for i in indices]
    return _augmented(batch, np.random.default_rng(list(seed)), config)


def _batches(
    samples: list[PersonSample],
    batches: list[np.ndarray],
    rng: np.random.Generator,
    config: PoseTrainConfig,
    epoch: int,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch's batches in order: made here from ``rng`` (workers = 0) or by worker processes
    (only the uint8 crops and keypoints cross the pipe), batch b of epoch e from a generator
    seeded by (seed, e, b)."""
    if config.workers == 0:
        for indices in batches:
            yield _batch([samples[i] for i in indices], rng, config)
        return
    global _WORKER_SAMPLES
    _WORKER_SAMPLES = samples
    jobs = [(indices, (config.seed, epoch, b), config) for b, indices in enumerate(batches)]
    try:
        with multiprocessing.get_context("fork").Pool(config.workers) as pool:
            for crops, kps in pool.imap(_worker_batch, jobs, chunksize=1):
                yield _as_tensors(crops, kps, config)
    finally:
        _WORKER_SAMPLES = []  # the images are the caller's to free


def train(
    samples: list[PersonSample],
    config: PoseTrainConfig,
    on_step: Callable[[int, float], None] | None = None,
    device: str = "cpu",
) -> ExportedPoseNet:
    """Train a PoseNet; ``on_step(step, loss)`` after each batch (progress bars).

    ``device`` is a torch device ("cpu", "cuda"); crops and targets are made on the CPU from the
    seeded generator, so the sample stream is the same on any device. On the CPU the result is
    bit-reproducible; CUDA's upsampling gradient has no deterministic kernel, so a GPU run is
    reproducible to rounding only. Returns the network on the CPU, wrapped for export and
    inference (``ExportedPoseNet``).
    """
    dev = torch.device(device)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True, warn_only=dev.type != "cpu")
    rng = np.random.default_rng(config.seed)
    model = PoseNet(config.width).to(dev)
    steps_per_epoch = max(1, len(samples) // config.batch_size)
    optimiser = torch.optim.AdamW(model.parameters(), config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    step = 0
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(samples))
        batches = [
            order[b * config.batch_size : (b + 1) * config.batch_size]
            for b in range(steps_per_epoch)
        ]
        for tensors in _batches(samples, batches, rng, config, epoch):
            x, target, weight = (t.to(dev) for t in tensors)
            loss = heatmap_loss(model(x), target, weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if on_step is not None:
                on_step(step, loss.item())
    model.cpu().eval()
    return ExportedPoseNet(model, config.sigma).eval()


def steps_total(n_samples: int, config: PoseTrainConfig) -> int:
    """Optimiser steps ``train`` takes (for a progress bar)."""
    return config.epochs * max(1, n_samples // config.batch_size)


def export_onnx(
    model: nn.Module,
    path: Path,
    metadata: dict[str, str],
    input_size: tuple[int, int] = (INPUT_H, INPUT_W),
) -> None:
    """Write ``ExportedPoseNet`` (TopDownPose heatmap contract) as ONNX with ``metadata`` props.

    ``input_size`` (height, width) must be the size the network was trained at.
    """
    import onnx  # only needed here; onnx ships with the training requirements

    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, *input_size)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        dynamo=False,
        input_names=["image"],
        output_names=["heatmaps"],
        opset_version=17,
    )
    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def predict(pose: TopDownPose, samples: list[PersonSample]) -> np.ndarray:
    """Keypoints (N, 17, 3) of a runtime pose model on labelled people, from their boxes."""
    return np.array([pose(sample.region, sample.bbox) for sample in samples]).reshape(-1, 17, 3)


def pck_figures(
    predicted: np.ndarray,
    samples: list[PersonSample],
    alpha: float = 0.1,
    keypoints: list[int] | None = None,
) -> dict[str, float]:
    """PCK@alpha of predictions (``predict``) on their labelled people.

    Reference length: the longer side of the person's box. ``labelled`` counts every labelled
    keypoint (visible or occluded), ``visible`` only the visible ones; ``keypoints`` (COCO
    indices) counts only those (default: all 17).
    """
    if not samples:
        return {"labelled": float("nan"), "visible": float("nan"), "people": 0.0}
    p = np.asarray(predicted)[:, :, :2]
    lab = np.array([sample.keypoints[:, :2] for sample in samples])
    v = np.array([sample.keypoints[:, 2] for sample in samples])
    s = np.array([max(x.bbox[2] - x.bbox[0], x.bbox[3] - x.bbox[1]) for x in samples])
    if keypoints is not None:
        p, lab, v = p[:, keypoints], lab[:, keypoints], v[:, keypoints]
    return {
        "labelled": pck(p, lab, v > 0, s, alpha),
        "visible": pck(p, lab, v > 1, s, alpha),
        "people": float(len(samples)),
    }


def evaluate_pck(
    pose: TopDownPose,
    samples: list[PersonSample],
    alpha: float = 0.1,
    keypoints: list[int] | None = None,
) -> dict[str, float]:
    """PCK@alpha of a runtime pose model on labelled people (``predict`` + ``pck_figures``)."""
    return pck_figures(predict(pose, samples), samples, alpha, keypoints)


def recipe(config: PoseTrainConfig) -> str:
    """The config as JSON (stored in the ONNX metadata)."""
    return json.dumps(asdict(config), sort_keys=True)

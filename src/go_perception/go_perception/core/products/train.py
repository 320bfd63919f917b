"""Training loop of the product network (pure: no ROS, no progress bar; the CLI adds those).

Reproducible by seed: torch is seeded, the sample order comes from a generator seeded by the run's
seed, and every sample is augmented with its own generator seeded by (seed, epoch, position), so
the sample stream does not depend on how many worker processes make it (``workers``).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from multiprocessing.pool import Pool
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from go_perception.core.products.augment import (
    AugmentConfig,
    augment,
    paste_on_background,
    swap_background,
)
from go_perception.core.products.dataset import GroceryData, data_hash, read_bgr
from go_perception.core.products.network import ProductNet, export_onnx
from go_perception.core.products.verify import product_outline, sift_features

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run."""

    epochs: int = 60
    seed: int = 0
    input_size: int = 112
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    iconic_copies: int = 4
    include_val: bool = False
    threads: int = 2
    widths: tuple[int, ...] = (32, 64, 128, 192)
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def config_from_dict(values: dict[str, object]) -> TrainConfig:
    """A TrainConfig from ``asdict`` output (e.g. a model's recipe), lists back to tuples.

    Raises:
        ValueError: on a key that TrainConfig or AugmentConfig does not have.
    """

    def tuples(d: dict[str, object]) -> dict[str, object]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

    known = {f.name for f in fields(TrainConfig)}
    aug_known = {f.name for f in fields(AugmentConfig)}
    aug = dict(values.get("augment", {}))  # type: ignore[arg-type]
    unknown = (set(values) - known) | (set(aug) - aug_known)
    if unknown:
        raise ValueError(f"unknown training settings {sorted(unknown)}")
    top = tuples({k: v for k, v in values.items() if k != "augment"})
    return TrainConfig(**top, augment=AugmentConfig(**tuples(aug)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did: mean training loss, and validation top-1 (NaN without a val split)."""

    epoch: int
    loss: float
    val_top1: float


def _to_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    """BGR uint8 (S, S, 3) list -> float32 RGB (N, 3, S, S) in [0, 255]."""
    stack = np.stack(batch)[..., ::-1].transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))


# Photos, labels, catalogue images and augmentation settings of the running training, in the
# calling process and in each worker process (set by ``_init_worker``).
_POOL_DATA: dict[str, object] = {}


def _init_worker(data: dict[str, object]) -> None:
    cv2.setNumThreads(1)
    _POOL_DATA.clear()
    _POOL_DATA.update(data)


def _make_sample(job: tuple[int, int, int, str, int]) -> tuple[np.ndarray, int]:
    """One augmented sample; ``job`` = (seed, epoch, position, kind, index)."""
    seed, epoch, position, kind, i = job
    rng = np.random.default_rng([seed, epoch, position])
    photos: list[np.ndarray] = _POOL_DATA["photos"]  # type: ignore[assignment]
    aug: AugmentConfig = _POOL_DATA["aug"]  # type: ignore[assignment]
    if kind == "photo":
        image, label = photos[i], int(_POOL_DATA["labels"][i])  # type: ignore[index]
        outline = _POOL_DATA["outlines"][i]  # type: ignore[index]
        if aug.p_swap_background > 0 and outline is not None:
            # Drawn only where there is an outline: without outlines (or with p = 0) the
            # sample stream is the one of a recipe without the swap.
            swap, other = rng.random(), int(rng.integers(len(photos)))
            if swap < aug.p_swap_background and other != i:
                image = swap_background(image, outline, photos[other])
    else:
        image, label = _POOL_DATA["catalogue"][i]  # type: ignore[index]
        image = paste_on_background(image, photos[rng.integers(len(photos))], rng)
    return augment(image, rng, aug), label


def _sample_batches(
    jobs: list[tuple[int, int, int, str, int]], batch_size: int, pool: Pool | None
) -> Iterator[tuple[list[np.ndarray], list[int]]]:
    """Batches of augmented samples in job order (made by ``pool`` when given)."""
    if pool is None:
        made: Iterator[tuple[np.ndarray, int]] = map(_make_sample, jobs)
    else:
        made = pool.imap(_make_sample, jobs, chunksize=8)
    batch: list[np.ndarray] = []
    targets: list[int] = []
    for image, label in made:
        batch.append(image)
        targets.append(label)
        if len(batch) == batch_size:
            yield batch, targets
            batch, targets = [], []
    if batch:
        yield batch, targets


def _evaluate(
    model: ProductNet,
    images: list[np.ndarray],
    labels: np.ndarray,
    size: int,
    device: torch.device,
) -> float:
    if not images:
        return float("nan")
    model.eval()
    with torch.no_grad():
        resized = [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images]
        logits = torch.cat(
            [
                model(_to_tensor(resized[i : i + 128]).to(device)).cpu()
                for i in range(0, len(resized), 128)
            ]
        )
    return float((logits.argmax(1).numpy() == labels).mean())


def train(
    data: GroceryData,
    cfg: TrainConfig,
    *,
    on_step: Callable[[int, float], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    device: str = "cpu",
    workers: int = 0,
) -> ProductNet:
    """Train a ProductNet on the train split (and val when ``include_val``) plus catalogue images.

    ``on_step(steps_done, loss)`` is called after every optimiser step (for a progress bar),
    ``on_epoch`` after every epoch. ``device`` is a torch device ("cpu", "cuda"); augmentation
    always runs on the CPU (in ``workers`` spawned processes, or the calling thread when 0) with
    per-sample seeds, so the sample stream is the same on any device and with any number of
    workers (GPU weights agree with CPU ones to floating-point rounding only). Returns the
    trained model on the CPU, in eval mode.
    """
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    items = list(data.split("train")) + (list(data.split("val")) if cfg.include_val else [])
    photos = [read_bgr(it.path) for it in items]
    labels = np.array([it.label for it in items])
    catalogue = [(read_bgr(p), k) for k, p in enumerate(data.iconic) if p is not None]
    val_items = [] if cfg.include_val else list(data.split("val"))
    val_images = [read_bgr(it.path) for it in val_items]
    val_labels = np.array([it.label for it in val_items])
    aug = AugmentConfig(**{**asdict(cfg.augment), "out_size": cfg.input_size})
    outlines: list[np.ndarray | None] = [None] * len(photos)
    if aug.p_swap_background > 0:
        # Each catalogue image's features once, not once per photograph of its product.
        refs = {k: (image, sift_features(image)) for image, k in catalogue}
        outlines = [
            product_outline(photo, refs[int(k)][0], catalogue_features=refs[int(k)][1])
            if int(k) in refs
            else None
            for photo, k in zip(photos, labels, strict=True)
        ]
        LOG.info(
            "product outlines found in %d of %d photographs",
            sum(o is not None for o in outlines),
            len(photos),
        )
    shared = {
        "photos": photos,
        "labels": labels,
        "catalogue": catalogue,
        "aug": aug,
        "outlines": outlines,
    }
    _POOL_DATA.clear()
    _POOL_DATA.update(shared)
    # Spawned, not forked: a fork of a process whose OpenMP/OpenCV/CUDA threads run can hang.
    pool = (
        multiprocessing.get_context("spawn").Pool(workers, _init_worker, (shared,))
        if workers > 0
        else None
    )
    model = ProductNet(len(data.skus), cfg.widths, cfg.blocks).to(dev)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # Sample list per epoch: every photo once, every catalogue image iconic_copies times.
    per_epoch = len(photos) + cfg.iconic_copies * len(catalogue)
    steps_per_epoch = math.ceil(per_epoch / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=cfg.lr, total_steps=total, pct_start=0.15
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    try:
        _train_epochs(
            model,
            optimiser,
            scheduler,
            loss_fn,
            cfg,
            rng,
            (len(photos), len(catalogue)),
            pool,
            dev,
            (val_images, val_labels),
            on_step,
            on_epoch,
        )
    finally:
        if pool is not None:
            pool.terminate()
    return model.cpu().eval()


def _train_epochs(
    model: ProductNet,
    optimiser: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss_fn: nn.Module,
    cfg: TrainConfig,
    rng: np.random.Generator,
    counts: tuple[int, int],
    pool: Pool | None,
    dev: torch.device,
    val: tuple[list[np.ndarray], np.ndarray],
    on_step: Callable[[int, float], None] | None,
    on_epoch: Callable[[EpochReport], None] | None,
) -> None:
    n_photos, n_catalogue = counts
    step = 0
    for epoch in range(cfg.epochs):
        model.train()
        order = [("photo", i) for i in range(n_photos)]
        order += [("iconic", i) for i in range(n_catalogue) for _ in range(cfg.iconic_copies)]
        order = [order[i] for i in rng.permutation(len(order))]
        jobs = [(cfg.seed, epoch, pos, kind, i) for pos, (kind, i) in enumerate(order)]
        losses = []
        for batch, targets in _sample_batches(jobs, cfg.batch_size, pool):
            logits = model(_to_tensor(batch).to(dev))
            loss = loss_fn(logits, torch.tensor(targets, device=dev))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            step += 1
            losses.append(loss.item())
            if on_step is not None:
                on_step(step, losses[-1])
        report = EpochReport(
            epoch + 1,
            float(np.mean(losses)),
            _evaluate(model, val[0], val[1], cfg.input_size, dev),
        )
        LOG.info("epoch %d loss %.3f val top-1 %.3f", report.epoch, report.loss, report.val_top1)
        if on_epoch is not None:
            on_epoch(report)


def steps_total(data: GroceryData, cfg: TrainConfig) -> int:
    """Number of optimiser steps ``train`` will take (for a progress bar)."""
    n = len(data.split("train")) + (len(data.split("val")) if cfg.include_val else 0)
    n += cfg.iconic_copies * sum(p is not None for p in data.iconic)
    return cfg.epochs * math.ceil(n / cfg.batch_size)


def train_and_export(
    data: GroceryData,
    cfg: TrainConfig,
    out: Path,
    *,
    command: str,
    on_step: Callable[[int, float], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    device: str = "cpu",
    workers: int = 0,
) -> ProductNet:
    """Train, then write the ONNX model with the recipe (command, seed, data hash) as metadata."""
    model = train(data, cfg, on_step=on_step, on_epoch=on_epoch, device=device, workers=workers)
    recipe = {
        "command": command,
        "config": asdict(cfg),
        "data_hash": data_hash(data.root),
        "torch": torch.__version__,
        "device": device,
    }
    export_onnx(model, out, skus=data.skus, input_size=cfg.input_size, recipe=recipe)
    return model

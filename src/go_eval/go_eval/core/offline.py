"""One scenario through the whole system in one process, deterministically, for scoring.

simulator (sensors) -> renderer (camera images) -> person/pose network -> hand crops -> product
network -> FusionPipeline (tracks, shelf events, attribution, carts, receipts). These are the same
cores the ROS nodes wrap; only sensor data crosses into perception and fusion. Ground truth from
the simulator is kept beside the run for scoring and never handed to the pipeline.

For fusion experiments, ``perception_cache`` keeps what perception made of every frame (people and
product evidence per step) in a file keyed by the run's settings and the model files; a second run
with the same key skips rendering and the networks and replays the same inputs into fusion.

Latencies are measured the way a store sees them: from the sensor time of the fact (the weight
settled, the shopper crossed the exit) to the sensor time of the input that let the pipeline
decide, plus the compute time of that pipeline call.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from go_common.core.store import StoreModel, load_store, resolve_store_path
from go_eval.core.scoring import ShelfInteraction, TrackFrame
from go_fusion.core.association import CameraPeople
from go_fusion.core.attribution import SOURCE_FACING, SOURCE_HAND, EvidenceItem
from go_fusion.core.checkout import GateObservation
from go_fusion.core.journal import Journal
from go_fusion.core.pipeline import (
    TRACK_CONFIRMED,
    TRACK_OCCLUDED,
    FusionConfig,
    FusionOutput,
    FusionPipeline,
)
from go_perception.core.appearance import describe_people
from go_perception.core.backends import (
    BackendConfig,
    PoseEstimator,
    default_models_dir,
    make_estimator,
)
from go_perception.core.facings import FacingReport, FacingWatcher, facing_evidence_id
from go_perception.core.keypoints import Person
from go_perception.core.products.classifier import (
    DEFAULT_EXPERT,
    DEFAULT_MODEL,
    ClassifierConfig,
    ProductClassifier,
)
from go_perception.core.products.hand_crops import HandCropConfig, cut, hand_crops
from go_sensors.core.render import Renderer
from go_sensors.core.simulator import SimStep, Simulator

LOGGER = logging.getLogger(__name__)
LEFT_HIP, RIGHT_HIP = 11, 12


@dataclass(frozen=True)
class RunConfig:
    """What to run. camera_hz: simulator step and camera frame rate [Hz]."""

    store: str
    scenario: str
    seed: int = 0
    camera_hz: float = 10.0
    products: bool = True
    backend: BackendConfig = field(default_factory=BackendConfig)


@dataclass
class RunResult:
    """Everything scoring and the report need from one run."""

    store: str
    scenario: str
    seed: int
    duration_s: float
    expected: dict[str, dict[str, int]] = field(default_factory=dict)
    predicted: dict[str, dict[str, int]] = field(default_factory=dict)
    truth_interactions: list[ShelfInteraction] = field(default_factory=list)
    predicted_interactions: list[ShelfInteraction] = field(default_factory=list)
    reviewed_interactions: list[ShelfInteraction] = field(default_factory=list)
    truth_frames: list[TrackFrame] = field(default_factory=list)
    predicted_frames: list[TrackFrame] = field(default_factory=list)
    event_to_cart_s: list[float] = field(default_factory=list)  # shelf event known -> cart
    # shelf event known -> a pick waiting in review settled by the facings (its cart update,
    # the review entry, is in event_to_cart_s)
    facings_settled_s: list[float] = field(default_factory=list)
    settle_to_cart_s: list[float] = field(default_factory=list)  # weight settled (t_end) -> cart
    exit_to_receipt_s: list[float] = field(default_factory=list)
    frames_total: int = 0
    frames_dropped: int = 0
    frames_camera_down: int = 0
    compute_s: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)
    receipts: list[dict] = field(default_factory=list)


class _Timer:
    def __init__(self, totals: dict[str, float], name: str):
        self.totals, self.name = totals, name

    def __enter__(self) -> _Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.start
        self.totals[self.name] = self.totals.get(self.name, 0.0) + self.elapsed


def _camera_people(
    camera_id: str, stamp: float, people: list[Person], image: np.ndarray
) -> CameraPeople:
    kps = np.array([p.keypoints for p in people], dtype=np.float64).reshape(-1, 17, 3)
    return CameraPeople(
        camera_id=camera_id,
        stamp=stamp,
        keypoints=kps[:, :, :2],
        keypoint_scores=kps[:, :, 2],
        scores=np.array([p.score for p in people], dtype=np.float64),
        appearance=describe_people(image, list(kps)),
    )


# What perception made of one simulator step: people per camera, product evidence.
StepPerception = tuple[dict[str, CameraPeople], list[EvidenceItem]]
# 3, 4: perception strips duplicate skeletons (pose NMS; partial skeletons take no part)
CACHE_VERSION = 5  # 5: facing reports in the product evidence


def perception_cache_key(config: RunConfig) -> str:
    """Key of a run's perception: its settings, its store file and every model file it may use.

    The files hashed are the store's YAML (cameras, shelves: what is rendered), the product
    model and the ONNX files of the backend's models folder and of its user-given paths; a
    changed store, model or setting gives a new key (a stale cache is never read).
    """
    digest = hashlib.sha256(f"{CACHE_VERSION}|{config!r}".encode())
    digest.update(hashlib.sha256(resolve_store_path(config.store).read_bytes()).digest())
    backend = config.backend
    models = Path(backend.models_dir) if backend.models_dir else default_models_dir()
    files = sorted(models.glob("*.onnx")) if models.is_dir() else []
    files += [Path(p) for p in (backend.detector_model, backend.pose_model) if p]
    files += [DEFAULT_MODEL, DEFAULT_EXPERT, DEFAULT_MODEL.parent / "pose_sim.onnx"]
    for path in files:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


class OfflineRun:
    """Drive one scenario step by step; ``run()`` returns the :class:`RunResult`.

    ``perception_cache``: a folder; the run's perception is read from
    ``<folder>/<scenario>-<seed>-<key>.pkl`` when that file exists (rendering and the networks
    are skipped) and written there otherwise. For fusion experiments only: the file is a pickle,
    so read only caches this tool wrote.

    ``journal``: the fusion journal file (default: in memory). ``restarts``: sensor times [s] at
    which the fusion pipeline is killed and a new one started on the same journal, as a fusion
    node restart would (needs ``journal``); the figures should not change. ``fusion_config``:
    the pipeline's parameters (default ``FusionConfig()``); they do not change the perception
    cache.
    """

    def __init__(
        self,
        config: RunConfig,
        estimator: PoseEstimator | None = None,
        classifier: ProductClassifier | None = None,
        perception_cache: Path | None = None,
        journal: Path | None = None,
        fusion_config: FusionConfig | None = None,
        restarts: Sequence[float] = (),
    ):
        if restarts and journal is None:
            raise ValueError("restarts need a journal file to restart from")
        self.config = config
        self._journal = journal
        self._restarts = sorted(float(t) for t in restarts)
        self.restarted = 0
        self._cache_path: Path | None = None
        self._cached: list[StepPerception] | None = None
        self._recorded: list[StepPerception] = []
        if perception_cache is not None:
            name = f"{config.scenario}-{config.seed}-{perception_cache_key(config)}.pkl"
            self._cache_path = Path(perception_cache) / name
            if self._cache_path.is_file():
                with self._cache_path.open("rb") as f:
                    self._cached = pickle.load(f)
                if estimator is None:
                    estimator = _unused_estimator
        self.from_cache = self._cached is not None  # every frame's perception comes from the cache
        self._step_index = 0
        self.store: StoreModel = load_store(config.store)
        self.sim = Simulator(self.store, config.scenario, config.seed)
        self.renderer = Renderer(self.store)
        self.estimator = estimator or make_estimator(config.backend)
        self.classifier = classifier
        if config.products and classifier is None:
            self.classifier = ProductClassifier(config=ClassifierConfig(top_k=5))
        self.crop_config = HandCropConfig()
        # The cameras always report the lanes of mixed bins (the perception cache holds them);
        # ``fusion_config.facings.enabled`` says whether fusion reads them.
        self.facings = {c: FacingWatcher(self.store, c) for c in sorted(self.store.cameras)}
        self._review_shelf: dict[str, ShelfInteraction] = {}  # queued item by shelf event id
        self.fusion_config = fusion_config
        self.pipeline = FusionPipeline.for_store(
            self.store, fusion_config, journal=Journal(journal) if journal is not None else None
        )
        self.result = RunResult(config.store, config.scenario, config.seed, self.sim.duration)
        self._shelf_event_known: dict[str, float] = {}  # event id -> sensor time it was emitted

    def run(self, progress: Callable[[float], None] | None = None) -> RunResult:
        for step in self.sim.run(step_s=1.0 / self.config.camera_hz):
            self._truth(step)
            while self._restarts and step.t >= self._restarts[0]:
                self._restart()
            self._sensors(step)
            if progress:
                progress(step.t)
        with _Timer(self.result.compute_s, "fusion") as timer:
            out = self.pipeline.finish(self.sim.t_end)
        self._collect(out, self.sim.t_end, timer.elapsed)
        self.pipeline.close()  # its journal and last checkpoint on disk
        if self._cache_path is not None and self._cached is None:
            self._cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._cache_path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump(self._recorded, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(self._cache_path)
        return self.result

    def _restart(self) -> None:
        """Kill the fusion pipeline and start a new one on its journal (and checkpoints)."""
        self._restarts.pop(0)
        self.pipeline.close()
        self.pipeline = FusionPipeline.for_store(
            self.store, self.fusion_config, journal=Journal(self._journal)
        )
        self.restarted += 1

    def _truth(self, step: SimStep) -> None:
        res = self.result
        for event in step.events:
            if event.kind in ("pick", "return"):
                sign = 1 if event.kind == "pick" else -1
                res.truth_interactions.append(
                    ShelfInteraction(
                        event.t, event.bin_id, event.sku, sign * event.qty, event.session
                    )
                )
        for receipt in step.receipts:
            items = res.expected.setdefault(receipt.session, {})
            for line in receipt.lines:
                items[line.sku] = items.get(line.sku, 0) + int(line.qty)
        if step.tracks:
            res.truth_frames.append(
                TrackFrame(
                    step.t,
                    {
                        tr.person_id: tuple(tr.keypoints[[LEFT_HIP, RIGHT_HIP], :2].mean(axis=0))
                        for tr in step.tracks
                    },
                )
            )

    def _sensors(self, step: SimStep) -> None:
        res = self.result
        for gate in step.gate_events:
            obs = GateObservation(
                gate.gate_id, gate.kind, gate.t, gate.session_token, gate.group_size, gate.position
            )
            with _Timer(res.compute_s, "fusion") as timer:
                out = self.pipeline.add_gate_event(obs)
            self._collect(out, gate.t, timer.elapsed)
        for batch in step.boards:
            t_last = batch.t0 + (batch.grams.shape[0] - 1) * batch.sample_period
            with _Timer(res.compute_s, "fusion") as timer:
                out = self.pipeline.add_load_cells(
                    batch.board_id,
                    batch.channel_ids,
                    batch.t0,
                    batch.sample_period,
                    batch.grams,
                    list(batch.status),
                )
            self._collect(out, t_last, timer.elapsed)
        people, evidence = self._perceive(step)
        with _Timer(res.compute_s, "fusion") as timer:
            out = self.pipeline.add_people(step.t, people)
            if evidence:
                out.extend(self.pipeline.add_product_evidence(evidence))
        self._collect(out, step.t, timer.elapsed)

    def _perceive(self, step: SimStep) -> StepPerception:
        """People per camera and product evidence of this step (from the cache when it has it)."""
        res = self.result
        index = self._step_index
        self._step_index += 1
        if self._cached is not None:
            if index >= len(self._cached):
                raise RuntimeError(f"perception cache {self._cache_path} ends before step {index}")
            res.frames_total += len(self.store.cameras)
            res.frames_camera_down += sum(c in step.cameras_down for c in self.store.cameras)
            return self._cached[index]
        people: dict[str, CameraPeople] = {}
        evidence: list[EvidenceItem] = []
        for camera_id in sorted(self.store.cameras):
            res.frames_total += 1
            if camera_id in step.cameras_down:
                res.frames_camera_down += 1
                continue
            with _Timer(res.compute_s, "render"):
                image = self.renderer.render(camera_id, step.world)
            with _Timer(res.compute_s, "perception"):
                persons = self.estimator(image)
            with _Timer(res.compute_s, "appearance"):
                people[camera_id] = _camera_people(camera_id, step.t, persons, image)
            if camera_id in self.facings:
                with _Timer(res.compute_s, "facings"):
                    found = self.facings[camera_id].update(
                        step.t, image, [(p.bbox, p.keypoints) for p in persons]
                    )
                evidence += [facing_evidence(r) for r in found]
            if self.classifier is not None and persons:
                with _Timer(res.compute_s, "products"):
                    evidence += self._products(camera_id, step.t, image, persons)
        if self._cache_path is not None:
            self._recorded.append((people, evidence))
        return people, evidence

    def _products(
        self, camera_id: str, t: float, image: np.ndarray, persons: list[Person]
    ) -> list[EvidenceItem]:
        size = (image.shape[1], image.shape[0])
        crops, boxes = [], []
        for index, person in enumerate(persons):
            found, _ = hand_crops(index, person.keypoints, person.bbox, size, self.crop_config)
            for crop in found:
                crops.append(cut(image, crop.box))
                boxes.append(crop)
        if not crops:
            return []
        assert self.classifier is not None
        ranked = self.classifier.rank(crops)
        stamp_ns = round(t * 1e9)
        return [
            EvidenceItem(
                evidence_id=f"{camera_id}/{stamp_ns}/p{crop.person}/{crop.side}",
                camera_id=camera_id,
                t=t,
                source=SOURCE_HAND,
                scores={s.sku: s.score for s in scores if s.sku in self.store.products},
                pixel=((crop.box[0] + crop.box[2]) / 2.0, (crop.box[1] + crop.box[3]) / 2.0),
            )
            for crop, scores in zip(boxes, ranked, strict=True)
        ]

    def _collect(self, out: FusionOutput, t_input: float, compute_s: float) -> None:
        res = self.result
        for shelf in out.shelf_events:
            self._shelf_event_known.setdefault(shelf.event.event_id, t_input)
        for ev in out.cart_events + out.review_events:
            sign = 1 if ev.kind == "pick" else -1
            item = ShelfInteraction(ev.stamp, ev.bin_id, ev.sku, sign * ev.quantity, ev.session_id)
            known = self._shelf_event_known.get(ev.shelf_event_id, t_input)
            latency = max(t_input - known, 0.0) + compute_s
            if ev.needs_review:
                res.reviewed_interactions.append(item)
                self._review_shelf[ev.shelf_event_id] = item
            else:
                res.predicted_interactions.append(item)
            queued = self._review_shelf.pop(ev.shelf_event_id, None) if ev.reviewer else None
            if queued is not None:
                # A review settled (by the facings): the item leaves the review list; its
                # cart update was the review entry, already timed.
                res.reviewed_interactions.remove(queued)
                res.facings_settled_s.append(latency)
                continue
            res.event_to_cart_s.append(latency)
            res.settle_to_cart_s.append(max(t_input - ev.stamp, 0.0) + compute_s)
        for receipt in out.receipts:
            items = res.predicted.setdefault(receipt.session_id, {})
            for line in receipt.lines:
                items[line.sku] = items.get(line.sku, 0) + int(line.quantity)
            res.exit_to_receipt_s.append(max(t_input - receipt.exit_t, 0.0) + compute_s)
            res.receipts.append(
                {
                    "receipt_id": receipt.receipt_id,
                    "session_id": receipt.session_id,
                    "lines": [
                        {"sku": ln.sku, "quantity": ln.quantity, "unit_price": ln.unit_price}
                        for ln in receipt.lines
                    ],
                    "total": receipt.total,
                    "confidence": receipt.confidence,
                    "pending_reviews": receipt.pending_reviews,
                }
            )
        for diag in out.diagnostics:
            key = getattr(diag, "key", None) or getattr(diag, "name", "diagnostic")
            res.diagnostics[key] = res.diagnostics.get(key, 0) + 1
        if out.tracks is not None:
            live = [s for s in out.tracks if s.state in (TRACK_CONFIRMED, TRACK_OCCLUDED)]
            res.predicted_frames.append(
                TrackFrame(
                    t_input,
                    {s.track_id: (float(s.position[0]), float(s.position[1])) for s in live},
                )
            )


def facing_evidence(report: FacingReport) -> EvidenceItem:
    """A camera's report of one lane as product evidence (``SOURCE_FACING``: score 1 moved)."""
    stamp_ns = round(report.t * 1e9)
    return EvidenceItem(
        evidence_id=facing_evidence_id(report.camera_id, stamp_ns, report.bin_id, report.sku),
        camera_id=report.camera_id,
        t=report.t,
        source=SOURCE_FACING,
        scores={report.sku: 1.0 if report.moved else 0.0},
        bin_id=report.bin_id,
        since=report.since,
    )


def _unused_estimator(image: np.ndarray) -> list[Person]:
    """Stands in for the networks when every frame comes from the perception cache."""
    raise RuntimeError("perception cache replay ran the pose estimator")


def run_scenario(config: RunConfig, **kwargs: object) -> RunResult:
    """Run one scenario (see :class:`OfflineRun`)."""
    return OfflineRun(config, **kwargs).run()  # type: ignore[arg-type]

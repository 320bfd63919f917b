"""FusionPipeline: shelf events + tracks + attribution + carts + checkout, pure and replayable.

The fusion node and the offline evaluation drive the same object: feed it load-cell batches, gate
events, synchronised person detections (or ready-made track snapshots), product evidence and
review decisions, each with its sensor stamp; every call returns a :class:`FusionOutput` with what
to publish. Nothing here reads the wall clock: time is the stamps, and the pipeline's clock is the
latest stamp it accepted (``now``), so a replay gives identical carts and receipts.

Durability (exactly once): every state change is written to the :class:`Journal` before the call
returns, and ``journal.commit()`` (fsync) runs before anything is handed out for publishing. A new
pipeline on the same journal rebuilds sessions, carts, the review queue, the live planogram, the
shelf events not yet attributed and the receipts (those written but maybe not published come back
from :meth:`FusionPipeline.unpublished_receipts`). Cart events and receipts carry deterministic
ids, and the books refuse an id twice, so a restart never adds an item or a receipt twice. The
tracker's sessions and tracks are checkpointed beside the journal (``<journal>.tracker.json``,
atomic, every ``tracker_checkpoint_s``) and restored on restart, so shoppers already in the store
keep their tracks (OCCLUDED until re-found) and still leave through the exit. With it goes the
short-term memory the journal does not hold (``<journal>.memory.pkl``, :data:`MEMORY_FIELDS`):
the shelf detector's levels and changes in progress, the recent wrists and product crops, the
hand contacts waiting for crops. Without it a restart within a second or two of a pick lost
the pick: the restarted detector took the lighter shelf as its level. Bins with an event
journalled after the checkpoint take the level the journal recorded after it (that event is
already in the books), and a checkpoint written under another configuration or store layout is
not restored.

Offline use (the evaluation)::

    pipe = FusionPipeline.for_store(load_store("small"))      # all cameras, journal in memory
    out = pipe.add_gate_event(GateObservation("entry", "entry", t, token, group_size))
    out = pipe.add_people(t, {cam: CameraPeople(...), ...})   # one synchronised camera set
    out = pipe.add_load_cells(board_id, channel_ids, t0, period, grams, status)
    out = pipe.add_product_evidence([EvidenceItem(...), ...])
    out = pipe.finish(t_end)                                  # end of the recording
    out.receipts, out.cart_events, out.review_events, ...     # per call; or pipe.receipts

Session ids are the app tokens (``"<token>~2"`` on a second visit), as in the tracker.

Attribution waits until the tracks cover the event window (``t_end + edge_window_s``) or until
``track_wait_s`` of load-cell time has passed, so cameras that lag the scales are not ignored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import pickle
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from go_fusion.core.arm_hands import ArmHandConfig, arm_hands
from go_fusion.core.attribution import (
    SOURCE_FACING,
    SOURCE_HAND,
    Attribution,
    AttributionConfig,
    Attributor,
    BusySpan,
    CandidateTrack,
    EvidenceItem,
    ShelfObservation,
    WeightHypothesis,
    observation_from_json,
    observation_to_json,
)
from go_fusion.core.cameras import FusionCamera
from go_fusion.core.cart import (
    KIND_PICK,
    KIND_RETURN,
    CartBook,
    CartEventRecord,
    event_from_json,
    event_to_json,
)
from go_fusion.core.checkout import (
    ENTRY,
    EXIT,
    GateObservation,
    ReceiptRecord,
    SessionBook,
    build_receipt,
    receipt_from_json,
    receipt_to_json,
)
from go_fusion.core.facing_evidence import (
    FacingEvidenceConfig,
    covering_reports,
    facing_posterior,
)
from go_fusion.core.handoff import (
    Contact,
    HandoffConfig,
    HandoffDetector,
    HandSighting,
    WristTable,
    direction_from_evidence,
    evidence_windows,
)
from go_fusion.core.hypotheses import (
    Candidate,
    HypothesisConfig,
    ownership_priors,
    rank_hypotheses,
)
from go_fusion.core.journal import Journal
from go_fusion.core.multiview import MultiViewConfig, MultiViewTracker, TrackerOutput
from go_fusion.core.review import DECISION_ACCEPT, DECISION_AMEND, ReviewDecision, ReviewQueue
from go_fusion.core.shelf_events import (
    STATE_DRIFT,
    STATE_SETTLED,
    ShelfEventConfig,
    ShelfEventCore,
    ShelfEventDetector,
    neighbours_from_boxes,
)
from go_fusion.core.store_view import StoreView, store_view_from_model
from go_fusion.core.tracking import GateArea, GateEvent, GateKind
from go_fusion.core.triangulation import FloorBox

LOGGER = logging.getLogger(__name__)

LEFT_WRIST = 9
RIGHT_WRIST = 10
_LOCALISE_WINDOW_S = 0.15  # [s] a wrist seen this close in time to a product crop may hold it
TRACK_TENTATIVE = 0
TRACK_CONFIRMED = 1
TRACK_OCCLUDED = 2
TRACK_EXITED = 3

# What a restart restores from <journal>.memory.pkl rather than from the journal (see the module
# docstring). A memory written by other go_fusion code is refused anyway (_code_digest);
# MEMORY_VERSION changes with the file's own layout.
MEMORY_VERSION = 1
MEMORY_FIELDS = (
    "detector",
    "_wrists",
    "_arm_hands",
    "_evidence",
    "_busy",
    "_board_last_t",
    "_tracks_t",
    "_gate_buffer",
    "_anonymous_exits",
    "handoffs",
    "loose_handoffs",
    "_pending_contacts",
    "_in_contact",
    "_facing_watch",
)

# Diagnostic levels (diagnostic_msgs/DiagnosticStatus).
OK = 0
WARN = 1
ERROR = 2


@dataclass(frozen=True)
class FusionConfig:
    """Parameters of the pipeline (defaults in go_fusion/config/fusion.yaml). Seconds, grams."""

    attribution: AttributionConfig = field(default_factory=AttributionConfig)
    # The detector's hold for adjacent-bin merging adds directly to the cart-update latency; the
    # channels of one board arrive together, so a short hold keeps merges and meets 100 ms.
    shelf: ShelfEventConfig = field(default_factory=lambda: ShelfEventConfig(merge_hold_s=0.05))
    hypotheses: HypothesisConfig = field(default_factory=HypothesisConfig)
    tracker: MultiViewConfig = field(default_factory=MultiViewConfig)
    checkout_grace_s: float = 0.3  # wait after an exit for weight changes still settling
    track_wait_s: float = 0.3  # longest wait for the tracks to cover an event window
    max_lateness_s: float = 30.0  # inputs older than now - this are rejected (far past)
    max_future_s: float = 5.0  # inputs newer than the reference clock + this are rejected
    max_abs_grams: float = 200_000.0  # a channel reading beyond this is absurd (set to dropout)
    wrist_history_s: float = 20.0  # wrist samples kept per track
    evidence_history_s: float = 20.0  # product evidence kept
    off_planogram_prior: float = (
        0.2  # prior of a SKU the bin is not known to hold (stale planogram)
    )
    min_wrist_score: float = 0.2  # wrists below this keypoint score are not used
    # A weak wrist may also get a hand along the upper arm (arm_hands, off by default).
    arm_hands: ArmHandConfig = field(default_factory=ArmHandConfig)
    default_wrist_sd_m: float = 0.05  # wrist sd when a skeleton carries no covariance
    anonymous_exit_wait_s: float = 0.5  # an exit crossing no track explains waits this long
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    # Looser contacts (3D wrists from 2D pose are 0.1-0.3 m off: two hands held together often
    # measure 0.25 m apart and an arm held out as short as a hanging one). Too loose to pass an
    # item on the hands' left/right labels, so only the product crops decide them.
    handoff_loose: HandoffConfig = field(
        default_factory=lambda: HandoffConfig(contact_m=0.35, min_reach_m=0.2, min_contact_s=0.5)
    )
    handoff_confidence: float = 0.8  # confidence of an item passed between two sessions
    handoff_evidence_confidence: float = 0.7  # ... when its direction came from product crops
    evidence_ray_m: float = 0.2  # a wrist this close to the ray through a product crop holds it
    # A look-alike pick in review is settled by the views of its bin's lanes (facing_evidence).
    facings: FacingEvidenceConfig = field(default_factory=FacingEvidenceConfig)
    tracker_checkpoint_s: float = 1.0  # tracker + short-term memory saved beside the journal
    tracker_checkpoint_max_age_s: float = 120.0  # older at the first input: not restored


@dataclass(frozen=True)
class TrackSnapshot:
    """One tracked shopper at one time, as the tracker reports it.

    position, velocity: (3,) [m], [m/s] store frame. covariance: (6, 6) of (x, y, z, vx, vy, vz).
    keypoints: (17, 3) [m] COCO-17 or None; keypoint_scores: (17,); keypoint_covariance:
    (17, 3, 3) [m^2] or None. state: TRACK_* (go_msgs/ShopperTrack constants). last_seen: [s].
    """

    track_id: str
    session_id: str
    state: int
    position: np.ndarray
    velocity: np.ndarray
    covariance: np.ndarray
    last_seen: float
    keypoints: np.ndarray | None = None
    keypoint_scores: np.ndarray | None = None
    keypoint_covariance: np.ndarray | None = None
    camera_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackExit:
    """A track that left through an exit gate at t [s] (session_closed: it was the last one)."""

    track_id: str
    session_id: str
    t: float
    session_closed: bool = False


@dataclass(frozen=True)
class Diagnostic:
    """A problem with an input or a decision: level OK/WARN/ERROR, a short name, a message."""

    level: int
    name: str
    message: str


@dataclass(frozen=True)
class ShelfEventOut:
    """A detected shelf event with its ranked (sku, quantity) hypotheses, for publishing."""

    event: ShelfEventCore
    hypotheses: tuple[WeightHypothesis, ...]


@dataclass(frozen=True)
class CartLineView:
    """A cart line for publishing (name from the catalogue)."""

    sku: str
    name: str
    quantity: int
    confidence: float
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class CartView:
    """A cart for publishing or the GetCart service. stamp: [s] time of the last change."""

    session_id: str
    track_ids: tuple[str, ...]
    lines: tuple[CartLineView, ...]
    pending_reviews: int
    closed: bool
    stamp: float


@dataclass
class FusionOutput:
    """Everything one pipeline call produced, in the order it happened."""

    shelf_events: list[ShelfEventOut] = field(default_factory=list)
    cart_events: list[CartEventRecord] = field(default_factory=list)
    review_events: list[CartEventRecord] = field(default_factory=list)
    carts: list[CartView] = field(default_factory=list)
    receipts: list[ReceiptRecord] = field(default_factory=list)
    tracks: list[TrackSnapshot] | None = None
    skeletons: Any = None
    misplaced: list[tuple[str, str, int]] = field(default_factory=list)  # (bin, sku, units)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def extend(self, other: FusionOutput) -> None:
        """Append another output's items to this one."""
        self.shelf_events += other.shelf_events
        self.cart_events += other.cart_events
        self.review_events += other.review_events
        self.carts += other.carts
        self.receipts += other.receipts
        self.misplaced += other.misplaced
        self.diagnostics += other.diagnostics
        if other.tracks is not None:
            self.tracks = other.tracks
            self.skeletons = other.skeletons


@dataclass(frozen=True)
class _FacingWatch:
    """A look-alike pick waiting in review for the cameras' views of its bin's lanes.

    p_session: the shopper's posterior, which the lanes cannot change; hypotheses: the pick's
    (sku, quantity) hypotheses as attribution weighed them.
    """

    event: CartEventRecord
    obs: ShelfObservation
    p_session: float
    hypotheses: tuple[WeightHypothesis, ...]
    reports_seen: int = 0  # lane reports the last look was made on


@dataclass(frozen=True)
class _HeldUnit:
    """One unit a track holds: taken from a shelf (or received) with hand 0 left / 1 right."""

    sku: str
    hand: int
    unit_g: float


class _WristBuffer:
    """Wrist samples of one track in time order, as arrays (no per-sample Python objects).

    t (K,) [s], pos (K, 3) [m] store frame, var (K, 3) [m^2] covariance diagonals, side (K,)
    0 left / 1 right as the pose model named the wrist.
    """

    def __init__(self) -> None:
        self.t = np.zeros(0)
        self.pos = np.zeros((0, 3))
        self.var = np.zeros((0, 3))
        self.side = np.zeros(0, dtype=int)
        self.last_t = -math.inf
        self.cameras: set[str] = set()
        self._rows: list[tuple[float, np.ndarray, np.ndarray, int]] = []

    def append(
        self, t: float, pos: np.ndarray, var: np.ndarray, side: int, cameras: Sequence[str]
    ) -> None:
        """Add one sample (t must not go back in time)."""
        self._rows.append((t, pos, var, side))
        self.last_t = max(self.last_t, t)
        self.cameras.update(cameras)

    def _flush(self) -> None:
        if self._rows:
            rows = self._rows
            self.t = np.concatenate([self.t, [r[0] for r in rows]])
            self.pos = np.concatenate([self.pos, np.stack([r[1] for r in rows])])
            self.var = np.concatenate([self.var, np.stack([r[2] for r in rows])])
            self.side = np.concatenate([self.side, np.array([r[3] for r in rows], dtype=int)])
            self._rows = []

    def window(self, t0: float, t1: float) -> tuple[np.ndarray, ...]:
        """The samples with t0 <= t <= t1: t (K,), pos (K, 3), var (K, 3), side (K,)."""
        self._flush()
        i = int(np.searchsorted(self.t, t0, side="left"))
        j = int(np.searchsorted(self.t, t1, side="right"))
        return self.t[i:j], self.pos[i:j], self.var[i:j], self.side[i:j]

    def prune(self, horizon: float) -> None:
        """Forget samples older than horizon [s]."""
        self._flush()
        i = int(np.searchsorted(self.t, horizon, side="left"))
        if i:
            self.t, self.pos, self.var = self.t[i:], self.pos[i:], self.var[i:]
            self.side = self.side[i:]


class FusionPipeline:
    """The whole fusion back end on one store (see the module docstring).

    cameras: calibrated cameras (``cameras.FusionCamera``); with at least one, a
    ``MultiViewTracker`` turns :meth:`add_people` into tracks. Without cameras, tracks may come
    through :meth:`add_tracks` (or not at all: events then go to the only open session, or to
    review). ``set_cameras`` replaces the calibration (new CameraInfo or /tf_static).
    """

    def __init__(
        self,
        store: StoreView,
        config: FusionConfig | None = None,
        journal: Journal | None = None,
        cameras: Sequence[Any] = (),
    ) -> None:
        self.store = store
        self.config = config or FusionConfig()
        self.journal = journal if journal is not None else Journal(None)
        self.tracker: MultiViewTracker | None = None
        self._checkpoint_t: float | None = None
        # the tracker of the short-term memory, until set_cameras continues it
        self._restored_tracker: MultiViewTracker | None = None
        self._restored_seq = 0
        # restored state whose age the first input decides: (checkpoint t, fresh memory fields)
        self._memory_t: float | None = None
        self._fresh_memory: dict[str, Any] = {}
        self._tracker_t: float | None = None
        self._writer = _CheckpointWriter()
        self._pending_cameras = list(cameras)
        self.attributor = Attributor(
            self.config.attribution, store.bins, store.products, self.config.hypotheses
        )
        boxes = {b.bin_id: (b.shelf_id, b.center, b.size) for b in store.bins.values()}
        self.detector = ShelfEventDetector(
            self.config.shelf, sorted(store.bins), neighbours_from_boxes(boxes)
        )
        self.sessions = SessionBook(self.config.checkout_grace_s)
        self.carts = CartBook()
        self.reviews = ReviewQueue()
        # bin -> {sku: units on the shelf}; a bin without counts starts at 0 units per SKU.
        self.live_planogram: dict[str, dict[str, int]] = {
            b.bin_id: dict(
                zip(b.skus, [int(c) for c in b.counts] or [0] * len(b.skus), strict=True)
            )
            for b in store.bins.values()
        }
        self.receipts: dict[str, ReceiptRecord] = {}
        self._published: set[str] = set()
        self._pending_events: dict[str, ShelfObservation] = {}
        self._seen_shelf_events: set[str] = set()
        # (event id, t_start, t_end, bins) of the latest shelf events, for concurrent_nearby
        self._shelf_spans: deque[tuple[str, float, float, tuple[str, ...]]] = deque(maxlen=256)
        self._wrists: dict[str, _WristBuffer] = {}
        # Hands placed along the upper arm where the wrist was not seen (arm_hands): read by
        # attribution only, not by product-crop localisation nor to tell which hand took an item.
        self._arm_hands: dict[str, _WristBuffer] = {}
        self._evidence: deque[EvidenceItem] = deque()
        # track id -> its latest decided events (concurrent reaches, attribution.BusySpan)
        self._busy: dict[str, deque[BusySpan]] = {}
        # evidence id -> (the evidence, it localised): see _localised_once
        self._localised_memo: dict[str, tuple[EvidenceItem, EvidenceItem]] = {}
        self._board_last_t: dict[str, float] = {}
        self._tracks_t: float | None = None
        self._gate_buffer: list[GateObservation] = []
        self._anonymous_exits: list[GateObservation] = []
        self._held: dict[str, list[_HeldUnit]] = {}
        # contacts whose direction waits for product crops after them: (contact, the two
        # tracks' sessions, whether the loose detector reported it)
        self._pending_contacts: list[tuple[Contact, dict[str, str], bool]] = []
        # sorted track pair -> whether the contact handled for it was a loose one, while the
        # pair's hands stay together in either detector (a contact seen again is not a new pass)
        self._in_contact: dict[tuple[str, str], bool] = {}
        # queued cart event id -> the look-alike pick waiting for its lanes' reports
        self._facing_watch: dict[str, _FacingWatch] = {}
        self._facing_added = False  # a watch started since the last look at the lanes
        # mixed bin -> (stamp, sku, shelf event id) of the events decided there (rebuilt from
        # the journal)
        self._bin_moves: dict[str, deque[tuple[float, str, str]]] = {}
        boxes = [(b.min_corner, b.max_corner) for b in store.bins.values()]
        self.handoffs = HandoffDetector(self.config.handoff, boxes)
        self.loose_handoffs = HandoffDetector(self.config.handoff_loose, boxes)
        self.now: float | None = None
        self.diagnostic_counts: dict[str, int] = {}
        self._rebuild()
        self._restore_memory()
        if self._pending_cameras:
            self.set_cameras(self._pending_cameras)

    # ---- journal ----------------------------------------------------------------------------

    def _record(self, type_: str, data: Mapping[str, Any]) -> None:
        self.journal.append(type_, data)
        self._apply(type_, data)

    def _apply(self, type_: str, data: Mapping[str, Any]) -> None:
        """Apply one journal record to the books (live and when rebuilding)."""
        if "t" in data and data["t"] is not None:
            self.now = max(self.now, float(data["t"])) if self.now is not None else float(data["t"])
        if type_ == "gate":
            self._apply_gate(data)
        elif type_ == "track_bind":
            if self.sessions.bind_track(data["track_id"], data["session_id"]):
                self.carts.add_track(data["session_id"], data["track_id"])
        elif type_ == "track_exit":
            self.sessions.track_exit(data["track_id"], data["t"])
            if data.get("session_closed") and data.get("session_id"):
                self.sessions.session_exit(data["session_id"], data["t"])
        elif type_ == "shelf_event":
            self._seen_shelf_events.add(data["event_id"])
            obs = observation_from_json(data)
            self._pending_events[data["event_id"]] = obs
            self._shelf_spans.append(
                (obs.event_id, obs.t_start, obs.t_end, tuple(obs.bin_ids or (obs.bin_id,)))
            )
        elif type_ == "shelf_done":
            self._pending_events.pop(data["event_id"], None)
            self._note_busy(data)
        elif type_ == "cart_event":
            event = event_from_json(data["event"])
            if self.carts.apply(event).applied:
                self._follow_stock(event)
                self._follow_hands(event)
                self._note_move(event)
        elif type_ == "review_queued":
            event = event_from_json(data["event"])
            if self.reviews.push(event):
                self.carts.set_pending(event.session_id, +1)
        elif type_ == "review_decision":
            decision = ReviewDecision(**data["decision"])
            outcome = self.reviews.decide(decision, lambda _: True, lambda _: True)
            if outcome.success:
                self._apply_review_outcome(outcome)
        elif type_ == "receipt":
            receipt = receipt_from_json(data["receipt"])
            self.receipts[receipt.receipt_id] = receipt
            self.sessions.close(receipt.session_id)
            self.carts.close(receipt.session_id)
        elif type_ == "receipt_published":
            self._published.add(data["receipt_id"])

    def _note_busy(self, data: Mapping[str, Any]) -> None:
        """Keep the busy spans of a ``shelf_done`` record (absent in journals written before
        they were recorded)."""
        for span in data.get("busy") or ():
            try:
                track_id = str(span["track_id"])
                item = (
                    float(span["t_start"]),
                    float(span["t_end"]),
                    tuple(str(b) for b in span["bins"]),
                    float(span["p"]),
                )
            except (KeyError, TypeError, ValueError) as error:  # short-term hint: skip it
                LOGGER.warning("fusion: journal busy span %r unreadable: %s", span, error)
                continue
            self._busy.setdefault(track_id, deque(maxlen=8)).append(item)

    @classmethod
    def for_store(
        cls, model: Any, config: FusionConfig | None = None, journal: Journal | None = None
    ) -> FusionPipeline:
        """A pipeline for a ``go_common.core.store.StoreModel`` with all of its cameras."""
        cameras = [FusionCamera.from_store_camera(c) for _, c in sorted(model.cameras.items())]
        return cls(store_view_from_model(model), config, journal, cameras=cameras)

    def finish(self, t: float) -> FusionOutput:
        """End of a recording at sensor time t [s]: release held shelf changes, attribute every
        pending event and issue the receipts that are due (sessions still open stay open)."""
        out = FusionOutput()
        for ev in self.detector.flush():
            out.extend(self._on_shelf_event(ev))
        self._tick(t)
        for event_id in sorted(self._pending_events, key=lambda e: self._pending_events[e].t_end):
            out.extend(self._attribute(self._pending_events[event_id]))
        out.extend(self._decide_contacts(set(), force=True))
        out.extend(self._advance())
        return out

    def _checkpoint_path(self) -> Path | None:
        path = self.journal.path
        return None if path is None else path.with_name(path.name + ".tracker.json")

    def _memory_path(self) -> Path | None:
        path = self.journal.path
        return None if path is None else path.with_name(path.name + ".memory.pkl")

    @functools.cached_property
    def _fingerprint(self) -> str:
        """What a saved short-term memory must have been made under: configuration, layout and
        go_fusion's code."""
        bins = sorted(
            (b.bin_id, b.shelf_id, tuple(b.skus), b.center.tolist(), b.size.tolist())
            for b in self.store.bins.values()
        )
        gates = sorted(
            (g.gate_id, g.kind, tuple(map(float, g.min_xy)), tuple(map(float, g.max_xy)))
            for g in self.store.gates.values()
        )
        layout = (bins, gates, sorted(self.store.camera_ids))
        text = repr((MEMORY_VERSION, _code_digest(), self.config, layout))
        return hashlib.sha256(text.encode()).hexdigest()

    def _save_checkpoint(self, t: float) -> None:
        """Every ``tracker_checkpoint_s`` of sensor time: write the tracker's sessions and tracks
        and the short-term memory beside the journal (each an atomic replace)."""
        path = self._checkpoint_path()
        if path is None or self._restored_tracker is not None:
            return  # (the restored tracker waits for the cameras: keep the file that holds it)
        period = self.config.tracker_checkpoint_s
        if self._checkpoint_t is not None and t - self._checkpoint_t < period:
            return
        self._checkpoint_t = t
        files: list[tuple[Path, bytes]] = []
        try:
            if self.tracker is not None:
                state = json.dumps(
                    {
                        "t": t,
                        "journal_seq": self.journal.last_seq,
                        "state": self.tracker.export_state(),
                    }
                )
                files.append((path, state.encode()))
            memory = {
                "version": MEMORY_VERSION,
                "fingerprint": self._fingerprint,
                "t": t,
                "journal_seq": self.journal.last_seq,
                "fields": {name: getattr(self, name) for name in MEMORY_FIELDS},
                # the tracker as it is, less its own wrist samples (WristStore.__getstate__);
                # the JSON above is for a restart after a longer gap or a changed configuration
                "tracker": self.tracker,
            }
            memory_path = self._memory_path()
            assert memory_path is not None
            # The state is pickled here (a consistent snapshot, ~3 ms with 400 bins and 50
            # shoppers); writing and fsync'ing its ~2 MB is left to the writer thread.
            files.append((memory_path, pickle.dumps(memory, protocol=pickle.HIGHEST_PROTOCOL)))
        except Exception as error:  # a checkpoint must never stop fusion
            LOGGER.warning("fusion: cannot save the checkpoint beside %s: %s", path, error)
            return
        self._writer.submit(files)

    def _age_restored(self, t: float) -> None:
        """At the first input after a restart: drop restored state older than
        ``tracker_checkpoint_max_age_s`` (the node was down too long for it to hold)."""
        limit = self.config.tracker_checkpoint_max_age_s
        if self._memory_t is not None:
            if t - self._memory_t > limit:
                LOGGER.warning(
                    "fusion: short-term memory is %.0f s old at the first input: dropped "
                    "(shelf levels are learnt again)",
                    t - self._memory_t,
                )
                for name, value in self._fresh_memory.items():
                    setattr(self, name, value)
                self._restored_tracker = None
                self._tracker_t = self._memory_t if self._tracker_t is None else self._tracker_t
            self._memory_t = None
            self._fresh_memory = {}
        if self._tracker_t is not None:
            if t - self._tracker_t > limit and self.tracker is not None:
                LOGGER.warning(
                    "fusion: restored tracks are %.0f s old at the first input: dropped",
                    t - self._tracker_t,
                )
                self.tracker = MultiViewTracker(
                    self.config.tracker,
                    list(self.tracker.rig.cameras),
                    self._gate_areas(),
                    self._fixtures(),
                )
            self._tracker_t = None

    def close(self) -> None:
        """Write the pending checkpoint and close the journal (a node's cleanup; a crash skips
        this, and the previous checkpoint stays)."""
        if not self._writer.flush():
            LOGGER.warning("fusion: the last checkpoint was not written within 10 s")
        self.journal.close()

    def _restore_memory(self) -> None:
        """Continue the short-term memory of a previous run (see the module docstring)."""
        path = self._memory_path()
        if path is None or not path.exists():
            return
        try:
            with open(path, "rb") as f:
                saved = pickle.load(f)  # written by this pipeline beside its own journal
            if saved.get("version") != MEMORY_VERSION or saved.get("fingerprint") != (
                self._fingerprint
            ):
                LOGGER.warning(
                    "fusion: %s was written under another configuration, store layout or "
                    "version of go_fusion: not restored (shelf levels are learnt again)",
                    path,
                )
                return
            t = float(saved["t"])
            seq = int(saved["journal_seq"])
            if seq > self.journal.last_seq:
                LOGGER.warning(
                    "fusion: %s is newer than the journal (record %d of %d): not restored",
                    path,
                    seq,
                    self.journal.last_seq,
                )
                return
            fields = saved["fields"]
            if set(fields) != set(MEMORY_FIELDS):
                raise ValueError(f"fields {sorted(fields)} instead of {sorted(MEMORY_FIELDS)}")
            tracker = saved.get("tracker")
            if tracker is not None and not isinstance(tracker, MultiViewTracker):
                raise TypeError(f"tracker is a {type(tracker).__name__}")
        except Exception as error:  # any unreadable file: start without it
            LOGGER.warning("fusion: %s not restored: %s", path, error)
            return
        # Its age is known only from the first input after the restart (sensor time, not the
        # wall clock): _check_stamp drops it then if the node was down too long.
        self._fresh_memory = {name: getattr(self, name) for name in MEMORY_FIELDS}
        self._memory_t = t
        for name in MEMORY_FIELDS:
            setattr(self, name, fields[name])
        # The tracker itself, when there was one: set_cameras continues it instead of the JSON
        # checkpoint's tracks, which come back OCCLUDED to be re-found (two shoppers re-found
        # by position can swap; the exact state keeps their identities).
        self._restored_tracker = tracker
        self._restored_seq = seq
        after = self.journal.since(seq)
        # A shelf event journalled after the checkpoint is in the books already: its bins take
        # the level the journal recorded after it (the latest event's), so the same change is
        # not found a second time and the next one is; without a recorded level (a journal from
        # before these were written) a bin learns its level again.
        levels: dict[str, float] = {}
        for r in after:
            if r.type != "shelf_event":
                continue
            bins = r.data.get("bin_ids") or [r.data.get("bin_id")]
            recorded = r.data.get("bin_levels_g") or [None] * len(bins)
            for b, v in zip(bins, recorded, strict=False):
                if b:
                    levels[b] = math.nan if v is None else float(v)
        if levels:
            self.detector.restore_levels(levels, t)
        # Whose hands were busy at the events decided since (the memory's spans predate them).
        for r in after:
            if r.type == "shelf_done":
                self._note_busy(r.data)
        # Anonymous exits applied (a journalled exit) or explained (a track's exit) since.
        wait = self.config.anonymous_exit_wait_s
        exits = [float(r.data["t"]) for r in after if r.type == "gate" and r.data["kind"] == EXIT]
        track_exits = [float(r.data["t"]) for r in after if r.type == "track_exit"]
        self._anonymous_exits = [
            a
            for a in self._anonymous_exits
            if a.t not in exits and not any(abs(a.t - x) <= wait for x in track_exits)
        ]
        # Contacts decided since (their cart events are journalled) are not decided again.
        moved = [
            str(r.data["event"].get("event_id", ""))
            for r in after
            if r.type in ("cart_event", "review_queued")
        ]
        self._pending_contacts = [
            p
            for p in self._pending_contacts
            if not any(e.startswith(h + ":") for h in _handoff_ids(p[0]) for e in moved)
        ]
        self.now = t if self.now is None else max(self.now, t)
        self._checkpoint_t = t
        LOGGER.info(
            "fusion: short-term memory restored from %s (t=%.2f s; %d bins set to their "
            "journalled level)",
            path,
            t,
            len(levels),
        )

    def _restore_tracker(self) -> None:
        """Continue the tracks of a previous run from its checkpoint, when recent enough."""
        path = self._checkpoint_path()
        if path is None or self.tracker is None or not path.exists():
            return
        try:
            saved = json.loads(path.read_text())
            if int(saved.get("journal_seq", 0)) > self.journal.last_seq:
                LOGGER.warning("fusion: %s is newer than the journal: not restored", path)
                return
            self.tracker.restore_state(saved["state"])
            # (its age is checked at the first input: _age_restored)
            self._tracker_t = float(saved["t"])
            LOGGER.info("fusion: tracker restored from %s (t=%.1f s)", path, self._tracker_t)
        except (OSError, ValueError, KeyError, TypeError) as error:
            LOGGER.warning("fusion: tracker checkpoint %s not restored: %s", path, error)
            return
        self._catch_up_tracker(int(saved.get("journal_seq", 0)))

    def _catch_up_tracker(self, seq: int) -> None:
        """Tell a restored tracker what the journal recorded after its checkpoint (journal
        sequence ``seq``): tracks that exited are dropped (else a departed shopper's track,
        restored where it last was, could take someone else's exit), with the exit scans that
        ended them, and entry scans go to it with the next camera set (else their shoppers are
        never born)."""
        assert self.tracker is not None
        exited: list[str] = []
        exit_ts: set[float] = set()
        for record in self.journal.since(seq):
            if record.type == "track_exit":
                exited.append(str(record.data["track_id"]))
                exit_ts.add(float(record.data["t"]))
            elif record.type == "gate" and record.data.get("kind") == ENTRY:
                obs = _gate_observation(record.data)
                if obs not in self._gate_buffer:
                    self._gate_buffer.append(obs)
        # An exit scan still buffered at the checkpoint whose exit the journal holds was applied
        # (a track's exit takes its scan's stamp): given again, it would end another track.
        self._gate_buffer = [
            g for g in self._gate_buffer if not (g.kind == EXIT and float(g.t) in exit_ts)
        ]
        dropped = self.tracker.forget_tracks(exited)
        if dropped or self._gate_buffer:
            LOGGER.info(
                "fusion: journal after the tracker checkpoint: %d tracks exited, %d scans to "
                "give the tracker",
                len(dropped),
                len(self._gate_buffer),
            )

    def set_cameras(self, cameras: Sequence[Any]) -> None:
        """Set or replace the calibrated cameras (creates the tracker on first use, continuing
        from the checkpoint of a previous run when there is a recent one)."""
        if self.tracker is None:
            restored = self._restored_tracker
            if isinstance(restored, MultiViewTracker):
                self.tracker = restored
                self.tracker.set_cameras(list(cameras))
                self._restored_tracker = None
                LOGGER.info("fusion: tracker continued from the short-term memory")
                self._catch_up_tracker(self._restored_seq)
                return
            self.tracker = MultiViewTracker(
                self.config.tracker, list(cameras), self._gate_areas(), self._fixtures()
            )
            self._restore_tracker()
        else:
            self.tracker.set_cameras(list(cameras))

    def _gate_areas(self) -> list[GateArea]:
        return [
            GateArea(
                g.gate_id, GateKind.ENTRY if g.kind == ENTRY else GateKind.EXIT, g.min_xy, g.max_xy
            )
            for g in self.store.gates.values()
        ]

    def _fixtures(self) -> list[FloorBox]:
        """The gondolas' footprints: nobody stands inside them."""
        return [
            FloorBox(
                g.gondola_id,
                (float(g.center[0] - g.size[0] / 2), float(g.center[1] - g.size[1] / 2)),
                (float(g.center[0] + g.size[0] / 2), float(g.center[1] + g.size[1] / 2)),
            )
            for g in self.store.gondolas.values()
        ]

    def _rebuild(self) -> None:
        for record in self.journal:
            self._apply(record.type, record.data)
        if self.journal.records:
            LOGGER.info(
                "fusion: rebuilt %d sessions, %d receipts, %d queued reviews from %d records",
                len(self.sessions.sessions),
                len(self.receipts),
                len(self.reviews),
                len(self.journal.records),
            )

    def unpublished_receipts(self) -> list[ReceiptRecord]:
        """Receipts on disk that were not confirmed published (publish them again; same ids)."""
        return [r for rid, r in self.receipts.items() if rid not in self._published]

    def mark_published(self, receipt_id: str) -> None:
        """Record that a receipt went out (so a restart does not publish it again)."""
        if receipt_id in self.receipts and receipt_id not in self._published:
            self._record("receipt_published", {"receipt_id": receipt_id})
            self.journal.commit()

    # ---- time and validation ----------------------------------------------------------------

    def _diag(self, out: FusionOutput, level: int, name: str, message: str) -> None:
        self.diagnostic_counts[name] = self.diagnostic_counts.get(name, 0) + 1
        if level >= WARN:
            LOGGER.warning("%s: %s", name, message)
        out.diagnostics.append(Diagnostic(level, name, message))

    def _check_stamp(self, t: float, what: str, out: FusionOutput, reference: float | None) -> bool:
        """Reject non-finite stamps, stamps from the future and from the far past."""
        cfg = self.config
        if not math.isfinite(t):
            self._diag(out, ERROR, "bad_stamp", f"{what}: stamp {t} is not finite")
            return False
        if reference is not None and t > reference + cfg.max_future_s:
            self._diag(
                out,
                ERROR,
                "future_stamp",
                f"{what}: stamp {t:.3f} s is {t - reference:.1f} s in the future",
            )
            return False
        if self.now is not None and t < self.now - cfg.max_lateness_s:
            self._diag(
                out,
                ERROR,
                "stale_stamp",
                f"{what}: stamp {t:.3f} s is {self.now - t:.1f} s older than the newest input",
            )
            return False
        if self._memory_t is not None or self._tracker_t is not None:
            self._age_restored(t)
        return True

    def _tick(self, t: float) -> None:
        self.now = t if self.now is None else max(self.now, t)

    # ---- inputs -----------------------------------------------------------------------------

    def add_gate_event(self, obs: GateObservation, reference: float | None = None) -> FusionOutput:
        """An entry scan or an exit crossing. reference: [s] the receiver's clock, if any."""
        out = FusionOutput()
        if not self._check_stamp(obs.t, f"gate event at '{obs.gate_id}'", out, reference):
            return out
        gate = self.store.gates.get(obs.gate_id)
        if gate is None:
            self._diag(out, ERROR, "unknown_gate", f"gate event from unknown gate '{obs.gate_id}'")
            return out
        if obs.kind not in (ENTRY, EXIT) or gate.kind != obs.kind:
            self._diag(
                out,
                ERROR,
                "gate_kind",
                f"{obs.kind} event at gate '{obs.gate_id}' which is an {gate.kind} gate",
            )
            return out
        self._tick(obs.t)
        record = {
            "gate_id": obs.gate_id,
            "kind": obs.kind,
            "t": obs.t,
            "token": obs.session_token,
            "group_size": max(1, int(obs.group_size)),
        }
        if obs.position is not None:  # where the scan was (binds the right person at the gate)
            record["position"] = [float(v) for v in obs.position]
        self._gate_buffer.append(obs)
        tracked = self.tracker is not None or self._tracks_t is not None
        if obs.kind == EXIT and not obs.session_token and tracked:
            # The tracker may explain this crossing with a track's exit; wait for it.
            self._anonymous_exits.append(obs)
            out.extend(self._advance())
            return out
        out.extend(self._gate(record))
        out.extend(self._advance())
        return out

    def _gate(self, record: Mapping[str, Any]) -> FusionOutput:
        out = FusionOutput()
        outcome = self._apply_gate(record)
        if outcome.diagnostic:
            name = "duplicate_scan" if "duplicate" in outcome.diagnostic else "gate"
            if "without an entry" in outcome.diagnostic:
                name = "exit_without_entry"
            self._diag(out, WARN, name, outcome.diagnostic)
        if outcome.changed:
            self.journal.append("gate", record)
            if outcome.session is not None:
                out.carts.append(self.cart_view(outcome.session.session_id))
        return out

    def _apply_gate(self, data: Mapping[str, Any]) -> Any:
        obs = _gate_observation(data)
        outcome = self.sessions.entry(obs) if obs.kind == ENTRY else self.sessions.exit_scan(obs)
        if outcome.opened and outcome.session is not None:
            self.carts.open(outcome.session.session_id, obs.t)
        return outcome

    def add_load_cells(
        self,
        board_id: str,
        channel_ids: Sequence[str],
        t0: float,
        sample_period: float,
        grams: np.ndarray,
        channel_status: Sequence[int] | None = None,
        reference: float | None = None,
    ) -> FusionOutput:
        """One LoadCellBoard message: N samples x C channels starting at t0 [s].

        grams: (N, C) [g], NaN = dropout. Unknown bins are dropped, absurd or non-finite values
        and faulty channels become dropouts, overlapping or out-of-order batches are dropped;
        each with a diagnostic naming the board and channel.
        """
        out = FusionOutput()
        what = f"load cells of board '{board_id}'"
        if not self._check_stamp(t0, what, out, reference):
            return out
        g = np.array(grams, dtype=float)
        n = g.size // max(1, len(channel_ids))
        if len(channel_ids) == 0 or g.size != n * len(channel_ids) or n == 0:
            self._diag(
                out,
                ERROR,
                "bad_load_cells",
                f"{what}: {g.size} values for {len(channel_ids)} channels",
            )
            return out
        if not (math.isfinite(sample_period) and sample_period > 0.0) and n > 1:
            self._diag(out, ERROR, "bad_load_cells", f"{what}: sample period {sample_period}")
            return out
        g = g.reshape(n, len(channel_ids))
        stamps = t0 + np.arange(n) * (sample_period if n > 1 else 0.0)
        last = self._board_last_t.get(board_id)
        if last is not None and stamps[0] <= last:
            keep = stamps > last
            if not keep.any():
                self._diag(
                    out,
                    WARN,
                    "late_load_cells",
                    f"{what}: batch at {t0:.3f} s is not newer than {last:.3f} s "
                    "(duplicate or out of order); dropped",
                )
                return out
            g, stamps = g[keep], stamps[keep]
        known = [i for i, b in enumerate(channel_ids) if b in self.store.bins]
        if len(known) < len(channel_ids):
            unknown = sorted({channel_ids[i] for i in range(len(channel_ids)) if i not in known})
            self._diag(out, WARN, "unknown_bin", f"{what}: unknown bin ids {unknown} ignored")
        status = list(channel_status or [])
        for i, b in enumerate(channel_ids):
            if i < len(status) and status[i] == 2 and i in known:
                g[:, i] = np.nan
                self._diag(out, WARN, "channel_fault", f"{what}: channel '{b}' reports a fault")
        bad = ~np.isfinite(g) & ~np.isnan(g)
        bad |= np.isfinite(g) & (np.abs(g) > self.config.max_abs_grams)
        if bad.any():
            cols = sorted({channel_ids[i] for i in np.nonzero(bad.any(axis=0))[0]})
            self._diag(
                out,
                WARN,
                "absurd_weight",
                f"{what}: {int(bad.sum())} absurd readings on {cols} treated as dropouts",
            )
            g[bad] = np.nan
        self._board_last_t[board_id] = float(stamps[-1])
        self._tick(float(stamps[-1]))
        if not known:
            return out
        events = self.detector.add_samples([channel_ids[i] for i in known], stamps, g[:, known])
        for ev in events:
            out.extend(self._on_shelf_event(ev))
        out.extend(self._advance())
        self._save_checkpoint(float(stamps[-1]))
        return out

    def _on_shelf_event(self, ev: ShelfEventCore) -> FusionOutput:
        out = FusionOutput()
        if ev.event_id in self._seen_shelf_events:
            self._diag(out, WARN, "duplicate_shelf_event", f"shelf event '{ev.event_id}' again")
            return out
        if ev.state == STATE_DRIFT or not math.isfinite(ev.delta_g):
            out.shelf_events.append(ShelfEventOut(ev, ()))
            self._seen_shelf_events.add(ev.event_id)
            self._diag(out, WARN, "drift", f"bin '{ev.bin_id}' drifted {ev.delta_g:.1f} g")
            return out
        parts = self._split(ev)
        for event_id, bins, delta, shares, (t_start, t_end) in parts:
            hyps = self._weight_hypotheses(bins, shares, delta, ev.delta_sd_g)
            if len(parts) == 1:
                out.shelf_events.append(ShelfEventOut(ev, hyps))
            else:
                part = replace(
                    ev,
                    event_id=event_id,
                    bin_id=bins[0],
                    bin_ids=bins,
                    t_start=t_start,
                    t_end=t_end,
                    delta_g=delta,
                    bin_deltas_g=(delta,),
                    bin_spans=(),
                )
                out.shelf_events.append(ShelfEventOut(part, hyps))
            obs = ShelfObservation(
                event_id=event_id,
                bin_id=bins[0],
                bin_ids=bins,
                t_start=float(t_start),
                t_end=float(t_end),
                delta_g=float(delta),
                delta_sd_g=float(ev.delta_sd_g),
                hypotheses=hyps,
                settled=ev.state == STATE_SETTLED,
            )
            record = observation_to_json(obs)
            # The bins' levels after the event, which a restart from an older checkpoint sets
            # (restore_levels) rather than learning them again. None for an unsettled event:
            # its bins are still moving (the level is the one before the change) and the
            # settled event that follows has the same id, so it is not journalled.
            record["bin_levels_g"] = [
                v if math.isfinite(v) and obs.settled else None for v in self.detector.levels(bins)
            ]
            self._record("shelf_event", record)
        return out

    def _split(
        self, ev: ShelfEventCore
    ) -> list[tuple[str, tuple[str, ...], float, tuple[float, ...], tuple[float, float]]]:
        """(event id, bins, delta [g], share of each bin, (t_start, t_end) [s]) of each weight
        change in ``ev``.

        The detector merges same-sign changes of adjacent bins (one item resting across two
        bins). Two shoppers taking from adjacent bins at once look the same to it; when every
        bin's own change is whole units of that bin's products, they are separate changes and
        are split, each with its own bin's span (when the detector gave ``bin_spans``): who
        reached where is told by when the hands were in which bin. Bins whose change is within
        the noise (a hand leaning on them) are dropped.
        """
        bins = tuple(ev.bin_ids) or (ev.bin_id,)
        span = (float(ev.t_start), float(ev.t_end))
        deltas = tuple(ev.bin_deltas_g) if len(ev.bin_deltas_g) == len(bins) else ()
        if len(bins) == 1 or not deltas:
            return [(ev.event_id, bins, float(ev.delta_g), (1.0,) * len(bins), span)]
        spans = ev.spans()  # bins are ev.bin_ids here: two or more
        floor = max(self.config.shelf.min_event_g, 3.0 * ev.delta_sd_g)
        parts = [
            (b, float(d), sp)
            for b, d, sp in zip(bins, deltas, spans, strict=True)
            if abs(d) >= floor
        ]
        if len(parts) <= 1:
            b, d, sp = parts[0] if parts else (ev.bin_id, float(ev.delta_g), span)
            return [(ev.event_id, (b,), d, (1.0,), sp)]
        whole = all(self._whole_units(b, d, ev.delta_sd_g) for b, d, _ in parts)
        if whole:
            return [(f"{ev.event_id}/{b}", (b,), d, (1.0,), sp) for b, d, sp in parts]
        total = sum(abs(d) for _, d, _ in parts)
        shares = tuple(abs(d) / total for _, d, _ in parts)
        return [(ev.event_id, tuple(b for b, _, _ in parts), float(ev.delta_g), shares, span)]

    def _whole_units(self, bin_id: str, delta: float, delta_sd: float) -> bool:
        """Whether a bin's own change is confidently whole units of the products it holds."""
        ranked = self._weight_hypotheses((bin_id,), (1.0,), delta, delta_sd, off_planogram=False)
        return bool(ranked) and bool(ranked[0].items) and ranked[0].probability >= 0.8

    def _weight_hypotheses(
        self,
        bins: tuple[str, ...],
        shares: tuple[float, ...],
        delta: float,
        delta_sd: float,
        off_planogram: bool = True,
    ) -> tuple[WeightHypothesis, ...]:
        """Ranked (sku, quantity) hypotheses of a change on ``bins``.

        The SKUs each bin holds now (live planogram, misplaced stock included) and at the start
        of the day get a prior from the bins' shares of the change (``ownership_priors``: for a
        pick, the probability that the bin owns the item, as the plate bearing most of an item's
        weight is its own bin's; for a return, the share), at least 0.05; every other catalogue
        SKU shares ``off_planogram_prior``.
        """
        held = [
            (b, sorted(set(self.live_planogram.get(b, {})) | set(self.store.bins[b].skus)))
            for b in bins
        ]
        prior = {
            sku: p
            for sku, p in ownership_priors(
                held, shares, self.config.hypotheses.share_softness, taken=delta < 0.0
            ).items()
            if sku in self.store.products
        }
        cands = [
            Candidate(sku, p.unit_weight_g, p.unit_weight_sd_g, prior[sku])
            for sku, p in sorted(self.store.products.items())
            if sku in prior
        ]
        others = sorted(set(self.store.products) - set(prior))
        if off_planogram and others and self.config.off_planogram_prior > 0.0:
            w = self.config.off_planogram_prior / len(others)
            cands += [
                Candidate(
                    sku,
                    self.store.products[sku].unit_weight_g,
                    self.store.products[sku].unit_weight_sd_g,
                    w,
                    in_planogram=False,
                )
                for sku in others
            ]
        ranked = rank_hypotheses(delta, max(delta_sd, 0.0), cands, self.config.hypotheses)
        return tuple(WeightHypothesis(h.items, h.probability) for h in ranked)

    def add_shelf_event(self, obs: ShelfObservation) -> FusionOutput:
        """A shelf event detected elsewhere (tests, offline tools): attribute it like our own."""
        out = FusionOutput()
        unknown = [b for b in (obs.bin_id, *obs.bin_ids) if b not in self.store.bins]
        if unknown:
            self._diag(out, ERROR, "unknown_bin", f"shelf event '{obs.event_id}' on {unknown}")
            return out
        if obs.event_id in self._seen_shelf_events:
            self._diag(out, WARN, "duplicate_shelf_event", f"shelf event '{obs.event_id}' again")
            return out
        if not (math.isfinite(obs.delta_g) and math.isfinite(obs.t_start)):
            self._diag(out, ERROR, "bad_shelf_event", f"shelf event '{obs.event_id}' not finite")
            return out
        self._tick(obs.t_end)
        self._record("shelf_event", observation_to_json(obs))
        out.extend(self._advance())
        return out

    def add_tracks(
        self, t: float, tracks: Sequence[TrackSnapshot], exits: Sequence[TrackExit] = ()
    ) -> FusionOutput:
        """Track snapshots at time t [s]: wrist history, session binding, exits.

        exits: tracks that left at this step; a snapshot in state TRACK_EXITED without an entry
        here exits at t.
        """
        out = FusionOutput(tracks=list(tracks))
        if not self._check_stamp(t, "tracks", out, None):
            return out
        self._tick(t)
        self._tracks_t = t if self._tracks_t is None else max(self._tracks_t, t)
        hands: dict[str, list[tuple[int, np.ndarray]]] = {}
        for tr in tracks:
            if tr.session_id and self.sessions.session_of_track(tr.track_id) is None:
                if tr.session_id in self.sessions.sessions:
                    self._record(
                        "track_bind", {"track_id": tr.track_id, "session_id": tr.session_id, "t": t}
                    )
                else:
                    self._diag(
                        out,
                        WARN,
                        "unknown_session",
                        f"track '{tr.track_id}' names unknown session '{tr.session_id}'",
                    )
            if tr.state != TRACK_EXITED:
                seen = self._add_wrists(tr, t)
                if seen:
                    hands[tr.track_id] = seen
        explicit = {e.track_id for e in exits}
        implied = [
            TrackExit(tr.track_id, tr.session_id, t)
            for tr in tracks
            if tr.state == TRACK_EXITED and tr.track_id not in explicit
        ]
        for ex in (*exits, *implied):
            session = self.sessions.sessions.get(self.sessions.session_of_track(ex.track_id) or "")
            if session is None or ex.track_id in session.exited_tracks or session.closed:
                continue
            record = {
                "track_id": ex.track_id,
                "session_id": session.session_id,
                "t": ex.t,
                "session_closed": ex.session_closed,
            }
            self._record("track_exit", record)
            self._anonymous_exits = [
                a
                for a in self._anonymous_exits
                if abs(a.t - ex.t) > self.config.anonymous_exit_wait_s
            ]
        sessions = {}
        for track_id in hands:
            sid = self.sessions.session_of_track(track_id)
            if sid and not self.sessions.sessions[sid].closed:
                sessions[track_id] = sid
        bodies = {tr.track_id: tr.position for tr in tracks}
        table = WristTable.build(hands, sessions, bodies)  # one table for both detectors
        strict = self.handoffs.update(t, hands, sessions, bodies, table)
        loose = self.loose_handoffs.update(t, hands, sessions, bodies, table)
        together = self.handoffs.open_pairs() | self.loose_handoffs.open_pairs()
        self._in_contact = {p: v for p, v in self._in_contact.items() if p in together}
        for contact, evidence_only in [(c, False) for c in strict] + [(c, True) for c in loose]:
            pair = contact.pair
            if pair in self._in_contact:
                # The same contact seen again (other hand labels, the other detector). Only a
                # strict sighting of a contact the loose detector reported first takes over,
                # while that one still waits for its crops: the hand labels may decide it.
                waiting = [
                    k
                    for k, (c, _, was_loose) in enumerate(self._pending_contacts)
                    if was_loose and c.pair == pair
                ]
                if evidence_only or not self._in_contact[pair] or not waiting:
                    continue
                for k in reversed(waiting):
                    del self._pending_contacts[k]
            self._in_contact[pair] = evidence_only
            out.extend(self._on_contact(contact, sessions, evidence_only))
        self._prune(t)
        out.extend(self._advance())
        return out

    def _on_contact(
        self, c: Contact, sessions: Mapping[str, str], evidence_only: bool = False
    ) -> FusionOutput:
        """A sustained hand contact between two sessions: pass on what the giving hand holds.

        The giver is the one whose touching hand holds an item (taken from a shelf with that
        hand, or received) while the other's touching hand holds none. When the hands' labels
        cannot tell (both or neither hold) but either shopper holds something, the contact
        waits for the product crops after it (``_decide_contact``); when neither holds anything
        it is left alone with a diagnostic. A loose contact (``evidence_only``) is always decided
        from the product crops.
        """
        out = FusionOutput()

        def holding(track: str, side: int) -> list[_HeldUnit]:
            return [u for u in self._held.get(track, []) if u.hand in (side, -1)]

        a, b = holding(c.track_a, c.side_a), holding(c.track_b, c.side_b)
        if evidence_only or bool(a) == bool(b):
            if self._held.get(c.track_a) or self._held.get(c.track_b):
                pair_sessions = {tr: sessions[tr] for tr in (c.track_a, c.track_b)}
                self._pending_contacts.append((c, pair_sessions, evidence_only))
                what = (
                    "loose contact"
                    if evidence_only
                    else "both hands hold items"
                    if a
                    else "neither touching hand holds an item"
                )
                self._diag(
                    out,
                    OK,
                    "handoff",
                    f"contact of {c.track_a} and {c.track_b} at {c.t:.2f} s: {what}; "
                    "direction from the product crops after it",
                )
                return out
            self._diag(
                out,
                OK,
                "handoff",
                f"contact of {c.track_a} and {c.track_b} at {c.t:.2f} s: neither holds an item",
            )
            return out
        if a:
            return self._pass(c, c.track_a, c.side_a, c.track_b, c.side_b, a[-1], sessions)
        return self._pass(c, c.track_b, c.side_b, c.track_a, c.side_a, b[-1], sessions)

    def _decide_contacts(self, closing: set[str], force: bool = False) -> FusionOutput:
        """Decide the waiting contacts whose after-window the tracks have covered (or, at most
        ``track_wait_s`` later, whatever arrived), those of a session about to be finalised
        (with the crops seen so far) and, with ``force``, all (end of a recording); from the
        product crops on both shoppers' hands (``handoff.direction_from_evidence``)."""
        out = FusionOutput()
        if not self._pending_contacts or self.now is None:
            return out
        waiting = []
        covered = self._tracks_t if self._tracks_t is not None else -math.inf
        for c, sessions, was_loose in self._pending_contacts:
            cfg = self.config.handoff_loose if was_loose else self.config.handoff
            end = evidence_windows(c, cfg)[3]
            due = covered >= end or self.now >= end + self.config.track_wait_s
            if not (force or due or set(sessions.values()) & closing):
                waiting.append((c, sessions, was_loose))
                continue
            out.extend(self._decide_contact(c, sessions, cfg))
        self._pending_contacts = waiting
        return out

    def _decide_contact(
        self, c: Contact, sessions: Mapping[str, str], cfg: HandoffConfig
    ) -> FusionOutput:
        out = FusionOutput()
        b0, _, _, a1 = evidence_windows(c, cfg)
        pair = (c.track_a, c.track_b)
        sightings = []
        for e in self._evidence:
            if e.source != SOURCE_HAND or not b0 <= e.t <= a1:
                continue
            if not e.track_id and not self._near_wrists(e, pair):
                continue  # no hand of theirs on the crop's ray: skip the search over everyone
            placed = self._localised_once(e)
            if placed.track_id in pair:
                sightings.append(HandSighting(e.t, placed.track_id, e.scores))
        held = {tr: [u.sku for u in self._held.get(tr, [])] for tr in pair}
        found = direction_from_evidence(c, held, sightings, cfg)
        closed = [
            tr
            for tr in pair
            if sessions.get(tr) not in self.sessions.sessions
            or self.sessions.sessions[sessions[tr]].closed
        ]
        if found is None or closed:
            why = f"session of {closed[0]} already closed" if closed else "no clear change"
            self._diag(
                out,
                OK,
                "handoff",
                f"contact of {c.track_a} and {c.track_b} at {c.t:.2f} s: product crops "
                f"({len(sightings)}) show {why}; items stay where they are",
            )
            return out
        units = [u for u in self._held.get(found.giver, []) if u.sku == found.sku]
        if not units:
            self._diag(
                out,
                OK,
                "handoff",
                f"contact of {c.track_a} and {c.track_b} at {c.t:.2f} s: {found.sku} left "
                f"{found.giver}'s hands before the crops decided (returned to a shelf)",
            )
            return out
        g_side, t_side = (c.side_a, c.side_b) if found.giver == c.track_a else (c.side_b, c.side_a)
        return self._pass(
            c,
            found.giver,
            g_side,
            found.taker,
            t_side,
            units[-1],
            sessions,
            self.config.handoff_evidence_confidence,
        )

    def _pass(
        self,
        c: Contact,
        giver: str,
        g_side: int,
        taker: str,
        t_side: int,
        unit: _HeldUnit,
        sessions: Mapping[str, str],
        confidence: float | None = None,
    ) -> FusionOutput:
        """``unit`` goes from ``giver``'s cart to ``taker``'s: a return and a pick."""
        out = FusionOutput()
        handoff_id = _handoff_id(c.t, giver, taker)
        conf = self.config.handoff_confidence if confidence is None else confidence
        common = dict(
            shelf_event_id=handoff_id,
            bin_id="",
            sku=unit.sku,
            quantity=1,
            confidence=conf,
            stamp=c.t,
            unit_g=unit.unit_g,
            evidence_ids=(handoff_id, f"track:{giver}", f"track:{taker}"),
        )
        events = (
            CartEventRecord(
                event_id=f"{handoff_id}:{unit.sku}:out",
                kind=KIND_RETURN,
                session_id=sessions[giver],
                track_id=giver,
                hand=g_side,
                **common,
            ),
            CartEventRecord(
                event_id=f"{handoff_id}:{unit.sku}:in",
                kind=KIND_PICK,
                session_id=sessions[taker],
                track_id=taker,
                hand=t_side,
                **common,
            ),
        )
        needs_review = conf < self.config.attribution.review_threshold
        for event in events:
            if needs_review:
                event = replace(event, needs_review=True)
                self._record("review_queued", {"event": event_to_json(event), "t": c.t})
                out.review_events.append(event)
            else:
                self._record("cart_event", {"event": event_to_json(event), "t": c.t})
                out.cart_events.append(event)
            out.carts.append(self.cart_view(event.session_id))
        self._diag(
            out,
            OK,
            "handoff",
            f"{unit.sku} passed from {sessions[giver]} to {sessions[taker]} at {c.t:.2f} s",
        )
        return out

    def add_people(
        self, t: float, detections_by_camera: Mapping[str, Any], reference: float | None = None
    ) -> FusionOutput:
        """A synchronised set of per-camera detections (``association.CameraPeople``) at t [s].

        A camera may be missing from the set. Gate events received since the previous set go to
        the tracker with it (births at the entry, exits).
        """
        out = FusionOutput()
        if self.tracker is None:
            self._diag(out, ERROR, "no_cameras", "person detections given but no calibrated camera")
            return out
        if not self._check_stamp(t, "person detections", out, reference):
            return out
        known = set(self.store.camera_ids) | set(self.tracker.rig.ids)
        unknown = sorted(c for c in detections_by_camera if c not in known)
        if unknown:
            self._diag(out, WARN, "unknown_camera", f"detections from unknown cameras {unknown}")
            detections_by_camera = {
                c: d for c, d in detections_by_camera.items() if c not in unknown
            }
        gates = [tracker_gate_event(g) for g in self._gate_buffer]
        self._gate_buffer.clear()
        result = self.tracker.update(t, detections_by_camera, gates)
        for line in result.diagnostics:
            self._diag(out, WARN, "tracker", line)
        tracks, exits = snapshots_from_tracker(result)
        out.extend(self.add_tracks(t, tracks, exits))
        self._save_checkpoint(t)
        out.skeletons = (result.skeletons, result.skeleton_tracks)
        return out

    def add_product_evidence(
        self, items: Sequence[EvidenceItem], reference: float | None = None
    ) -> FusionOutput:
        """Product evidence (CNN scores, barcodes) from one image."""
        out = FusionOutput()
        for e in items:
            if not self._check_stamp(e.t, f"product evidence '{e.evidence_id}'", out, reference):
                continue
            # A recogniser may know more products than this store sells: those scores are
            # dropped quietly. Non-finite scores are a fault of the sender and are reported.
            if not all(math.isfinite(float(v)) for v in e.scores.values()):
                self._diag(
                    out, WARN, "bad_score", f"evidence '{e.evidence_id}' has non-finite scores"
                )
            scores = {
                s: float(v)
                for s, v in e.scores.items()
                if s in self.store.products and math.isfinite(v)
            }
            bin_id = e.bin_id if e.bin_id in self.store.bins else ""
            if e.bin_id and not bin_id:
                self._diag(
                    out, WARN, "unknown_bin", f"evidence '{e.evidence_id}' names bin '{e.bin_id}'"
                )
            pixel = e.pixel
            if pixel is not None and not all(math.isfinite(v) for v in pixel):
                pixel = None
            since = e.since if e.since is not None and math.isfinite(e.since) else None
            if e.source == SOURCE_FACING and (since is None or since > e.t or len(scores) != 1):
                self._diag(
                    out,
                    WARN,
                    "bad_facing",
                    f"facing evidence '{e.evidence_id}' needs one lane's score and a 'since' "
                    "no later than its stamp",
                )
                continue
            self._evidence.append(replace(e, scores=scores, bin_id=bin_id, pixel=pixel))
        if self._facing_watch and any(e.source == SOURCE_FACING for e in items):
            out.extend(self._resolve_by_facings(look=True))
        return out

    def advance(self, t: float, reference: float | None = None) -> FusionOutput:
        """Let sensor time pass (a timer when no message arrives): due attributions, receipts."""
        out = FusionOutput()
        if not self._check_stamp(t, "clock", out, reference):
            return out
        self._tick(t)
        out.extend(self._advance())
        return out

    # ---- reviews and queries ------------------------------------------------------------------

    def record_review(self, decision: ReviewDecision) -> tuple[bool, str, FusionOutput]:
        """Apply a reviewer's decision; returns (success, message, what to publish).

        A decision on a session that has already checked out is recorded and applied to its
        (closed) cart for a billing adjustment; the receipt itself is never issued twice.
        """
        out = FusionOutput()
        outcome = self.reviews.decide(
            decision, lambda s: s in self.sessions.sessions, lambda s: s in self.store.products
        )
        if not outcome.success:
            return False, outcome.message, out
        self.journal.append("review_decision", {"decision": asdict(decision)})
        self._apply_review_outcome(outcome)
        self.journal.commit()
        message = outcome.message
        touched = {outcome.queued.session_id} if outcome.queued is not None else set()
        if outcome.apply is not None:
            out.cart_events.append(outcome.apply)
            touched.add(outcome.apply.session_id)
            session = self.sessions.sessions.get(outcome.apply.session_id)
            if session is not None and session.closed:
                message += (
                    f"; session '{session.session_id}' had already checked out: applied to its "
                    "closed cart for a billing adjustment"
                )
        out.carts.extend(self.cart_view(s) for s in sorted(touched) if self.carts.get(s))
        return True, message, out

    def _apply_review_outcome(self, outcome: Any) -> None:
        if outcome.queued is not None:
            self.carts.set_pending(outcome.queued.session_id, -1)
        if outcome.apply is not None and self.carts.apply(outcome.apply).applied:
            self._follow_stock(outcome.apply)
            self._follow_hands(outcome.apply)
            self._note_move(outcome.apply)

    def _note_move(self, event: CartEventRecord) -> None:
        """Remember which product a decided event moved in a mixed bin (facing_evidence: a lane
        change another event explains says nothing about the next one)."""
        b = self.store.bins.get(event.bin_id)
        if b is not None and len(b.skus) >= 2:
            moves = self._bin_moves.setdefault(event.bin_id, deque(maxlen=64))
            moves.append((event.stamp, event.sku, event.shelf_event_id))

    def cart_view(self, session_id: str) -> CartView:
        """The cart of a session for publishing (KeyError when unknown)."""
        cart = self.carts.get(session_id)
        if cart is None:
            raise KeyError(session_id)
        lines = tuple(
            CartLineView(
                sku=line.sku,
                name=self.store.products[line.sku].name
                if line.sku in self.store.products
                else line.sku,
                quantity=line.quantity,
                confidence=line.confidence,
                event_ids=line.event_ids,
            )
            for line in (cart.lines[s] for s in sorted(cart.lines))
            if line.quantity > 0
        )
        return CartView(
            session_id=session_id,
            track_ids=tuple(cart.track_ids),
            lines=lines,
            pending_reviews=self.reviews.pending_for(session_id),
            closed=cart.closed,
            stamp=cart.last_change,
        )

    def open_sessions(self) -> list[str]:
        """Ids of the sessions still in the store."""
        return [s.session_id for s in self.sessions.open_sessions()]

    # ---- the work -----------------------------------------------------------------------------

    def _add_wrists(self, tr: TrackSnapshot, t: float) -> list[tuple[int, np.ndarray]]:
        """Buffer the measured wrists of a track; returns them as (side, position (3,))."""
        if tr.keypoints is None or tr.last_seen < t - 1e-6:
            return []  # coasting: no measurement, no wrist
        kp = np.asarray(tr.keypoints, dtype=float)
        scores = (
            np.asarray(tr.keypoint_scores, dtype=float)
            if tr.keypoint_scores is not None
            else np.ones(len(kp))
        )
        buf = self._wrists.setdefault(tr.track_id, _WristBuffer())
        if t < buf.last_t:
            return []  # out of order: the buffer stays sorted for its windows
        seen = []
        for side, j in enumerate((LEFT_WRIST, RIGHT_WRIST)):
            if j >= len(kp) or scores[j] < self.config.min_wrist_score:
                continue
            if not np.all(np.isfinite(kp[j])):
                continue
            var = np.full(3, self.config.default_wrist_sd_m**2)
            if tr.keypoint_covariance is not None:
                diag = np.diag(np.asarray(tr.keypoint_covariance, dtype=float)[j])
                if np.all(np.isfinite(diag)):
                    var = diag
            buf.append(t, kp[j].copy(), var, side, tr.camera_ids)
            seen.append((side, kp[j].copy()))
        if self.config.arm_hands.enabled:
            self._add_arm_hands(tr, t, kp, scores)
        return seen

    def _add_arm_hands(
        self, tr: TrackSnapshot, t: float, kp: np.ndarray, scores: np.ndarray
    ) -> None:
        """Buffer the hands placed along the upper arm where a wrist was weak (side -1: an arm
        hand never says which hand took an item)."""
        cov = None if tr.keypoint_covariance is None else np.asarray(tr.keypoint_covariance)
        arms = arm_hands(kp, scores, cov, self.config.arm_hands, self.config.default_wrist_sd_m)
        if arms:
            buf = self._arm_hands.setdefault(tr.track_id, _WristBuffer())
            for _, hand, var in arms:
                buf.append(t, hand, var, -1, tr.camera_ids)

    def _prune(self, t: float) -> None:
        horizon = t - self.config.wrist_history_s
        for buffers in (self._wrists, self._arm_hands):
            for buf in buffers.values():
                buf.prune(horizon)
        for track_id in [k for k, spans in self._busy.items() if spans[-1][1] < horizon]:
            del self._busy[track_id]  # its events are older than any wrist still kept
        ev_horizon = t - self.config.evidence_history_s
        while self._evidence and self._evidence[0].t < ev_horizon:
            self._localised_memo.pop(self._evidence.popleft().evidence_id, None)

    def _ready(self, obs: ShelfObservation) -> bool:
        need = obs.t_end + self.config.attribution.edge_window_s
        if self.tracker is None and self._tracks_t is None:
            return True  # no cameras: nothing to wait for
        if self._tracks_t is not None and self._tracks_t >= need:
            return True
        return self.now is not None and self.now >= need + self.config.track_wait_s

    def _candidates(self, obs: ShelfObservation) -> list[CandidateTrack]:
        cfg = self.config.attribution
        t0 = obs.t_start - cfg.edge_window_s - cfg.max_gap_s
        t1 = obs.t_end + cfg.edge_window_s + cfg.max_gap_s
        out = []
        for session in self.sessions.open_sessions():
            if session.entry_t > obs.t_end:
                continue
            if not session.track_ids:
                out.append(CandidateTrack("", session.session_id))
                continue
            for track_id in session.track_ids:
                buf = self._wrists.get(track_id)
                if buf is None:
                    out.append(CandidateTrack(track_id, session.session_id))
                    continue
                ts, pos, var, side = buf.window(t0, t1)
                arm = self._arm_hands.get(track_id)
                if arm is not None:
                    ts, pos, var, side = (
                        np.concatenate([a, b])
                        for a, b in zip((ts, pos, var, side), arm.window(t0, t1), strict=True)
                    )
                cams = tuple(sorted(buf.cameras))
                out.append(
                    CandidateTrack.from_arrays(
                        track_id, session.session_id, ts, pos, var, cams, side
                    )
                )
        return out

    def _advance(self) -> FusionOutput:
        out = FusionOutput()
        wait = self.config.anonymous_exit_wait_s
        while self._anonymous_exits and self.now is not None:
            obs = self._anonymous_exits[0]
            if self.now < obs.t + wait:
                break
            self._anonymous_exits.pop(0)
            record = {
                "gate_id": obs.gate_id,
                "kind": obs.kind,
                "t": obs.t,
                "token": "",
                "group_size": max(1, int(obs.group_size)),
            }
            out.extend(self._gate(record))
        for event_id in sorted(self._pending_events, key=lambda e: self._pending_events[e].t_end):
            obs = self._pending_events[event_id]
            if self._ready(obs):
                out.extend(self._attribute(obs))
        if self._facing_watch:
            # Lane reports only come with product evidence (which looks at once): here the
            # lanes are read again only for a watch just started, else only the wait is checked.
            out.extend(self._resolve_by_facings(look=self._facing_added))
            self._facing_added = False
        if self.now is not None:
            due = self.sessions.due(self.now)
            out.extend(self._decide_contacts({s.session_id for s in due}))
            for session in due:
                out.extend(self._finalise(session.session_id))
        self.journal.commit()
        return out

    def _concurrent_nearby(self, obs: ShelfObservation) -> bool:
        """Whether another shelf event overlapped ``obs`` in time at other bins within
        ``AttributionConfig.shared_reach_exclusion_m`` of its own (see ``Attributor.attribute``)."""
        reach = self.attributor.config.shared_reach_exclusion_m
        mine = tuple(obs.bin_ids or (obs.bin_id,))
        centres = np.array([self.store.bins[b].center for b in mine if b in self.store.bins])
        if reach <= 0 or centres.size == 0:
            return False
        # Journalled events, and changes the detector has not reported yet (a neighbour's
        # change that settles later must count too, whichever settles first).
        spans = list(self._shelf_spans)
        spans += [("", t0, math.inf, (b,)) for b, t0 in self.detector.changes_in_progress()]
        for event_id, t0, t1, bins in spans:
            if event_id == obs.event_id or t0 > obs.t_end or t1 < obs.t_start:
                continue
            if set(bins) & set(mine):
                continue
            other = np.array([self.store.bins[b].center for b in bins if b in self.store.bins])
            if other.size == 0:
                continue
            if np.min(np.linalg.norm(other[:, None] - centres[None], axis=2)) <= reach:
                return True
        return False

    def _attribute(self, obs: ShelfObservation) -> FusionOutput:
        out = FusionOutput()
        open_carts = [c for c in self.carts.carts() if not c.closed]
        result = self.attributor.attribute(
            obs,
            self._candidates(obs),
            [self._localised_once(e) for e in self._evidence_for(obs)],
            {c.session_id: c.contents() for c in open_carts},
            self.live_planogram,
            {c.session_id: c.unit_weights() for c in open_carts},
            self._busy,
            concurrent_nearby=self._concurrent_nearby(obs),
        )
        busy: dict[str, float] = {}  # track -> P(it made this event), for concurrent reaches
        watch = self._facing_candidate(obs, result)
        for event in result.events:
            if self.carts.was_applied(event.event_id) or self.reviews.contains(event.event_id):
                continue
            if event.needs_review:
                # Review is about who or what; the shoppers' posterior still says whose hand
                # was most likely in this bin (a look-alike SKU leaves it near 1).
                for s in result.shoppers:
                    if s.track_id:
                        busy[s.track_id] = max(busy.get(s.track_id, 0.0), s.probability)
                self._record("review_queued", {"event": event_to_json(event), "t": event.stamp})
                out.review_events.append(event)
                if watch is not None:
                    self._facing_watch[event.event_id] = replace(watch, event=event)
                    self._facing_added = True
                self._diag(
                    out,
                    WARN,
                    "review",
                    f"shelf event '{obs.event_id}' queued for review: {result.reason}",
                )
            else:
                self._record("cart_event", {"event": event_to_json(event), "t": event.stamp})
                out.cart_events.append(event)
                if event.track_id:
                    busy[event.track_id] = 1.0
                if event.misplaced:
                    out.misplaced.append((event.bin_id, event.sku, event.quantity))
                    self._diag(
                        out,
                        WARN,
                        "misplaced",
                        f"{event.quantity} x {event.sku} put back "
                        f"in bin '{event.bin_id}' which does not hold it",
                    )
            out.carts.append(self.cart_view(event.session_id))
        if not result.events:
            self._diag(
                out,
                WARN,
                "unattributed",
                f"shelf event '{obs.event_id}' not attributed: {result.reason}",
            )
        # Journalled with the event's end, so a restart from an older memory checkpoint still
        # knows whose hands were busy here (concurrent reaches, attribution.BusySpan).
        bins = list(obs.bin_ids or (obs.bin_id,))
        spans = [
            {"track_id": k, "t_start": obs.t_start, "t_end": obs.t_end, "bins": bins, "p": p}
            for k, p in busy.items()
        ]
        self._record("shelf_done", {"event_id": obs.event_id, "t": obs.t_end, "busy": spans})
        return out

    def _facing_candidate(self, obs: ShelfObservation, result: Attribution) -> _FacingWatch | None:
        """A watch for ``result`` when it is a settled one-product pick from one mixed bin whose
        lanes could still decide it (``facing_evidence``); the queued event is filled in later."""
        cfg = self.config.facings
        if not cfg.enabled or not result.needs_review or not obs.settled:
            return None
        if result.kind != KIND_PICK or len(result.events) != 1 or len(obs.bin_ids or ()) > 1:
            return None
        lanes = self.store.bins[obs.bin_id].skus
        explained = [h for h in result.hypotheses if h.items]
        if len(lanes) < 2 or not explained or not {s for s, _ in explained[0].items} <= set(lanes):
            return None
        return _FacingWatch(result.events[0], obs, result.p_shopper, tuple(result.hypotheses))

    def _resolve_by_facings(self, look: bool) -> FusionOutput:
        """Settle the waiting look-alike picks whose lanes have all been seen since the pick:
        accepted or amended to the product whose lane moved once the posterior reaches the
        review threshold (reviewer "facings"); looked at again when more lane reports come, until
        a person decides first or ``facings.wait_s`` after the pick. ``look``: read the lane
        reports (False: only end the watches that are over)."""
        out = FusionOutput()
        cfg = self.config.facings
        threshold = self.config.attribution.review_threshold
        # Earliest first: a decided pick explains its lane's change to the picks after it.
        for event_id, watch in sorted(
            self._facing_watch.items(), key=lambda kv: (kv[1].obs.t_end, kv[0])
        ):
            queued = self.reviews.get(event_id)
            obs = watch.obs
            expired = self.now is not None and self.now > obs.t_end + cfg.wait_s
            if queued is None or expired:
                del self._facing_watch[event_id]
                continue
            if not look:
                continue
            lanes = self.store.bins[obs.bin_id].skus
            reports = covering_reports(self._evidence, obs.bin_id, obs.t_start, obs.t_end)
            others = [
                (t, sku)
                for t, sku, shelf_id in self._bin_moves.get(obs.bin_id, ())
                if shelf_id != obs.event_id
            ]
            seen = sum(len(cams) for cams in reports.values())
            if seen <= watch.reports_seen:
                continue
            self._facing_watch[event_id] = replace(watch, reports_seen=seen)
            posterior = facing_posterior(watch.hypotheses, lanes, reports, cfg, others)
            if posterior is None:
                continue
            best = next((h for h in posterior if h.items), None)
            if best is None or len(best.items) != 1:
                continue
            sku, quantity = best.items[0]
            joint = watch.p_session * best.probability
            cams = sorted({c for lane in reports.values() for c in lane})
            if joint < threshold:
                self._diag(
                    out,
                    OK,
                    "facings_undecided",
                    f"'{event_id}': the lanes of '{obs.bin_id}' ({', '.join(cams)}) leave "
                    f"{sku} at {joint:.2f}; stays in review",
                )
                continue  # more cameras may still report before wait_s
            del self._facing_watch[event_id]
            same = sku == queued.sku and quantity == queued.quantity
            decision = ReviewDecision(
                event_id,
                DECISION_ACCEPT if same else DECISION_AMEND,
                session_id=queued.session_id,
                sku=sku,
                quantity=int(quantity),
                reviewer="facings",
                confidence=float(joint),
            )
            ok, message, applied = self.record_review(decision)
            out.extend(applied)
            self._diag(
                out,
                OK if ok else WARN,
                "facings_decided" if ok else "facings_refused",
                f"'{event_id}' by the lanes of '{obs.bin_id}' ({', '.join(cams)}): {message}",
            )
        return out

    def _finalise(self, session_id: str) -> FusionOutput:
        out = FusionOutput()
        session = self.sessions.sessions[session_id]
        cart = self.carts.get(session_id) or self.carts.open(session_id, session.entry_t)
        receipt = build_receipt(
            cart,
            session,
            self.store.products,
            self.store.currency,
            self.reviews.pending_for(session_id),
        )
        if receipt.receipt_id in self.receipts:
            self.sessions.close(session_id)
            return out
        self._record("receipt", {"receipt": receipt_to_json(receipt), "t": receipt.exit_t})
        out.receipts.append(receipt)
        out.carts.append(self.cart_view(session_id))
        return out

    def _evidence_for(self, obs: ShelfObservation) -> list[EvidenceItem]:
        """The evidence attribution can read for ``obs`` (``Attributor.evidence_span``).

        The rest of the history is left out before it is localised, which costs a ray-to-wrist
        search per item (20 s of history in a busy store: over a thousand, 0.1-0.4 s per event).
        """
        t0, t1 = self.attributor.evidence_span(obs)
        return [e for e in self._evidence if t0 <= e.t <= t1]

    def _near_wrists(self, e: EvidenceItem, tracks: Sequence[str]) -> bool:
        """Whether a wrist of one of ``tracks`` lies within ``evidence_ray_m`` of the camera ray
        through crop ``e`` (within the localisation window): a cheap test before
        ``_localised_once``, which searches every track."""
        if e.pixel is None or self.tracker is None:
            return e.position is not None
        index = self.tracker.rig.index(e.camera_id)
        if index is None:
            return False
        camera = self.tracker.rig.cameras[index]
        direction = camera.rays(np.asarray(e.pixel, dtype=float).reshape(1, 2))[0]
        limit = self.config.evidence_ray_m
        for track_id in tracks:
            buf = self._wrists.get(track_id)
            if buf is None:
                continue
            _, pos, _, _ = buf.window(e.t - _LOCALISE_WINDOW_S, e.t + _LOCALISE_WINDOW_S)
            if len(pos) and np.any(_ray_offsets(camera.center, direction, pos) <= limit):
                return True
        return False

    def _localised_once(self, e: EvidenceItem) -> EvidenceItem:
        """``_localised(e)``, remembered once the tracks cover its whole wrist window.

        Overlapping event windows of a busy shelf look at the same evidence again; the answer
        cannot change once every wrist sample it compares with is in, so it is kept (and
        forgotten with the evidence).
        """
        known = self._localised_memo.get(e.evidence_id)
        if known is not None and known[0] is e:
            return known[1]
        out = self._localised(e)
        if self._tracks_t is not None and self._tracks_t >= e.t + _LOCALISE_WINDOW_S:
            self._localised_memo[e.evidence_id] = (e, out)
        return out

    def _localised(self, e: EvidenceItem) -> EvidenceItem:
        """Evidence seen at a pixel gets the position of the tracked wrist on that camera ray.

        Hand-crop evidence carries no 3D position; the wrist of some track, seen within 0.15 s,
        lies on the camera ray through the crop. Done at attribution time, when the tracks have
        caught up with the cameras. Evidence no wrist explains stays unlocalised (and unused
        unless it names a bin).
        """
        if e.position is not None or e.pixel is None or self.tracker is None:
            return e
        index = self.tracker.rig.index(e.camera_id)
        if index is None:
            return e
        camera = self.tracker.rig.cameras[index]
        direction = camera.rays(np.asarray(e.pixel, dtype=float).reshape(1, 2))[0]
        best: tuple[float, np.ndarray, str, int] | None = None
        for track_id, buf in self._wrists.items():
            _, pos, _, side = buf.window(e.t - _LOCALISE_WINDOW_S, e.t + _LOCALISE_WINDOW_S)
            if not len(pos):
                continue
            off = _ray_offsets(camera.center, direction, pos)
            k = int(np.argmin(off))
            if best is None or off[k] < best[0]:
                best = (float(off[k]), pos[k], track_id, int(side[k]))
        if best is None or best[0] > self.config.evidence_ray_m:
            return e
        return replace(e, position=best[1].copy(), track_id=best[2], hand=best[3])

    def _follow_hands(self, event: CartEventRecord) -> None:
        """What each track holds follows its picks, returns and handoffs."""
        if not event.track_id:
            return
        held = self._held.setdefault(event.track_id, [])
        if event.kind == KIND_PICK:
            held += [_HeldUnit(event.sku, event.hand, event.unit_g)] * event.quantity
            return
        for _ in range(event.quantity):
            same = [i for i, u in enumerate(held) if u.sku == event.sku]
            if not same:
                break
            pick = next((i for i in reversed(same) if held[i].hand == event.hand), same[-1])
            del held[pick]

    def _follow_stock(self, event: CartEventRecord) -> None:
        """The live planogram follows picks and returns (misplaced stock included)."""
        if not event.bin_id:
            return  # a handoff between shoppers: no shelf involved
        shelf = self.live_planogram.setdefault(event.bin_id, {})
        delta = -event.quantity if event.kind == KIND_PICK else event.quantity
        shelf[event.sku] = max(0, shelf.get(event.sku, 0) + delta)


class _CheckpointWriter:
    """Writes checkpoint files on a background thread, the newest job only (an older one not yet
    started is replaced); the thread ends when idle and starts again with the next job."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._job: list[tuple[Path, bytes]] | None = None
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, files: list[tuple[Path, bytes]]) -> None:
        with self._cond:
            self._job = files
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fusion-checkpoint", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._job is None:
                    self._cond.wait(timeout=1.0)
                    if self._job is None:
                        self._thread = None
                        return
                job, self._job = self._job, None
                self._busy = True
            try:
                for path, data in job:
                    _write_atomic(path, data)
            except Exception as error:  # e.g. a full disk: the next job retries
                LOGGER.warning("fusion: cannot write the checkpoint %s: %s", job[0][0], error)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the newest job is on disk (at most ``timeout_s``); False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._job is None and not self._busy, timeout=timeout_s
            )


def _gate_observation(data: Mapping[str, Any]) -> GateObservation:
    """A gate observation from its journal record."""
    where = data.get("position")
    return GateObservation(
        str(data["gate_id"]),
        str(data["kind"]),
        float(data["t"]),
        str(data.get("token", "")),
        int(data.get("group_size", 1)),
        None if where is None else (float(where[0]), float(where[1]), float(where[2])),
    )


def _handoff_id(t: float, giver: str, taker: str) -> str:
    """Id of an item passed between two tracks at a contact reported at t [s]."""
    return f"handoff@{t:.3f}:{giver}>{taker}"


def _handoff_ids(c: Contact) -> tuple[str, str]:
    """The ids a contact's pass may get, one per direction."""
    return _handoff_id(c.t, c.track_a, c.track_b), _handoff_id(c.t, c.track_b, c.track_a)


def _write_atomic(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file (fsync'd), then renamed over it. The
    temporary name is the writer's own, so two writers (a killed pipeline's thread still
    finishing, the new one's) never share one."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        # owner-only: the memory file is a pickle, read back by the next run
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """SHA-256 of go_fusion's core sources: a pickled memory is read back only by the code that
    wrote it (an upgraded node starts from the journal and the JSON tracker checkpoint)."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _ray_offsets(origin: np.ndarray, direction: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distances [m] of ``points`` (K, 3) from the ray ``origin`` + s ``direction`` (unit),
    s > 0; points behind the origin are infinitely far."""
    v = points - origin
    along = v @ direction
    off = np.linalg.norm(v - along[:, None] * direction, axis=1)
    off[along <= 0.0] = np.inf
    return off


# ---- tracker types ----------------------------------------------------------------------------


def tracker_gate_event(obs: GateObservation) -> GateEvent:
    """A gate observation in the tracker's terms."""
    return GateEvent(
        stamp=obs.t,
        kind=GateKind.ENTRY if obs.kind == ENTRY else GateKind.EXIT,
        gate_id=obs.gate_id,
        session_token=obs.session_token,
        group_size=max(1, int(obs.group_size)),
        position=None if obs.position is None else np.asarray(obs.position, dtype=float),
    )


def snapshots_from_tracker(result: TrackerOutput) -> tuple[list[TrackSnapshot], list[TrackExit]]:
    """Track snapshots and exits from one ``MultiViewTracker.update`` result."""
    tracks = []
    for tr in result.tracks:
        sk = tr.skeleton
        tracks.append(
            TrackSnapshot(
                track_id=tr.track_id,
                session_id=tr.session_id,
                state=int(tr.state),
                position=np.asarray(tr.position, dtype=float),
                velocity=np.asarray(tr.velocity, dtype=float),
                covariance=np.asarray(tr.covariance, dtype=float),
                last_seen=float(tr.last_seen),
                keypoints=None if sk is None else sk.keypoints,
                keypoint_scores=None if sk is None else sk.scores,
                keypoint_covariance=None if sk is None else sk.covariance,
                camera_ids=() if sk is None else tuple(sk.camera_ids),
            )
        )
    exits = [
        TrackExit(e.track_id, e.session_id, float(e.stamp), bool(e.session_closed))
        for e in result.exits
    ]
    return tracks, exits

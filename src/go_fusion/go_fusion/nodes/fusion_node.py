"""fusion_node: cameras' skeletons + shelf load cells + gates in; tracks, carts and receipts out.

A lifecycle node (``rclpy.lifecycle``): ``configure`` loads the store (the ``store`` parameter, or
the latched ``store/layout`` + ``store/catalogue`` when it is empty), opens the journal and
rebuilds carts from it; ``activate`` subscribes and starts publishing (receipts written but not
confirmed published before a crash go out again, under the same ids); ``deactivate`` stops the
inputs; ``cleanup`` closes the journal. The node never triggers its own transitions: ``main``
plays the lifecycle manager's part (``autostart``), tests call ``trigger_configure`` /
``trigger_activate``.

Callbacks only convert, call :class:`go_fusion.core.pipeline.FusionPipeline` and publish. Every
decision uses message stamps; the node clock is used only to reject stamps from the future and to
let sensor time pass when every sensor is silent (``advance_when_idle``).
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo
from visualization_msgs.msg import MarkerArray

from go_common import qos, topics
from go_common.conversions import stamp_to_seconds
from go_common.core.store import StoreConfigError, load_store
from go_common.lifecycle import run_lifecycle_node
from go_common.params import declare_config
from go_common.tf_tree import StaticTransformBuffer
from go_common.time_sync import ApproximateTimeSynchronizer
from go_fusion import conversions as conv
from go_fusion.core.attribution import AttributionConfig
from go_fusion.core.camera_sets import PartialSets
from go_fusion.core.cameras import CameraModelError, FusionCamera
from go_fusion.core.journal import Journal, JournalError
from go_fusion.core.markers import ShopperView, bin_change_markers, layout_markers, shopper_markers
from go_fusion.core.markers import cart_summary as summary_text
from go_fusion.core.pipeline import (
    ERROR,
    WARN,
    Diagnostic,
    FusionConfig,
    FusionOutput,
    FusionPipeline,
    TrackSnapshot,
)
from go_fusion.core.store_view import StoreView, store_view_from_model
from go_msgs.msg import (
    Cart,
    CartEvent,
    Catalogue,
    GateEvent,
    LoadCellBoard,
    PersonDetectionArray,
    ProductEvidenceArray,
    Receipt,
    ShelfEvent,
    ShopperTrackArray,
    Skeleton3DArray,
    StoreLayout,
)
from go_msgs.srv import GetCart, RecordReview

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "fusion.yaml"


@dataclass(frozen=True)
class FusionNodeConfig:
    """Parameters of fusion_node (meaning and defaults: config/fusion.yaml)."""

    store: str
    journal_path: str
    fsync: bool
    cameras: str
    slop_s: float
    sync_queue_size: int
    partial_set_after_s: float
    checkout_grace_s: float
    track_wait_s: float
    shelf_merge_hold_s: float
    review_threshold: float
    hand_margin_m: float
    hand_sd_m: float
    edge_window_s: float
    null_likelihood: float
    blind_likelihood: float
    vision_floor: float
    vision_full_score: float
    arm_hands: bool
    max_lateness_s: float
    max_future_s: float
    marker_rate_hz: float
    bin_change_show_s: float
    diagnostics_period_s: float
    advance_when_idle: bool

    def __post_init__(self) -> None:
        positive = (
            "slop_s",
            "checkout_grace_s",
            "marker_rate_hz",
            "diagnostics_period_s",
            "max_lateness_s",
            "max_future_s",
            "bin_change_show_s",
        )
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise ValueError(f"parameter '{name}' must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.review_threshold <= 1.0:
            raise ValueError(
                f"parameter 'review_threshold' must be in [0, 1]: {self.review_threshold}"
            )
        if self.sync_queue_size < 1:
            raise ValueError(f"parameter 'sync_queue_size' must be >= 1: {self.sync_queue_size}")

    def fusion(self) -> FusionConfig:
        """The pipeline's configuration."""
        attribution = replace(
            AttributionConfig(),
            review_threshold=self.review_threshold,
            hand_margin_m=self.hand_margin_m,
            hand_sd_m=self.hand_sd_m,
            edge_window_s=self.edge_window_s,
            null_likelihood=self.null_likelihood,
            blind_likelihood=self.blind_likelihood,
            vision_floor=self.vision_floor,
            vision_full_score=self.vision_full_score,
        )
        defaults = FusionConfig()
        return FusionConfig(
            attribution=attribution,
            shelf=replace(defaults.shelf, merge_hold_s=self.shelf_merge_hold_s),
            checkout_grace_s=self.checkout_grace_s,
            track_wait_s=self.track_wait_s,
            max_lateness_s=self.max_lateness_s,
            max_future_s=self.max_future_s,
            arm_hands=replace(defaults.arm_hands, enabled=self.arm_hands),
        )


class FusionNode(LifecycleNode):
    """The fusion back end on the ROS graph (see the module docstring)."""

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__("fusion", **node_kwargs)
        self.config = declare_config(self, FusionNodeConfig, CONFIG_FILE, "fusion")
        self.pipeline: FusionPipeline | None = None
        self.store: StoreView | None = None
        self._model_cameras: dict[str, FusionCamera] = {}
        self._infos: dict[str, CameraInfo] = {}
        self._layout: StoreLayout | None = None
        self._catalogue: Catalogue | None = None
        self._recent: deque[Diagnostic] = deque(maxlen=50)
        self._changes: deque[tuple[str, float, float]] = deque(maxlen=200)
        self._tracks: list[TrackSnapshot] = []
        self._last_input: tuple[float, float] | None = None  # (sensor time, node clock) [s]
        self._inputs: list[Any] = []
        self._pubs: dict[str, Any] = {}
        self._timers: list[Any] = []
        self._services: list[Any] = []
        self._sync: ApproximateTimeSynchronizer | None = None
        self._partial: PartialSets | None = None
        self._tf: StaticTransformBuffer | None = None
        self._active = False
        self.latencies: dict[str, list[float]] = {"cart": [], "receipt": []}

    # ---- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the store (parameter or latched topics), open the journal, create publishers."""
        cfg = self.config
        if cfg.store:
            try:
                model = load_store(cfg.store)
            except (StoreConfigError, OSError) as error:
                self.get_logger().error(f"cannot load store '{cfg.store}': {error}")
                return TransitionCallbackReturn.FAILURE
            self._model_cameras = {
                cid: FusionCamera.from_store_camera(cam) for cid, cam in model.cameras.items()
            }
            if not self._start_pipeline(store_view_from_model(model)):
                return TransitionCallbackReturn.FAILURE
        else:
            self._inputs += [
                self.create_subscription(
                    StoreLayout, topics.STORE_LAYOUT, self._on_layout, qos.STATE
                ),
                self.create_subscription(
                    Catalogue, topics.STORE_CATALOGUE, self._on_catalogue, qos.STATE
                ),
            ]
        pub = self.create_lifecycle_publisher
        self._pubs = {
            "skeletons": pub(Skeleton3DArray, topics.FUSION_SKELETONS, qos.EVENTS),
            "tracks": pub(ShopperTrackArray, topics.FUSION_TRACKS, qos.EVENTS),
            "shelf": pub(ShelfEvent, topics.FUSION_SHELF_EVENTS, qos.EVENTS),
            "cart_events": pub(CartEvent, topics.FUSION_CART_EVENTS, qos.EVENTS),
            "review": pub(CartEvent, topics.FUSION_REVIEW_QUEUE, qos.EVENTS),
            "carts": pub(Cart, topics.FUSION_CARTS, qos.EVENTS),
            "receipts": pub(Receipt, topics.CHECKOUT_RECEIPTS, qos.RECEIPTS),
            "markers": pub(MarkerArray, topics.FUSION_MARKERS, qos.SENSOR),
            "diagnostics": pub(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS),
        }
        self._services = [
            self.create_service(GetCart, topics.FUSION_GET_CART, self._get_cart),
            self.create_service(RecordReview, topics.FUSION_RECORD_REVIEW, self._record_review),
        ]
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the sensors and start publishing."""
        result = super().on_activate(state)
        cfg = self.config
        sub = self.create_subscription
        self._inputs += [
            sub(LoadCellBoard, topics.SHELVES_LOAD_CELLS, self._on_load_cells, qos.EVENTS),
            sub(GateEvent, topics.GATES_EVENTS, self._on_gate, qos.EVENTS),
            sub(ProductEvidenceArray, topics.PERCEPTION_PRODUCTS, self._on_products, qos.EVENTS),
        ]
        self._tf = StaticTransformBuffer(self)
        self._active = True
        if self.pipeline is not None:
            self._subscribe_cameras()
        self._timers = [
            self.create_timer(0.05, self._on_idle_tick),
            self.create_timer(1.0 / cfg.marker_rate_hz, self._publish_markers),
            self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics),
        ]
        if self.pipeline is not None:
            self._republish_receipts()
        return result

    def _subscribe_cameras(self) -> None:
        """CameraInfo and people of every camera (once the store, hence the cameras, is known)."""
        cfg = self.config
        sub = self.create_subscription
        cams = self._camera_ids()
        for cam in cams:
            self._inputs.append(
                sub(
                    CameraInfo,
                    topics.camera_info(cam),
                    lambda m, c=cam: self._on_camera_info(c, m),
                    qos.SENSOR,
                )
            )
        self._partial = PartialSets(cfg.slop_s, cfg.partial_set_after_s, cfg.sync_queue_size)
        if len(cams) >= 2:
            self._sync = ApproximateTimeSynchronizer(
                self,
                [(PersonDetectionArray, topics.camera_people(c), qos.EVENTS) for c in cams],
                queue_size=cfg.sync_queue_size,
                slop_s=cfg.slop_s,
                callback=self._on_people_set,
            )
        for cam in cams:
            self._inputs.append(
                sub(
                    PersonDetectionArray,
                    topics.camera_people(cam),
                    lambda m, c=cam: self._on_people_one(c, m),
                    qos.EVENTS,
                )
            )

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the inputs and timers (state and journal stay)."""
        self._active = False
        for s in self._inputs:
            self.destroy_subscription(s)
        self._inputs = []
        for t in self._timers:
            self.destroy_timer(t)
        self._timers = []
        if self._sync is not None:
            self._sync.destroy()
            self._sync = None
        if self._tf is not None:
            self._tf.destroy()
            self._tf = None
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Close the journal and drop the publishers and services."""
        self._close()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Close the journal (every record is already on disk)."""
        self._close()
        return TransitionCallbackReturn.SUCCESS

    def _close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()  # the pending checkpoint, then the journal
            self.pipeline = None
        for p in self._pubs.values():
            self.destroy_lifecycle_publisher(p)
        self._pubs = {}
        for s in self._services:
            self.destroy_service(s)
        self._services = []

    # ---- store and cameras -------------------------------------------------------------------

    def _start_pipeline(self, store: StoreView) -> bool:
        cfg = self.config
        try:
            journal = Journal(cfg.journal_path or None, fsync=cfg.fsync)
        except JournalError as error:
            self.get_logger().error(str(error))
            return False
        if not cfg.journal_path:
            self.get_logger().warning("journal_path is empty: carts will not survive a restart")
        for line in journal.diagnostics:
            self._diag(Diagnostic(ERROR, "journal", line))
        self.store = store
        cams = [self._model_cameras[c] for c in self._camera_ids() if c in self._model_cameras]
        self.pipeline = FusionPipeline(store, cfg.fusion(), journal, cameras=cams)
        self.get_logger().info(
            f"store '{store.store_id}': {len(store.bins)} bins, {len(store.products)} products, "
            f"cameras {list(self._camera_ids())}, {len(self.pipeline.open_sessions())} open "
            f"sessions from the journal"
        )
        return True

    def _camera_ids(self) -> tuple[str, ...]:
        if self.config.cameras:
            return tuple(c.strip() for c in self.config.cameras.split(",") if c.strip())
        if self.store is not None and self.store.camera_ids:
            return self.store.camera_ids
        return tuple(sorted(self._model_cameras))

    def _on_layout(self, msg: StoreLayout) -> None:
        self._layout = msg
        self._maybe_store_from_topics()

    def _on_catalogue(self, msg: Catalogue) -> None:
        self._catalogue = msg
        self._maybe_store_from_topics()

    def _maybe_store_from_topics(self) -> None:
        if self.pipeline is not None or self._layout is None or self._catalogue is None:
            return
        try:
            store = conv.store_view_from_msgs(self._layout, self._catalogue)
        except ValueError as error:
            self._diag(Diagnostic(ERROR, "store", str(error)))
            return
        if self._start_pipeline(store) and self._active:
            self._subscribe_cameras()
            self._republish_receipts()

    def _on_camera_info(self, cam: str, msg: CameraInfo) -> None:
        if self.pipeline is None or self._tf is None or cam in self._model_cameras:
            return
        changed = cam not in self._infos or list(self._infos[cam].k) != list(msg.k)
        if not changed:
            return
        try:
            pose = self._tf.lookup(
                topics.STORE_FRAME, msg.header.frame_id or topics.camera_optical_frame(cam)
            )
            camera = FusionCamera.from_camera_info(
                cam,
                k=msg.k,
                d=msg.d,
                width=msg.width,
                height=msg.height,
                T_store_optical=pose,
                distortion_model=msg.distortion_model,
            )
        except (ValueError, CameraModelError) as error:
            # Most often /tf_static has not arrived yet; the next CameraInfo tries again.
            self._diag(Diagnostic(WARN, "camera_info", f"camera '{cam}': {error}"))
            return
        self._infos[cam] = msg
        self._model_cameras[cam] = camera
        self.pipeline.set_cameras(list(self._model_cameras.values()))

    # ---- inputs ------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _reference(self) -> float | None:
        """The node clock for the future-stamp check; None while a sim clock has not started."""
        now = self._now()
        return now if now > 0.0 else None

    def _ready(self, what: str) -> bool:
        if self.pipeline is None:
            self.get_logger().warning(
                f"{what} before the store is known: dropped", throttle_duration_sec=5.0
            )
            return False
        return True

    def _on_load_cells(self, msg: LoadCellBoard) -> None:
        if not self._ready("load cells"):
            return
        try:
            board, channels, t0, period, grams, status = conv.load_cells_from_msg(msg)
        except ValueError as error:
            self._diag(Diagnostic(ERROR, "bad_load_cells", str(error)))
            return
        out = self.pipeline.add_load_cells(
            board, channels, t0, period, grams, status, self._reference()
        )
        self._publish(out, t0)

    def _on_gate(self, msg: GateEvent) -> None:
        if not self._ready("gate event"):
            return
        try:
            obs = conv.gate_from_msg(msg)
        except ValueError as error:
            self._diag(Diagnostic(ERROR, "bad_gate_event", str(error)))
            return
        self._publish(self.pipeline.add_gate_event(obs, self._reference()), obs.t)

    def _on_products(self, msg: ProductEvidenceArray) -> None:
        if not self._ready("product evidence"):
            return
        try:
            items = conv.evidence_from_msg(msg)
        except ValueError as error:
            self._diag(Diagnostic(ERROR, "bad_evidence", str(error)))
            return
        self._publish(self.pipeline.add_product_evidence(items, self._reference()), None)

    def _on_people_set(self, *msgs: PersonDetectionArray) -> None:
        stamps = [stamp_to_seconds(m.header.stamp) for m in msgs]
        if self._partial is not None:
            self._partial.synced(max(stamps))
        self._people(float(np.median(stamps)), dict(zip(self._camera_ids(), msgs, strict=True)))

    def _on_people_one(self, cam: str, msg: PersonDetectionArray) -> None:
        if self._sync is None:  # one camera: every message is a set
            self._people(stamp_to_seconds(msg.header.stamp), {cam: msg})
            return
        if self._partial is not None:
            for t, group in self._partial.add(cam, stamp_to_seconds(msg.header.stamp), msg):
                self._people(t, group)

    def _people(self, t: float, msgs: dict[str, PersonDetectionArray]) -> None:
        """One camera set (camera id of the topic -> message) to the tracker."""
        if not self._ready("people"):
            return
        views = {}
        for cam, m in msgs.items():
            if m.camera_id and m.camera_id != cam:
                self._diag(
                    Diagnostic(
                        WARN,
                        "camera_id",
                        f"people on the topic of '{cam}' "
                        f"name camera '{m.camera_id}': using '{cam}'",
                    )
                )
            try:
                views[cam] = replace(conv.people_from_msg(m), camera_id=cam)
            except ValueError as error:
                self._diag(Diagnostic(ERROR, "bad_people", str(error)))
        out = self.pipeline.add_people(t, views, self._reference())
        if out.tracks is not None:
            self._tracks = out.tracks
            self._pubs["tracks"].publish(conv.tracks_msg(t, out.tracks))
        if out.skeletons is not None:
            self._pubs["skeletons"].publish(conv.skeletons_msg(t, out.skeletons[0]))
        self._publish(out, t)

    def _on_idle_tick(self) -> None:
        """Let sensor time pass while every sensor is silent, so an exit still gets its receipt."""
        if not self.config.advance_when_idle or self.pipeline is None:
            return
        if self._last_input is None or self.pipeline.now is None:
            return
        sensor_t, clock_t = self._last_input
        if self._reference() is None:
            return
        t = sensor_t + (self._now() - clock_t)
        if t > self.pipeline.now:
            self._publish(self.pipeline.advance(t), None, track_input=False)

    # ---- outputs -----------------------------------------------------------------------------

    def _publish(self, out: FusionOutput, t: float | None, track_input: bool = True) -> None:
        """Publish everything one pipeline call produced (the journal is already on disk)."""
        if t is not None and track_input:
            self._last_input = (t, self._now())
        for d in out.diagnostics:
            self._diag(d)
        if not self._pubs:
            return
        for ev in out.shelf_events:
            self._changes.append((ev.event.bin_id, ev.event.t_end, ev.event.delta_g))
            self._pubs["shelf"].publish(conv.shelf_event_msg(ev))
        now = self._now()
        for e in out.cart_events:
            self._pubs["cart_events"].publish(conv.cart_event_msg(e))
            self.latencies["cart"].append(now - self._clock_of(e.stamp))
        for e in out.review_events:
            self._pubs["review"].publish(conv.cart_event_msg(e))
        for view in {c.session_id: c for c in out.carts}.values():
            self._pubs["carts"].publish(conv.cart_msg(view))
        for r in out.receipts:
            self._pubs["receipts"].publish(conv.receipt_msg(r))
            self.latencies["receipt"].append(now - self._clock_of(r.exit_t))
            self.pipeline.mark_published(r.receipt_id)

    def _clock_of(self, sensor_t: float) -> float:
        """Node-clock time at which sensor time ``sensor_t`` was reached (for latency figures)."""
        if self._last_input is None:
            return sensor_t
        return self._last_input[1] - (self._last_input[0] - sensor_t)

    def _republish_receipts(self) -> None:
        for r in self.pipeline.unpublished_receipts():
            self.get_logger().info(f"publishing receipt {r.receipt_id} written before a restart")
            self._pubs["receipts"].publish(conv.receipt_msg(r))
            self.pipeline.mark_published(r.receipt_id)

    def _diag(self, d: Diagnostic) -> None:
        self._recent.append(d)
        if d.level >= ERROR:
            self.get_logger().error(f"{d.name}: {d.message}", throttle_duration_sec=1.0)

    def _publish_markers(self) -> None:
        if self.pipeline is None or self.store is None or not self._pubs:
            return
        t = self.pipeline.now or 0.0
        shoppers = []
        prices = {s: p.price for s, p in self.store.products.items()}
        for tr in self._tracks:
            text = ""
            if tr.session_id and self.pipeline.carts.get(tr.session_id) is not None:
                view = self.pipeline.cart_view(tr.session_id)
                lines = [(ln.sku, ln.quantity, prices.get(ln.sku, 0.0)) for ln in view.lines]
                text = summary_text(lines, self.store.currency)
            shoppers.append(
                ShopperView(
                    tr.track_id, tr.session_id, tr.position, tr.keypoints, tr.keypoint_scores, text
                )
            )
        specs = layout_markers(self.store)
        specs += bin_change_markers(
            self.store, list(self._changes), t, self.config.bin_change_show_s
        )
        specs += shopper_markers(shoppers, lifetime_s=2.0 / self.config.marker_rate_hz)
        self._pubs["markers"].publish(conv.marker_array(specs, t))

    def _publish_diagnostics(self) -> None:
        if not self._pubs:
            return
        p = self.pipeline
        values = {
            "store": self.store.store_id if self.store else "(waiting for store/layout)",
            "open_sessions": str(len(p.open_sessions())) if p else "0",
            "pending_reviews": str(len(p.reviews)) if p else "0",
            "receipts": str(len(p.receipts)) if p else "0",
            "journal": self.config.journal_path or "(memory)",
        }
        counts = p.diagnostic_counts if p else {}
        msg = conv.diagnostics_msg(self._now(), self.get_name(), list(self._recent), counts, values)
        self._pubs["diagnostics"].publish(msg)
        self._recent.clear()

    # ---- services ----------------------------------------------------------------------------

    def _get_cart(self, request: GetCart.Request, response: GetCart.Response) -> GetCart.Response:
        if self.pipeline is None or self.pipeline.carts.get(request.session_id) is None:
            response.found = False
            response.message = f"no session '{request.session_id}'"
            return response
        response.found = True
        response.cart = conv.cart_msg(self.pipeline.cart_view(request.session_id))
        return response

    def _record_review(
        self, request: RecordReview.Request, response: RecordReview.Response
    ) -> RecordReview.Response:
        if self.pipeline is None:
            response.success, response.message = False, "fusion is not configured yet"
            return response
        ok, message, out = self.pipeline.record_review(conv.review_from_request(request))
        response.success, response.message = ok, message
        self._publish(out, None)
        return response


def main(argv: list[str] | None = None) -> int:
    """Run the node; ``autostart`` (default) configures and activates it, as a manager would."""
    return run_lifecycle_node(
        FusionNode, argv, construction_errors=(ValueError,), logger_name="fusion"
    )


if __name__ == "__main__":
    sys.exit(main())

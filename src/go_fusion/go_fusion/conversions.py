"""go_msgs <-> go_fusion core types. Pure mapping: no logic beyond units, shapes and validation.

Every function raises ``ValueError`` naming the message field when a message cannot be
converted (wrong array sizes, non-finite stamps), so a node turns it into a diagnostic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from go_common.conversions import seconds_to_stamp, stamp_to_seconds
from go_fusion.core.association import CameraPeople
from go_fusion.core.attribution import SOURCE_FACING, EvidenceItem
from go_fusion.core.cart import KIND_PICK, CartEventRecord
from go_fusion.core.checkout import ENTRY, EXIT, GateObservation, ReceiptRecord
from go_fusion.core.markers import CUBE, CYLINDER, LINE_LIST, TEXT, MarkerSpec
from go_fusion.core.pipeline import CartView, Diagnostic, ShelfEventOut, TrackSnapshot
from go_fusion.core.review import ReviewDecision
from go_fusion.core.store_view import BinSpec, GateSpec, ProductSpec, StoreView
from go_fusion.core.triangulation import Skeleton3D as CoreSkeleton
from go_msgs.msg import (
    Cart,
    CartEvent,
    CartLine,
    Catalogue,
    GateEvent,
    LoadCellBoard,
    PersonDetectionArray,
    ProductEvidenceArray,
    Receipt,
    ReceiptLine,
    ShelfEvent,
    ShopperTrack,
    ShopperTrackArray,
    Skeleton3D,
    Skeleton3DArray,
    SkuQuantity,
    StoreLayout,
)
from go_msgs.srv import RecordReview

STORE_FRAME = "store"


def stamp_seconds(stamp: Time, what: str) -> float:
    """Header stamp -> float seconds; ValueError naming ``what`` when it is zero."""
    t = stamp_to_seconds(stamp)
    if t <= 0.0:
        raise ValueError(f"{what}: header.stamp is zero (unset)")
    return t


def _stamp(t: float) -> Time:
    return seconds_to_stamp(max(0.0, t)) if math.isfinite(t) else Time()


# ---- inputs ------------------------------------------------------------------------------------


def gate_from_msg(msg: GateEvent) -> GateObservation:
    """go_msgs/GateEvent -> GateObservation."""
    if msg.kind not in (GateEvent.KIND_ENTRY, GateEvent.KIND_EXIT):
        raise ValueError(f"GateEvent.kind {msg.kind} is neither KIND_ENTRY nor KIND_EXIT")
    p = msg.position
    position = (p.x, p.y, p.z) if all(math.isfinite(v) for v in (p.x, p.y, p.z)) else None
    if position == (0.0, 0.0, 0.0):
        position = None  # an unset Point: the gate area stands in for it
    return GateObservation(
        gate_id=msg.gate_id,
        kind=ENTRY if msg.kind == GateEvent.KIND_ENTRY else EXIT,
        t=stamp_seconds(msg.header.stamp, f"GateEvent at '{msg.gate_id}'"),
        session_token=msg.session_token,
        group_size=max(1, int(msg.group_size)),
        position=position,
    )


def load_cells_from_msg(
    msg: LoadCellBoard,
) -> tuple[str, list[str], float, float, np.ndarray, list[int]]:
    """LoadCellBoard -> (board_id, channel ids, t0 [s], period [s], grams (N, C), status (C,))."""
    what = f"LoadCellBoard '{msg.board_id}'"
    c = len(msg.channel_ids)
    n = int(msg.num_samples)
    grams = np.asarray(msg.grams, dtype=float)
    if c == 0 or n == 0 or grams.size != n * c:
        raise ValueError(
            f"{what}: grams has {grams.size} values, expected num_samples {n} x {c} channels"
        )
    status = list(msg.channel_status) if len(msg.channel_status) == c else [0] * c
    t0 = stamp_seconds(msg.header.stamp, what)
    return (
        msg.board_id,
        list(msg.channel_ids),
        t0,
        float(msg.sample_period),
        grams.reshape(n, c),
        status,
    )


def people_from_msg(msg: PersonDetectionArray) -> CameraPeople:
    """PersonDetectionArray -> CameraPeople (keypoints (N, 17, 2) px, scores (N, 17), (N,))."""
    n = len(msg.people)
    kp = np.zeros((n, 17, 2))
    ks = np.zeros((n, 17))
    sc = np.zeros(n)
    for i, p in enumerate(msg.people):
        kp[i] = np.asarray(p.keypoints, dtype=float).reshape(17, 2)
        ks[i] = np.asarray(p.keypoint_scores, dtype=float)
        sc[i] = p.score
    ks = np.where(np.isfinite(ks), np.clip(ks, 0.0, 1.0), 0.0)
    # Clothing colour: used only when every person has one of the same size (values outside
    # [0, 1] are not histogram shares: unknown).
    sizes = {len(p.appearance) for p in msg.people}
    appearance = None
    if n and len(sizes) == 1 and 0 not in sizes:
        looks = np.array([np.asarray(p.appearance, dtype=float) for p in msg.people])
        appearance = np.where((looks >= 0.0) & (looks <= 1.0), looks, np.nan)
    return CameraPeople(
        camera_id=msg.camera_id,
        stamp=stamp_seconds(msg.header.stamp, f"people of camera '{msg.camera_id}'"),
        keypoints=kp,
        keypoint_scores=ks,
        scores=sc,
        appearance=appearance,
    )


def evidence_from_msg(msg: ProductEvidenceArray) -> list[EvidenceItem]:
    """ProductEvidenceArray -> EvidenceItems stamped with the image's header."""
    t = stamp_seconds(msg.header.stamp, "ProductEvidenceArray")
    out = []
    for e in msg.evidence:
        pos = np.array([e.position.x, e.position.y, e.position.z], dtype=float)
        out.append(
            EvidenceItem(
                evidence_id=e.evidence_id,
                camera_id=e.camera_id,
                t=t,
                source=int(e.source),
                scores={s.sku: float(s.score) for s in e.ranked},
                position=pos if np.all(np.isfinite(pos)) else None,
                bin_id=e.bin_id,
                pixel=_bbox_centre(e.bbox),
                since=(
                    e.since.sec + e.since.nanosec * 1e-9 if int(e.source) == SOURCE_FACING else None
                ),
            )
        )
    return out


def _bbox_centre(bbox: Sequence[float]) -> tuple[float, float] | None:
    x1, y1, x2, y2 = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or (x2 <= x1 and y2 <= y1):
        return None
    return (0.5 * (x1 + x2), 0.5 * (y1 + y2))


def store_view_from_msgs(layout: StoreLayout, catalogue: Catalogue) -> StoreView:
    """The latched store/layout and store/catalogue -> StoreView."""
    bins = {}
    for b in layout.bins:
        if len(b.counts) not in (0, len(b.skus)):
            raise ValueError(
                f"StoreLayout bin '{b.bin_id}': {len(b.skus)} skus, {len(b.counts)} counts"
            )
        p = b.pose.position
        bins[b.bin_id] = BinSpec(
            bin_id=b.bin_id,
            center=np.array([p.x, p.y, p.z]),
            size=np.array([b.size.x, b.size.y, b.size.z]),
            skus=tuple(b.skus),
            counts=tuple(int(c) for c in b.counts),
            shelf_id=b.shelf_id,
            gondola_id=b.gondola_id,
            board_id=b.board_id,
            channel=int(b.channel),
        )
    gates = {
        g.gate_id: GateSpec(
            g.gate_id,
            "entry" if g.kind == 0 else "exit",
            (g.min_corner.x, g.min_corner.y),
            (g.max_corner.x, g.max_corner.y),
        )
        for g in layout.gates
    }
    products = {
        p.sku: ProductSpec(
            p.sku,
            p.name,
            float(p.price),
            float(p.unit_weight_g),
            float(p.unit_weight_sd_g),
            (p.dimensions.x, p.dimensions.y, p.dimensions.z),
        )
        for p in catalogue.products
    }
    return StoreView(
        store_id=layout.store_id,
        currency=catalogue.currency,
        floor_size=(layout.floor_size.x, layout.floor_size.y),
        bins=bins,
        products=products,
        gates=gates,
        camera_ids=tuple(sorted(layout.camera_ids)),
    )


def review_from_request(req: RecordReview.Request) -> ReviewDecision:
    """RecordReview request -> ReviewDecision."""
    return ReviewDecision(
        event_id=req.event_id,
        decision=int(req.decision),
        session_id=req.session_id,
        sku=req.sku,
        quantity=int(req.quantity),
        reviewer=req.reviewer,
    )


# ---- outputs -----------------------------------------------------------------------------------


def shelf_event_msg(out: ShelfEventOut) -> ShelfEvent:
    """ShelfEventOut -> go_msgs/ShelfEvent (one SkuQuantity per single-SKU hypothesis item).

    A two-SKU hypothesis becomes one SkuQuantity per SKU with the hypothesis' probability.
    """
    ev = out.event
    msg = ShelfEvent()
    msg.header.stamp = _stamp(ev.t_end)
    msg.header.frame_id = STORE_FRAME
    msg.event_id = ev.event_id
    msg.bin_id = ev.bin_id
    msg.bin_ids = list(ev.bin_ids)
    msg.t_start = _stamp(ev.t_start)
    msg.t_end = _stamp(ev.t_end)
    msg.delta_g = float(ev.delta_g)
    msg.delta_sd_g = float(ev.delta_sd_g)
    msg.state = int(ev.state)
    msg.hypotheses = [
        SkuQuantity(sku=sku, quantity=int(q), probability=float(h.probability))
        for h in out.hypotheses
        for sku, q in h.items
    ]
    return msg


def cart_event_msg(e: CartEventRecord) -> CartEvent:
    """CartEventRecord -> go_msgs/CartEvent."""
    msg = CartEvent()
    msg.header.stamp = _stamp(e.stamp)
    msg.header.frame_id = STORE_FRAME
    msg.kind = CartEvent.KIND_PICK if e.kind == KIND_PICK else CartEvent.KIND_RETURN
    msg.event_id = e.event_id
    msg.shelf_event_id = e.shelf_event_id
    msg.bin_id = e.bin_id
    msg.sku = e.sku
    msg.quantity = int(e.quantity)
    msg.session_id = e.session_id
    msg.track_id = e.track_id
    msg.confidence = float(min(max(e.confidence, 0.0), 1.0))
    msg.evidence_ids = list(e.evidence_ids)
    msg.needs_review = bool(e.needs_review)
    msg.misplaced = bool(e.misplaced)
    return msg


def cart_msg(view: CartView) -> Cart:
    """CartView -> go_msgs/Cart."""
    msg = Cart()
    msg.header.stamp = _stamp(view.stamp)
    msg.header.frame_id = STORE_FRAME
    msg.session_id = view.session_id
    msg.track_ids = list(view.track_ids)
    msg.lines = [
        CartLine(
            sku=ln.sku,
            name=ln.name,
            quantity=int(ln.quantity),
            confidence=float(ln.confidence),
            event_ids=list(ln.event_ids),
        )
        for ln in view.lines
    ]
    msg.pending_reviews = int(view.pending_reviews)
    msg.closed = bool(view.closed)
    return msg


def receipt_msg(r: ReceiptRecord) -> Receipt:
    """ReceiptRecord -> go_msgs/Receipt (header stamp = exit time)."""
    msg = Receipt()
    msg.header.stamp = _stamp(r.exit_t)
    msg.header.frame_id = STORE_FRAME
    msg.receipt_id = r.receipt_id
    msg.session_id = r.session_id
    msg.currency = r.currency
    msg.lines = [
        ReceiptLine(
            sku=ln.sku,
            name=ln.name,
            quantity=int(ln.quantity),
            unit_price=float(ln.unit_price),
            line_total=float(ln.line_total),
            confidence=float(ln.confidence),
        )
        for ln in r.lines
    ]
    msg.total = float(r.total)
    msg.confidence = float(r.confidence)
    msg.pending_reviews = int(r.pending_reviews)
    msg.entry_stamp = _stamp(r.entry_t)
    msg.exit_stamp = _stamp(r.exit_t)
    return msg


def _skeleton_msg(
    skeleton_id: str,
    keypoints: np.ndarray | None,
    scores: np.ndarray | None,
    covariance: np.ndarray | None,
    camera_ids: Sequence[str] = (),
    reprojection_error: float = 0.0,
) -> Skeleton3D:
    msg = Skeleton3D()
    msg.skeleton_id = skeleton_id
    if keypoints is None:
        return msg
    kp = np.asarray(keypoints, dtype=float)
    sc = np.zeros(17) if scores is None else np.asarray(scores, dtype=float)
    ok = np.all(np.isfinite(kp), axis=1) & (sc > 0)
    msg.keypoints = [
        Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) if ok[j] else Point()
        for j, p in enumerate(kp)
    ]
    msg.keypoint_scores = [float(s) if ok[j] else 0.0 for j, s in enumerate(sc)]
    cov = np.zeros((17, 3, 3)) if covariance is None else np.asarray(covariance, dtype=float)
    cov = np.where(np.isfinite(cov) & ok[:, None, None], cov, 0.0)
    msg.keypoint_covariance = [float(v) for v in cov.reshape(-1)]
    msg.camera_ids = list(camera_ids)
    err = float(reprojection_error)
    msg.reprojection_error = err if math.isfinite(err) else 0.0
    return msg


def skeletons_msg(t: float, skeletons: Sequence[CoreSkeleton]) -> Skeleton3DArray:
    """3D skeletons of one step -> go_msgs/Skeleton3DArray."""
    msg = Skeleton3DArray()
    msg.header.stamp = _stamp(t)
    msg.header.frame_id = STORE_FRAME
    msg.skeletons = [
        _skeleton_msg(
            s.skeleton_id, s.keypoints, s.scores, s.covariance, s.camera_ids, s.reprojection_error
        )
        for s in skeletons
    ]
    return msg


def tracks_msg(t: float, tracks: Sequence[TrackSnapshot]) -> ShopperTrackArray:
    """Track snapshots of one step -> go_msgs/ShopperTrackArray."""
    msg = ShopperTrackArray()
    msg.header.stamp = _stamp(t)
    msg.header.frame_id = STORE_FRAME
    for tr in tracks:
        m = ShopperTrack()
        m.track_id = tr.track_id
        m.session_id = tr.session_id
        m.state = int(tr.state)
        m.position = Point(x=float(tr.position[0]), y=float(tr.position[1]), z=0.0)
        m.velocity = Vector3(
            x=float(tr.velocity[0]), y=float(tr.velocity[1]), z=float(tr.velocity[2])
        )
        cov = np.nan_to_num(np.asarray(tr.covariance, dtype=float).reshape(-1), nan=0.0)
        m.covariance = [float(v) for v in cov[:36]] + [0.0] * (36 - min(36, cov.size))
        m.skeleton = _skeleton_msg(
            tr.track_id, tr.keypoints, tr.keypoint_scores, tr.keypoint_covariance, tr.camera_ids
        )
        m.last_seen = _stamp(tr.last_seen)
        msg.tracks.append(m)
    return msg


_MARKER_TYPES = {
    CUBE: Marker.CUBE,
    CYLINDER: Marker.CYLINDER,
    LINE_LIST: Marker.LINE_LIST,
    TEXT: Marker.TEXT_VIEW_FACING,
}


def marker_array(specs: Sequence[MarkerSpec], t: float, frame_id: str = STORE_FRAME) -> MarkerArray:
    """MarkerSpecs -> visualization_msgs/MarkerArray in the store frame, stamped t [s]."""
    out = MarkerArray()
    for s in specs:
        m = Marker()
        m.header.stamp = _stamp(t)
        m.header.frame_id = frame_id
        m.ns = s.ns
        m.id = int(s.marker_id)
        m.type = _MARKER_TYPES[s.kind]
        m.action = Marker.ADD
        m.pose.position = Point(x=s.position[0], y=s.position[1], z=s.position[2])
        m.pose.orientation.w = 1.0
        m.scale = Vector3(x=s.scale[0], y=s.scale[1], z=s.scale[2])
        m.color = ColorRGBA(r=s.color[0], g=s.color[1], b=s.color[2], a=s.color[3])
        if s.points is not None:
            m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in s.points]
        m.text = s.text
        sec = int(s.lifetime_s)
        m.lifetime.sec, m.lifetime.nanosec = sec, int((s.lifetime_s - sec) * 1e9)
        out.markers.append(m)
    return out


def diagnostics_msg(
    t: float,
    node_name: str,
    recent: Sequence[Diagnostic],
    counts: Mapping[str, int],
    values: Mapping[str, str],
) -> DiagnosticArray:
    """One DiagnosticStatus for the node: worst recent level, the last messages, the counters."""
    msg = DiagnosticArray()
    msg.header.stamp = _stamp(t)
    status = DiagnosticStatus()
    status.name = f"{node_name}: fusion"
    status.hardware_id = node_name
    level = max((d.level for d in recent), default=0)
    status.level = bytes([min(level, 2)])
    status.message = recent[-1].message if recent else "ok"
    status.values = [KeyValue(key=k, value=str(v)) for k, v in sorted(values.items())]
    status.values += [KeyValue(key=f"count.{k}", value=str(v)) for k, v in sorted(counts.items())]
    status.values += [
        KeyValue(key=f"recent.{i}", value=f"{d.name}: {d.message}")
        for i, d in enumerate(recent[-10:])
    ]
    msg.status = [status]
    return msg

"""Message <-> core conversions, without a ROS graph (no rclpy.init)."""

from __future__ import annotations

import numpy as np
import pytest

from go_common.conversions import seconds_to_stamp
from go_common.core.store import load_store
from go_fusion import conversions as conv
from go_fusion.core.cart import KIND_RETURN, CartEventRecord
from go_fusion.core.checkout import ReceiptLineRecord, ReceiptRecord
from go_fusion.core.markers import LINE_LIST, TEXT, MarkerSpec
from go_fusion.core.pipeline import CartLineView, CartView, Diagnostic, TrackSnapshot
from go_msgs.msg import (
    Bin,
    Catalogue,
    Gate,
    GateEvent,
    LoadCellBoard,
    PersonDetection,
    PersonDetectionArray,
    Product,
    ProductEvidence,
    ProductEvidenceArray,
    SkuScore,
    StoreLayout,
)
from go_msgs.srv import RecordReview


def test_gate_event_and_bad_kind_or_stamp() -> None:
    msg = GateEvent(kind=GateEvent.KIND_ENTRY, gate_id="entry", session_token="tok", group_size=0)
    msg.header.stamp = seconds_to_stamp(12.5)
    obs = conv.gate_from_msg(msg)
    assert (obs.kind, obs.t, obs.session_token, obs.group_size) == ("entry", 12.5, "tok", 1)
    assert obs.position is None
    msg.kind = 7
    with pytest.raises(ValueError, match="kind"):
        conv.gate_from_msg(msg)
    with pytest.raises(ValueError, match="stamp"):
        conv.gate_from_msg(GateEvent(gate_id="entry"))


def test_load_cells_reshape_sample_major_and_check_sizes() -> None:
    msg = LoadCellBoard(board_id="b", channel_ids=["x", "y"], sample_period=0.1, num_samples=2)
    msg.header.stamp = seconds_to_stamp(3.0)
    msg.grams = [1.0, 2.0, 3.0, float("nan")]
    board, channels, t0, period, grams, status = conv.load_cells_from_msg(msg)
    assert (board, channels, t0, period, status) == ("b", ["x", "y"], 3.0, 0.1, [0, 0])
    assert grams[1, 0] == 3.0 and np.isnan(grams[1, 1])
    msg.grams = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="num_samples"):
        conv.load_cells_from_msg(msg)


def test_people_and_evidence() -> None:
    person = PersonDetection(score=0.8)
    person.keypoints = [float(i) for i in range(34)]
    person.keypoint_scores = [1.0] * 16 + [float("nan")]
    msg = PersonDetectionArray(camera_id="cam_a", people=[person])
    msg.header.stamp = seconds_to_stamp(1.0)
    people = conv.people_from_msg(msg)
    assert people.keypoints.shape == (1, 17, 2) and people.keypoints[0, 1, 0] == 2.0
    assert people.keypoint_scores[0, 16] == 0.0 and people.camera_id == "cam_a"
    assert people.appearance is None  # no clothing colour sent
    person.appearance = [0.5, 0.5, float("nan"), 7.0]
    other = PersonDetection(keypoints=[0.0] * 34, keypoint_scores=[0.0] * 17)
    other.appearance = [1.0, 0.0, 0.0, 0.0]
    msg.people = [person, other]
    looks = conv.people_from_msg(msg).appearance
    assert looks is not None and looks.shape == (2, 4)
    assert looks[0, :2].tolist() == [0.5, 0.5] and np.isnan(looks[0, 2:]).all()  # 7: not a share
    other.appearance = [1.0]  # sizes disagree: ignored, not fatal
    assert conv.people_from_msg(msg).appearance is None
    ev = ProductEvidence(evidence_id="e1", camera_id="cam_a", bin_id="b1")
    ev.position.x = float("nan")
    ev.ranked = [SkuScore(sku="milk", score=0.7)]
    arr = ProductEvidenceArray(evidence=[ev])
    arr.header.stamp = seconds_to_stamp(2.0)
    (item,) = conv.evidence_from_msg(arr)
    assert item.position is None and item.scores == {"milk": pytest.approx(0.7)} and item.t == 2.0
    assert item.since is None  # a hand crop compares nothing
    ev.source = ProductEvidence.SOURCE_FACING
    ev.since = seconds_to_stamp(1.25)
    (item,) = conv.evidence_from_msg(arr)
    assert item.source == ProductEvidence.SOURCE_FACING and item.since == pytest.approx(1.25)


def test_store_from_layout_and_catalogue_matches_the_model() -> None:
    model = load_store("small")
    layout = StoreLayout(store_id="small", camera_ids=["cam_front"])
    for b in model.bins.values():
        m = Bin(bin_id=b.bin_id, shelf_id=b.shelf_id, skus=list(model.bin_skus(b.bin_id)))
        m.counts = [e.count for e in model.planogram[b.bin_id]]
        m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in b.center)
        m.size.x, m.size.y, m.size.z = (float(v) for v in b.size)
        layout.bins.append(m)
    gate = Gate(gate_id="exit", kind=Gate.KIND_EXIT)
    gate.max_corner.x = 1.0
    layout.gates.append(gate)
    cat = Catalogue(currency="SEK")
    cat.products = [
        Product(sku=p.sku, name=p.name, price=p.price, unit_weight_g=p.unit_weight_g)
        for p in model.products.values()
    ]
    view = conv.store_view_from_msgs(layout, cat)
    assert set(view.bins) == set(model.bins) and view.currency == "SEK"
    b = view.bins["g1_xp_s1_b1"]
    assert np.allclose(b.center, model.bins["g1_xp_s1_b1"].center)
    assert b.skus == ("Arla-Natural-Yoghurt",) and view.gates["exit"].kind == "exit"
    layout.bins[0].counts = [1, 2, 3]
    with pytest.raises(ValueError, match="counts"):
        conv.store_view_from_msgs(layout, cat)


def test_outputs_carry_ids_stamps_and_units() -> None:
    event = CartEventRecord(
        "e1",
        KIND_RETURN,
        "sh1",
        "b1",
        "milk",
        2,
        "s1",
        "T1",
        1.3,
        7.25,
        ("sh1", "ev1"),
        ("cam_a",),
        False,
        True,
    )
    m = conv.cart_event_msg(event)
    assert m.kind == m.KIND_RETURN and m.misplaced and m.confidence == 1.0
    assert m.header.stamp.sec == 7 and m.header.frame_id == "store"
    line = CartLineView("milk", "Milk", 2, 0.9, ("e1",))
    cart = conv.cart_msg(CartView("s1", ("T1",), (line,), 1, False, 7.0))
    assert cart.lines[0].name == "Milk" and cart.pending_reviews == 1
    rline = ReceiptLineRecord("milk", "Milk", 2, 15.95, 31.9, 0.9)
    receipt = conv.receipt_msg(ReceiptRecord("r-1", "s1", "SEK", (rline,), 31.9, 0.9, 0, 1.0, 9.5))
    assert receipt.lines[0].line_total == pytest.approx(31.9)
    assert receipt.exit_stamp.sec == 9 and receipt.entry_stamp.sec == 1
    kp = np.full((17, 3), np.nan)
    kp[0] = [1.0, 2.0, 1.6]
    snap = TrackSnapshot(
        "T1",
        "s1",
        1,
        np.array([1.0, 2.0, 0.0]),
        np.zeros(3),
        np.eye(6),
        7.0,
        kp,
        np.eye(17)[0],
        None,
        ("cam_a",),
    )
    tracks = conv.tracks_msg(7.0, [snap])
    sk = tracks.tracks[0].skeleton
    assert sk.keypoints[0].z == pytest.approx(1.6) and sk.keypoint_scores[1] == 0.0
    assert len(tracks.tracks[0].covariance) == 36


def test_markers_review_and_diagnostics() -> None:
    specs = [
        MarkerSpec(
            "skeletons",
            0,
            LINE_LIST,
            (0, 0, 0),
            (0.03, 0, 0),
            (1, 0, 0, 1),
            np.zeros((2, 3)),
            lifetime_s=0.4,
        ),
        MarkerSpec("track_ids", 0, TEXT, (1, 2, 2), (0, 0, 0.15), (1, 1, 1, 1), text="T1"),
    ]
    arr = conv.marker_array(specs, 3.0)
    assert [m.type for m in arr.markers] == [
        arr.markers[0].LINE_LIST,
        arr.markers[1].TEXT_VIEW_FACING,
    ]
    assert len(arr.markers[0].points) == 2 and arr.markers[0].lifetime.nanosec == 400_000_000
    assert arr.markers[1].text == "T1" and arr.markers[1].header.frame_id == "store"
    req = RecordReview.Request(event_id="e1", decision=2, session_id="s2", sku="milk", quantity=1)
    decision = conv.review_from_request(req)
    assert (decision.decision, decision.session_id, decision.quantity) == (2, "s2", 1)
    diag = conv.diagnostics_msg(
        1.0, "fusion", [Diagnostic(1, "review", "queued")], {"review": 3}, {"store": "small"}
    )
    (status,) = diag.status
    assert status.level == b"\x01" and status.message == "queued"
    keys = {kv.key: kv.value for kv in status.values}
    assert keys["count.review"] == "3" and keys["store"] == "small"

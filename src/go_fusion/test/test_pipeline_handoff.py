"""Items passed between shoppers of different sessions (hand contacts) and what is not a pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from go_common.core.store import load_store
from go_fusion.core.attribution import SOURCE_HAND, EvidenceItem
from go_fusion.core.checkout import GateObservation
from go_fusion.core.handoff import (
    Contact,
    HandoffConfig,
    HandoffDetector,
    HandSighting,
    direction_from_evidence,
)
from go_fusion.core.journal import Journal
from go_fusion.core.pipeline import (
    TRACK_CONFIRMED,
    FusionConfig,
    FusionOutput,
    FusionPipeline,
    TrackSnapshot,
)
from go_fusion.core.store_view import StoreView, store_view_from_model

B1 = "g1_xp_s1_b1"  # Arla-Natural-Yoghurt, 1040 g
YOG = "Arla-Natural-Yoghurt"
RATE = 30.0


@pytest.fixture(scope="module")
def store() -> StoreView:
    return store_view_from_model(load_store("small"))


def person(
    track: str,
    session: str,
    t: float,
    body_xy: tuple[float, float],
    left: np.ndarray,
    right: np.ndarray,
) -> TrackSnapshot:
    kp = np.full((17, 3), np.nan)
    kp[9], kp[10] = left, right
    scores = np.zeros(17)
    scores[[9, 10]] = 0.9
    cov = np.tile(np.eye(3) * 0.03**2, (17, 1, 1))
    pos = np.array([body_xy[0], body_xy[1], 0.0])
    return TrackSnapshot(
        track,
        session,
        TRACK_CONFIRMED,
        pos,
        np.zeros(3),
        np.eye(6) * 0.01,
        t,
        kp,
        scores,
        cov,
        ("cam_front",),
    )


def hanging(xy: tuple[float, float], side: int) -> np.ndarray:
    return np.array([xy[0], xy[1] + (0.23 if side else -0.23), 0.85])


def test_a_pass_between_two_sessions_moves_the_item(store: StoreView) -> None:
    model = load_store("small")
    channels = model.boards["g1_xp"].channels
    pipe = FusionPipeline(store)
    stock = pipe.live_planogram[B1][YOG]
    pipe.add_gate_event(GateObservation("entry", "entry", 0.5, "ann"))
    pipe.add_gate_event(GateObservation("entry", "entry", 0.6, "bob"))
    a_xy, b_xy = (1.25, 1.1), (2.05, 1.1)  # 0.8 m apart, facing each other
    in_bin = store.bins[B1].center + np.array([0.12, 0.0, 0.0])
    meet = np.array([1.65, 1.1, 1.0])
    rng = np.random.default_rng(0)
    out = FusionOutput()
    inputs: list[tuple[float, int, object]] = []
    for k in range(14 * 15):
        t = k / 15.0
        a_left = in_bin if 4.8 <= t <= 6.0 else hanging(a_xy, 0)
        b_right = hanging(b_xy, 1)
        if 9.0 <= t <= 9.6:  # both arms held out to the same point
            a_left, b_right = meet, meet + np.array([0.02, 0.0, 0.0])
        tracks = [
            person("TA", "ann", t, a_xy, a_left, hanging(a_xy, 1)),
            person("TB", "bob", t, b_xy, hanging(b_xy, 0), b_right),
        ]
        inputs.append((t, 1, tracks))
    for k in range(0, int(14 * RATE), 3):
        ts = (k + np.arange(3)) / RATE
        g = 3000.0 + rng.normal(0.0, 0.5, (3, len(channels)))
        g[:, channels.index(B1)] -= 1040.0 * np.clip((ts - 5.0) / 0.3, 0.0, 1.0)
        inputs.append((float(ts[0]), 0, g))
    for t, kind, payload in sorted(inputs, key=lambda x: (x[0], x[1])):
        if kind == 0:
            out.extend(pipe.add_load_cells("g1_xp", channels, t, 1 / RATE, payload))
        else:
            out.extend(pipe.add_tracks(t, payload))  # type: ignore[arg-type]
    moves = [(e.kind, e.session_id, e.sku, e.bin_id) for e in out.cart_events]
    assert moves == [("pick", "ann", YOG, B1), ("return", "ann", YOG, ""), ("pick", "bob", YOG, "")]
    assert pipe.cart_view("ann").lines == ()
    assert [(ln.sku, ln.quantity) for ln in pipe.cart_view("bob").lines] == [(YOG, 1)]
    assert pipe.live_planogram[B1][YOG] == stock - 1  # the pass itself touched no shelf


def detector() -> HandoffDetector:
    return HandoffDetector(
        HandoffConfig(), [(np.array([0.4, 0.8, 0.35]), np.array([0.8, 1.4, 0.65]))]
    )


def test_contacts_need_time_held_out_arms_other_sessions_and_no_shelf() -> None:
    det = detector()
    bodies = {"A": np.array([1.25, 2.0]), "B": np.array([2.05, 2.0])}
    meet = np.array([1.65, 2.0, 1.0])
    sessions = {"A": "s1", "B": "s2"}
    found = []
    for k in range(10):
        wrists = {"A": [(0, meet)], "B": [(1, meet + 0.01)]}
        found += det.update(k / 15.0, wrists, sessions, bodies)
    assert [(c.track_a, c.side_a, c.track_b, c.side_b) for c in found] == [("A", 0, "B", 1)]
    # the same session (a family passing an item) needs no change
    same = detector()
    assert not any(
        same.update(k / 15, {"A": [(0, meet)], "B": [(1, meet)]}, {"A": "s", "B": "s"}, bodies)
        for k in range(10)
    )
    # hands hanging side by side (people standing next to each other)
    side = detector()
    close = {"A": np.array([1.2, 1.0]), "B": np.array([1.2, 1.6])}
    hands = {"A": [(1, np.array([1.2, 1.23, 0.85]))], "B": [(0, np.array([1.2, 1.37, 0.85]))]}
    assert not any(side.update(k / 15, hands, sessions, close) for k in range(10))
    # two hands meeting inside a bin are two reaches, not a pass
    shelf = detector()
    in_bin = np.array([0.75, 1.1, 0.5])
    far = {"A": np.array([1.25, 0.7]), "B": np.array([1.25, 1.5])}
    hands = {"A": [(0, in_bin)], "B": [(1, in_bin)]}
    assert not any(shelf.update(k / 15, hands, sessions, far) for k in range(10))


# ---- direction from product crops (left/right labels that cannot tell) -------------------------


def sightings(
    track: str, t0: float, t1: float, sku: str, score: float, rate: float = 10.0
) -> list[HandSighting]:
    first, n = round(t0 * rate), round((t1 - t0) * rate)
    return [HandSighting((first + k) / rate, track, {sku: score}) for k in range(n)]


def contact_at(t: float) -> Contact:
    return Contact(t, "A", 0, "B", 1, np.array([1.6, 2.0, 1.0]))


def test_direction_from_evidence_follows_the_item_from_one_hand_to_the_other() -> None:
    cfg = HandoffConfig()
    c = contact_at(10.0)  # began 9.7; windows [7.2, 9.2] and [10.5, 12.5]
    held = {"A": ["Bravo"], "B": ["Oatly"]}
    crops = (
        sightings("A", 7.2, 9.2, "Bravo", 0.5)
        + sightings("A", 10.5, 12.5, "Bravo", 0.02)
        + sightings("B", 7.2, 12.5, "Oatly", 0.4)  # B keeps its own item throughout
        + sightings("B", 10.5, 12.5, "Bravo", 0.2)
    )
    found = direction_from_evidence(c, held, crops, cfg)
    assert found is not None
    assert (found.giver, found.taker, found.sku) == ("A", "B", "Bravo")
    # A's crops lose 0.48 of Bravo; after the pass, B's best crop of each frame shows it at 0.2
    # (its other hand its Oatly)
    assert found.gain == pytest.approx(0.48 + 0.2)
    # the contact's track order does not matter
    swapped = Contact(10.0, "B", 1, "A", 0, c.position)
    again = direction_from_evidence(swapped, held, crops, cfg)
    assert again is not None and (again.giver, again.sku) == ("A", "Bravo")


def test_direction_from_evidence_abstains_without_a_clear_change() -> None:
    cfg = HandoffConfig()
    c = contact_at(10.0)
    held = {"A": ["Bravo"], "B": ["Oatly"]}
    # nobody's hands change: no pass
    steady = sightings("A", 7.2, 12.5, "Bravo", 0.5) + sightings("B", 7.2, 12.5, "Oatly", 0.5)
    assert direction_from_evidence(c, held, steady, cfg) is None
    # both items seem to leave their hands: which one went is not clear (margin)
    both = (
        sightings("A", 7.2, 9.2, "Bravo", 0.5)
        + sightings("A", 10.5, 12.5, "Bravo", 0.0)
        + sightings("B", 7.2, 9.2, "Oatly", 0.5)
        + sightings("B", 10.5, 12.5, "Oatly", 0.0)
    )
    assert direction_from_evidence(c, held, both, cfg) is None
    # too few crops of the giver's hands
    few = sightings("A", 8.9, 9.2, "Bravo", 0.9) + sightings("A", 10.5, 10.7, "Bravo", 0.0)
    assert direction_from_evidence(c, held, few, cfg) is None
    # crops inside the guard around the contact (hands together show both items) are not read:
    # read, these would make a pass of them (checked with the guard shrunk to nothing)
    touching = (
        sightings("A", 7.2, 9.2, "Bravo", 0.1)
        + sightings("A", 9.2, 9.7, "Bravo", 0.9)
        + sightings("A", 9.7, 12.5, "Bravo", 0.1)
        + sightings("B", 7.2, 10.0, "Bravo", 0.1)
        + sightings("B", 10.0, 10.5, "Bravo", 0.9)
        + sightings("B", 10.5, 12.5, "Bravo", 0.1)
    )
    assert direction_from_evidence(c, held, touching, cfg) is None
    no_guard = HandoffConfig(evidence_guard_s=0.0)
    read = direction_from_evidence(c, held, touching, no_guard)
    assert read is not None and (read.giver, read.sku) == ("A", "Bravo")
    assert read.gain > 2 * cfg.min_evidence_gain
    # the item leaves the giver's hands but never shows in the taker's (into a bag): no pass
    bag = (
        sightings("A", 7.2, 9.2, "Bravo", 0.5)
        + sightings("A", 10.5, 12.5, "Bravo", 0.0)
        + sightings("B", 7.2, 12.5, "Oatly", 0.4)
    )
    assert direction_from_evidence(c, held, bag, cfg) is None


def run_mislabelled_pass(
    store: StoreView,
    with_crops: bool,
    exit_ann_at: float | None = None,
    gap_m: float = 0.02,
    left_hand: bool = False,
    approach: bool = False,
    restart_at: float | None = None,
    journal: Path | None = None,
    config: FusionConfig | None = None,
) -> tuple[FusionPipeline, FusionOutput]:
    """Ann takes a yoghurt with her left hand and passes it with the hand labelled right (2D
    pose swapped her sides): the labels say her touching hand holds nothing. ``gap_m``: how far
    apart the two wrists measure while touching; ``left_hand``: she passes with the hand
    labelled left instead (the labels can tell); ``approach``: the hands are 0.3 m apart for
    the 0.6 s before they touch; ``restart_at``: the pipeline is killed then and a new one
    continues on the same ``journal``."""
    model = load_store("small")
    channels = model.boards["g1_xp"].channels
    pipe = FusionPipeline(store, config, journal=Journal(journal))
    pipe.add_gate_event(GateObservation("entry", "entry", 0.5, "ann"))
    pipe.add_gate_event(GateObservation("entry", "entry", 0.6, "bob"))
    a_xy, b_xy = (1.25, 1.1), (2.05, 1.1)
    in_bin = store.bins[B1].center + np.array([0.12, 0.0, 0.0])
    meet = np.array([1.65, 1.1, 1.0])
    rng = np.random.default_rng(0)
    out = FusionOutput()
    inputs: list[tuple[float, int, object]] = []
    end = 16.0
    for k in range(int(end * 15)):
        t = k / 15.0
        a_left = in_bin if 4.8 <= t <= 6.0 else hanging(a_xy, 0)
        a_right, b_right = hanging(a_xy, 1), hanging(b_xy, 1)
        a_pass = a_right
        if 9.0 <= t <= 9.6:
            half = np.array([gap_m / 2.0, 0.0, 0.0])
            a_pass, b_right = meet - half, meet + half
        elif approach and 8.4 <= t < 9.0:
            a_pass, b_right = meet - np.array([0.15, 0.0, 0.0]), meet + np.array([0.15, 0.0, 0.0])
        if left_hand:
            a_left = a_pass if a_pass is not a_right else a_left
        else:
            a_right = a_pass
        tracks = [
            person("TA", "ann", t, a_xy, a_left, a_right),
            person("TB", "bob", t, b_xy, hanging(b_xy, 0), b_right),
        ]
        inputs.append((t, 1, tracks))
        if with_crops and (6.5 <= t <= 8.6 or 9.9 <= t <= 12.0):
            shown = {"TA": 0.6, "TB": 0.02} if t < 9.0 else {"TA": 0.02, "TB": 0.5}
            crops = [
                EvidenceItem(f"c/{k}/{tr}", "cam_front", t, SOURCE_HAND, {YOG: v}, track_id=tr)
                for tr, v in shown.items()
            ]
            inputs.append((t, 2, crops))
    for k in range(0, int(end * RATE), 3):
        ts = (k + np.arange(3)) / RATE
        g = 3000.0 + rng.normal(0.0, 0.5, (3, len(channels)))
        g[:, channels.index(B1)] -= 1040.0 * np.clip((ts - 5.0) / 0.3, 0.0, 1.0)
        inputs.append((float(ts[0]), 0, g))
    if exit_ann_at is not None:
        inputs.append((exit_ann_at, 3, GateObservation("exit", "exit", exit_ann_at, "ann")))
    for t, kind, payload in sorted(inputs, key=lambda x: (x[0], x[1])):
        if restart_at is not None and t >= restart_at:
            pipe.close()
            pipe = FusionPipeline(store, config, journal=Journal(journal))
            restart_at = None
        if kind == 0:
            out.extend(pipe.add_load_cells("g1_xp", channels, t, 1 / RATE, payload))
        elif kind == 1:
            out.extend(pipe.add_tracks(t, payload))  # type: ignore[arg-type]
        elif kind == 2:
            out.extend(pipe.add_product_evidence(payload))  # type: ignore[arg-type]
        else:
            out.extend(pipe.add_gate_event(payload))  # type: ignore[arg-type]
    return pipe, out


def test_product_crops_decide_a_pass_the_hand_labels_cannot(store: StoreView) -> None:
    pipe, out = run_mislabelled_pass(store, with_crops=True)
    moves = [(e.kind, e.session_id, e.sku, e.bin_id) for e in out.cart_events]
    assert moves == [("pick", "ann", YOG, B1), ("return", "ann", YOG, ""), ("pick", "bob", YOG, "")]
    passed = [e for e in out.cart_events if not e.bin_id]
    assert all(e.confidence == pipe.config.handoff_evidence_confidence for e in passed)
    assert pipe.cart_view("ann").lines == ()
    assert [(ln.sku, ln.quantity) for ln in pipe.cart_view("bob").lines] == [(YOG, 1)]


def test_without_crops_the_item_stays_with_the_one_who_took_it(store: StoreView) -> None:
    pipe, out = run_mislabelled_pass(store, with_crops=False)
    assert [(e.kind, e.session_id) for e in out.cart_events] == [("pick", "ann")]
    assert [(ln.sku, ln.quantity) for ln in pipe.cart_view("ann").lines] == [(YOG, 1)]
    assert any("items stay where they are" in d.message for d in out.diagnostics)


def test_an_exit_before_the_crops_are_in_decides_with_what_was_seen(store: StoreView) -> None:
    # Ann leaves 1 s after the pass: the decision cannot wait for the whole after-window
    pipe, out = run_mislabelled_pass(store, with_crops=True, exit_ann_at=10.6)
    receipts = [r for r in out.receipts if r.session_id == "ann"]
    assert len(receipts) == 1
    moves = [(e.kind, e.session_id) for e in out.cart_events]
    assert moves.count(("pick", "ann")) == 1
    # the crops of the second after the pass are enough: decided before ann's receipt
    assert receipts[0].lines == ()
    assert [(ln.sku, ln.quantity) for ln in pipe.cart_view("bob").lines] == [(YOG, 1)]
    assert not pipe._pending_contacts


def test_a_contact_waiting_for_its_crops_survives_a_restart(
    store: StoreView, tmp_path: Path
) -> None:
    # The hands touch at 9.0-9.6 s; the fusion node is killed at 10.5 s, while the contact
    # waits for the crops after it (until 12 s). The contact, the crops before it and those
    # after it up to the last checkpoint (10 s) come back from the checkpoint.
    path = tmp_path / "journal.jsonl"
    pipe, out = run_mislabelled_pass(store, with_crops=True, restart_at=10.5, journal=path)
    moves = [(e.kind, e.session_id, e.sku, e.bin_id) for e in out.cart_events]
    assert moves[-2:] == [("return", "ann", YOG, ""), ("pick", "bob", YOG, "")]
    assert pipe.cart_view("ann").lines == ()
    assert [(ln.sku, ln.quantity) for ln in pipe.cart_view("bob").lines] == [(YOG, 1)]


def test_a_contact_decided_after_the_checkpoint_is_not_decided_again(
    store: StoreView, tmp_path: Path
) -> None:
    # Checkpoints every 4.7 s: the one at 9.4 s holds the contact (reported at 9.33 s) still
    # waiting; it is decided (journalled) before the kill at 14 s. The restored contact must not
    # be decided again.
    path = tmp_path / "journal.jsonl"
    config = FusionConfig(tracker_checkpoint_s=4.7)
    _, out = run_mislabelled_pass(
        store, with_crops=True, restart_at=14.0, journal=path, config=config
    )
    moves = [(e.kind, e.session_id, e.sku, e.bin_id) for e in out.cart_events]
    assert moves == [("pick", "ann", YOG, B1), ("return", "ann", YOG, ""), ("pick", "bob", YOG, "")]
    # decided once: a second decision (here "no clear change", as bob now holds the item) could
    # also have come out the other way and passed it back
    about = [d.message for d in out.diagnostics if d.message.startswith("contact of TA and TB")]
    assert len(about) == 1 and "direction from the product crops after it" in about[0]


def test_a_contact_seen_only_loosely_is_decided_by_the_crops(store: StoreView) -> None:
    # the wrists measure 0.25 m apart while the hands touch: too far for the strict detector
    _, out = run_mislabelled_pass(store, with_crops=True, gap_m=0.25)
    moves = [(e.kind, e.session_id, e.sku, e.bin_id) for e in out.cart_events]
    assert moves == [("pick", "ann", YOG, B1), ("return", "ann", YOG, ""), ("pick", "bob", YOG, "")]
    assert any("loose contact" in d.message for d in out.diagnostics)
    # without crops a loose contact passes nothing, whatever the labels say
    _, out = run_mislabelled_pass(store, with_crops=False, gap_m=0.25, left_hand=True)
    assert [(e.kind, e.session_id) for e in out.cart_events] == [("pick", "ann")]


def test_the_strict_contact_takes_over_from_the_loose_one_it_follows(store: StoreView) -> None:
    # hands 0.3 m apart first (the loose detector reports at 8.9 s), then touching (the strict
    # one at 9.3 s): the hand labels decide, with their confidence, and the item moves once
    pipe, out = run_mislabelled_pass(store, with_crops=False, left_hand=True, approach=True)
    moves = [(e.kind, e.session_id, e.sku, e.bin_id) for e in out.cart_events]
    assert moves == [("pick", "ann", YOG, B1), ("return", "ann", YOG, ""), ("pick", "bob", YOG, "")]
    passed = [e for e in out.cart_events if not e.bin_id]
    assert all(e.confidence == pipe.config.handoff_confidence for e in passed)
    assert any("loose contact" in d.message for d in out.diagnostics)  # it came first
    assert not pipe._pending_contacts

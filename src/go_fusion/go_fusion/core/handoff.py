"""Hand-to-hand contacts between shoppers of different sessions: candidate item handoffs.

A handoff shows in the 3D skeletons as a wrist of one shopper and a wrist of another held
together, at waist to chest height, away from the shelves, for a moment (people walking past each
other do not hold hands together for a third of a second). The detector reports each such contact
once; which way the item went, and which item, is decided by the pipeline from what each hand
holds (the hand that took an item from a shelf holds it until it puts it back or passes it on).
When the hands' left/right labels cannot tell (both touching hands hold items by their labels, or
neither does: 2D pose often swaps left and right), ``direction_from_evidence`` decides from the
product crops placed on each shopper's hands: the giver's hands show the item before the contact
and not after it, the taker's the other way round. Pure numpy; time is the stamps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HandoffConfig:
    """Contact thresholds (metres, seconds)."""

    contact_m: float = 0.15  # two wrists this close are touching
    min_contact_s: float = 0.3  # ... for at least this long
    min_height_m: float = 0.6  # hands passing an item are between these heights
    max_height_m: float = 1.7
    shelf_clearance_m: float = 0.3  # contacts this close to a bin are reaches, not passes
    min_reach_m: float = 0.32  # each wrist this far from its own body (arms held out, not hanging)
    release_s: float = 0.5  # a contact ends after this long apart
    # Direction from product evidence (``direction_from_evidence``). Windows: before the contact
    # began and after it was reported, each ``evidence_guard_s`` away from it (hands touching
    # show both people's items).
    evidence_before_s: float = 2.0
    evidence_after_s: float = 2.0
    evidence_guard_s: float = 0.5
    min_evidence_items: int = 3  # frames with crops of each hand pair needed per window
    min_evidence_gain: float = 0.15  # mean-score drop at the giver + rise at the taker
    min_evidence_rise: float = 0.03  # the taker's rise must reach this (the giver's drop: 0)
    min_evidence_margin: float = 0.05  # over the best other (giver, SKU)


@dataclass(frozen=True)
class Contact:
    """Wrist ``side_a`` of ``track_a`` held against wrist ``side_b`` of ``track_b``, reported at
    t [s] (held since ``t_start``).

    sides: 0 left, 1 right. position: (3,) [m] store frame, the middle of the two wrists.
    """

    t: float
    track_a: str
    side_a: int
    track_b: str
    side_b: int
    position: np.ndarray
    t_start: float | None = None  # [s] when the hands first came together (None: unknown)

    @property
    def pair(self) -> tuple[str, str]:
        """The two tracks, sorted: the same for a contact seen with the tracks swapped."""
        return track_pair(self.track_a, self.track_b)


def track_pair(a: str, b: str) -> tuple[str, str]:
    """Two track ids in sorted order (the key of a pair of shoppers)."""
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class HandSighting:
    """A product crop placed on a hand of ``track_id`` at t [s]: SKU -> score in [0, 1]."""

    t: float
    track_id: str
    scores: Mapping[str, float]


@dataclass(frozen=True)
class EvidenceDirection:
    """``giver`` passed one ``sku`` to ``taker``: ``gain`` of this answer, ``runner_up`` the best
    other answer's (both mean-score changes, see ``direction_from_evidence``)."""

    giver: str
    taker: str
    sku: str
    gain: float
    runner_up: float


def evidence_windows(contact: Contact, config: HandoffConfig) -> tuple[float, float, float, float]:
    """(before t0, before t1, after t0, after t1) [s] of ``direction_from_evidence``.

    The contact began at ``contact.t_start`` (when unknown: ``min_contact_s`` before it was
    reported at ``contact.t``).
    """
    began = contact.t_start if contact.t_start is not None else contact.t - config.min_contact_s
    before_end = began - config.evidence_guard_s
    after_start = contact.t + config.evidence_guard_s
    return (
        before_end - config.evidence_before_s,
        before_end,
        after_start,
        after_start + config.evidence_after_s,
    )


def direction_from_evidence(
    contact: Contact,
    held: Mapping[str, Sequence[str]],
    sightings: Sequence[HandSighting],
    config: HandoffConfig,
) -> EvidenceDirection | None:
    """Which of the two shoppers passed which held SKU, from product crops on their hands.

    held: track -> SKUs its hands hold (either hand). For a giver X of SKU s and the other track
    Y: gain = (X's score of s before - after) + (Y's after - before), where a window's score is
    the mean over frames of the best crop of that frame (either hand, any camera). X needs
    crops in ``min_evidence_items`` frames of each window and Y in as many after the contact (a
    window before it without crops counts 0 for Y); Y's rise must reach ``min_evidence_rise``
    (an item that only leaves the giver's hands went into a bag, not to the other shopper) and
    X's drop must not be negative (the giver's hand may have been hidden before: a drop of 0 is
    allowed). The best (X, s) is returned when its gain reaches
    ``min_evidence_gain`` and beats every other (X, s) by ``min_evidence_margin``; otherwise None
    (the item stays where it is).
    """
    b0, b1, a0, a1 = evidence_windows(contact, config)
    pair = (contact.track_a, contact.track_b)

    def window(track: str, t0: float, t1: float) -> dict[float, list[Mapping[str, float]]]:
        stamps: dict[float, list[Mapping[str, float]]] = {}
        for s in sightings:
            if s.track_id == track and t0 <= s.t <= t1:
                stamps.setdefault(s.t, []).append(s.scores)
        return stamps

    def mean(stamps: dict[float, list[Mapping[str, float]]], sku: str) -> float:
        if not stamps:
            return 0.0
        best = [max(float(r.get(sku, 0.0)) for r in rows) for rows in stamps.values()]
        return sum(best) / len(best)

    views = {tr: (window(tr, b0, b1), window(tr, a0, a1)) for tr in pair}
    answers: list[tuple[float, str, str, str]] = []
    enough = config.min_evidence_items
    for giver, taker in (pair, pair[::-1]):
        before, after = views[giver]
        t_before, t_after = views[taker]
        if len(before) < enough or len(after) < enough or len(t_after) < enough:
            continue
        for sku in sorted(set(held.get(giver, ()))):
            drop = mean(before, sku) - mean(after, sku)
            rise = mean(t_after, sku) - mean(t_before, sku)
            if drop < 0.0 or rise < config.min_evidence_rise:
                answers.append((-math.inf, giver, taker, sku))  # no pass this way
                continue
            answers.append((drop + rise, giver, taker, sku))
    if not answers:
        return None
    answers.sort(key=lambda a: -a[0])
    gain, giver, taker, sku = answers[0]
    runner_up = max(answers[1][0], 0.0) if len(answers) > 1 else 0.0
    if gain < config.min_evidence_gain or gain - runner_up < config.min_evidence_margin:
        return None
    return EvidenceDirection(giver, taker, sku, gain, runner_up)


@dataclass(frozen=True)
class WristTable:
    """The wrists of one step that may touch: tracks with a session and a body position.

    keys: (track, side) per wrist; positions (N, 3) [m]; reach (N,) [m], each wrist's horizontal
    distance from its own body (arms held out, not hanging).
    """

    keys: tuple[tuple[str, int], ...]
    positions: np.ndarray
    reach: np.ndarray

    @staticmethod
    def build(
        wrists: Mapping[str, Sequence[tuple[int, np.ndarray]]],
        sessions: Mapping[str, str],
        bodies: Mapping[str, np.ndarray],
    ) -> WristTable:
        entries = [
            (track, side, p)
            for track in sorted(wrists)
            if sessions.get(track) and bodies.get(track) is not None
            for side, p in wrists[track]
        ]
        if len(entries) < 2:  # nothing can touch
            return WristTable((), np.zeros((0, 3)), np.zeros(0))
        every = np.array([e[2] for e in entries], dtype=float).reshape(-1, 3)
        body = np.array([bodies[e[0]] for e in entries], dtype=float).reshape(len(entries), -1)
        reach = np.linalg.norm(every[:, :2] - body[:, :2], axis=1)
        return WristTable(tuple((e[0], e[1]) for e in entries), every, reach)


class HandoffDetector:
    """Finds sustained wrist contacts between tracks of different sessions."""

    def __init__(self, config: HandoffConfig, shelf_boxes: Sequence[tuple[np.ndarray, np.ndarray]]):
        self.config = config
        lo = [np.asarray(b[0], dtype=float) for b in shelf_boxes]
        hi = [np.asarray(b[1], dtype=float) for b in shelf_boxes]
        self._lo = np.array(lo).reshape(-1, 3)
        self._hi = np.array(hi).reshape(-1, 3)
        # (track a, side a, track b, side b) -> [first contact t, last contact t, reported]
        self._open: dict[tuple[str, int, str, int], list[float | bool]] = {}

    def open_pairs(self) -> set[tuple[str, str]]:
        """Track pairs (sorted) whose hands are together, or were less than ``release_s`` ago."""
        return {track_pair(k[0], k[2]) for k in self._open}

    def _near_shelf(self, p: np.ndarray) -> bool:
        if len(self._lo) == 0:
            return False
        gap = np.maximum(0.0, np.maximum(self._lo - p, p - self._hi))
        return bool(np.min(np.linalg.norm(gap, axis=1)) < self.config.shelf_clearance_m)

    def update(
        self,
        t: float,
        wrists: Mapping[str, Sequence[tuple[int, np.ndarray]]],
        sessions: Mapping[str, str],
        bodies: Mapping[str, np.ndarray],
        table: WristTable | None = None,
    ) -> list[Contact]:
        """Wrists seen at t [s] (track -> [(side, position (3,))]); returns new contacts.

        sessions: track -> session id; tracks without one, or of the same session, are skipped.
        bodies: track -> (2,) [m] floor position; two people standing side by side have their
        hanging hands close together, a pass has both arms held out. table: the same inputs
        as a :class:`WristTable` already built (detectors with other thresholds share one).
        """
        cfg = self.config
        out: list[Contact] = []
        seen: set[tuple[str, int, str, int]] = set()
        if table is None:
            table = WristTable.build(wrists, sessions, bodies)
        rows = [
            (track, side, table.positions[k])
            for k, (track, side) in enumerate(table.keys)
            if table.reach[k] >= cfg.min_reach_m
        ]
        if len(rows) >= 2:
            pos = np.stack([r[2] for r in rows])  # (N, 3), all held-out wrists at once
            close = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=2) <= cfg.contact_m
            for i, j in zip(*np.nonzero(np.triu(close, k=1)), strict=True):
                (a, side_a, pa), (b, side_b, pb) = rows[i], rows[j]
                if a == b or sessions[a] == sessions[b]:
                    continue
                mid = 0.5 * (pa + pb)
                if not cfg.min_height_m <= mid[2] <= cfg.max_height_m or self._near_shelf(mid):
                    continue
                key = (a, side_a, b, side_b)
                seen.add(key)
                state = self._open.setdefault(key, [t, t, False])
                state[1] = t
                if not state[2] and t - float(state[0]) >= cfg.min_contact_s:
                    state[2] = True
                    out.append(Contact(t, a, side_a, b, side_b, mid, float(state[0])))
        for key in [k for k, v in self._open.items() if k not in seen]:
            if t - float(self._open[key][1]) > cfg.release_s:
                del self._open[key]
        return out

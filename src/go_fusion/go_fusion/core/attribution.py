"""Attribution of shelf events to shoppers and products, by probability.

For one settled weight change on a bin, every candidate track (a shopper with a session) is scored
by how well its wrists explain the event, and every (SKU, quantity) hypothesis by how well the
weight change, the vision evidence and, for returns, the shopper's cart explain it:

- Presence: the probability that a wrist is inside the bin's reach volume (the bin box grown by a
  hand margin), from the wrist's Gaussian position estimate. With an axis-aligned box and the
  covariance's diagonal this is a product over x, y, z of normal CDF differences: a Gaussian on the
  distance to the box. A wide covariance (an occluded, coasting wrist) spreads the mass outside the
  box, so it lowers the presence and therefore the confidence, as it should.
- Order of movements: the hand must be in the bin when the weight starts to change (``t_start``)
  and still there, or just leaving, when it settles (``t_end``); dwell is the mean presence over
  the change. The track likelihood is the geometric mean of the three. Both wrists of a track count,
  whichever side the pose estimator called them, so crossed arms and left/right flips are handled.
- P(shopper k) = L_k / (sum_j L_j + L_null): a null hypothesis (nobody we see) keeps the posterior
  honest when no hand is near. An open session with no wrist observation in the window (no track,
  tracking lost) is a "blind" candidate with a small constant likelihood, so a lone shopper without
  camera coverage still gets the event while two blind sessions give a review.
- P(sku, qty | k): picks use the shelf detector's weight hypotheses; returns use the shopper's cart
  as the prior (a return is of something the shopper holds), each SKU scored by the Gaussian
  likelihood of the weight change. Vision evidence near the bin within the window multiplies in
  (floor + score), which separates equal-weight look-alikes.
- Joint confidence = P(shopper) * P(sku, qty | shopper). Below ``review_threshold`` (or when the
  weight did not settle) the event goes to the review queue instead of a guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.special import ndtr

from go_fusion.core.cart import KIND_PICK, KIND_RETURN, CartEventRecord
from go_fusion.core.hypotheses import Candidate, HypothesisConfig, rank_hypotheses
from go_fusion.core.store_view import BinSpec, ProductSpec

SOURCE_HAND = 0
SOURCE_FACING = 1
SOURCE_BARCODE = 2


@dataclass(frozen=True)
class AttributionConfig:
    """Parameters of attribution (defaults in go_fusion/config/fusion.yaml).

    Distances in metres, times in seconds (sensor time), probabilities in [0, 1].
    """

    hand_margin_m: float = 0.06  # reach volume = bin box grown by this on every side
    hand_sd_m: float = 0.03  # spread of the hand around the wrist keypoint
    edge_window_s: float = 0.4  # half width of the windows around t_start and t_end
    max_gap_s: float = 0.6  # nearest wrist sample used when a window has none
    gap_sd_rate_m_s: float = 0.8  # position uncertainty added per second of gap
    null_likelihood: float = 1e-4  # likelihood that nobody we track caused the event
    blind_likelihood: float = 2e-3  # likelihood of an open session with no wrist observed
    vision_floor: float = 0.1  # added to every vision score, so one view never vetoes
    evidence_radius_m: float = 0.6  # evidence this close to the bin counts
    not_in_cart_prior: float = 0.02  # prior of returning a SKU the shopper's cart lacks
    review_threshold: float = 0.6  # joint confidence below this goes to review


@dataclass(frozen=True)
class WristSample:
    """One 3D wrist estimate of a track, either side.

    t: [s] sensor time. position: (3,) [m] store frame. covariance: (3, 3) [m^2].
    """

    t: float
    position: np.ndarray
    covariance: np.ndarray
    camera_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandidateTrack:
    """A shopper that may have caused the event: its wrist samples around the event window."""

    track_id: str
    session_id: str
    wrists: tuple[WristSample, ...] = ()


@dataclass(frozen=True)
class WeightHypothesis:
    """An explanation of a weight change: ``items`` = ((sku, quantity), ...).

    quantity > 0: units taken from the shelf; < 0: units put back. probability in [0, 1].
    """

    items: tuple[tuple[str, int], ...]
    probability: float


@dataclass(frozen=True)
class ShelfObservation:
    """A shelf event as attribution sees it. Times [s] sensor time, weights [g].

    delta_g < 0: items removed (pick); > 0: items put back (return).
    """

    event_id: str
    bin_id: str
    bin_ids: tuple[str, ...]
    t_start: float
    t_end: float
    delta_g: float
    delta_sd_g: float
    hypotheses: tuple[WeightHypothesis, ...] = ()
    settled: bool = True


@dataclass(frozen=True)
class EvidenceItem:
    """Vision evidence of a product. position: (3,) [m] store frame or None when unknown."""

    evidence_id: str
    camera_id: str
    t: float
    source: int
    scores: Mapping[str, float]
    position: np.ndarray | None = None
    bin_id: str = ""


@dataclass(frozen=True)
class ShopperScore:
    """Posterior of one candidate shopper, with its terms for inspection."""

    track_id: str
    session_id: str
    probability: float
    likelihood: float
    at_start: float
    at_end: float
    dwell: float
    camera_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attribution:
    """The decision for one shelf event.

    events: one cart event per (sku, quantity) of the chosen hypothesis; empty when the event
    explains nothing (no candidate, no hypothesis). confidence = P(shopper) * P(items | shopper).
    """

    shelf_event_id: str
    kind: str
    events: tuple[CartEventRecord, ...]
    confidence: float
    p_shopper: float
    p_items: float
    needs_review: bool
    shoppers: tuple[ShopperScore, ...] = ()
    reason: str = ""
    evidence_ids: tuple[str, ...] = field(default=())


def presence_probability(
    position: np.ndarray,
    covariance: np.ndarray,
    box_min: np.ndarray,
    box_max: np.ndarray,
    extra_sd: float,
) -> float:
    """P(point inside the axis-aligned box) for a Gaussian point estimate.

    position: (3,) [m]. covariance: (3, 3) [m^2] (its diagonal is used: the box is axis aligned,
    and ignoring the correlations slightly over-states the spread, the safe side). box_min,
    box_max: (3,) [m]. extra_sd: [m] added in quadrature (the hand beyond the wrist).
    """
    var = np.clip(np.diag(np.asarray(covariance, dtype=float)), 0.0, None) + extra_sd**2
    sd = np.sqrt(np.maximum(var, 1e-12))
    p = ndtr((box_max - position) / sd) - ndtr((box_min - position) / sd)
    return float(np.prod(np.clip(p, 0.0, 1.0)))


class Attributor:
    """Scores shoppers and products for shelf events (pure; time is in the inputs)."""

    def __init__(
        self,
        config: AttributionConfig,
        bins: Mapping[str, BinSpec],
        products: Mapping[str, ProductSpec],
        hypothesis_config: HypothesisConfig | None = None,
    ) -> None:
        self.config = config
        self.bins = bins
        self.products = products
        self.hypothesis_config = hypothesis_config or HypothesisConfig()

    # ---- shoppers -------------------------------------------------------------------------

    def _reach_box(self, bin_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Union box of the event's bins grown by the hand margin: (3,), (3,) [m]."""
        mins = np.min([self.bins[b].min_corner for b in bin_ids], axis=0)
        maxs = np.max([self.bins[b].max_corner for b in bin_ids], axis=0)
        m = self.config.hand_margin_m
        return mins - m, maxs + m

    def _presence_in(
        self,
        wrists: Sequence[WristSample],
        t0: float,
        t1: float,
        box: tuple[np.ndarray, np.ndarray],
        reduce: str,
    ) -> float | None:
        """Presence of any wrist in the box over [t0, t1] (``max`` or time ``mean``).

        A window with no sample borrows the nearest sample within ``max_gap_s``, its covariance
        grown by the gap; None when there is none (nothing observed).
        """
        cfg = self.config
        inside = [w for w in wrists if t0 <= w.t <= t1]
        if not inside:
            near = [w for w in wrists if min(abs(w.t - t0), abs(w.t - t1)) <= cfg.max_gap_s]
            if not near:
                return None
            w = min(near, key=lambda s: min(abs(s.t - t0), abs(s.t - t1)))
            gap = min(abs(w.t - t0), abs(w.t - t1))
            cov = np.asarray(w.covariance) + np.eye(3) * (cfg.gap_sd_rate_m_s * gap) ** 2
            return presence_probability(w.position, cov, box[0], box[1], cfg.hand_sd_m)
        # Presence per time stamp: the best of the track's wrists at that instant.
        per_t: dict[float, float] = {}
        for w in inside:
            p = presence_probability(w.position, w.covariance, box[0], box[1], cfg.hand_sd_m)
            per_t[w.t] = max(per_t.get(w.t, 0.0), p)
        values = list(per_t.values())
        return max(values) if reduce == "max" else float(np.mean(values))

    def score_shoppers(
        self, obs: ShelfObservation, candidates: Sequence[CandidateTrack]
    ) -> list[ShopperScore]:
        """Posterior over candidate shoppers for one event, most probable first."""
        cfg = self.config
        box = self._reach_box(obs.bin_ids or (obs.bin_id,))
        blind_term = cfg.blind_likelihood
        scores: list[tuple[CandidateTrack, float, float, float, float]] = []
        for cand in candidates:
            w = cand.wrists
            h = cfg.edge_window_s
            a = self._presence_in(w, obs.t_start - h, obs.t_start + h, box, "max")
            b = self._presence_in(w, obs.t_end - h, obs.t_end + h, box, "max")
            c = self._presence_in(w, obs.t_start, obs.t_end, box, "mean")
            if c is None and a is not None and b is not None:
                c = max(a, b)
            terms = [blind_term if v is None else v for v in (a, b, c)]
            # Geometric mean: the three terms mostly re-use the same wrist samples, so their plain
            # product would count one observation three times and over-state the confidence.
            scores.append((cand, float(np.cbrt(terms[0] * terms[1] * terms[2])), *terms))
        total = sum(s[1] for s in scores) + cfg.null_likelihood
        result = [
            ShopperScore(
                track_id=cand.track_id,
                session_id=cand.session_id,
                probability=lik / total,
                likelihood=lik,
                at_start=a,
                at_end=b,
                dwell=c,
                camera_ids=tuple(sorted({c_id for w in cand.wrists for c_id in w.camera_ids})),
            )
            for cand, lik, a, b, c in scores
        ]
        result.sort(key=lambda s: (-s.probability, s.track_id))
        return result

    # ---- products -------------------------------------------------------------------------

    def relevant_evidence(
        self,
        obs: ShelfObservation,
        evidence: Sequence[EvidenceItem],
        window_s: float,
        wrists: Sequence[WristSample] = (),
    ) -> list[EvidenceItem]:
        """Evidence within [t_start - window, t_end + window] near the event's bins or a hand.

        Near: the evidence names one of the bins, or its position is within
        ``evidence_radius_m`` of the reach volume or of a candidate's wrist seen within 0.5 s.
        """
        box_min, box_max = self._reach_box(obs.bin_ids or (obs.bin_id,))
        bins = set(obs.bin_ids) | {obs.bin_id}
        kept = []
        for e in evidence:
            if not obs.t_start - window_s <= e.t <= obs.t_end + window_s:
                continue
            if e.bin_id and e.bin_id in bins:
                kept.append(e)
                continue
            if e.position is None or not np.all(np.isfinite(e.position)):
                continue
            radius = self.config.evidence_radius_m
            gap = np.maximum(0.0, np.maximum(box_min - e.position, e.position - box_max))
            near_hand = any(
                abs(w.t - e.t) <= 0.5 and float(np.linalg.norm(w.position - e.position)) <= radius
                for w in wrists
            )
            if float(np.linalg.norm(gap)) <= radius or near_hand:
                kept.append(e)
        return kept

    def _vision_factor(self, skus: Sequence[str], evidence: Sequence[EvidenceItem]) -> float:
        """Product over evidence items of (floor + score) of each SKU in the hypothesis."""
        f = 1.0
        for e in evidence:
            for sku in skus:
                f *= self.config.vision_floor + float(e.scores.get(sku, 0.0))
        return f

    def pick_hypotheses(
        self, obs: ShelfObservation, evidence: Sequence[EvidenceItem]
    ) -> list[WeightHypothesis]:
        """Pick hypotheses (positive quantities) re-weighted by vision, normalised, best first.

        The detector's "unexplained" hypothesis (``items == ()``) stays in, so its mass lowers the
        probability of every explanation.
        """
        hyps = [h for h in obs.hypotheses if all(q > 0 for _, q in h.items)]
        weighted = [
            (h, h.probability * self._vision_factor([s for s, _ in h.items], evidence))
            for h in hyps
        ]
        return _normalise(weighted)

    def return_hypotheses(
        self,
        obs: ShelfObservation,
        cart: Mapping[str, int],
        evidence: Sequence[EvidenceItem],
    ) -> list[WeightHypothesis]:
        """Return hypotheses (negative quantities) for a shopper holding ``cart`` (sku -> units).

        Candidates are the SKUs in the cart (prior 1) and the bin's planogram SKUs (prior
        ``not_in_cart_prior``: returning what one does not hold happens only when an earlier pick
        was missed); returning more units than held costs ``not_in_cart_prior`` too. The weight
        change ranks them (``hypotheses.rank_hypotheses``, which also keeps an "unexplained"
        alternative, ``items == ()``), then vision multiplies in.
        """
        cfg = self.config
        held = {sku: int(n) for sku, n in cart.items() if n > 0 and sku in self.products}
        planogram = {s for b in (obs.bin_ids or (obs.bin_id,)) for s in self.bins[b].skus}
        candidates = [
            Candidate(
                sku,
                self.products[sku].unit_weight_g,
                self.products[sku].unit_weight_sd_g,
                prior=1.0 if sku in held else cfg.not_in_cart_prior,
            )
            for sku in sorted(set(held) | (planogram & set(self.products)))
        ]
        ranked = rank_hypotheses(obs.delta_g, obs.delta_sd_g, candidates, self.hypothesis_config)
        weighted = []
        for h in ranked:
            factor = self._vision_factor([s for s, _ in h.items], evidence)
            for sku, q in h.items:
                if sku in held and -q > held[sku]:
                    factor *= cfg.not_in_cart_prior
            weighted.append((WeightHypothesis(h.items, h.probability), h.probability * factor))
        return _normalise(weighted)

    # ---- decision -------------------------------------------------------------------------

    def attribute(
        self,
        obs: ShelfObservation,
        candidates: Sequence[CandidateTrack],
        evidence: Sequence[EvidenceItem],
        carts: Mapping[str, Mapping[str, int]],
        live_planogram: Mapping[str, Mapping[str, int]],
    ) -> Attribution:
        """Decide who took (or put back) what for one shelf event.

        carts: session id -> {sku: units} (the return prior). live_planogram: bin id ->
        {sku: units} as the shelf holds it now, for the misplaced-stock flag.
        """
        cfg = self.config
        kind = KIND_PICK if obs.delta_g < 0 else KIND_RETURN
        window = cfg.edge_window_s + cfg.max_gap_s
        hands = [w for c in candidates for w in c.wrists]
        ev = self.relevant_evidence(obs, evidence, window, hands)
        ev_ids = tuple(e.evidence_id for e in ev)
        shoppers = self.score_shoppers(obs, candidates)
        if not shoppers:
            return Attribution(
                obs.event_id, kind, (), 0.0, 0.0, 0.0, True, (), "no open session", ev_ids
            )
        pick_hyps = self.pick_hypotheses(obs, ev) if kind == KIND_PICK else []
        # The cart is the session's: the tracks of one group (a family at the same shelf) add up.
        by_session: dict[str, list[ShopperScore]] = {}
        for s in shoppers:
            by_session.setdefault(s.session_id, []).append(s)
        best: tuple[float, ShopperScore, WeightHypothesis] | None = None
        for session_id, members in by_session.items():
            p_session = min(1.0, sum(m.probability for m in members))
            if kind == KIND_PICK:
                hyps = pick_hyps
            else:
                hyps = self.return_hypotheses(obs, carts.get(session_id, {}), ev)
            explained = [h for h in hyps if h.items]
            if not explained:
                continue
            joint = p_session * explained[0].probability
            if best is None or joint > best[0]:
                lead = replace(members[0], probability=p_session)
                best = (joint, lead, explained[0])
        if best is None:
            return Attribution(
                obs.event_id,
                kind,
                (),
                0.0,
                0.0,
                0.0,
                True,
                tuple(shoppers),
                "no (sku, quantity) hypothesis explains the weight change",
                ev_ids,
            )
        joint, shopper, hyp = best
        needs_review = joint < cfg.review_threshold or not obs.settled
        reason = (
            ""
            if not needs_review
            else (
                "weight did not settle"
                if not obs.settled
                else f"confidence {joint:.2f} below {cfg.review_threshold:.2f}"
            )
        )
        held_bins = set(obs.bin_ids or (obs.bin_id,))
        events = []
        for sku, qty in hyp.items:
            misplaced = kind == KIND_RETURN and not any(
                live_planogram.get(b, {}).get(sku, 0) > 0 or sku in self.bins[b].skus
                for b in held_bins
            )
            events.append(
                CartEventRecord(
                    event_id=f"{obs.event_id}:{sku}",
                    kind=kind,
                    shelf_event_id=obs.event_id,
                    bin_id=obs.bin_id,
                    sku=sku,
                    quantity=abs(int(qty)),
                    session_id=shopper.session_id,
                    track_id=shopper.track_id,
                    confidence=float(joint),
                    stamp=obs.t_end,
                    evidence_ids=(obs.event_id, *ev_ids, *_track_evidence(shopper)),
                    camera_ids=tuple(sorted(set(shopper.camera_ids) | {e.camera_id for e in ev})),
                    needs_review=needs_review,
                    misplaced=misplaced,
                )
            )
        return Attribution(
            shelf_event_id=obs.event_id,
            kind=kind,
            events=tuple(events),
            confidence=float(joint),
            p_shopper=shopper.probability,
            p_items=hyp.probability,
            needs_review=needs_review,
            shoppers=tuple(shoppers),
            reason=reason,
            evidence_ids=ev_ids,
        )


def _track_evidence(shopper: ShopperScore) -> tuple[str, ...]:
    return (f"track:{shopper.track_id}",) if shopper.track_id else ()


def _normalise(weighted: Sequence[tuple[WeightHypothesis, float]]) -> list[WeightHypothesis]:
    """Normalise weights into probabilities, most probable first (ties by items)."""
    total = sum(w for _, w in weighted)
    if total <= 0.0 or not math.isfinite(total):
        return []
    out = [WeightHypothesis(h.items, w / total) for h, w in weighted if w > 0.0]
    out.sort(key=lambda h: (-h.probability, h.items))
    return out


def observation_to_json(o: ShelfObservation) -> dict[str, Any]:
    """A shelf observation as a JSON-able dict (journal record; ``t`` = t_end)."""
    return {
        "event_id": o.event_id,
        "bin_id": o.bin_id,
        "bin_ids": list(o.bin_ids),
        "t_start": o.t_start,
        "t_end": o.t_end,
        "t": o.t_end,
        "delta_g": o.delta_g,
        "delta_sd_g": o.delta_sd_g,
        "settled": o.settled,
        "hypotheses": [[[[s, q] for s, q in h.items], h.probability] for h in o.hypotheses],
    }


def observation_from_json(d: Mapping[str, Any]) -> ShelfObservation:
    """Inverse of :func:`observation_to_json`."""
    return ShelfObservation(
        event_id=d["event_id"],
        bin_id=d["bin_id"],
        bin_ids=tuple(d["bin_ids"]),
        t_start=float(d["t_start"]),
        t_end=float(d["t_end"]),
        delta_g=float(d["delta_g"]),
        delta_sd_g=float(d["delta_sd_g"]),
        hypotheses=tuple(
            WeightHypothesis(tuple((str(s), int(q)) for s, q in items), float(p))
            for items, p in d["hypotheses"]
        ),
        settled=bool(d["settled"]),
    )

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
  the change. A hand seen only in between gets partial credit (the detected start is seconds
  early under sensor drift). The track likelihood is the geometric mean of the three. Both
  wrists of a track count, whichever side the pose estimator called them, so crossed arms and
  left/right flips are handled.
- P(shopper k) = L_k / (sum_j L_j + L_null): a null hypothesis (nobody we see) keeps the posterior
  honest when no hand is near. An open session with no wrist observation in the window (no track,
  tracking lost) is a "blind" candidate with a small constant likelihood, so a lone shopper without
  camera coverage still gets the event while two blind sessions give a review.
- P(sku, qty | k): picks use the shelf detector's weight hypotheses; returns use the shopper's cart
  as the prior (a return is of something the shopper holds), each SKU scored by the Gaussian
  likelihood of the weight change. Vision evidence near the bin within the window multiplies in
  (floor + score), which separates equal-weight look-alikes.
- Returns also weigh the shoppers by their carts: P(k) is multiplied by how well k's cart
  explains the weight change (the return hypotheses' prior x likelihood before normalising), so
  of two hands at the bin the one whose shopper holds what came back is the likelier.
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
from go_fusion.core.hypotheses import (
    Candidate,
    HypothesisConfig,
    rank_with_log_mass,
)
from go_fusion.core.store_view import BinSpec, ProductSpec

SOURCE_HAND = 0
SOURCE_FACING = 1
SOURCE_BARCODE = 2

# A shelf event already decided, as seen by one track: (t_start, t_end [s], its bins, the
# probability that this track made it).
BusySpan = tuple[float, float, tuple[str, ...], float]


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
    partial_order_credit: float = 0.3  # presence during the change, not at its start/end
    null_likelihood: float = 1e-5  # likelihood that nobody we track caused the event
    blind_likelihood: float = 2e-3  # likelihood of an open session with no wrist observed
    # Floor of the likelihood of a shopper whose wrists were seen, but away from the bin: a
    # wrist estimate can be wrong (hidden hand, a neighbour's wrist). Without it a shopper alone
    # in the store whose reach into a low shelf was mis-placed lost the event to
    # null_likelihood ("someone we do not track"), which in a closed store is rarer still. Well
    # below any real presence, so it does not dilute the competition between shoppers.
    seen_elsewhere_likelihood: float = 3e-5
    # One of the three windows may be an outlier: a wrist mis-placed in one window (hidden hand,
    # left/right swapped, a neighbour's wrist) must not zero a shopper whose hand was in the bin
    # in the other two, against one whose hands only grazed it throughout. The weakest observed
    # term is raised to at least this (a window without any wrist keeps blind_likelihood);
    # only one term is raised, so a shopper still needs presence in two windows.
    window_outlier_floor: float = 0.01
    # A shopper already given another bin's event over an overlapping span would have had a hand
    # in each bin at once: possible, rarer than two shoppers each reaching once (crossed arms).
    # In the simulator's suites (hard and standard reach scenarios, seeds 0-7) none of 61 pairs
    # of reaches overlapping in time at different bins is one person's (0.05: about the upper
    # 95 % bound of that rate; 0.3 before, which let a shopper's hand at one bin take the
    # neighbour's concurrent reach at the bin below). Spans overlap when the windows the
    # presences are read from do (each widened by edge_window_s): then the same wrist samples
    # would explain both events. An event sent to review counts by the probability that this
    # shopper made it (see score_shoppers).
    concurrent_reach_factor: float = 0.05
    vision_floor: float = 0.1  # added to every vision score, so one view never vetoes
    # A camera whose hand crops barely show any catalogue product counts as a fraction of an
    # observation: min(1, its strongest score / vision_full_score) (strongest: the highest mean
    # score any SKU reached in that camera's crops of the event, less the baseline). A bias of a
    # few hundredths between look-alikes on crops where no product reaches 0.05 (a raised wrist
    # placed off the pack) charged the wrong flavour at 0.61-0.70 (evaluation.md, seventeenth
    # session). 0.1 / 0.2 / 0.3 were measured on both pose backends (hard and standard suites):
    # 0.1 kept the most receipts and items; above it, consistent small scores of the sim
    # network's crops stopped counting. 0: every camera counts fully.
    vision_full_score: float = 0.1
    vision_max_views: int = 2  # distinct cameras counted as separate observations, at most
    vision_baseline_s: float = 2.0  # what the hands held before a pick, looked at this long
    evidence_radius_m: float = 0.6  # evidence this close to the bin counts
    not_in_cart_prior: float = 0.02  # prior of returning a SKU the shopper's cart lacks
    measured_scale_sd: float = 0.005  # relative sd of a unit weight measured at the pick
    shared_reach_min_p: float = 0.25  # sessions this likely each took a share of the units
    shared_reach_confidence: float = 0.8  # how much a split of the units is believed
    # ... but not while another shelf event overlapped it at a bin this close [m] (centres):
    # a second hand near the bin then was reaching into that one (hard scenarios, seeds 0-5:
    # all five splits made beside a concurrent neighbouring event were wrong, one shopper took
    # every unit; same_bin_grab has none). 0: off.
    shared_reach_exclusion_m: float = 1.0
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
    """A shopper that may have caused the event: its wrist samples around the event window.

    Give either ``wrists`` (WristSample objects, any order, both sides) or the arrays directly
    (``from_arrays``, what the pipeline does): t (K,) [s], positions (K, 3) [m], variances
    (K, 3) [m^2] (covariance diagonals), camera_ids (cameras behind the samples).
    """

    track_id: str
    session_id: str
    wrists: tuple[WristSample, ...] = ()
    t: np.ndarray | None = None
    positions: np.ndarray | None = None
    variances: np.ndarray | None = None
    camera_ids: tuple[str, ...] | None = None
    sides: np.ndarray | None = None  # (K,) 0 left, 1 right wrist, -1 unknown

    def __post_init__(self) -> None:
        if self.t is not None:
            if self.sides is None:
                object.__setattr__(self, "sides", np.full(len(self.t), -1, dtype=int))
            return
        object.__setattr__(self, "sides", np.full(len(self.wrists), -1, dtype=int))
        w = self.wrists
        object.__setattr__(self, "t", np.array([s.t for s in w], dtype=float))
        pos = np.stack([s.position for s in w]).astype(float) if w else np.zeros((0, 3))
        cov = np.stack([s.covariance for s in w]).astype(float) if w else np.zeros((0, 3, 3))
        object.__setattr__(self, "positions", pos.reshape(-1, 3))
        object.__setattr__(self, "variances", cov.reshape(-1, 9)[:, ::4])
        cams = tuple(sorted({c for s in w for c in s.camera_ids}))
        object.__setattr__(self, "camera_ids", cams)

    @classmethod
    def from_arrays(
        cls,
        track_id: str,
        session_id: str,
        t: np.ndarray,
        positions: np.ndarray,
        variances: np.ndarray,
        camera_ids: tuple[str, ...] = (),
        sides: np.ndarray | None = None,
    ) -> CandidateTrack:
        """A candidate from sample arrays (see the class docstring for shapes)."""
        return cls(
            track_id,
            session_id,
            (),
            np.asarray(t, dtype=float),
            np.asarray(positions, dtype=float).reshape(-1, 3),
            np.asarray(variances, dtype=float).reshape(-1, 3),
            tuple(camera_ids),
            None if sides is None else np.asarray(sides, dtype=int),
        )


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
    """Vision evidence of a product.

    position: (3,) [m] store frame or None when unknown. pixel: (u, v) [px] where the product is
    in the camera's (distorted) image, e.g. the centre of a hand crop; the pipeline turns it into
    a position by finding the tracked wrist on that camera ray. SOURCE_FACING items report one
    lane of ``bin_id`` (scores: {sku: 1 moved, 0 not} between ``since`` and ``t``) and are read by
    ``facing_evidence``, not by the hand-crop vision factor here.
    """

    evidence_id: str
    camera_id: str
    t: float
    source: int
    scores: Mapping[str, float]
    position: np.ndarray | None = None
    bin_id: str = ""
    pixel: tuple[float, float] | None = None
    track_id: str = ""  # the wrist it was placed on (set by the pipeline), "" when none
    hand: int = -1  # that wrist: 0 left, 1 right, -1 unknown
    since: float | None = None  # SOURCE_FACING: [s] stamp of the earlier view compared


@dataclass(frozen=True)
class _Vision:
    """An event's hand-crop evidence, one entry per camera counted: (sku -> mean score of the
    camera's crops less the baseline, how much the camera counts: 1 for a clear view of a
    product, less when no product scores well in its crops)."""

    views: tuple[tuple[Mapping[str, float], float], ...] = ()


@dataclass(frozen=True)
class ShopperScore:
    """Posterior of one candidate shopper, with its terms for inspection (as used: after the
    outlier floor, blind_likelihood for a window without any wrist)."""

    track_id: str
    session_id: str
    probability: float
    likelihood: float
    at_start: float
    at_end: float
    dwell: float
    camera_ids: tuple[str, ...] = ()
    hand_side: int = -1  # wrist most in the bin during the change: 0 left, 1 right, -1 unknown


@dataclass(frozen=True)
class Attribution:
    """The decision for one shelf event.

    events: one cart event per (sku, quantity) of the chosen hypothesis; empty when the event
    explains nothing (no candidate, no hypothesis). confidence = P(shopper) * P(items | shopper).
    hypotheses: a pick's (sku, quantity) hypotheses as weighed here (weight and hand crops),
    best first, for evidence that comes later (``facing_evidence``); empty for a return.
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
    hypotheses: tuple[WeightHypothesis, ...] = ()


def presence_probabilities(
    positions: np.ndarray,
    variances: np.ndarray,
    box_min: np.ndarray,
    box_max: np.ndarray,
    extra_sd: float,
) -> np.ndarray:
    """P(point inside the axis-aligned box) for K Gaussian point estimates.

    positions: (K, 3) [m]. variances: (K, 3) [m^2], the covariance diagonals (the box is axis
    aligned; ignoring the correlations slightly over-states the spread, the safe side).
    box_min, box_max: (3,) [m]. extra_sd: [m] added in quadrature (the hand beyond the wrist).
    Returns (K,) in [0, 1].
    """
    var = np.clip(np.asarray(variances, dtype=float), 0.0, None) + extra_sd**2
    sd = np.sqrt(np.maximum(var, 1e-12))
    pos = np.asarray(positions, dtype=float)
    p = ndtr((box_max - pos) / sd) - ndtr((box_min - pos) / sd)
    return np.prod(np.clip(p, 0.0, 1.0), axis=-1)


def presence_probability(
    position: np.ndarray,
    covariance: np.ndarray,
    box_min: np.ndarray,
    box_max: np.ndarray,
    extra_sd: float,
) -> float:
    """:func:`presence_probabilities` of one point: position (3,) [m], covariance (3, 3) [m^2]."""
    var = np.diag(np.asarray(covariance, dtype=float))[None]
    return float(
        presence_probabilities(np.asarray(position)[None], var, box_min, box_max, extra_sd)[0]
    )


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

    def _borrowed(
        self,
        t: np.ndarray,
        pos: np.ndarray,
        var: np.ndarray,
        t0: float,
        t1: float,
        box: tuple[np.ndarray, np.ndarray],
    ) -> float | None:
        """Presence from the sample nearest to a window that has none (within ``max_gap_s``),
        its variance grown by the gap; None when there is none (nothing observed)."""
        cfg = self.config
        if len(t) == 0:
            return None
        gaps = np.minimum(np.abs(t - t0), np.abs(t - t1))
        k = int(np.argmin(gaps))
        if gaps[k] > cfg.max_gap_s:
            return None
        grown = var[k] + (cfg.gap_sd_rate_m_s * gaps[k]) ** 2
        p = presence_probabilities(pos[k][None], grown[None], box[0], box[1], cfg.hand_sd_m)
        return float(p[0])

    def score_shoppers(
        self,
        obs: ShelfObservation,
        candidates: Sequence[CandidateTrack],
        busy: Mapping[str, Sequence[BusySpan]] | None = None,
    ) -> list[ShopperScore]:
        """Posterior over candidate shoppers for one event, most probable first.

        All candidates' wrist samples are scored in one vectorised pass; per candidate and
        window the presence is the best wrist at each stamp, then the max (around t_start and
        t_end) or the mean over stamps (dwell during the change). ``busy``: track id -> (t_start,
        t_end, bins, p) of the events already decided, p the probability that this track made
        it (1 for one in its cart; its posterior for one sent to review); one at other bins
        overlapping this one (both widened by ``edge_window_s``: the presence windows) scales its
        likelihood by 1 - (1 - ``concurrent_reach_factor``) x p, the factor marginalised over
        whether its hand was there (the likeliest such event counts).
        """
        cfg = self.config
        box = self._reach_box(obs.bin_ids or (obs.bin_id,))
        n = len(candidates)
        owner = np.concatenate([np.full(len(c.t), i) for i, c in enumerate(candidates)] or [[]])
        owner = owner.astype(int)
        t = np.concatenate([c.t for c in candidates] or [np.zeros(0)])
        pos = np.concatenate([c.positions for c in candidates] or [np.zeros((0, 3))])
        var = np.concatenate([c.variances for c in candidates] or [np.zeros((0, 3))])
        presence = presence_probabilities(pos, var, box[0], box[1], cfg.hand_sd_m)

        def window_max(t0: float, t1: float) -> np.ndarray:
            inside = (t >= t0) & (t <= t1)
            out = np.full(n, np.nan)
            if inside.any():
                np.fmax.at(out, owner[inside], presence[inside])
            return out

        h = cfg.edge_window_s
        windows = [(obs.t_start - h, obs.t_start + h), (obs.t_end - h, obs.t_end + h)]
        at_start, at_end = (window_max(t0, t1) for t0, t1 in windows)
        peak_during = window_max(obs.t_start, obs.t_end)
        dwell = np.full(n, np.nan)
        during = (t >= obs.t_start) & (t <= obs.t_end)
        if during.any():
            o, tt, pp = owner[during], t[during], presence[during]
            order = np.lexsort((tt, o))
            o, tt, pp = o[order], tt[order], pp[order]
            starts = np.flatnonzero(np.r_[True, (o[1:] != o[:-1]) | (tt[1:] != tt[:-1])])
            best = np.maximum.reduceat(pp, starts)  # best wrist per (candidate, stamp)
            who = o[starts]
            count = np.bincount(who, minlength=n)
            total = np.bincount(who, weights=best, minlength=n)
            dwell = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        scores: list[tuple[CandidateTrack, float, float, float, float]] = []
        for i, cand in enumerate(candidates):
            terms: list[float | None] = []
            for k, (t0, t1) in enumerate(windows):
                value = (at_start, at_end)[k][i]
                if np.isnan(value):
                    terms.append(
                        self._borrowed(cand.t, cand.positions, cand.variances, t0, t1, box)
                    )
                else:
                    terms.append(float(value))
            a, b = terms
            # A hand seen in the bin during the change but not at its detected start (or end)
            # gets partial credit: under drift or hand pressure the detector's t_start can be
            # seconds early, and a shopper alone at the bin must not lose the event for it.
            best_during = peak_during[i]
            if not np.isnan(best_during):
                credit = cfg.partial_order_credit * float(best_during)
                a = credit if a is None else max(a, credit)
                b = credit if b is None else max(b, credit)
            c: float | None = None if np.isnan(dwell[i]) else float(dwell[i])
            if c is None and a is not None and b is not None:
                c = max(a, b)
            seen = [v for v in (a, b, c) if v is not None]
            if seen:
                weakest = min(seen)
                k = [a, b, c].index(weakest)
                if k == 0:
                    a = max(weakest, cfg.window_outlier_floor)
                elif k == 1:
                    b = max(weakest, cfg.window_outlier_floor)
                else:
                    c = max(weakest, cfg.window_outlier_floor)
            full = [cfg.blind_likelihood if v is None else v for v in (a, b, c)]
            # Geometric mean: the three terms mostly re-use the same wrist samples, so their plain
            # product would count one observation three times and over-state the confidence.
            lik = max(float(np.cbrt(full[0] * full[1] * full[2])), cfg.seen_elsewhere_likelihood)
            if busy and cand.track_id:
                elsewhere = _busy_elsewhere(busy.get(cand.track_id, ()), obs, h)
                lik *= 1.0 - (1.0 - cfg.concurrent_reach_factor) * elsewhere
            scores.append((cand, lik, *full))
        norm = sum(s[1] for s in scores) + cfg.null_likelihood
        result = [
            ShopperScore(
                track_id=cand.track_id,
                session_id=cand.session_id,
                probability=lik / norm,
                likelihood=lik,
                at_start=a,
                at_end=b,
                dwell=c,
                camera_ids=tuple(cand.camera_ids or ()),
                hand_side=(
                    _hand_side(cand, obs.t_start - h, obs.t_end + h, box, cfg.hand_sd_m)
                    if lik / norm > 1e-3
                    else -1
                ),
            )
            for cand, lik, a, b, c in scores
        ]
        result.sort(key=lambda s: (-s.probability, s.track_id))
        return result

    # ---- products -------------------------------------------------------------------------

    def evidence_span(self, obs: ShelfObservation) -> tuple[float, float]:
        """The time span [s] holding every evidence item ``attribute`` may read for ``obs``.

        The event's own window (``edge_window_s + max_gap_s`` past it, or before it for a
        return) and the baseline (``vision_baseline_s`` before a pick, the window after a return).
        """
        cfg = self.config
        after = cfg.edge_window_s + cfg.max_gap_s
        return obs.t_start - max(cfg.vision_baseline_s, after), obs.t_end + after

    def relevant_evidence(
        self,
        obs: ShelfObservation,
        evidence: Sequence[EvidenceItem],
        window_s: float,
        hands: Mapping[str, tuple[CandidateTrack, int]] | None = None,
        span: tuple[float, float] | None = None,
    ) -> list[EvidenceItem]:
        """Evidence of the product that moved in this event.

        Time: a taken item is seen in the hand after the weight started to drop, a returned one
        before it settled: [t_start, t_end + window] for picks, [t_start - window, t_end] for
        returns. Place: the evidence names one of the bins; or it was placed on a wrist
        (``track_id``/``hand``) of a likely shopper (``hands``: track -> (candidate, hand side
        that reached in)), on that very hand when both sides are known; or its position is within
        ``evidence_radius_m`` of the reach volume or of a likely shopper's wrist. ``span``
        replaces the time window (the baseline before a pick or after a return).
        """
        hands = hands or {}
        box_min, box_max = self._reach_box(obs.bin_ids or (obs.bin_id,))
        bins = set(obs.bin_ids) | {obs.bin_id}
        if span is not None:
            t0, t1 = span
        elif obs.delta_g < 0:
            t0, t1 = obs.t_start, obs.t_end + window_s
        else:
            t0, t1 = obs.t_start - window_s, obs.t_end
        radius = self.config.evidence_radius_m
        kept = []
        for e in evidence:
            if e.source == SOURCE_FACING or not t0 <= e.t <= t1:
                continue
            if e.bin_id and e.bin_id in bins:
                kept.append(e)
                continue
            if e.track_id:
                if e.track_id in hands:
                    side = hands[e.track_id][1]
                    if side < 0 or e.hand < 0 or side == e.hand:
                        kept.append(e)
                continue
            if e.position is None or not np.all(np.isfinite(e.position)):
                continue
            gap = np.maximum(0.0, np.maximum(box_min - e.position, e.position - box_max))
            near_hand = any(
                np.any(
                    (np.abs(c.t - e.t) <= 0.5)
                    & (np.linalg.norm(c.positions - e.position, axis=1) <= radius)
                )
                for c, _ in hands.values()
            )
            if float(np.linalg.norm(gap)) <= radius or near_hand:
                kept.append(e)
        return kept

    def _vision(
        self, evidence: Sequence[EvidenceItem], baseline: Sequence[EvidenceItem] = ()
    ) -> _Vision:
        """The event's hand-crop scores, read once for every hypothesis (``_vision_factor``).

        Per camera, score = mean over its crops of the event minus the mean over the baseline
        (the same hands before a pick, after a return; the camera's own when it has some), at
        least 0: a product a hand already held before reaching in is not evidence of what it
        took. The mean, not a product over items: the frames of one camera that saw the same
        hand are one observation, not dozens (which would let vision outvote any weight
        measurement). Each camera is an observation, weighted by how well it saw a product:
        min(1, its strongest score / ``vision_full_score``). The ``vision_max_views`` strongest
        count: enough for two views to outvote a stale planogram, never the scale.
        """
        cfg = self.config

        def means(items: Sequence[EvidenceItem]) -> dict[str, float]:
            sums: dict[str, float] = {}
            for e in items:
                for sku, v in e.scores.items():
                    sums[sku] = sums.get(sku, 0.0) + float(v)
            return {sku: v / len(items) for sku, v in sums.items()}

        def by_camera(items: Sequence[EvidenceItem]) -> dict[str, list[EvidenceItem]]:
            out: dict[str, list[EvidenceItem]] = {}
            for e in items:
                out.setdefault(e.camera_id, []).append(e)
            return out

        base_by_camera = by_camera(baseline)
        overall = means(baseline) if baseline else {}
        full = cfg.vision_full_score
        views = []
        for camera, items in by_camera(evidence).items():
            own = base_by_camera.get(camera)
            before = means(own) if own else overall
            scores = {sku: max(0.0, v - before.get(sku, 0.0)) for sku, v in means(items).items()}
            strongest = max(scores.values(), default=0.0)
            weight = min(1.0, strongest / full) if full > 0.0 else 1.0
            views.append((strongest, camera, scores, weight))
        views.sort(key=lambda v: (-v[0], v[1]))
        return _Vision(tuple((sc, w) for _, _, sc, w in views[: cfg.vision_max_views]))

    def _vision_factor(self, skus: Sequence[str], vision: _Vision) -> float:
        """Product over the counted cameras and the hypothesis' SKUs of
        (floor + score) ** weight (``_vision``)."""
        floor = self.config.vision_floor
        f = 1.0
        for scores, weight in vision.views:
            if weight > 0.0:
                for sku in skus:
                    f *= (floor + scores.get(sku, 0.0)) ** weight
        return f

    def pick_hypotheses(
        self,
        obs: ShelfObservation,
        evidence: Sequence[EvidenceItem],
        baseline: Sequence[EvidenceItem] = (),
    ) -> list[WeightHypothesis]:
        """Pick hypotheses (positive quantities) re-weighted by vision, normalised, best first.

        The detector's "unexplained" hypothesis (``items == ()``) stays in, so its mass lowers the
        probability of every explanation.
        """
        hyps = [h for h in obs.hypotheses if all(q > 0 for _, q in h.items)]
        vision = self._vision(evidence, baseline)
        weighted = [
            (h, h.probability * self._vision_factor([s for s, _ in h.items], vision)) for h in hyps
        ]
        return _normalise(weighted)

    def return_hypotheses(
        self,
        obs: ShelfObservation,
        cart: Mapping[str, int],
        evidence: Sequence[EvidenceItem],
        measured: Mapping[str, float] | None = None,
        baseline: Sequence[EvidenceItem] = (),
    ) -> list[WeightHypothesis]:
        """Return hypotheses (negative quantities) for a shopper holding ``cart`` (sku -> units).

        Candidates are the SKUs in the cart (prior 1) and the bin's planogram SKUs (prior
        ``not_in_cart_prior``: returning what one does not hold happens only when an earlier pick
        was missed); returning more units than held costs ``not_in_cart_prior`` too. The weight
        change ranks them (``hypotheses.rank_hypotheses``, which also keeps an "unexplained"
        alternative, ``items == ()``), then vision multiplies in. ``measured``: sku -> [g] unit
        weight the shelf measured when the shopper took it; the item coming back weighs that,
        which separates products whose catalogue weights are too close to tell apart.
        """
        return _normalise(self._return_weighted(obs, cart, evidence, measured, baseline)[0])

    def return_log_mass(
        self,
        obs: ShelfObservation,
        cart: Mapping[str, int],
        evidence: Sequence[EvidenceItem],
        measured: Mapping[str, float] | None = None,
        baseline: Sequence[EvidenceItem] = (),
    ) -> float:
        """log p(weight change, vision | a return by a shopper holding ``cart``), up to a
        constant shared by every cart: the return hypotheses' prior x likelihood summed before
        normalising (see ``return_hypotheses``). A shopper holding what came back explains a
        return about 1 / ``not_in_cart_prior`` times better than one who holds nothing like it."""
        return _log_mass(*self._return_weighted(obs, cart, evidence, measured, baseline))

    def _return_weighted(
        self,
        obs: ShelfObservation,
        cart: Mapping[str, int],
        evidence: Sequence[EvidenceItem],
        measured: Mapping[str, float] | None,
        baseline: Sequence[EvidenceItem],
    ) -> tuple[list[tuple[WeightHypothesis, float]], float]:
        """Return hypotheses with their unnormalised weights, and the log of the factor that
        ``rank_hypotheses`` normalised their probabilities by."""
        cfg = self.config
        held = {sku: int(n) for sku, n in cart.items() if n > 0 and sku in self.products}
        planogram = {s for b in (obs.bin_ids or (obs.bin_id,)) for s in self.bins[b].skus}
        weights = measured or {}
        candidates = [
            Candidate(
                sku,
                weights.get(sku, self.products[sku].unit_weight_g),
                self.products[sku].unit_weight_sd_g,
                prior=1.0 if sku in held else cfg.not_in_cart_prior,
                scale_sd=cfg.measured_scale_sd if sku in weights else None,
            )
            for sku in sorted(set(held) | (planogram & set(self.products)))
        ]
        ranked, log_total = rank_with_log_mass(
            obs.delta_g, obs.delta_sd_g, candidates, self.hypothesis_config
        )
        weighted = []
        vision = self._vision(evidence, baseline)
        for h in ranked:
            factor = self._vision_factor([s for s, _ in h.items], vision)
            for sku, q in h.items:
                if sku in held and -q > held[sku]:
                    factor *= cfg.not_in_cart_prior
            weighted.append((WeightHypothesis(h.items, h.probability), h.probability * factor))
        return weighted, log_total

    @staticmethod
    def _cart_weighted(
        p_sessions: Mapping[str, float], log_m: Mapping[str, float]
    ) -> dict[str, float]:
        """Session probabilities of a return re-weighted by what each session holds.

        P(k | hands, weight) is proportional to P(k | hands) p(weight | k's cart): the hands
        say who was at the bin, the cart says who could have put this back (``log_m``: session
        -> ``return_log_mass`` of its cart). The sessions keep their total (the "nobody we
        track" share is unchanged).
        """
        top = max(log_m.values(), default=-math.inf)
        total = sum(p_sessions.values())
        if not math.isfinite(top) or total <= 0.0:
            return dict(p_sessions)
        w = {k: p * math.exp(log_m[k] - top) for k, p in p_sessions.items()}
        norm = sum(w.values())
        if norm <= 0.0:
            return dict(p_sessions)
        return {k: total * v / norm for k, v in w.items()}

    # ---- decision -------------------------------------------------------------------------

    def attribute(
        self,
        obs: ShelfObservation,
        candidates: Sequence[CandidateTrack],
        evidence: Sequence[EvidenceItem],
        carts: Mapping[str, Mapping[str, int]],
        live_planogram: Mapping[str, Mapping[str, int]],
        cart_weights: Mapping[str, Mapping[str, float]] | None = None,
        busy: Mapping[str, Sequence[BusySpan]] | None = None,
        concurrent_nearby: bool = False,
    ) -> Attribution:
        """Decide who took (or put back) what for one shelf event.

        busy: track id -> (t_start, t_end, bins, p) of the events already decided (see
        ``score_shoppers``). concurrent_nearby: another shelf event overlapped this one in time
        at a bin within ``shared_reach_exclusion_m``: no split of the units between shoppers.

        carts: session id -> {sku: units} (the return prior). live_planogram: bin id ->
        {sku: units} as the shelf holds it now, for the misplaced-stock flag. cart_weights:
        session id -> {sku: [g] unit weight measured at the pick} (see ``return_hypotheses``).
        """
        cfg = self.config
        kind = KIND_PICK if obs.delta_g < 0 else KIND_RETURN
        window = cfg.edge_window_s + cfg.max_gap_s
        shoppers = self.score_shoppers(obs, candidates, busy)
        # Only the hands that may have done it: a product in a bystander's hand says nothing.
        likely = {s.track_id: s.hand_side for s in shoppers if s.probability >= 0.1}
        hands = {c.track_id: (c, likely[c.track_id]) for c in candidates if c.track_id in likely}
        ev = self.relevant_evidence(obs, evidence, window, hands)
        ev_ids = tuple(e.evidence_id for e in ev)
        if obs.delta_g < 0:
            span = (obs.t_start - cfg.vision_baseline_s, obs.t_start - 1e-6)
        else:
            span = (obs.t_end + 1e-6, obs.t_end + window)
        base = self.relevant_evidence(obs, evidence, window, hands, span)
        if not shoppers:
            return Attribution(
                obs.event_id, kind, (), 0.0, 0.0, 0.0, True, (), "no open session", ev_ids
            )
        pick_hyps = self.pick_hypotheses(obs, ev, base) if kind == KIND_PICK else []
        # The cart is the session's: the tracks of one group (a family at the same shelf) add up.
        by_session: dict[str, list[ShopperScore]] = {}
        for s in shoppers:
            by_session.setdefault(s.session_id, []).append(s)
        p_sessions = {k: min(1.0, sum(m.probability for m in v)) for k, v in by_session.items()}
        # A return's hypotheses per session, computed once: they weigh the sessions (by how well
        # each cart explains the weight change) and rank what came back.
        returned = {
            k: self._return_weighted(obs, carts.get(k, {}), ev, (cart_weights or {}).get(k), base)
            for k in (by_session if kind == KIND_RETURN else ())
        }
        if returned:
            p_sessions = self._cart_weighted(
                p_sessions, {k: _log_mass(*r) for k, r in returned.items()}
            )
        best: tuple[float, ShopperScore, WeightHypothesis] | None = None
        leads: dict[str, ShopperScore] = {}
        for session_id, members in by_session.items():
            p_session = p_sessions[session_id]
            leads[session_id] = replace(members[0], probability=p_session)
            hyps = pick_hyps if kind == KIND_PICK else _normalise(returned[session_id][0])
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
        # (who, items, confidence, event id suffix) of each cart event to make.
        shares = [(shopper, hyp.items, joint, "")]
        together = sorted(
            (p for p in leads.values() if p.probability >= cfg.shared_reach_min_p),
            key=lambda p: (-p.probability, p.session_id),
        )
        units = abs(hyp.items[0][1]) if len(hyp.items) == 1 else 0
        shared = kind == KIND_PICK and len(together) >= 2 and units >= len(together)
        if shared and not concurrent_nearby:
            # Several shoppers' hands in the bin together and as many units gone as hands:
            # each took their share (two people grabbing from one bin at once).
            sku = hyp.items[0][0]
            p_all = min(1.0, sum(p.probability for p in together))
            joint = hyp.probability * p_all * cfg.shared_reach_confidence
            k = len(together)
            shares = [
                (
                    who,
                    ((sku, units // k + (1 if i < units % k else 0)),),
                    joint,
                    f":{who.session_id}",
                )
                for i, who in enumerate(together)
            ]
            needs_review = joint < cfg.review_threshold or not obs.settled
            reason = "" if not needs_review else f"shared reach, confidence {joint:.2f}"
        events = []
        for who, items, conf, suffix in shares:
            for sku, qty in items:
                misplaced = kind == KIND_RETURN and not any(
                    live_planogram.get(b, {}).get(sku, 0) > 0 or sku in self.bins[b].skus
                    for b in held_bins
                )
                cameras = set(who.camera_ids) | {e.camera_id for e in ev}
                events.append(
                    CartEventRecord(
                        event_id=f"{obs.event_id}:{sku}{suffix}",
                        kind=kind,
                        shelf_event_id=obs.event_id,
                        bin_id=obs.bin_id,
                        sku=sku,
                        quantity=abs(int(qty)),
                        session_id=who.session_id,
                        track_id=who.track_id,
                        confidence=float(conf),
                        stamp=obs.t_end,
                        evidence_ids=(obs.event_id, *ev_ids, *_track_evidence(who)),
                        camera_ids=tuple(sorted(cameras)),
                        needs_review=needs_review,
                        misplaced=misplaced,
                        unit_g=abs(obs.delta_g) / units if units else 0.0,
                        hand=who.hand_side,
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
            hypotheses=tuple(pick_hyps),
        )


def _hand_side(
    cand: CandidateTrack, t0: float, t1: float, box: tuple[np.ndarray, np.ndarray], sd: float
) -> int:
    """Side (0 left, 1 right, -1 unknown) of the candidate's wrist that was in the box longest.

    Mean presence per side over [t0, t1]; -1 when the sides are unknown or too close to call
    (both hands in the bin).
    """
    assert cand.t is not None and cand.sides is not None
    inside = (cand.t >= t0) & (cand.t <= t1)
    if not inside.any():
        return -1
    p = presence_probabilities(cand.positions[inside], cand.variances[inside], box[0], box[1], sd)
    sides = cand.sides[inside]
    means = {s: float(p[sides == s].mean()) for s in (0, 1) if np.any(sides == s)}
    if not means:
        return -1
    best = max(means, key=lambda s: means[s])
    other = means.get(1 - best, 0.0)
    return best if means[best] - other >= 0.2 else -1


def _log_mass(weighted: Sequence[tuple[WeightHypothesis, float]], log_total: float) -> float:
    """``Attributor.return_log_mass`` from ``_return_weighted``'s answer."""
    mass = sum(w for _, w in weighted)
    return log_total + math.log(mass) if mass > 0.0 else -math.inf


def _busy_elsewhere(spans: Sequence[BusySpan], obs: ShelfObservation, margin: float) -> float:
    """The largest p of ``spans`` that, widened by ``margin`` [s] on each side (the presence
    windows), overlap ``obs`` in time at bins ``obs`` does not include (0 when none does)."""
    bins = set(obs.bin_ids) | {obs.bin_id}
    return max(
        (
            p
            for t0, t1, other, p in spans
            if t0 - margin <= obs.t_end + margin
            and obs.t_start - margin <= t1 + margin
            and not bins.intersection(other)
        ),
        default=0.0,
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

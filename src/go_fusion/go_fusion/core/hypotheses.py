"""(SKU, quantity) hypotheses that explain a settled shelf weight change.

Pure numpy; no ROS. Sign convention (go_msgs/SkuQuantity): ``quantity > 0`` units were taken
from the shelf (the weight went down, ``delta_g < 0``), ``quantity < 0`` units were put back.

Model
-----
A hypothesis ``H = {(sku_i, q_i)}`` (one SKU, or two SKUs in one reach) predicts

    delta_g ~ Normal(-sum_i q_i * m_i,
                     sum_i (|q_i| * sd_i^2 + (q_i * m_i * s_i)^2) + delta_sd_g^2)

with ``m_i``/``sd_i`` the unit weight mean and item-to-item spread [g] and ``s_i`` the relative
uncertainty of the catalogue mean itself (``Candidate.scale_sd``). The item spread adds per unit
(independent items: variance ``n * sd^2``); the catalogue error is shared by every unit of a SKU,
so it adds as ``(n * m * s)^2``. Catalogue unit weights are often 5-20 % off what the shelf
really weighs; two remedies, both here:

* a wider prior: ``HypothesisConfig.default_scale_sd`` (0.08: a 20 % error is 2.5 sd, still the
  best explanation when no other SKU competes);
* a learned per-SKU unit weight: ``UnitWeightLearner`` refines ``m_i`` and shrinks ``s_i`` from
  confident single-SKU events (conjugate Gaussian update), which is what separates 5 x 120 g from
  6 x 100 g once a few picks have been seen.

The prior favours fewer units (``quantity_decay ** (n - 1)`` for ``n`` units in total), planogram
SKUs over catalogue-wide ones (``Candidate.prior``), and single-SKU reaches over mixed ones
(``mixed_prior``). One more hypothesis, "unexplained" (``items == ()``), has a flat likelihood
over ``unexplained_range_g`` and a small prior, so a delta that nothing in the catalogue explains
gets a high unexplained probability instead of a confident wrong answer. Probabilities are
normalised over all hypotheses considered; look-alikes of equal weight get equal probability,
and ``combine_with_vision`` multiplies in per-SKU vision scores to separate them.

API
---
``rank_hypotheses(delta_g, delta_sd_g, candidates, config) -> list[Hypothesis]`` (pure),
``candidates_for_bins(...)`` builds candidates from a planogram and catalogue,
``min_event_by_bin(...)`` gives the detector a per-bin smallest event from the lightest product,
``split_merged_event(...)`` undoes an adjacent-bin merge that was two separate reaches,
``log_evidence(...)`` is the marginal likelihood used for that,
``combine_with_vision(hypotheses, scores) -> list[Hypothesis]``,
``UnitWeightLearner`` (stateful, optional).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from go_fusion.core.shelf_events import STATE_SETTLED, ShelfEventCore, event_id

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A product that may explain a weight change.

    unit_g, unit_sd_g: [g] unit weight mean and item-to-item standard deviation.
    prior: relative prior weight of this SKU being the one moved (> 0; planogram SKUs 1.0).
    scale_sd: relative standard deviation of ``unit_g`` itself (catalogue error); None = the
        config default.
    in_planogram: False for catalogue-wide candidates (misplaced items); they are only used in
        single-SKU hypotheses with at most ``off_planogram_max_quantity`` units.
    """

    sku: str
    unit_g: float
    unit_sd_g: float
    prior: float = 1.0
    scale_sd: float | None = None
    in_planogram: bool = True


@dataclass(frozen=True)
class HypothesisConfig:
    """Enumeration limits and priors of ``rank_hypotheses``."""

    max_quantity: int = 6  # most units in one reach (all SKUs together)
    quantity_decay: float = 0.3  # prior ratio of n+1 units to n units
    mixed_prior: float = 0.1  # prior of a two-SKU reach relative to a single-SKU one
    default_scale_sd: float = 0.08  # relative sd of catalogue unit weights (5-20 % errors seen)
    off_planogram_max_quantity: int = 2  # misplaced items come one or two at a time
    unexplained_prior: float = 1e-3  # prior of "no catalogue combination explains it"
    unexplained_range_g: float = 5000.0  # [g] width of the flat unexplained likelihood
    min_probability: float = 1e-4  # hypotheses below this are dropped from the result
    max_hypotheses: int = 10  # most hypotheses returned
    # An item taken from across two plates belonged to the bin whose plate bore most of its
    # weight (its centre of mass is over its own bin): each bin's SKUs get the prior
    # softmax(share / share_softness) of the bins' shares of the change (``bin_ownership``;
    # returns keep the shares, see ``ownership_priors``). 0.1: a 75/25 split gives the larger
    # share's bin 0.993, 55/45 gives 0.73.
    share_softness: float = 0.1

    def __post_init__(self) -> None:
        if self.max_quantity < 1:
            raise ValueError(f"HypothesisConfig.max_quantity must be >= 1, got {self.max_quantity}")
        if not 0.0 < self.quantity_decay <= 1.0:
            raise ValueError(
                f"HypothesisConfig.quantity_decay must be in (0, 1], got {self.quantity_decay}"
            )
        if self.default_scale_sd < 0.0 or self.mixed_prior < 0.0 or self.unexplained_prior < 0.0:
            raise ValueError("HypothesisConfig: scale_sd and priors must be >= 0")
        if not self.share_softness > 0.0:
            raise ValueError(
                f"HypothesisConfig.share_softness must be > 0, got {self.share_softness}"
            )


@dataclass(frozen=True)
class Hypothesis:
    """One explanation of a weight change.

    items: ((sku, quantity), ...) sorted by SKU; quantity > 0 taken, < 0 put back; ``()`` means
        "unexplained" (no catalogue combination fits).
    probability: [0, 1] posterior among the hypotheses of the event.
    predicted_delta_g, predicted_sd_g: [g] what the hypothesis predicts for ``delta_g``.
    log_likelihood: natural log of the likelihood density [1/g] of the observed delta.
    """

    items: tuple[tuple[str, int], ...]
    probability: float
    predicted_delta_g: float
    predicted_sd_g: float
    log_likelihood: float

    @property
    def is_unexplained(self) -> bool:
        """True for the "no catalogue combination explains it" hypothesis."""
        return not self.items

    @property
    def is_mixed(self) -> bool:
        """True when two SKUs moved in one reach."""
        return len(self.items) > 1

    @property
    def sku(self) -> str:
        """The SKU ("" when unexplained; "A+B" when mixed)."""
        return "+".join(s for s, _ in self.items)

    @property
    def quantity(self) -> int:
        """Total units (signed: > 0 taken, < 0 put back; 0 when unexplained)."""
        return sum(q for _, q in self.items)


def _validate(delta_g: float, delta_sd_g: float) -> None:
    if not math.isfinite(delta_g):
        raise ValueError(f"rank_hypotheses: delta_g must be finite, got {delta_g}")
    if not math.isfinite(delta_sd_g) or delta_sd_g < 0.0:
        raise ValueError(f"rank_hypotheses: delta_sd_g must be finite and >= 0, got {delta_sd_g}")


def _usable(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Drop malformed candidates (logged) and duplicate SKUs (first wins)."""
    seen: set[str] = set()
    out = []
    for c in candidates:
        bad = not (math.isfinite(c.unit_g) and c.unit_g > 0.0)
        bad |= not (math.isfinite(c.unit_sd_g) and c.unit_sd_g >= 0.0)
        bad |= not (math.isfinite(c.prior) and c.prior > 0.0)
        if bad:
            LOGGER.warning(
                "hypotheses: ignoring candidate %s with unit weight/sd/prior %s/%s/%s",
                c.sku,
                c.unit_g,
                c.unit_sd_g,
                c.prior,
            )
            continue
        if c.sku in seen:
            continue
        seen.add(c.sku)
        out.append(c)
    return out


def rank_hypotheses(
    delta_g: float,
    delta_sd_g: float,
    candidates: Sequence[Candidate],
    config: HypothesisConfig | None = None,
) -> list[Hypothesis]:
    """Rank (SKU, quantity) combinations that explain a weight change, most probable first.

    delta_g: [g] settled weight after minus before (negative = items taken).
    delta_sd_g: [g] standard deviation of the measured delta.
    candidates: products that may have moved (see ``candidates_for_bins``).
    Returns at most ``config.max_hypotheses`` hypotheses with probability >= ``min_probability``,
    normalised over every hypothesis considered (so the returned ones may sum to slightly < 1).
    Ties (equal-weight look-alikes) keep equal probabilities and are ordered by SKU.
    """
    return rank_with_log_mass(delta_g, delta_sd_g, candidates, config)[0]


def rank_with_log_mass(
    delta_g: float,
    delta_sd_g: float,
    candidates: Sequence[Candidate],
    config: HypothesisConfig | None = None,
) -> tuple[list[Hypothesis], float]:
    """``rank_hypotheses`` and ``log_mass`` from one enumeration (a return scores every
    shopper's cart both ways)."""
    cfg = config or HypothesisConfig()
    _validate(delta_g, delta_sd_g)
    items, mean, var, log_lik, log_prior = _enumerate(delta_g, delta_sd_g, candidates, cfg)
    if not items:
        return [], -math.inf
    log_post = log_lik + log_prior
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    # rounding keeps exact ties (look-alikes) tied so they are ordered by SKU, deterministically
    order = sorted(range(len(items)), key=lambda i: (-round(float(log_post[i]), 9), items[i]))
    out = []
    for i in order[: cfg.max_hypotheses]:
        if post[i] < cfg.min_probability:
            break
        out.append(
            Hypothesis(
                items[i], float(post[i]), float(mean[i]), float(np.sqrt(var[i])), float(log_lik[i])
            )
        )
    return out, _logsumexp(log_post)


def log_evidence(
    delta_g: float,
    delta_sd_g: float,
    candidates: Sequence[Candidate],
    config: HypothesisConfig | None = None,
) -> float:
    """log p(delta_g | candidates): the hypotheses' likelihoods [1/g] averaged over their
    normalised priors (the unexplained hypothesis included). For comparing explanations."""
    cfg = config or HypothesisConfig()
    _validate(delta_g, delta_sd_g)
    items, _, _, log_lik, log_prior = _enumerate(delta_g, delta_sd_g, candidates, cfg)
    if not items:
        return -math.inf
    return float(_logsumexp(log_lik + log_prior) - _logsumexp(log_prior))


def log_mass(
    delta_g: float,
    delta_sd_g: float,
    candidates: Sequence[Candidate],
    config: HypothesisConfig | None = None,
) -> float:
    """log sum over hypotheses of prior x likelihood [1/g], the priors as given (not
    normalised): how well one candidate set (one shopper's cart, for a return) explains the
    weight change against another on the same prior scale. -inf when nothing is enumerated."""
    return rank_with_log_mass(delta_g, delta_sd_g, candidates, config)[1]


def _logsumexp(v: np.ndarray) -> float:
    m = float(v.max())
    return m + math.log(float(np.exp(v - m).sum()))


_Rows = tuple[list[tuple[tuple[str, int], ...]], np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _enumerate(
    delta_g: float, delta_sd_g: float, candidates: Sequence[Candidate], cfg: HypothesisConfig
) -> _Rows:
    """Every hypothesis: (items, predicted mean (H,) [g], variance (H,) [g^2], log likelihood
    (H,), log prior (H,) unnormalised)."""
    cands = _usable(candidates)
    sign = -1 if delta_g < 0.0 else 1  # a pick (delta < 0) is a positive quantity
    rows: list[tuple[tuple[tuple[str, int], ...], float, float, float]] = []
    # (items, predicted delta, predicted variance, log prior)
    meas_var = delta_sd_g**2
    for c in cands:
        nmax = (
            cfg.max_quantity
            if c.in_planogram
            else min(cfg.max_quantity, cfg.off_planogram_max_quantity)
        )
        s = cfg.default_scale_sd if c.scale_sd is None else c.scale_sd
        for n in range(1, nmax + 1):
            q = -sign * n
            mean = -q * c.unit_g
            var = n * c.unit_sd_g**2 + (n * c.unit_g * s) ** 2 + meas_var
            log_prior = math.log(c.prior) + (n - 1) * math.log(cfg.quantity_decay)
            rows.append((((c.sku, q),), mean, var, log_prior))
    in_plan = sorted((c for c in cands if c.in_planogram), key=lambda c: c.sku)
    if cfg.mixed_prior > 0.0:
        for a, b in itertools.combinations(in_plan, 2):
            sa = cfg.default_scale_sd if a.scale_sd is None else a.scale_sd
            sb = cfg.default_scale_sd if b.scale_sd is None else b.scale_sd
            for na in range(1, cfg.max_quantity):
                for nb in range(1, cfg.max_quantity - na + 1):
                    qa, qb = -sign * na, -sign * nb
                    mean = -(qa * a.unit_g + qb * b.unit_g)
                    var = (
                        na * a.unit_sd_g**2
                        + nb * b.unit_sd_g**2
                        + (na * a.unit_g * sa) ** 2
                        + (nb * b.unit_g * sb) ** 2
                        + meas_var
                    )
                    log_prior = math.log(cfg.mixed_prior * a.prior * b.prior) + (
                        na + nb - 1
                    ) * math.log(cfg.quantity_decay)
                    rows.append((((a.sku, qa), (b.sku, qb)), mean, var, log_prior))
    items = [r[0] for r in rows]
    mean = np.array([r[1] for r in rows], dtype=float)
    var = np.maximum(np.array([r[2] for r in rows], dtype=float), 1e-12)
    log_prior = np.array([r[3] for r in rows], dtype=float)
    log_lik = -0.5 * (delta_g - mean) ** 2 / var - 0.5 * np.log(2.0 * math.pi * var)
    if cfg.unexplained_prior > 0.0:
        items.append(())
        mean = np.append(mean, delta_g)
        var = np.append(var, (cfg.unexplained_range_g**2) / 12.0)
        log_lik = np.append(log_lik, -math.log(cfg.unexplained_range_g))
        log_prior = np.append(log_prior, math.log(cfg.unexplained_prior))
    return items, mean, var, log_lik, log_prior


def _fractions(shares: Sequence[float]) -> tuple[float, ...]:
    """``shares`` normalised to sum 1; equal fractions when they are not finite, negative or
    all zero (they then say nothing)."""
    s = np.asarray(shares, dtype=float)
    total = float(s.sum()) if np.all(np.isfinite(s)) and np.all(s >= 0.0) else 0.0
    if total <= 0.0:
        return tuple(1.0 / s.size for _ in range(s.size))
    return tuple(float(v) for v in s / total)


def bin_ownership(shares: Sequence[float], softness: float) -> tuple[float, ...]:
    """Probability that the item of a change across several bins' plates belongs to each bin.

    shares: each bin's part of the change (>= 0; normalised here). A product rests mostly on its
    own bin's plate, so the bin bearing the larger share owns it: softmax(share / softness).
    Shares that are not finite, negative or all zero give equal ownership.
    """
    z = np.asarray(_fractions(shares)) / softness
    if z.size == 0:
        return ()
    w = np.exp(z - z.max())
    return tuple(float(v) for v in w / w.sum())


def ownership_priors(
    bin_skus: Sequence[tuple[str, Iterable[str]]],
    shares: Sequence[float],
    softness: float,
    *,
    taken: bool = True,
    floor: float = 0.05,
) -> dict[str, float]:
    """Prior of each SKU of a change across the bins ``bin_skus`` ((bin id, its SKUs), ...).

    taken (a pick): the item rested where it was stocked, mostly on its own bin's plate, so each
    bin's SKUs get the probability that the bin owns it (``bin_ownership`` of the ``shares``).
    Not taken (a return): the shopper put it where they liked, which says less about what it
    is; each bin's SKUs get the bin's share. At least ``floor`` either way (vision can still
    name the neighbour's product); a SKU held by several of the bins takes its best bin's.
    """
    owned = bin_ownership(shares, softness) if taken else _fractions(shares)
    prior: dict[str, float] = {}
    for (_, skus), p in zip(bin_skus, owned, strict=True):
        for sku in skus:
            prior[sku] = max(prior.get(sku, 0.0), max(p, floor))
    return prior


def candidates_for_bins(
    bin_skus: Iterable[str],
    catalogue: Mapping[str, tuple[float, float]],
    *,
    off_planogram_prior: float = 0.0,
    scale_sd: Mapping[str, float] | None = None,
    priors: Mapping[str, float] | None = None,
) -> list[Candidate]:
    """Candidates for an event on some bins.

    bin_skus: SKUs the planogram (or its live state) puts in the event's bins; each gets prior 1,
        or its entry in ``priors`` (``ownership_priors`` for an item across bins).
    catalogue: sku -> (unit_g, unit_sd_g) [g]; SKUs of ``bin_skus`` missing here are logged and
        skipped.
    off_planogram_prior: total prior mass, relative to one planogram SKU, spread evenly over every
        other catalogue SKU (misplaced returns and picks of misplaced stock); 0 disables them.
    scale_sd: optional per-SKU relative sd of the unit weight (e.g. from ``UnitWeightLearner``).
    """
    scale = scale_sd or {}
    in_bin = list(dict.fromkeys(bin_skus))
    out = []
    for sku in in_bin:
        if sku not in catalogue:
            LOGGER.warning("hypotheses: planogram SKU %s is not in the catalogue", sku)
            continue
        unit_g, unit_sd_g = catalogue[sku]
        prior = 1.0 if priors is None else float(priors.get(sku, 1.0))
        out.append(Candidate(sku, unit_g, unit_sd_g, prior, scale.get(sku), True))
    others = sorted(set(catalogue) - set(in_bin))
    if off_planogram_prior > 0.0 and others:
        p = off_planogram_prior / len(others)
        for sku in others:
            unit_g, unit_sd_g = catalogue[sku]
            out.append(Candidate(sku, unit_g, unit_sd_g, p, scale.get(sku), False))
    return out


def min_event_by_bin(
    bin_skus: Mapping[str, Iterable[str]],
    catalogue: Mapping[str, tuple[float, float]],
    *,
    fraction: float = 0.4,
) -> dict[str, float]:
    """bin -> smallest weight change [g] worth an event: ``fraction`` of its lightest product.

    For ``ShelfEventDetector(min_event_g=...)``: on a shelf of 1 kg cartons a 20 g hand press that
    rests for a moment is no pick. 0.4 leaves room for catalogue weights 20 % off; the cost is that
    a misplaced product lighter than that, returned to the bin, is missed. Bins without a known
    product get no entry (the detector's global minimum applies).
    """
    out = {}
    for b, skus in bin_skus.items():
        weights = [catalogue[s][0] for s in skus if s in catalogue and catalogue[s][0] > 0]
        if weights:
            out[b] = fraction * min(weights)
    return out


def split_merged_event(
    event: ShelfEventCore,
    candidates_by_bin: Mapping[str, Sequence[Candidate]],
    config: HypothesisConfig | None = None,
    *,
    across_prior: float = 0.5,
) -> tuple[ShelfEventCore, ...]:
    """Decide whether an adjacent-bin event is one item across the bins or separate reaches.

    The detector merges changes on neighbouring bins that start and settle together. Two
    shoppers (or two hands) taking whole items from neighbouring bins at the same moment look the
    same to it. Bayes factor: "one item across" explains the total with the union of the bins'
    candidates and spreads it over the bins uniformly (density 1/|total| for the split);
    "separate" explains each bin's share with that bin's candidates. ``across_prior``: prior
    probability of "one item across" among such coincidences.
    Returns ``(event,)`` when it stays merged, else one STATE_SETTLED event per bin (event id from
    that bin and the merged t_start; delta_sd split evenly in variance; the bin's own span when
    the event carries ``bin_spans``).
    """
    if len(event.bin_ids) < 2 or event.state != STATE_SETTLED:
        return (event,)
    cfg = config or HypothesisConfig()
    n = len(event.bin_ids)
    sd_each = event.delta_sd_g / math.sqrt(n)
    union: dict[str, Candidate] = {}
    for b in event.bin_ids:
        for c in candidates_by_bin.get(b, ()):
            union.setdefault(c.sku, c)
    total = abs(event.delta_g)
    across = log_evidence(event.delta_g, event.delta_sd_g, list(union.values()), cfg)
    across += (n - 1) * -math.log(max(total, 1.0)) + math.log(across_prior)
    separate = math.log(1.0 - across_prior)
    for b, d in zip(event.bin_ids, event.bin_deltas_g, strict=True):
        separate += log_evidence(d, sd_each, list(candidates_by_bin.get(b, ())), cfg)
    if across >= separate:
        return (event,)
    return tuple(
        replace(
            event,
            event_id=event_id(b, event.t_start),
            bin_id=b,
            bin_ids=(b,),
            t_start=span[0],
            t_end=span[1],
            delta_g=d,
            delta_sd_g=sd_each,
            bin_deltas_g=(d,),
            bin_spans=(),
        )
        for b, d, span in zip(event.bin_ids, event.bin_deltas_g, event.spans(), strict=True)
    )


def combine_with_vision(
    hypotheses: Sequence[Hypothesis],
    vision_scores: Mapping[str, float],
    *,
    weight: float = 1.0,
    floor: float = 0.05,
) -> list[Hypothesis]:
    """Re-rank weight hypotheses with per-SKU vision evidence.

    vision_scores: sku -> score in [0, 1] (classifier probability or barcode match) for the product
        seen in the hand or the facing; SKUs not listed get 0. Each hypothesis is multiplied by
        ``prod_i (floor + score(sku_i)) ** weight`` (the floor keeps a SKU the camera did not see
        possible); the unexplained hypothesis by the mean factor over the scored SKUs.
    Returns the hypotheses re-normalised to the same total probability, most probable first.
    With no scores the input order and probabilities are returned unchanged.
    """
    if not hypotheses or not vision_scores:
        return list(hypotheses)
    scores = {k: min(max(float(v), 0.0), 1.0) for k, v in vision_scores.items() if math.isfinite(v)}
    if not scores:
        return list(hypotheses)
    neutral = float(np.mean([(floor + s) ** weight for s in scores.values()]))
    total = sum(h.probability for h in hypotheses)
    factors = []
    for h in hypotheses:
        if h.is_unexplained:
            factors.append(neutral)
        else:
            factors.append(math.prod((floor + scores.get(s, 0.0)) ** weight for s, _ in h.items))
    raw = [h.probability * f for h, f in zip(hypotheses, factors, strict=True)]
    norm = sum(raw)
    if norm <= 0.0:
        return list(hypotheses)
    out = [replace(h, probability=total * r / norm) for h, r in zip(hypotheses, raw, strict=True)]
    return sorted(out, key=lambda h: (-round(h.probability, 12), h.items))


@dataclass
class _UnitPosterior:
    mean_g: float
    var_g2: float
    unit_sd_g: float
    count: int = 0


class UnitWeightLearner:
    """Per-SKU unit weight learned from confident single-SKU events (conjugate Gaussian).

    Prior for each SKU's true mean unit weight: Normal(catalogue unit_g, (scale_sd * unit_g)^2).
    An event whose top hypothesis is one SKU with probability >= ``min_probability`` gives the
    observation ``-delta_g / q`` with variance ``unit_sd^2 / |q| + delta_sd^2 / q^2``; observations
    more than ``gate_sigma`` sd from the current estimate are rejected (a wrong top hypothesis must
    not drag the estimate). ``catalogue()`` and ``scale_sd()`` feed ``candidates_for_bins`` with
    the learned mean and a shrunk relative sd (floored at ``min_scale_sd``: shelves drift, and an
    over-confident weight turns a slightly off delta into a wrong multi-item answer).
    Self-training: a confident wrong answer still teaches it; keep the thresholds strict.
    """

    def __init__(
        self,
        catalogue: Mapping[str, tuple[float, float]],
        *,
        scale_sd: float = 0.08,
        min_probability: float = 0.9,
        gate_sigma: float = 4.0,
        max_quantity: int = 3,
        min_scale_sd: float = 0.01,
    ) -> None:
        self._post = {
            sku: _UnitPosterior(float(m), float((scale_sd * m) ** 2), float(sd))
            for sku, (m, sd) in catalogue.items()
        }
        self.min_probability = min_probability
        self.gate_sigma = gate_sigma
        self.max_quantity = max_quantity
        self.min_scale_sd = min_scale_sd

    def observe(self, delta_g: float, delta_sd_g: float, hypotheses: Sequence[Hypothesis]) -> bool:
        """Learn from one event's ranked hypotheses; returns True when a SKU was updated."""
        if not hypotheses or not math.isfinite(delta_g) or not math.isfinite(delta_sd_g):
            return False
        top = hypotheses[0]
        if top.is_unexplained or top.is_mixed or top.probability < self.min_probability:
            return False
        sku, q = top.items[0]
        post = self._post.get(sku)
        if post is None or q == 0 or abs(q) > self.max_quantity:
            return False
        obs = -delta_g / q
        obs_var = post.unit_sd_g**2 / abs(q) + delta_sd_g**2 / q**2
        if (obs - post.mean_g) ** 2 > self.gate_sigma**2 * (post.var_g2 + obs_var):
            return False
        gain = post.var_g2 / (post.var_g2 + obs_var)
        post.mean_g += gain * (obs - post.mean_g)
        post.var_g2 *= 1.0 - gain
        post.count += 1
        return True

    def unit_weight(self, sku: str) -> tuple[float, float] | None:
        """Learned (mean [g], sd of that mean [g]) of ``sku``, or None if unknown."""
        post = self._post.get(sku)
        return None if post is None else (post.mean_g, math.sqrt(post.var_g2))

    def catalogue(self) -> dict[str, tuple[float, float]]:
        """sku -> (learned unit_g, unit_sd_g) for ``candidates_for_bins``."""
        return {s: (p.mean_g, p.unit_sd_g) for s, p in self._post.items()}

    def scale_sd(self) -> dict[str, float]:
        """sku -> relative sd of the learned mean, for ``candidates_for_bins(scale_sd=...)``."""
        return {
            s: max(math.sqrt(p.var_g2) / p.mean_g, self.min_scale_sd)
            for s, p in self._post.items()
            if p.mean_g > 0
        }

"""(SKU, quantity) hypotheses: multi-item, mixed bins, returns, look-alikes, catalogue errors."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from go_fusion.core.hypotheses import (
    Candidate,
    HypothesisConfig,
    UnitWeightLearner,
    bin_ownership,
    candidates_for_bins,
    combine_with_vision,
    log_evidence,
    log_mass,
    ownership_priors,
    rank_hypotheses,
    split_merged_event,
)
from go_fusion.core.shelf_events import STATE_SETTLED, ShelfEventCore

CATALOGUE = {
    "cola": (355.0, 3.0),
    "chips": (160.0, 4.0),
    "gum": (32.0, 1.0),
    "juice_a": (1085.0, 6.5),
    "juice_b": (1085.0, 6.5),  # a look-alike of juice_a
    "yoghurt": (522.0, 3.1),
}


def top(delta: float, skus: list[str], sd: float = 0.5, **kw: float) -> list:
    cands = candidates_for_bins(skus, CATALOGUE, off_planogram_prior=kw.pop("off", 0.0))
    return rank_hypotheses(delta, sd, cands, HypothesisConfig(**kw))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_several_items_in_one_reach(n: int) -> None:
    hyps = top(-n * 160.0 + 1.0, ["chips"])
    assert hyps[0].items == (("chips", n),)
    assert hyps[0].probability > 0.8
    assert hyps[0].quantity == n and hyps[0].sku == "chips"


def test_return_is_a_negative_quantity() -> None:
    hyps = top(+2 * 355.0, ["cola", "chips"])
    assert hyps[0].items == (("cola", -2),)
    assert all(q < 0 for h in hyps for _, q in h.items)


VERIFIED = {"cola": 0.01, "chips": 0.01}  # unit weights checked (or learned) to 1 %


def test_mixed_bin_two_skus_in_one_reach() -> None:
    delta = -(355.0 + 2 * 160.0)
    cands = candidates_for_bins(["cola", "chips"], CATALOGUE, scale_sd=VERIFIED)
    hyps = rank_hypotheses(delta, 0.5, cands)
    assert hyps[0].items == (("chips", 2), ("cola", 1))
    assert hyps[0].is_mixed and hyps[0].sku == "chips+cola" and hyps[0].quantity == 3
    # with the wide default prior (catalogue may be 20 % off) it stays among the top three
    assert (("chips", 2), ("cola", 1)) in [h.items for h in top(delta, ["cola", "chips"])[:3]]


def test_probabilities_are_normalised_and_sorted() -> None:
    hyps = top(
        -500.0, ["cola", "chips", "gum"], sd=20.0, min_probability=0.0, max_hypotheses=10_000
    )
    probs = [h.probability for h in hyps]
    assert sum(probs) == pytest.approx(1.0)
    assert probs == sorted(probs, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probs)


def test_variance_grows_with_quantity() -> None:
    hyps = top(-355.0, ["cola"], min_probability=0.0, max_hypotheses=100)
    sd = {h.quantity: h.predicted_sd_g for h in hyps if not h.is_unexplained}
    assert sd[1] < sd[2] < sd[6]


def test_fewer_items_are_preferred_when_the_weight_is_ambiguous() -> None:
    # 320 g = 2 chips = 10 gum: the prior favours fewer items
    hyps = rank_hypotheses(
        -320.0,
        1.0,
        [Candidate("chips", 160.0, 4.0), Candidate("gum", 32.0, 1.0)],
        HypothesisConfig(max_quantity=10),
    )
    assert hyps[0].items == (("chips", 2),)


def test_look_alikes_get_equal_probability_and_vision_separates_them() -> None:
    hyps = top(-1085.0, ["juice_a", "juice_b"])
    assert {h.items[0][0] for h in hyps[:2]} == {"juice_a", "juice_b"}
    assert hyps[0].probability == hyps[1].probability
    assert hyps[0].probability == pytest.approx(0.5, abs=0.02)
    seen = combine_with_vision(hyps, {"juice_b": 0.9, "juice_a": 0.05})
    assert seen[0].items == (("juice_b", 1),) and seen[0].probability > 0.85
    assert sum(h.probability for h in seen) == pytest.approx(sum(h.probability for h in hyps))
    assert combine_with_vision(hyps, {}) == hyps


@pytest.mark.parametrize("error", [-0.2, -0.1, 0.05, 0.15, 0.2])
def test_catalogue_weight_off_by_up_to_20_percent_still_explains_one_item(error: float) -> None:
    hyps = top(-522.0 * (1.0 + error), ["yoghurt"])
    assert hyps[0].items == (("yoghurt", 1),)


def test_misplaced_return_is_found_among_catalogue_products() -> None:
    hyps = top(+32.0, ["juice_a"], off=0.05)
    assert hyps[0].items == (("gum", -1),)
    hyps = top(+32.0, ["juice_a"], off=0.0)
    assert hyps[0].is_unexplained


def test_planogram_products_beat_catalogue_ones_of_similar_weight() -> None:
    cands = candidates_for_bins(
        ["cola"], {**CATALOGUE, "soda": (352.0, 3.0)}, off_planogram_prior=0.05
    )
    hyps = rank_hypotheses(-353.0, 0.5, cands)
    assert hyps[0].items == (("cola", 1),) and hyps[0].probability > 0.9


def test_a_delta_nothing_explains_is_unexplained() -> None:
    hyps = top(-37.0, ["juice_a", "yoghurt"])
    assert hyps[0].is_unexplained and hyps[0].items == () and hyps[0].sku == ""


def test_bad_input_is_rejected_or_skipped() -> None:
    with pytest.raises(ValueError, match="delta_g"):
        rank_hypotheses(math.nan, 1.0, [Candidate("a", 10.0, 1.0)])
    with pytest.raises(ValueError, match="delta_sd_g"):
        rank_hypotheses(-10.0, -1.0, [Candidate("a", 10.0, 1.0)])
    with pytest.raises(ValueError, match="max_quantity"):
        HypothesisConfig(max_quantity=0)
    hyps = rank_hypotheses(-10.0, 0.5, [Candidate("bad", math.nan, 1.0), Candidate("a", 10.0, 0.3)])
    assert hyps[0].items == (("a", 1),)
    assert candidates_for_bins(["missing"], CATALOGUE) == []


def test_learned_unit_weight_resolves_quantity_when_the_catalogue_is_20_percent_low() -> None:
    real = 96.0  # the catalogue says 80 g
    catalogue = {"bar": (80.0, 1.5)}
    cfg = HypothesisConfig()
    before = rank_hypotheses(-5 * real, 1.0, candidates_for_bins(["bar"], catalogue), cfg)
    assert before[0].items == (("bar", 6),)  # 480 g looks like six 80 g bars
    learner = UnitWeightLearner(catalogue)
    rng = np.random.default_rng(0)
    for _ in range(8):  # single picks teach it the real weight
        delta = -rng.normal(real, 1.5)
        cands = candidates_for_bins(["bar"], learner.catalogue(), scale_sd=learner.scale_sd())
        assert learner.observe(delta, 0.5, rank_hypotheses(delta, 0.5, cands, cfg))
    mean, sd = learner.unit_weight("bar")
    assert mean == pytest.approx(real, abs=1.5) and sd < 1.0
    cands = candidates_for_bins(["bar"], learner.catalogue(), scale_sd=learner.scale_sd())
    after = rank_hypotheses(-5 * real, 1.0, cands, cfg)
    assert after[0].items == (("bar", 5),)


def test_learner_ignores_unconfident_and_mixed_events() -> None:
    learner = UnitWeightLearner(CATALOGUE)
    hyps = top(-1085.0, ["juice_a", "juice_b"])  # 50/50
    assert not learner.observe(-1085.0, 0.5, hyps)
    cands = candidates_for_bins(["cola", "chips"], CATALOGUE, scale_sd=VERIFIED)
    hyps = rank_hypotheses(-515.0, 0.5, cands)
    assert hyps[0].is_mixed and not learner.observe(-515.0, 0.5, hyps)
    assert learner.unit_weight("cola") == (355.0, pytest.approx(0.08 * 355.0))


def _merged(deltas: tuple[float, ...]) -> ShelfEventCore:
    bins = tuple(f"b{i}" for i in range(len(deltas)))
    return ShelfEventCore(
        "b0@1.000", "b0", bins, 1.0, 2.0, 2.5, sum(deltas), 0.5, STATE_SETTLED, deltas
    )


def test_split_merged_event_keeps_an_item_across_bins_and_splits_two_reaches() -> None:
    by_bin = {
        "b0": candidates_for_bins(["juice_a"], CATALOGUE),
        "b1": candidates_for_bins(["yoghurt"], CATALOGUE),
    }
    across = _merged((-700.0, -385.0))  # one 1085 g juice resting on both bins
    assert split_merged_event(across, by_bin) == (across,)
    two = _merged((-1085.0, -522.0))  # a juice and a yoghurt taken at the same moment
    parts = split_merged_event(two, by_bin)
    assert [(e.bin_ids, round(e.delta_g)) for e in parts] == [(("b0",), -1085), (("b1",), -522)]
    assert [e.event_id for e in parts] == ["b0@1.000", "b1@1.000"]
    single = _merged((-1085.0,))
    assert split_merged_event(single, by_bin) == (single,)
    # Each part keeps its own bin's span when the detector recorded them.
    spans = ((1.0, 1.8), (1.3, 2.0))
    parts = split_merged_event(replace(two, bin_spans=spans), by_bin)
    assert [(e.t_start, e.t_end) for e in parts] == list(spans)
    assert all(e.bin_spans == () for e in parts)


def test_log_evidence_prefers_the_candidates_that_explain_the_delta() -> None:
    juice = candidates_for_bins(["juice_a"], CATALOGUE)
    gum = candidates_for_bins(["gum"], CATALOGUE)
    assert log_evidence(-1085.0, 1.0, juice) > log_evidence(-1085.0, 1.0, gum) + 5.0
    assert log_evidence(-1085.0, 1.0, []) == pytest.approx(-math.log(5000.0))  # unexplained


def test_log_mass_keeps_the_scale_of_the_priors() -> None:
    # log_evidence normalises the priors away; log_mass does not, so a cart holding the item
    # explains a return 1 / prior times better than one where it is only on the planogram.
    held = [Candidate("yoghurt", 522.0, 3.1, prior=1.0)]
    not_held = [Candidate("yoghurt", 522.0, 3.1, prior=0.02)]
    cfg = HypothesisConfig(unexplained_prior=0.0)
    diff = log_mass(522.0, 1.0, held, cfg) - log_mass(522.0, 1.0, not_held, cfg)
    assert diff == pytest.approx(math.log(50.0))
    assert log_evidence(522.0, 1.0, held, cfg) == pytest.approx(
        log_evidence(522.0, 1.0, not_held, cfg)
    )
    assert log_mass(522.0, 1.0, [], cfg) == -math.inf


def test_the_bin_bearing_most_of_an_item_across_two_plates_owns_it() -> None:
    # A pack resting across two plates sits mostly on its own bin's: 75 / 25 leaves little doubt.
    a, b = bin_ownership([772.0, 258.0], 0.1)
    assert a > 0.99 and b < 0.01 and a + b == pytest.approx(1.0)
    assert bin_ownership([0.25, 0.75], 0.1)[1] > 0.99  # the order of the bins does not matter
    lo, hi = bin_ownership([0.45, 0.55], 0.1)
    assert 0.2 < lo < 0.5 < hi < 0.8  # nearly even: still open, vision and the hands decide
    assert bin_ownership([1.0], 0.1) == (1.0,)
    # shares that say nothing give equal ownership, not an error or NaN
    for bad in ([0.0, 0.0], [float("nan"), 1.0], [-1.0, 2.0]):
        assert bin_ownership(bad, 0.1) == (0.5, 0.5)
    assert bin_ownership([], 0.1) == ()
    with pytest.raises(ValueError, match="share_softness"):
        HypothesisConfig(share_softness=0.0)


def test_ownership_priors_keep_a_floor_and_a_sku_takes_its_best_bin() -> None:
    held = [("b4", ["vanilla"]), ("b3", ["strawberry", "vanilla"])]
    prior = ownership_priors(held, [0.25, 0.75], 0.1)
    assert prior["vanilla"] > 0.99  # also in the owning bin
    held = [("b4", ["vanilla"]), ("b3", ["strawberry"])]
    prior = ownership_priors(held, [0.75, 0.25], 0.1)
    assert prior["vanilla"] > 0.99 and prior["strawberry"] == 0.05  # the floor
    # a return rests where the shopper put it: the shares are only proportional priors
    prior = ownership_priors(held, [0.75, 0.25], 0.1, taken=False)
    assert prior == {"vanilla": 0.75, "strawberry": 0.25}
    assert ownership_priors(held, [float("nan"), 1.0], 0.1, taken=False) == {
        "vanilla": 0.5,
        "strawberry": 0.5,
    }


def test_an_equal_weight_item_across_two_plates_is_the_larger_share_s_product() -> None:
    # Two look-alikes of the same weight, one per bin: only where the weight came off names it.
    cat = {"vanilla": (1040.0, 6.2), "strawberry": (1040.0, 6.2)}
    held = [("b4", ["vanilla"]), ("b3", ["strawberry"])]
    priors = ownership_priors(held, [772.0, 258.0], HypothesisConfig().share_softness)
    cands = candidates_for_bins(["vanilla", "strawberry"], cat, priors=priors)
    top = rank_hypotheses(-1030.0, 8.0, cands, HypothesisConfig())[0]
    assert top.items == (("vanilla", 1),) and top.probability > 0.9
    flat = rank_hypotheses(-1030.0, 8.0, candidates_for_bins(["vanilla", "strawberry"], cat))
    assert flat[0].probability == pytest.approx(0.5, abs=0.01)  # without the shares: a coin

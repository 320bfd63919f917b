"""Which product left a mixed bin, from the cameras' views of its lanes (facing evidence).

Equal-weight look-alikes sharing a bin (two flavours of one yoghurt) leave the same weight change
whichever is taken, and a held item is a few pixels wide from the ceiling, so such a pick goes to
review. The planogram puts each product of a mixed bin in its own lane
(``StoreModel.facing_lanes``), and the cameras report, lane by lane, whether the lane's stock
moved between two clear views (``go_perception.core.facings``; ``go_msgs/ProductEvidence`` with
``SOURCE_FACING``: one lane per item, score 1 when it moved, 0 when not, and the stamp of the
earlier view in ``since``). A report speaks about an event when its span holds the event:
``since <= t_start`` and ``t >= t_end``.

Each camera's report of a lane is a noisy yes/no: P(moved | units of that lane were taken) =
``p_moved_if_taken``, P(moved | not) = ``p_moved_if_not`` (people the detector missed, a
neighbour's reach). A pick hypothesis (sku, quantity) expects its SKU's lane to move and the
others to stay; its likelihood is the product over lanes of the mean per-camera likelihood: one
observation per lane however many cameras see it (they see the same shelf; counting each would
let a lane seen by more cameras outvote one seen by fewer). The posterior is computed only once
every lane has a report covering the event, so a lane still hidden behind a shopper never lets
another lane's change decide alone. Two picks from different lanes inside one report span leave
both lanes moved, which favours neither product: they stay in review, unless one was decided
otherwise (``others``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from go_fusion.core.attribution import SOURCE_FACING, EvidenceItem, WeightHypothesis


@dataclass(frozen=True)
class FacingEvidenceConfig:
    """How facing reports settle a look-alike pick waiting in review.

    enabled: read facing reports at all. wait_s: a queued pick listens for reports this long
    after its weight settled [s] (sensor time). p_moved_if_taken, p_moved_if_not: the per-camera
    report model (see the module docstring).
    """

    enabled: bool = True
    wait_s: float = 20.0
    p_moved_if_taken: float = 0.9
    p_moved_if_not: float = 0.15

    def __post_init__(self) -> None:
        if not 0.0 < self.p_moved_if_not < self.p_moved_if_taken < 1.0:
            raise ValueError(
                "need 0 < p_moved_if_not < p_moved_if_taken < 1, got "
                f"{self.p_moved_if_not}, {self.p_moved_if_taken}"
            )
        if not self.wait_s > 0.0:
            raise ValueError(f"wait_s must be positive, got {self.wait_s}")


def covering_reports(
    evidence: Iterable[EvidenceItem], bin_id: str, t_start: float, t_end: float
) -> dict[str, dict[str, EvidenceItem]]:
    """sku -> camera -> the first facing report of that lane whose span holds [t_start, t_end]."""
    out: dict[str, dict[str, EvidenceItem]] = {}
    for e in evidence:
        if e.source != SOURCE_FACING or e.bin_id != bin_id or e.since is None:
            continue
        if not (e.since <= t_start and e.t >= t_end) or len(e.scores) != 1:
            continue
        (sku,) = e.scores
        lane = out.setdefault(sku, {})
        if e.camera_id not in lane or e.t < lane[e.camera_id].t:
            lane[e.camera_id] = e
    return out


def facing_posterior(
    hypotheses: Sequence[WeightHypothesis],
    lanes: Sequence[str],
    reports: dict[str, dict[str, EvidenceItem]],
    config: FacingEvidenceConfig,
    others: Sequence[tuple[float, str]] = (),
) -> list[WeightHypothesis] | None:
    """Pick hypotheses re-weighted by the lanes' reports, normalised, best first; None while a
    lane has no report covering the event (or the bin has fewer than two lanes).

    others: (stamp [s], sku) of the other events decided at this bin. A report whose span holds
    one of them expects that lane to have moved whatever this event took, so it weighs every
    hypothesis alike there (two picks of different lanes seen in one span: the first, once
    decided, leaves the second to the other lane's report).
    """
    if len(lanes) < 2 or any(not reports.get(sku) for sku in lanes):
        return None
    hit, false = config.p_moved_if_taken, config.p_moved_if_not
    weighted = []
    for h in hypotheses:
        taken = {sku for sku, q in h.items if q > 0}
        log_l = 0.0
        for sku in lanes:
            cams = reports[sku]
            total = 0.0
            for e in cams.values():
                assert e.since is not None
                explained = any(s == sku and e.since <= t <= e.t for t, s in others)
                p_moved = hit if sku in taken or explained else false
                moved = float(next(iter(e.scores.values()))) >= 0.5
                total += p_moved if moved else 1.0 - p_moved
            log_l += math.log(total / len(cams))
        weighted.append((h, h.probability * math.exp(log_l)))
    total = sum(w for _, w in weighted)
    if total <= 0.0:
        return None
    out = [WeightHypothesis(h.items, w / total) for h, w in weighted]
    return sorted(out, key=lambda h: (-h.probability, h.items))

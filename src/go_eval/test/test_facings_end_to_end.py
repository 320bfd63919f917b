"""Look-alikes in one bin, end to end: rendered shelves -> lane reports -> a pick settled.

lookalike_equal_weight with the simulator-trained pose backend (the networks that run in the
evaluation): the first Alpro pick is decided by the hand crops, the second goes to review and is
then settled by the cameras' reports of the bin's lanes (go_perception.core.facings ->
go_fusion.core.facing_evidence). Without the lane reports it stays in review.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from go_eval.core.offline import OfflineRun, RunConfig
from go_eval.core.scoring import score_receipts
from go_fusion.core.facing_evidence import FacingEvidenceConfig
from go_fusion.core.pipeline import FusionConfig
from go_perception.core.backends import BackendConfig

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("perception")
    config = RunConfig("small", "lookalike_equal_weight", 0, backend=BackendConfig(backend="sim"))
    with_lanes = OfflineRun(config, perception_cache=cache).run()
    off = FusionConfig(facings=replace(FacingEvidenceConfig(), enabled=False))
    without = OfflineRun(config, perception_cache=cache, fusion_config=off).run()
    return with_lanes, without


def test_the_lanes_settle_the_second_pick(runs) -> None:
    with_lanes, without = runs
    assert score_receipts(with_lanes.expected, with_lanes.predicted).receipt_accuracy == 1.0
    assert with_lanes.diagnostics.get("facings_decided") == 1
    assert with_lanes.reviewed_interactions == []
    assert len(with_lanes.facings_settled_s) == 1
    assert score_receipts(without.expected, without.predicted).receipt_accuracy == 0.5
    assert [i.sku for i in without.reviewed_interactions] == ["Alpro-Blueberry-Soyghurt"]

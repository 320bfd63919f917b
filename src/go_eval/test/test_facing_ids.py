"""A lane report reaches fusion the same way offline as through ROS.

The evaluation hands perception's lane reports to fusion directly (``offline.facing_evidence``);
a live store sends them as ``go_msgs/ProductEvidenceArray`` (``product_conversions``) that
fusion reads back (``go_fusion.conversions``). Both must give the same evidence item, the id
included: fusion journals evidence by id, so a replay of a recorded run and the offline
evaluation of the same frames must agree.
"""

from __future__ import annotations

import pytest
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from go_eval.core.offline import facing_evidence
from go_fusion.conversions import evidence_from_msg
from go_perception.core.facings import FacingReport
from go_perception.product_conversions import evidence_array_msg


@pytest.mark.parametrize("moved", [True, False])
def test_offline_and_ros_lane_reports_are_the_same_evidence(moved: bool) -> None:
    report = FacingReport(
        "cam_aisle", "g1_xp_s3_b3", "Alpro-Vanilla-Soyghurt", 11.5, 12.5, 0.2, moved
    )
    header = Header(stamp=Time(sec=12, nanosec=500_000_000), frame_id="cam_aisle")
    (from_ros,) = evidence_from_msg(evidence_array_msg(header, "cam_aisle", [], [report]))
    offline = facing_evidence(report)
    assert from_ros.evidence_id == offline.evidence_id
    assert from_ros.evidence_id == "cam_aisle/12500000000/facing/g1_xp_s3_b3/Alpro-Vanilla-Soyghurt"
    assert (from_ros.camera_id, from_ros.bin_id, from_ros.source) == (
        offline.camera_id,
        offline.bin_id,
        offline.source,
    )
    assert from_ros.t == pytest.approx(offline.t)
    assert from_ros.since == pytest.approx(offline.since)
    assert from_ros.scores == offline.scores == {report.sku: 1.0 if moved else 0.0}

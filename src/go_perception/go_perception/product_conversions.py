"""go_msgs <-> product recognition core types (no rclpy graph needed; tests build messages).

- ``people_from_msg``: ``go_msgs/PersonDetectionArray`` -> ``PersonKeypoints`` per person.
- ``evidence_array_msg``: observations (and facing reports) -> ``go_msgs/ProductEvidenceArray``
  with the image's header.
- ``barcode_table``: ``go_msgs/Catalogue`` -> {barcode: sku}.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from std_msgs.msg import Header

from go_msgs.msg import (
    Catalogue,
    PersonDetectionArray,
    ProductEvidence,
    ProductEvidenceArray,
    SkuScore,
)
from go_perception.core.facings import FacingReport, facing_evidence_id
from go_perception.core.products.recognise import PersonKeypoints, ProductObservation

_SOURCES = {"hand": ProductEvidence.SOURCE_HAND, "barcode": ProductEvidence.SOURCE_BARCODE}


def people_from_msg(msg: PersonDetectionArray) -> list[PersonKeypoints]:
    """Each person of ``msg`` as (17, 3) keypoints [x px, y px, score] and a (4,) bbox [px].

    ``PersonKeypoints.index`` is the person's index in ``msg.people``. Non-finite values are
    passed on: the crop geometry skips a wrist it cannot use.
    """
    people = []
    for i, p in enumerate(msg.people):
        kp = np.asarray(p.keypoints, np.float64).reshape(17, 2)
        scores = np.asarray(p.keypoint_scores, np.float64)
        people.append(
            PersonKeypoints(i, np.column_stack([kp, scores]), np.asarray(p.bbox, np.float64))
        )
    return people


def evidence_array_msg(
    header: Header,
    camera_id: str,
    observations: list[ProductObservation],
    facings: Sequence[FacingReport] = (),
) -> ProductEvidenceArray:
    """Observations of one image -> ``ProductEvidenceArray`` (header copied unchanged).

    ``evidence_id`` is ``<camera>/<stamp ns>/p<person>/<side>[/barcode]``: unique per image and
    stable across replays. ``position`` is NaN (this node does not know 3D); ``bin_id`` empty.
    Facing reports follow (``SOURCE_FACING``, ``<camera>/<stamp ns>/facing/<bin>/<sku>``): the
    bin, its lane's SKU scored 1 when moved and 0 when not, ``since`` the earlier view's stamp.
    """
    stamp_ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    out = ProductEvidenceArray(header=header)
    for obs in observations:
        ev = ProductEvidence()
        suffix = "/barcode" if obs.source == "barcode" else ""
        ev.evidence_id = f"{camera_id}/{stamp_ns}/p{obs.person}/{obs.side}{suffix}"
        ev.camera_id = camera_id
        ev.source = _SOURCES[obs.source]
        ev.bbox = [float(v) for v in obs.box]
        ev.position.x = ev.position.y = ev.position.z = math.nan
        ev.bin_id = ""
        ev.ranked = [SkuScore(sku=s.sku, score=float(s.score)) for s in obs.ranked]
        out.evidence.append(ev)
    for report in facings:
        ev = ProductEvidence()
        ev.evidence_id = facing_evidence_id(camera_id, stamp_ns, report.bin_id, report.sku)
        ev.camera_id = camera_id
        ev.source = ProductEvidence.SOURCE_FACING
        ev.position.x = ev.position.y = ev.position.z = math.nan
        ev.bin_id = report.bin_id
        ev.ranked = [SkuScore(sku=report.sku, score=1.0 if report.moved else 0.0)]
        since_ns = round(report.since * 1e9)
        ev.since.sec, ev.since.nanosec = divmod(since_ns, 1_000_000_000)
        out.evidence.append(ev)
    return out


def barcode_table(msg: Catalogue) -> dict[str, str]:
    """{barcode: sku} of the catalogue's products that have a barcode."""
    return {p.barcode: p.sku for p in msg.products if p.barcode}

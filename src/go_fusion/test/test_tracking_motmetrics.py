"""Tracking accuracy on a small synthetic crowd, scored with py-motmetrics (IDF1, MOTA, switches).

The simulator-based evaluation scores the real scenarios; this keeps a cheap regression floor.
"""

from __future__ import annotations

import motmetrics as mm
import numpy as np

from go_fusion.bench.synthetic import (
    RenderOptions,
    make_cameras,
    make_walkers,
    render,
    step_walkers,
)
from go_fusion.core.multiview import MultiViewConfig, MultiViewTracker
from go_fusion.core.tracking import GateArea, GateKind, TrackState

FLOOR = (10.0, 8.0)


def test_twelve_walkers_tracked_without_identity_switches() -> None:
    rng = np.random.default_rng(11)
    cams = make_cameras(8, FLOOR)
    walkers = make_walkers(12, rng, FLOOR)
    # The whole floor is an entry area: everyone present at the start gets a track.
    tracker = MultiViewTracker(
        MultiViewConfig(), cams, [GateArea("all", GateKind.ENTRY, (0.0, 0.0), FLOOR)]
    )
    acc = mm.MOTAccumulator(auto_id=True)
    options = RenderOptions(noise_px=2.5, drop_person=0.1, drop_keypoint=0.1)
    dt = 1.0 / 15.0
    for k in range(120):
        step_walkers(walkers, dt, rng, FLOOR)
        dets, _ = render(cams, [w.joints() for w in walkers], k * dt, rng, options)
        out = tracker.update(k * dt, dets)
        if k < 5:  # tracks confirm after three measurements
            continue
        tracks = [tr for tr in out.tracks if tr.state != TrackState.TENTATIVE]
        truth = np.array([w.xy for w in walkers])
        hyp = np.array([tr.position[:2] for tr in tracks]).reshape(-1, 2)
        dist = mm.distances.norm2squared_matrix(truth, hyp, max_d2=0.5**2)
        hyp_ids = [int(tr.track_id.lstrip("T")) for tr in tracks]  # motmetrics wants numbers
        acc.update(list(range(len(walkers))), hyp_ids, dist)
    summary = mm.metrics.create().compute(
        acc, metrics=["idf1", "mota", "num_switches", "num_false_positives", "num_misses"]
    )
    row = summary.iloc[0]
    assert row["num_switches"] == 0
    assert row["idf1"] >= 0.97
    assert row["mota"] >= 0.97

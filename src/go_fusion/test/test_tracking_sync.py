"""Camera streams with jittered stamps, arriving late and out of order, through the approximate-time
synchroniser (go_common) into the multi-view tracker: one stable track, steps in time order."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from go_common.core.approx_sync import ApproxTimeSync, SyncConfig, seconds_to_ns
from go_fusion.bench.synthetic import RenderOptions, render, ring_cameras, skeleton
from go_fusion.core.association import CameraPeople
from go_fusion.core.multiview import MultiViewConfig, MultiViewTracker
from go_fusion.core.tracking import GateArea, GateKind, TrackState

CAMS = ring_cameras(4, centre=(3.0, 3.0), radius_m=4.5, focal_ratio=0.4)


def test_synchronised_sets_from_jittered_late_streams_track_one_shopper() -> None:
    rng = np.random.default_rng(3)
    sync = ApproxTimeSync(SyncConfig(n_streams=len(CAMS), queue_size=6, slop_s=0.03))
    tracker = MultiViewTracker(
        MultiViewConfig(), CAMS, [GateArea("all", GateKind.ENTRY, (0.0, 0.0), (6.0, 6.0))]
    )
    # Every camera exposes at 15 Hz with its own jitter; messages reach fusion 0-120 ms later,
    # so they arrive interleaved and out of order across cameras; 3 % are lost.
    arrivals: list[tuple[float, int, float, CameraPeople]] = []
    for k in range(90):
        t = k / 15.0
        person = skeleton(np.array([1.0 + 0.05 * k, 3.0]), heading=0.0, phase=6.0 * t)
        for i, cam in enumerate(CAMS):
            stamp = t + rng.uniform(-0.008, 0.008)
            if rng.random() < 0.03:
                continue
            dets, _ = render([cam], [person], stamp, rng, RenderOptions(noise_px=2.0))
            arrivals.append((stamp + rng.uniform(0.0, 0.12), i, stamp, dets[cam.camera_id]))
    arrivals.sort(key=lambda a: a[0])
    outputs = []
    for _, stream, stamp, msg in arrivals:
        matched = sync.add(stream, seconds_to_ns(stamp), msg)
        if matched is None:
            continue
        t_set = float(np.median([m.stamp for m in matched]))
        outputs.append(tracker.update(t_set, {m.camera_id: m for m in matched}))
    used = [out for out in outputs if out.rejected is None]
    assert len(used) >= 60  # most sets made it, despite loss and disorder
    # A late message can complete a set older than one already fused: refused, with the reason.
    late = [out for out in outputs if out.rejected is not None]
    assert all("out of order or late" in (out.rejected or "") for out in late)
    assert all(b.t > a.t for a, b in pairwise(used))
    assert all("stamp" not in d for out in used for d in out.diagnostics)
    ids = {tr.track_id for out in used for tr in out.tracks}
    assert len(ids) == 1
    last = used[-1].tracks[0]
    assert last.state == TrackState.CONFIRMED
    assert abs(last.position[0] - (1.0 + 0.05 * 15.0 * used[-1].t)) < 0.15

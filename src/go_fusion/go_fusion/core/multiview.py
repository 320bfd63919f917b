"""Multi-view 3D skeletons and shopper tracks from synchronised 2D skeletons (pure core).

This is the API the fusion node calls once per synchronised camera set::

    tracker = MultiViewTracker(MultiViewConfig(), cameras, gates)
    out = tracker.update(t, detections_by_camera, gate_events)
    out.skeletons      # tuple[Skeleton3D]: 3D skeletons (store frame, per-joint covariance)
    out.skeleton_tracks  # tuple[str]: track id of each skeleton ("" for none)
    out.tracks         # tuple[Track]: live tracks (+ the ones that exited now, state EXITED)
    out.exits          # tuple[ExitEvent]: who left, with their session, this step
    out.diagnostics    # tuple[str]: bad input and notable events, one line each
    out.rejected       # None, or why the whole camera step was refused (late, out of order)
    tracker.wrist_history(track_id, t0, t1)  # WristHistory for attribution
    tracker.wrist_histories(t0, t1)          # every track with wrist samples in the window
    state = tracker.export_state()           # JSON-compatible sessions + tracks; after a
    tracker.restore_state(state)             # restart, tracks come back OCCLUDED and re-found

Inputs:
- ``cameras``: :class:`~go_fusion.core.cameras.FusionCamera` per camera, from CameraInfo and
  ``/tf_static`` (``FusionCamera.from_camera_info``) or a store model (``from_store_camera``).
- ``gates``: :class:`~go_fusion.core.tracking.GateArea` from the store layout; births happen
  only in entry areas.
- ``t``: the stamp the synchroniser matched the set on [s] (``go_common.core.approx_sync``, or
  a partial set when a camera is down: missing cameras are simply absent); it must increase
  from call to call. Each ``CameraPeople.stamp`` must lie within ``max_camera_skew_s`` of ``t``
  (else that camera is left out of the step with a diagnostic). A late or out-of-order set is
  refused with a reason in ``rejected`` (its gate events are still applied). A jump forward of
  more than ``max_time_jump_s`` is refused until ``resync_steps`` consecutive sets confirm it.
- ``detections_by_camera``: :class:`~go_fusion.core.association.CameraPeople` per camera (a
  mapping by camera id or a sequence); a camera may be missing from a step.
- ``gate_events``: :class:`~go_fusion.core.tracking.GateEvent` received since the last call.

One step:
1. check, undistort and cast rays for every keypoint of every camera (association.build_batch);
2. attach detections to the previous step's skeletons moved by their track's velocity
   (top-down; one optimal assignment per camera; mirrored anchors match people who turned);
3. triangulate those groups (batched weighted DLT with covariance, wrong views rejected);
4. offer the detections left over to the new skeletons, cluster the rest across views
   bottom-up (new people) and triangulate them;
5. merge skeletons that are one person split over disjoint cameras, offer rejected views a
   second time, drop lone detections that duplicate a skeleton's camera;
6. lift people seen by one camera only with a prior (their previous skeleton, else a standing
   body on the floor), with a long covariance along the camera ray; a body that lands inside a
   fixture's footprint (``fixtures``: the gondolas) is lifted again nearer the camera, on the
   same rays, until it is out;
7. track on the floor plane (tracking.ShopperTracker): gate events, assignment, births at the
   entry, occlusion, exits, wrist history.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from go_fusion.core.association import (
    AssociationConfig,
    CameraPeople,
    DetectionBatch,
    anchor_centers,
    assign_to_anchors,
    build_batch,
    cluster_views,
)
from go_fusion.core.cameras import CameraRig, FusionCamera
from go_fusion.core.tracking import (
    ExitEvent,
    GateArea,
    GateEvent,
    ShopperTracker,
    Track,
    TrackingConfig,
    WristHistory,
)
from go_fusion.core.triangulation import (
    BODY_JOINT_HEIGHT_M,
    BODY_JOINT_HEIGHT_SD_M,
    FloorBox,
    Skeleton3D,
    SkeletonBatch,
    TriangulationConfig,
    body_prior,
    concat_skeletons,
    empty_skeletons,
    lift_single_views,
    step_off_fixtures,
    triangulate_groups,
)
from go_fusion.core.vecmath import norm3

_LOG = logging.getLogger(__name__)
_FIXTURE_PASSES = 3  # lifts again of a single-view body inside a fixture, at most


@dataclass(frozen=True)
class MultiViewConfig:
    """Everything the multi-view tracker needs besides cameras and gates."""

    association: AssociationConfig = field(default_factory=AssociationConfig)
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    anchor_max_age_s: float = 0.5  # previous skeletons older than this are not anchors
    anchor_duplicate_m: float = 0.3  # an untracked anchor this close to a tracked one is dropped
    duplicate_merge_m: float = 0.3  # skeletons whose joints are this close are one person
    # Triangulate a track's lone attached view with other cameras' unclaimed views of it
    # (MultiViewTracker._pair_single_views) instead of lifting each view on its own.
    pair_single_views: bool = True
    pair_anchor_m: float = 0.5  # ... when the result's centre is this close to the track's
    # A body lifted from one view inside a fixture's footprint grown by this [m] slides back
    # along its camera ray until it is out (triangulation.step_off_fixtures); < 0: off.
    fixture_clearance_m: float = 0.0
    max_time_jump_s: float = 10.0  # a larger jump forward needs confirmation
    resync_steps: int = 3  # consecutive sets that confirm a jump forward


@dataclass(frozen=True)
class TrackerOutput:
    """Result of one :meth:`MultiViewTracker.update`.

    Attributes:
        t: step time [s].
        skeletons: 3D skeletons of the step (empty when rejected).
        skeleton_tracks: (len(skeletons),) track id of each skeleton, "" for none.
        tracks: live tracks, and those that exited at this step (state EXITED).
        exits: exits at this step, with their sessions.
        diagnostics: problems and notable events, one line each.
        rejected: None, or why the camera set was not used.
    """

    t: float
    skeletons: tuple[Skeleton3D, ...]
    skeleton_tracks: tuple[str, ...]
    tracks: tuple[Track, ...]
    exits: tuple[ExitEvent, ...]
    diagnostics: tuple[str, ...]
    rejected: str | None = None


class MultiViewTracker:
    """Association + triangulation + tracking, one call per synchronised step."""

    def __init__(
        self,
        config: MultiViewConfig,
        cameras: Iterable[FusionCamera],
        gates: Sequence[GateArea] = (),
        fixtures: Sequence[FloorBox] = (),
    ) -> None:
        self.config = config
        self.rig = CameraRig(cameras)
        self.fixtures = tuple(fixtures)  # footprints nobody stands in (single-view depths)
        self.stepped_off = 0  # single-view bodies moved out of a fixture, in all
        self.tracker = ShopperTracker(config.tracking, gates)
        self._t: float | None = None
        self._jump: list[float] = []  # stamps of a pending jump forward
        self._jump_note: str | None = None
        self._orphans: tuple[float, np.ndarray, np.ndarray] | None = None

    def set_cameras(self, cameras: Iterable[FusionCamera]) -> None:
        """Replace the calibration (e.g. a new CameraInfo or /tf_static)."""
        self.rig = CameraRig(cameras)

    def export_state(self) -> dict[str, Any]:
        """Sessions and live tracks as JSON-compatible data (store it to survive a restart)."""
        return {"t": self._t, "tracker": self.tracker.export_state()}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`export_state` data after a restart (fresh tracker only).

        Restored tracks are OCCLUDED until re-found by position; steps older than the saved
        time are refused as late.
        """
        self.tracker.restore_state(state["tracker"])
        self._t = None if state.get("t") is None else float(state["t"])

    def forget_tracks(self, track_ids: Iterable[str]) -> list[str]:
        """Drop live tracks that exited while a restored state was saved (see ShopperTracker)."""
        return self.tracker.forget_tracks(track_ids)

    def wrist_history(self, track_id: str, t0: float, t1: float) -> WristHistory:
        """Wrist samples of a live or recently exited track in ``[t0, t1]`` [s]."""
        return self.tracker.wrist_history(track_id, t0, t1)

    def wrist_histories(self, t0: float, t1: float) -> dict[str, WristHistory]:
        """Wrist samples in ``[t0, t1]`` of every track that has some."""
        return self.tracker.wrist_histories(t0, t1)

    def update(
        self,
        t: float,
        detections_by_camera: Mapping[str, CameraPeople] | Sequence[CameraPeople],
        gate_events: Sequence[GateEvent] = (),
    ) -> TrackerOutput:
        """One synchronised step at time ``t`` [s]; see the module docstring."""
        views = (
            list(detections_by_camera.values())
            if isinstance(detections_by_camera, Mapping)
            else list(detections_by_camera)
        )
        reason = self._check_time(t)
        if reason is not None:
            now = self._t if self._t is not None else t
            res = self.tracker.handle_gate_events(now, gate_events)
            diags = (f"camera set at {t} s rejected: {reason}", *res.diagnostics)
            return TrackerOutput(t, (), (), res.tracks, res.exits, diags, reason)
        diags: list[str] = []
        if self._jump_note is not None:
            diags.append(self._jump_note)
            self._jump_note = None
        batch, batch_diags = build_batch(self.rig, views, t, self.config.association)
        diags += batch_diags
        skeletons, anchor_tracks = self._skeletons(t, batch)
        objects = self._objects(skeletons, batch)
        looks = _skeleton_appearance(skeletons, _detection_appearance(batch, views, self.rig.ids))
        res = self.tracker.update(t, skeletons, objects, anchor_tracks, gate_events, looks)
        diags += res.diagnostics
        untracked = [i for i, tid in enumerate(res.skeleton_tracks) if not tid]
        self._orphans = (t, skeletons.keypoints[untracked], skeletons.valid[untracked])
        return TrackerOutput(
            t, tuple(objects), res.skeleton_tracks, res.tracks, res.exits, tuple(diags)
        )

    # -------------------------------------------------------------------------- internals
    def _check_time(self, t: float) -> str | None:
        """None when ``t`` may be used (and becomes the current time), else the reason not."""
        if not math.isfinite(t):
            return f"stamp {t} is not a finite time"
        last = self._t
        if last is not None and t <= last:
            kind = "duplicate" if t == last else "out of order or late"
            return f"stamp {t:.6f} s is not after the last step {last:.6f} s ({kind})"
        if last is not None and t - last > self.config.max_time_jump_s:
            if self._jump and t <= self._jump[-1]:
                self._jump = []
            self._jump.append(t)
            if len(self._jump) < self.config.resync_steps:
                return (
                    f"stamp {t:.3f} s jumps {t - last:.1f} s ahead of the last step "
                    f"(> {self.config.max_time_jump_s} s): waiting for confirmation"
                )
            self._jump_note = (
                f"time jumped {t - last:.1f} s forward to {t:.3f} s: accepted after "
                f"{len(self._jump)} consistent sets"
            )
        self._jump = []
        self._t = t
        return None

    def _anchors(self, t: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        cfg = self.config
        kp, valid, tracks = self.tracker.anchors(t, cfg.anchor_max_age_s)
        if self._orphans is None or t - self._orphans[0] > cfg.anchor_max_age_s:
            return kp, valid, tracks
        o_kp, o_valid = self._orphans[1], self._orphans[2]
        if o_kp.shape[0] == 0:
            return kp, valid, tracks
        if kp.shape[0]:
            gap = np.linalg.norm(
                anchor_centers(o_kp, o_valid)[:, None] - anchor_centers(kp, valid)[None], axis=2
            )
            keep = gap.min(axis=1) > cfg.anchor_duplicate_m
            o_kp, o_valid = o_kp[keep], o_valid[keep]
        kp = np.concatenate([kp, o_kp])
        valid = np.concatenate([valid, o_valid])
        return kp, valid, tracks + [""] * o_kp.shape[0]

    def _skeletons(self, t: float, batch: DetectionBatch) -> tuple[SkeletonBatch, list[str]]:
        cfg = self.config
        acfg, tcfg = cfg.association, cfg.triangulation
        n_det = len(batch)
        if n_det == 0:
            return empty_skeletons(), []
        a_kp, a_valid, a_tracks = self._anchors(t)
        det_anchor, _ = assign_to_anchors(
            self.rig, batch, a_kp, a_valid, np.ones(n_det, dtype=bool), acfg
        )
        taken = det_anchor >= 0
        anchor_ids, members, sizes = _group_matrix(det_anchor)
        multi = sizes >= 2
        single = list(zip(anchor_ids[~multi].tolist(), members[~multi, 0].tolist(), strict=True))
        skel_a = triangulate_groups(self.rig, batch, members[multi], tcfg)
        tracks_a = [a_tracks[a] for a in anchor_ids[multi].tolist()]
        # Leftovers may belong to a person the anchors found: offer them to the new skeletons.
        free = ~taken
        if len(skel_a) and free.any():
            skel_a, attached = self._attach(batch, skel_a, free)
            free &= ~attached
        clusters = cluster_views(self.rig, batch, np.flatnonzero(free), acfg)
        skel_b = triangulate_groups(
            self.rig, batch, _pad([g for g in clusters if g.size >= 2]), tcfg
        )
        multi_views, tracks_m = self._merge_duplicates(
            batch, concat_skeletons([skel_a, skel_b]), tracks_a + [""] * len(skel_b)
        )
        # Views dropped as wrong by the triangulation, or never grouped, get a second chance.
        used = np.zeros(n_det, dtype=bool)
        used[multi_views.detections[multi_views.detections >= 0]] = True
        used[[d for _, d in single]] = True
        free = ~used
        if len(multi_views) and free.any():
            multi_views, attached = self._attach(batch, multi_views, free)
            free &= ~attached
        lone = np.flatnonzero(free)
        if lone.size and len(multi_views):
            # A lone detection close to a multi-view skeleton is a duplicate of that person.
            dup, _ = assign_to_anchors(
                self.rig, batch, multi_views.keypoints, multi_views.valid, free, acfg
            )
            lone = lone[dup[lone] < 0]
        skel_p, tracks_p = empty_skeletons(), []
        if single and lone.size and cfg.pair_single_views:
            skel_p, tracks_p, single, lone = self._pair_single_views(
                batch, single, lone, a_kp, a_valid, a_tracks
            )
        skel_s1, tracks_s1 = self._lift_anchored(batch, single, a_kp, a_valid, a_tracks)
        skel_s2 = self._lift_lone(batch, lone)
        out = concat_skeletons([multi_views, skel_p, skel_s1, skel_s2])
        anchor_tracks = tracks_m + tracks_p + tracks_s1 + [""] * len(skel_s2)
        keep = out.valid.sum(axis=1) >= tcfg.min_valid_joints
        if not keep.all():
            out = _select(out, keep)
            anchor_tracks = [a for a, k in zip(anchor_tracks, keep, strict=True) if k]
        return out, anchor_tracks

    def _merge_duplicates(
        self, batch: DetectionBatch, skel: SkeletonBatch, tracks: list[str]
    ) -> tuple[SkeletonBatch, list[str]]:
        """Merge skeletons whose joints coincide (one person split over two groups)."""
        n = len(skel)
        if n < 2:
            return skel, tracks
        centre = anchor_centers(skel.keypoints, skel.valid)
        iu, ju = np.triu_indices(n, k=1)
        near = norm3(centre[iu] - centre[ju]) < 2.0 * self.config.duplicate_merge_m
        iu, ju = iu[near], ju[near]
        if iu.size == 0:
            return skel, tracks
        # A split person's parts come from different cameras; two skeletons sharing a camera
        # are two people (one camera sees a person once), however close.
        cams = np.zeros((n, len(self.rig)), dtype=bool)
        rows, cols = np.nonzero(skel.detections >= 0)
        cams[rows, batch.camera_index[skel.detections[rows, cols]]] = True
        disjoint = ~np.any(cams[iu] & cams[ju], axis=1)
        iu, ju = iu[disjoint], ju[disjoint]
        both = skel.valid[iu] & skel.valid[ju]
        gap = np.where(both, norm3(np.nan_to_num(skel.keypoints[iu] - skel.keypoints[ju])), 0.0)
        mean_gap = gap.sum(axis=1) / np.maximum(both.sum(axis=1), 1)
        same = (both.sum(axis=1) >= 3) & (mean_gap < self.config.duplicate_merge_m)
        if not same.any():
            return skel, tracks
        parent = list(range(n))
        for i, j in zip(iu[same].tolist(), ju[same].tolist(), strict=True):
            ri, rj = _root(parent, i), _root(parent, j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
        roots = [_root(parent, i) for i in range(n)]
        members: dict[int, list[int]] = {}
        for i, r in enumerate(roots):
            members.setdefault(r, []).append(i)
        merged_rows, groups, keep = [], [], np.ones(n, dtype=bool)
        new_tracks = list(tracks)
        for root, rows in members.items():
            if len(rows) == 1:
                continue
            rows.sort(key=lambda r: -int((skel.detections[r] >= 0).sum()))
            dets: list[int] = []
            cams: set[int] = set()
            for r in rows:
                for d in skel.detections[r][skel.detections[r] >= 0].tolist():
                    if int(batch.camera_index[d]) not in cams:
                        cams.add(int(batch.camera_index[d]))
                        dets.append(d)
            merged_rows.append(root)
            groups.append(np.array(dets))
            new_tracks[root] = next((tracks[r] for r in rows if tracks[r]), "")
            keep[[r for r in rows if r != root]] = False
        redo = triangulate_groups(self.rig, batch, _pad(groups), self.config.triangulation)
        out = _replace_rows(skel, np.array(merged_rows), redo)
        return _select(out, keep), [tid for tid, k in zip(new_tracks, keep, strict=True) if k]

    def _attach(
        self, batch: DetectionBatch, skel: SkeletonBatch, free: np.ndarray
    ) -> tuple[SkeletonBatch, np.ndarray]:
        """Offer free detections to skeletons from cameras they lack; re-triangulate those."""
        dets = skel.detections
        cams = np.where(dets >= 0, batch.camera_index[np.maximum(dets, 0)], -1)
        blocked = np.zeros((len(skel), len(self.rig)), dtype=bool)
        rows, cols = np.nonzero(cams >= 0)
        blocked[rows, cams[rows, cols]] = True
        att, _ = assign_to_anchors(
            self.rig, batch, skel.keypoints, skel.valid, free, self.config.association, blocked
        )
        attached = att >= 0
        if not attached.any():
            return skel, attached
        extra = [[] for _ in range(len(skel))]
        for d in np.flatnonzero(attached):
            extra[att[d]].append(int(d))
        changed = [s for s in range(len(skel)) if extra[s]]
        groups = [np.concatenate([dets[s][dets[s] >= 0], np.array(extra[s])]) for s in changed]
        redo = triangulate_groups(self.rig, batch, _pad(groups), self.config.triangulation)
        return _replace_rows(skel, np.array(changed), redo), attached

    def _pair_single_views(
        self,
        batch: DetectionBatch,
        single: list[tuple[int, int]],
        lone: np.ndarray,
        a_kp: np.ndarray,
        a_valid: np.ndarray,
        a_tracks: list[str],
    ) -> tuple[SkeletonBatch, list[str], list[tuple[int, int]], np.ndarray]:
        """Triangulate a track's one attached view with other cameras' unclaimed views of it.

        A track whose previous skeleton was lifted from one view is only roughly placed in
        depth, so another camera's view of the same person can miss its anchor gate and stay
        lone: two single-view skeletons of one person, up to a metre apart, and the track may
        follow the wrong one. The views are clustered across cameras like new people; a
        cluster holding one anchored view (never two: that is two tracks) and lone views of
        other cameras is triangulated and replaces them when it keeps at least two views, the
        track's own among them, and its centre stays within ``pair_anchor_m`` of the track's
        predicted one (in a crowd a neighbour's view can pass the ray test). Views the
        triangulation dropped stay single or lone.
        Returns the new skeletons, their tracks, and the singles and lone views left over.
        """
        tcfg = self.config.triangulation
        anchored = {d: k for k, (_, d) in enumerate(single)}
        cand = np.concatenate([np.array([d for _, d in single]), lone])
        groups, owners = [], []
        for g in cluster_views(self.rig, batch, cand, self.config.association):
            mine = [anchored[d] for d in g.tolist() if d in anchored]
            if g.size >= 2 and len(mine) == 1:  # lone views alone were clustered before
                groups.append(g)
                owners.append(mine[0])
        if not groups:
            return empty_skeletons(), [], single, lone
        skel = triangulate_groups(self.rig, batch, _pad(groups), tcfg)
        anchors = np.array([single[k][0] for k in owners])
        expected = anchor_centers(a_kp[anchors], a_valid[anchors])
        found = anchor_centers(skel.keypoints, skel.valid)
        own = np.array([single[k][1] for k in owners])
        keep = (
            ((skel.detections >= 0).sum(axis=1) >= 2)
            & (skel.detections == own[:, None]).any(axis=1)  # the track's own view survived
            & (skel.valid.sum(axis=1) >= tcfg.min_valid_joints)
            & (norm3(np.nan_to_num(found - expected, nan=np.inf)) <= self.config.pair_anchor_m)
        )
        if not keep.any():
            return empty_skeletons(), [], single, lone
        # Only the views kept in a skeleton are used up; a view the triangulation dropped as
        # wrong (someone else's) stays lone and is lifted on its own.
        used = skel.detections[keep]
        done = np.zeros(len(batch), dtype=bool)
        done[used[used >= 0]] = True
        tracks = [a_tracks[a] for a in anchors.tolist()]
        single = [(a, d) for a, d in single if not done[d]]
        return (
            _select(skel, keep),
            [tr for tr, k in zip(tracks, keep, strict=True) if k],
            single,
            lone[~done[lone]],
        )

    def _lift_anchored(
        self,
        batch: DetectionBatch,
        single: list[tuple[int, int]],
        a_kp: np.ndarray,
        a_valid: np.ndarray,
        a_tracks: list[str],
    ) -> tuple[SkeletonBatch, list[str]]:
        """One view attached to an anchor: the anchor's joints are the prior along the ray."""
        if not single:
            return empty_skeletons(), []
        tcfg = self.config.triangulation
        anchors = np.array([a for a, _ in single])
        dets = np.array([d for _, d in single])
        kp, valid = a_kp[anchors], a_valid[anchors]
        centre = anchor_centers(kp, valid)
        body = np.concatenate(
            [np.broadcast_to(centre[:, None, :2], (len(single), 17, 2)),
             np.broadcast_to(BODY_JOINT_HEIGHT_M[None, :, None], (len(single), 17, 1))],
            axis=2,
        )  # fmt: skip
        mean = np.where(valid[..., None], np.nan_to_num(kp), body)
        var = np.empty((len(single), 17, 3))
        var[..., :2] = tcfg.body_horizontal_sd_m**2
        var[..., 2] = BODY_JOINT_HEIGHT_SD_M[None] ** 2
        var = np.where(valid[..., None], tcfg.anchor_motion_sd_m**2, var)
        info = np.zeros((len(single), 17, 3, 3))
        info[..., np.arange(3), np.arange(3)] = 1.0 / var
        skel = lift_single_views(self.rig, batch, dets, mean, info, tcfg)
        skel = self._off_fixtures(batch, dets, mean, info, skel)
        return skel, [a_tracks[a] for a in anchors]

    def _lift_lone(self, batch: DetectionBatch, lone: np.ndarray) -> SkeletonBatch:
        """One view and no anchor: a standing-body prior on the floor."""
        if lone.size == 0:
            return empty_skeletons()
        tcfg = self.config.triangulation
        mean, info, placed = body_prior(self.rig, batch, lone, tcfg)
        if not placed.any():
            return empty_skeletons()
        dets, mean, info = lone[placed], mean[placed], info[placed]
        skel = lift_single_views(self.rig, batch, dets, mean, info, tcfg)
        return self._off_fixtures(batch, dets, mean, info, skel)

    def _off_fixtures(
        self,
        batch: DetectionBatch,
        dets: np.ndarray,
        mean: np.ndarray,
        info: np.ndarray,
        skel: SkeletonBatch,
    ) -> SkeletonBatch:
        """Single-view skeletons ``skel`` (one per detection ``dets``, lifted with the prior
        ``mean``/``info``) whose torso lies in a fixture: lifted again with the prior moved
        along the camera ray until the body is out (``step_off_fixtures``)."""
        clearance = self.config.fixture_clearance_m
        if not self.fixtures or clearance < 0 or not len(skel):
            return skel
        cams = self.rig.centers[batch.camera_index[dets]]
        tcfg = self.config.triangulation
        mean = mean.copy()
        counted = np.zeros(len(skel), dtype=bool)
        # The lifted torso lands a little short of the moved prior (the rays pull too): a second
        # pass finishes the move.
        for _ in range(_FIXTURE_PASSES):
            centre = anchor_centers(skel.keypoints, skel.valid)
            shift = step_off_fixtures(centre[:, :2], cams[:, :2], self.fixtures, clearance)
            rows = np.flatnonzero(skel.valid.any(axis=1) & np.any(shift != 0.0, axis=1))
            if rows.size == 0:
                break
            # The prior moves along the ray through the torso, up towards a ceiling camera as
            # well: moved on the floor alone, the joints' height priors would hold it back.
            toward = cams[rows] - centre[rows]
            floor = np.maximum(np.hypot(toward[:, 0], toward[:, 1]), 1e-6)
            step = np.hypot(shift[rows, 0], shift[rows, 1]) / floor
            mean[rows] += (step[:, None] * toward)[:, None, :]
            again = lift_single_views(self.rig, batch, dets[rows], mean[rows], info[rows], tcfg)
            skel = _replace_rows(skel, rows, again)
            counted[rows] = True
        self.stepped_off += int(counted.sum())
        return skel

    def _objects(self, skel: SkeletonBatch, batch: DetectionBatch) -> list[Skeleton3D]:
        ids = self.rig.ids
        dets = skel.detections
        cams = np.where(dets >= 0, batch.camera_index[np.maximum(dets, 0)], -1).tolist()
        errors = skel.reprojection_error.tolist()
        single = skel.single_view.tolist()
        return [
            Skeleton3D(
                str(s),
                skel.keypoints[s],
                skel.scores[s],
                skel.covariance[s],
                tuple(ids[c] for c in cams[s] if c >= 0),
                errors[s],
                single[s],
            )
            for s in range(len(skel))
        ]


def _detection_appearance(
    batch: DetectionBatch, views: Sequence[CameraPeople], camera_ids: Sequence[str]
) -> np.ndarray | None:
    """(D, K) clothing colour of each detection of ``batch`` (NaN rows where its camera sent
    none); None when no camera sent descriptors or they disagree in size."""
    by_camera = {v.camera_id: v.appearance for v in views if v.appearance is not None}
    shapes = {np.shape(a)[1] for a in by_camera.values() if np.ndim(a) == 2}
    if not by_camera or len(shapes) != 1:
        return None
    out = np.full((len(batch), shapes.pop()), np.nan)
    for ci in np.unique(batch.camera_index):
        look = by_camera.get(camera_ids[int(ci)])
        if look is None or np.ndim(look) != 2:
            continue
        rows = np.flatnonzero(batch.camera_index == ci)
        src = batch.source_index[rows]
        ok = src < look.shape[0]
        out[rows[ok]] = np.asarray(look, dtype=np.float64)[src[ok]]
    return out


def _skeleton_appearance(skel: SkeletonBatch, det_looks: np.ndarray | None) -> np.ndarray | None:
    """(S, K) mean clothing colour of each skeleton's views (NaN where none knows), or None."""
    if det_looks is None:
        return None
    padded = np.vstack([det_looks, np.full((1, det_looks.shape[1]), np.nan)])
    stack = padded[np.where(skel.detections >= 0, skel.detections, len(det_looks))]  # (S, V, K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: unknown, NaN out
        return np.nanmean(stack, axis=1).reshape(len(skel), det_looks.shape[1])


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _group_matrix(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices grouped by non-negative label, as arrays (no Python loop over groups).

    Returns the labels (G,) ascending, the member indices (G, V) padded with -1, and the group
    sizes (G,).
    """
    idx = np.flatnonzero(labels >= 0)
    if idx.size == 0:
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    order = idx[np.argsort(labels[idx], kind="stable")]
    uniq, start, counts = np.unique(labels[order], return_index=True, return_counts=True)
    rank = np.arange(order.size) - np.repeat(start, counts)
    mat = np.full((uniq.size, max(2, int(counts.max()))), -1, dtype=np.int64)
    mat[np.repeat(np.arange(uniq.size), counts), rank] = order
    return uniq, mat, counts


def _pad(groups: list[np.ndarray]) -> np.ndarray:
    """Groups of detection indices -> (S, V) with -1 padding."""
    if not groups:
        return np.zeros((0, 2), dtype=np.int64)
    width = max(g.size for g in groups)
    out = np.full((len(groups), width), -1, dtype=np.int64)
    for i, g in enumerate(groups):
        out[i, : g.size] = g
    return out


def _select(skel: SkeletonBatch, keep: np.ndarray) -> SkeletonBatch:
    return SkeletonBatch(
        skel.keypoints[keep],
        skel.covariance[keep],
        skel.scores[keep],
        skel.valid[keep],
        skel.detections[keep],
        skel.reprojection_error[keep],
        skel.single_view[keep],
    )


def _replace_rows(skel: SkeletonBatch, rows: np.ndarray, new: SkeletonBatch) -> SkeletonBatch:
    width = max(skel.detections.shape[1], new.detections.shape[1])
    dets = np.pad(
        skel.detections, ((0, 0), (0, width - skel.detections.shape[1])), constant_values=-1
    )
    dets[rows] = np.pad(
        new.detections, ((0, 0), (0, width - new.detections.shape[1])), constant_values=-1
    )
    out = SkeletonBatch(
        skel.keypoints.copy(),
        skel.covariance.copy(),
        skel.scores.copy(),
        skel.valid.copy(),
        dets,
        skel.reprojection_error.copy(),
        skel.single_view.copy(),
    )
    out.keypoints[rows] = new.keypoints
    out.covariance[rows] = new.covariance
    out.scores[rows] = new.scores
    out.valid[rows] = new.valid
    out.reprojection_error[rows] = new.reprojection_error
    return out

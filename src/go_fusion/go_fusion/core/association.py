"""Cross-view association of 2D skeletons (pure numpy/scipy).

Input is every camera's people at one synchronised step (:class:`CameraPeople`). They are
concatenated into a :class:`DetectionBatch` (undistorted once, each keypoint turned into a ray
in the ``store`` frame) and grouped into "one person seen by these cameras" in two ways:

1. Top-down, against 3D anchors (the previous step's skeletons moved by their track's velocity,
   as in 4D Association / MVPose): each anchor is projected into each camera and every detection
   is scored by the mean distance [m] between the anchor's joints and the detection's keypoint
   rays; one optimal assignment (``scipy.optimize.linear_sum_assignment``) per camera.
2. Bottom-up, for what is left: ray-to-ray distances [m] between the keypoints of detections of
   different cameras (the epipolar constraint measured in metres), then a greedy agglomeration
   that never puts two detections of one camera in a group.

Distances are metric (point-to-ray or ray-to-ray, in metres) so one gate works for near and far
people; per-joint distances are capped before averaging so a left/right flip or one bad keypoint
does not veto a match. A cheap gate on one "centre ray" per detection prunes the pairs before the
17-joint distances are computed, which keeps the step linear in the number of people.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from go_common.core.pose_nms import duplicate_poses
from go_fusion.core.cameras import CameraRig
from go_fusion.core.vecmath import dot3, norm2, norm3, sum_last

_LOG = logging.getLogger(__name__)

NUM_KEYPOINTS = 17
LEFT_WRIST = 9
RIGHT_WRIST = 10
TORSO = np.array([5, 6, 11, 12])  # shoulders and hips: the most stable joints of a walking person
# COCO index of each joint's mirror image (left <-> right).
FLIP = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
# Heights [m] each COCO joint can take for an adult standing, walking, reaching or bending to a
# low shelf: head, shoulders, elbows, wrists, hips, knees, ankles.
# fmt: off
JOINT_Z_RANGE_M = np.array(
    [[0.8, 2.2]] * 5 + [[0.7, 1.9]] * 2 + [[0.3, 2.1]] * 2 + [[0.05, 2.4]] * 2
    + [[0.4, 1.3]] * 2 + [[0.15, 0.8]] * 2 + [[-0.2, 0.5]] * 2
)
# fmt: on
_INFEASIBLE = 1e6


@dataclass(frozen=True)
class CameraPeople:
    """Every person one camera saw in one image.

    Attributes:
        camera_id: camera from the store configuration.
        stamp: sensor time of the image [s].
        keypoints: (N, 17, 2) COCO-17 keypoints in distorted image pixels [px].
        keypoint_scores: (N, 17) keypoint confidences in [0, 1]; 0 = not found.
        scores: (N,) person detection confidences in [0, 1].
        appearance: (N, A) clothing-colour descriptors (``go_perception.core.appearance``),
            NaN where unknown; None when the camera's perception sends none.
    """

    camera_id: str
    stamp: float
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    scores: np.ndarray
    appearance: np.ndarray | None = None


@dataclass(frozen=True)
class AssociationConfig:
    """Gates of the cross-view association (distances in metres in the store frame)."""

    min_keypoint_score: float = 0.2  # keypoints below this are treated as missing
    min_person_keypoints: int = 4  # a detection needs this many keypoints to be used
    max_camera_skew_s: float = 0.1  # |camera stamp - step time| beyond this drops the view
    image_margin_px: float = 40.0  # keypoints further outside the image are dropped
    anchor_gate_m: float = 0.35  # mean joint-to-ray distance to attach a detection to an anchor
    pair_gate_m: float = 0.2  # mean ray-to-ray distance of two views of one person
    anchor_pregate_m: float = 0.6  # anchor-to-centre-ray distance beyond which joints are skipped
    center_pregate_m: float = 0.5  # centre-ray distance beyond which joints are not compared
    center_height_range_m: tuple[float, float] = (0.3, 1.9)  # where two centre rays may meet
    torso_plane_m: float = 1.1  # height of the plane centre rays are cut with to find pairs
    plane_pregate_m: float = 2.5  # cut points of one person's rays lie this close together
    max_ray_length_m: float = 40.0  # a ray meeting the torso plane further away is not cut
    joint_distance_cap_m: float = 0.6  # per-joint distances are capped at this before averaging
    min_common_joints: int = 3  # joints both sides need in common for a distance to count
    min_link_fraction: float = 0.75  # share of cross pairs that must pass when two groups merge
    max_height_m: float = 3.0  # a closest point of two rays above this cannot be a person
    max_body_radius_m: float = 0.9  # joints of one person lie this close to their centre
    # Pose-level NMS within a camera: a top-down pose network run on two overlapping person
    # boxes often finds the same person twice. Two detections of one camera whose common
    # keypoints lie within ``duplicate_scale`` x the person's size (keypoint box diagonal) for at
    # least ``duplicate_fraction`` of them are one person; the less confident one is dropped.
    duplicate_fraction: float = 0.7  # > 1 switches the check off
    duplicate_scale: float = 0.1


@dataclass(frozen=True)
class DetectionBatch:
    """Every usable detection of one step, concatenated over cameras (D detections).

    Attributes:
        camera_index: (D,) index into the :class:`CameraRig`.
        source_index: (D,) index of the person in its camera's :class:`CameraPeople`.
        keypoints_px: (D, 17, 2) distorted pixels [px].
        scores: (D, 17) keypoint confidences, 0 where the keypoint is missing or rejected.
        valid: (D, 17) bool, ``scores > 0``.
        normalized: (D, 17, 2) undistorted normalised coordinates in the optical frame.
        directions: (D, 17, 3) unit keypoint rays in the store frame (origin: camera centre).
        center_normalized: (D, 2) normalised coordinates of the detection's torso centre.
        center_directions: (D, 3) unit ray through the torso centre, store frame.
        person_scores: (D,) detection confidences.
    """

    camera_index: np.ndarray
    source_index: np.ndarray
    keypoints_px: np.ndarray
    scores: np.ndarray
    valid: np.ndarray
    normalized: np.ndarray
    directions: np.ndarray
    center_normalized: np.ndarray
    center_directions: np.ndarray
    person_scores: np.ndarray

    def __len__(self) -> int:
        return int(self.camera_index.shape[0])


def _center_weights(valid: np.ndarray) -> np.ndarray:
    """(N, 17) weights of the joints that define a body's centre: torso if any, else all."""
    torso = np.zeros_like(valid)
    torso[:, TORSO] = valid[:, TORSO]
    has_torso = torso.any(axis=1)
    w = np.where(has_torso[:, None], torso, valid).astype(np.float64)
    return w / np.maximum(sum_last(w), 1.0)[:, None]


def build_batch(
    rig: CameraRig, views: Sequence[CameraPeople], t: float, config: AssociationConfig
) -> tuple[DetectionBatch, list[str]]:
    """Check, undistort and concatenate the views of one step taken at time ``t`` [s].

    Bad input is dropped with a diagnostic string naming it: unknown cameras, stamps further than
    ``max_camera_skew_s`` from ``t``, wrong array shapes, NaN keypoints, out-of-range scores.
    """
    diags: list[str] = []
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    seen: set[str] = set()
    for view in views:
        ci = rig.index(view.camera_id)
        if ci is None:
            diags.append(f"unknown camera {view.camera_id!r}: its people are ignored")
            continue
        if view.camera_id in seen:
            diags.append(f"camera {view.camera_id!r} appears twice in one step: second ignored")
            continue
        seen.add(view.camera_id)
        if not np.isfinite(view.stamp) or abs(view.stamp - t) > config.max_camera_skew_s:
            diags.append(
                f"camera {view.camera_id!r} stamp {view.stamp:.3f} s is more than "
                f"{config.max_camera_skew_s} s from the step time {t:.3f} s: ignored"
            )
            continue
        kp = np.asarray(view.keypoints, dtype=np.float64)
        ks = np.asarray(view.keypoint_scores, dtype=np.float64)
        ps = np.asarray(view.scores, dtype=np.float64).reshape(-1)
        n = ps.shape[0]
        if kp.shape != (n, NUM_KEYPOINTS, 2) or ks.shape != (n, NUM_KEYPOINTS):
            diags.append(
                f"camera {view.camera_id!r}: keypoints {kp.shape} / scores {ks.shape} do not "
                f"match {n} people x 17 keypoints: ignored"
            )
            continue
        if n:
            parts.append((ci, kp, ks, ps))
    if not parts:
        return _empty_batch(), diags
    # Every check below runs once on all cameras together: per-camera numpy calls would cost
    # more than the arithmetic.
    cam_idx = np.concatenate([np.full(p[3].shape[0], p[0]) for p in parts])
    src = np.concatenate([np.arange(p[3].shape[0]) for p in parts])
    kp = np.concatenate([p[1] for p in parts])
    ks = np.concatenate([p[2] for p in parts])
    ps = np.concatenate([p[3] for p in parts])
    bad = ~np.isfinite(kp).all(axis=2) | ~np.isfinite(ks)
    out_of_range = (ks < 0.0) | (ks > 1.0)
    if bad.any() or out_of_range.any():
        for ci in np.unique(cam_idx[(bad | out_of_range).any(axis=1)]):
            sel = cam_idx == ci
            diags.append(
                f"camera {rig.ids[ci]!r}: {int(bad[sel].sum())} non-finite and "
                f"{int((out_of_range[sel] & ~bad[sel]).sum())} out-of-range keypoints dropped"
            )
        ks = np.where(bad | out_of_range, 0.0, ks)
        kp = np.where(bad[..., None], 0.0, kp)
    size = rig.sizes[cam_idx][:, None, :]  # (D, 1, 2) width, height
    margin = config.image_margin_px
    inside = np.all((kp >= -margin) & (kp < size + margin), axis=2)
    ks = np.where(inside & (ks >= config.min_keypoint_score), ks, 0.0)
    keep = sum_last(ks > 0) >= config.min_person_keypoints
    if not keep.all():
        cam_idx, src, kp, ks, ps = cam_idx[keep], src[keep], kp[keep], ks[keep], ps[keep]
    ps = np.clip(np.nan_to_num(ps, nan=0.0), 0.0, 1.0)
    n_det = ps.shape[0]
    if n_det == 0:
        return _empty_batch(), diags
    if n_det >= 2 and config.duplicate_fraction <= 1.0:
        dup = duplicate_detections(cam_idx, kp, ks, ps, config)
        if dup.any():
            cam_idx, src, kp, ks, ps = (x[~dup] for x in (cam_idx, src, kp, ks, ps))
            n_det = ps.shape[0]
    norm = rig.undistort_normalized(kp.reshape(-1, 2), np.repeat(cam_idx, NUM_KEYPOINTS)).reshape(
        n_det, NUM_KEYPOINTS, 2
    )
    valid = ks > 0
    rot = rig.rotations[cam_idx]  # (D, 3, 3) R_optical_store
    cw = _center_weights(valid)
    c_norm = np.matmul(cw[:, None, :], norm)[:, 0]
    homog = np.ones((n_det, NUM_KEYPOINTS + 1, 3))
    homog[:, :NUM_KEYPOINTS, :2] = norm
    homog[:, NUM_KEYPOINTS, :2] = c_norm
    rays = np.matmul(homog, rot)  # row vectors times R = R^T applied: optical -> store
    rays /= norm3(rays)[..., None]
    dirs, c_dir = rays[:, :NUM_KEYPOINTS], rays[:, NUM_KEYPOINTS]
    batch = DetectionBatch(cam_idx, src, kp, ks, valid, norm, dirs, c_norm, c_dir, ps)
    return batch, diags


def duplicate_detections(
    cam_idx: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    person_scores: np.ndarray,
    config: AssociationConfig,
) -> np.ndarray:
    """(D,) bool: detections that repeat a more confident detection of the same camera.

    cam_idx (D,), keypoints (D, 17, 2) [px], scores (D, 17) (0: missing), person_scores (D,).
    Pose-level NMS (``go_common.core.pose_nms``) with ``duplicate_fraction``,
    ``duplicate_scale`` and ``min_common_joints``. go_perception runs it on every image
    already (every backend); here it covers other publishers and bags recorded before that.
    """
    return duplicate_poses(
        cam_idx,
        keypoints,
        scores,
        person_scores,
        fraction=config.duplicate_fraction,
        scale=config.duplicate_scale,
        min_common=config.min_common_joints,
    )


def _empty_batch() -> DetectionBatch:
    k = NUM_KEYPOINTS
    return DetectionBatch(
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros((0, k, 2)),
        np.zeros((0, k)),
        np.zeros((0, k), dtype=bool),
        np.zeros((0, k, 2)),
        np.zeros((0, k, 3)),
        np.zeros((0, 2)),
        np.zeros((0, 3)),
        np.zeros(0),
    )


def anchor_centers(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Torso centres (A, 3) of 3D skeletons ``keypoints`` (A, 17, 3) with ``valid`` (A, 17)."""
    return np.matmul(_center_weights(valid)[:, None, :], np.nan_to_num(keypoints))[:, 0]


def assign_to_anchors(
    rig: CameraRig,
    batch: DetectionBatch,
    anchor_keypoints: np.ndarray,
    anchor_valid: np.ndarray,
    candidates: np.ndarray,
    config: AssociationConfig,
    blocked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Attach detections to 3D anchors, one optimal assignment per camera.

    Args:
        anchor_keypoints: (A, 17, 3) anchor joints, store frame [m].
        anchor_valid: (A, 17) bool.
        candidates: (D,) bool, detections that may be attached.
        blocked: optional (A, C) bool, cameras an anchor may not take a detection from (because
            it already has one).

    Returns:
        anchor of each detection (D,) int, -1 for none, and its cost (D,) [m] (inf for none).
    """
    d_total = len(batch)
    result = np.full(d_total, -1, dtype=np.int64)
    costs = np.full(d_total, np.inf)
    n_anchor = anchor_keypoints.shape[0]
    det = np.flatnonzero(candidates)
    if n_anchor == 0 or det.size == 0:
        return result, costs
    # Pre-gate on the torso centre: distance in the image plane times depth ~ metres. A detection
    # without torso keypoints is compared with the centre of all the anchor's joints instead,
    # under a looser gate (its own centre is then the centre of whatever joints it has).
    kp = np.nan_to_num(anchor_keypoints)
    cams = batch.camera_index[det]
    near = _centre_pregate(rig, batch, det, cams, kp, anchor_centers(kp, anchor_valid), config)
    no_torso = ~batch.valid[det][:, TORSO].any(axis=1)
    if no_torso.any():
        all_w = anchor_valid / np.maximum(anchor_valid.sum(axis=1, keepdims=True), 1)
        everything = np.matmul(all_w[:, None], kp)[:, 0]
        rows = np.flatnonzero(no_torso)
        near[rows] = _centre_pregate(
            rig, batch, det[rows], cams[rows], kp, everything, config, loose=True
        )
    if blocked is not None:
        near &= ~blocked.T[cams]
    pd, pa = np.nonzero(near)
    if pd.size == 0:
        return result, costs
    dets = det[pd]
    pc = cams[pd]
    # Project the anchor joints only into the cameras of the pairs that passed the pre-gate
    # (component by component: a stack of tiny matrix products is slower).
    x, rot = kp[pa], rig.rotations[pc]
    pts = (
        x[..., 0, None] * rot[:, None, :, 0]
        + x[..., 1, None] * rot[:, None, :, 1]
        + x[..., 2, None] * rot[:, None, :, 2]
        + rig.translations[pc][:, None, :]
    )
    depth = pts[..., 2]  # (P, 17)
    proj = pts[..., :2] / np.where(np.abs(depth) < 1e-9, 1e-9, depth)[..., None]
    dist = norm2(proj - batch.normalized[dets]) * np.maximum(depth, 0.0)
    ok = batch.valid[dets] & anchor_valid[pa] & (depth > 0.1)
    cost = _robust_mean(dist, ok, batch.scores[dets], config)
    # A person who turned round (or a detector that swapped left and right) matches the
    # mirrored anchor: compare with left and right joints exchanged too and keep the better.
    flip_ok = batch.valid[dets] & anchor_valid[pa][:, FLIP] & (depth[:, FLIP] > 0.1)
    flipped = norm2(proj[:, FLIP] - batch.normalized[dets]) * np.maximum(depth[:, FLIP], 0.0)
    cost = np.minimum(cost, _robust_mean(flipped, flip_ok, batch.scores[dets], config))
    keep = cost < config.anchor_gate_m
    dets, pa, pc, cost = dets[keep], pa[keep], pc[keep], cost[keep]
    # Pairs whose detection and (camera, anchor) appear in no other pair need no assignment.
    key = pc * n_anchor + pa
    clash = (np.bincount(dets, minlength=d_total)[dets] > 1) | (
        np.bincount(key, minlength=len(rig) * n_anchor)[key] > 1
    )
    free = ~clash
    result[dets[free]] = pa[free]
    costs[dets[free]] = cost[free]
    if clash.any():
        # One assignment over every camera at once: a detection only links to (its camera,
        # anchor) columns, so the problem is block-diagonal and equals one per camera.
        take = np.flatnonzero(clash)[_assign_sparse(dets[clash], key[clash], cost[clash])]
        result[dets[take]] = pa[take]
        costs[dets[take]] = cost[take]
    return result, costs


def _centre_pregate(
    rig: CameraRig,
    batch: DetectionBatch,
    det: np.ndarray,
    cams: np.ndarray,
    kp: np.ndarray,
    centres: np.ndarray,
    config: AssociationConfig,
    *,
    loose: bool = False,
) -> np.ndarray:
    """(D', A) bool: anchor centres (A, 3) whose projection lies near detections ``det``.

    The distance in the image plane times the depth approximates metres. ``loose`` doubles the
    gate, for detections whose own centre is not a torso centre.
    """
    c_norm, c_depth = rig.project_all(centres)  # (C, A, 2), (C, A)
    depth = c_depth[cams]
    gap = norm2(c_norm[cams] - batch.center_normalized[det][:, None, :]) * depth
    gate = config.anchor_pregate_m * (2.0 if loose else 1.0)
    return (depth > 0.1) & (gap < gate)


def _robust_mean(
    dist: np.ndarray, ok: np.ndarray, weights: np.ndarray, config: AssociationConfig
) -> np.ndarray:
    """Score-weighted mean over joints of capped distances (P, 17) -> (P,); inf if too few."""
    w = np.where(ok, weights, 0.0)
    capped = np.minimum(np.where(ok, dist, 0.0), config.joint_distance_cap_m)
    total = sum_last(w)
    mean = sum_last(w * capped) / np.maximum(total, 1e-12)
    return np.where(sum_last(ok) >= config.min_common_joints, mean, np.inf)


def _assign_sparse(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Optimal one-to-one choice among sparse pairs (rows[k], cols[k], cost[k]).

    Returns the indices k of the chosen pairs.
    """
    r_ids, r_inv = np.unique(rows, return_inverse=True)
    c_ids, c_inv = np.unique(cols, return_inverse=True)
    mat = np.full((r_ids.size, c_ids.size), _INFEASIBLE)
    pair = np.full((r_ids.size, c_ids.size), -1, dtype=np.int64)
    mat[r_inv, c_inv] = cost
    pair[r_inv, c_inv] = np.arange(cost.size)
    ri, cj = linear_sum_assignment(mat)
    chosen = pair[ri, cj]
    return chosen[chosen >= 0]


def ray_ray_distance(
    o1: np.ndarray, d1: np.ndarray, o2: np.ndarray, d2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Closest approach of rays ``o + s d`` (unit ``d``), broadcast over leading axes (..., 3).

    Returns the distance [m] (...) and the midpoint of the closest points (..., 3); the distance
    is inf where the rays are parallel or meet behind either camera.
    """
    w0 = o1 - o2
    c = dot3(d1, d2)
    dd = dot3(d1, w0)
    e = dot3(d2, w0)
    denom = 1.0 - c * c
    safe = np.where(denom < 1e-9, 1.0, denom)
    s = (c * e - dd) / safe
    u = e + s * c
    p1 = o1 + s[..., None] * d1
    p2 = o2 + u[..., None] * d2
    dist = norm3(p1 - p2)
    dist = np.where((denom < 1e-9) | (s <= 0) | (u <= 0), np.inf, dist)
    return dist, 0.5 * (p1 + p2)


def cluster_views(
    rig: CameraRig, batch: DetectionBatch, members: np.ndarray, config: AssociationConfig
) -> list[np.ndarray]:
    """Group detections ``members`` (indices into ``batch``) into people across cameras.

    Returns groups (arrays of batch indices, distinct cameras in each), singletons included.
    """
    members = np.asarray(members, dtype=np.int64)
    n = members.size
    if n == 0:
        return []
    cams = batch.camera_index[members]
    origins = rig.centers[cams]
    cd = batch.center_directions[members]
    iu, ju = _candidate_pairs(origins, cd, config)
    diff_cam = cams[iu] != cams[ju]
    iu, ju = iu[diff_cam], ju[diff_cam]
    dist, mid = ray_ray_distance(origins[iu], cd[iu], origins[ju], cd[ju])
    z_lo, z_hi = config.center_height_range_m
    near = (dist < config.center_pregate_m) & (mid[:, 2] > z_lo) & (mid[:, 2] < z_hi)
    iu, ju = iu[near], ju[near]
    parent = list(range(n))
    if iu.size:
        a, b = members[iu], members[ju]
        jd, jmid = ray_ray_distance(
            origins[iu][:, None, :],
            batch.directions[a],
            origins[ju][:, None, :],
            batch.directions[b],
        )
        ok = batch.valid[a] & batch.valid[b] & np.isfinite(jd)
        # Epipolar agreement alone is ambiguous in a crowd (several people lie along one
        # epipolar line); a true pair also triangulates to a body standing on the floor: each
        # joint at a plausible height, all joints within a body's width of their centre.
        z = jmid[..., 2]
        plausible = (z >= JOINT_Z_RANGE_M[:, 0]) & (z <= JOINT_Z_RANGE_M[:, 1])
        jd = np.where(plausible, jd, config.joint_distance_cap_m)
        w = ok.astype(np.float64)
        centre = (
            np.sum(w[..., None] * np.nan_to_num(jmid), axis=1)
            / np.maximum(w.sum(axis=1), 1.0)[:, None]
        )
        spread = np.where(ok, norm2(np.nan_to_num(jmid[..., :2]) - centre[:, None, :2]), 0.0)
        compact = spread.max(axis=1) <= config.max_body_radius_m
        cost = _robust_mean(jd, ok, np.sqrt(batch.scores[a] * batch.scores[b]), config)
        good = (cost < config.pair_gate_m) & compact
        _agglomerate(parent, iu[good], ju[good], cost[good], cams, config.min_link_fraction)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(_find(parent, i), []).append(i)
    return [members[g] for g in groups.values()]


def _candidate_pairs(
    origins: np.ndarray, directions: np.ndarray, config: AssociationConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of centre rays that may meet, without testing all n^2 pairs.

    Each ray is cut with the horizontal plane at torso height; rays of one person cut it within
    a few metres of each other (their slant times the spread of torso heights), so a KD-tree
    radius query on the cut points finds the candidates. Rays that do not reach the plane in
    front of their camera are paired with every ray.
    """
    n = origins.shape[0]
    dz = directions[:, 2]
    s = (config.torso_plane_m - origins[:, 2]) / np.where(dz < -1e-3, dz, np.nan)
    cut = origins[:, :2] + s[:, None] * directions[:, :2]
    placed = np.isfinite(s) & (s > 0.0) & (s < config.max_ray_length_m)
    idx = np.flatnonzero(placed)
    pairs = cKDTree(cut[idx]).query_pairs(config.plane_pregate_m, output_type="ndarray")
    iu, ju = idx[pairs[:, 0]], idx[pairs[:, 1]]
    lost = np.flatnonzero(~placed)
    if lost.size:
        li, lj = np.meshgrid(lost, np.arange(n), indexing="ij")
        keep = (li != lj) & (placed[lj] | (li < lj))
        iu, ju = np.concatenate([iu, li[keep]]), np.concatenate([ju, lj[keep]])
    lo, hi = np.minimum(iu, ju), np.maximum(iu, ju)
    return lo, hi


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _agglomerate(
    parent: list[int],
    iu: np.ndarray,
    ju: np.ndarray,
    cost: np.ndarray,
    cams: np.ndarray,
    min_link_fraction: float,
) -> None:
    """Greedy merge of gated pairs, cheapest first, one detection per camera per group."""
    linked = set(zip(iu.tolist(), ju.tolist(), strict=True))
    groups: dict[int, list[int]] = {}
    masks: dict[int, int] = {}
    for k in np.argsort(cost, kind="stable"):
        a, b = _find(parent, int(iu[k])), _find(parent, int(ju[k]))
        if a == b:
            continue
        ga = groups.get(a, [a])
        gb = groups.get(b, [b])
        ma = masks.get(a, 1 << int(cams[a]))
        mb = masks.get(b, 1 << int(cams[b]))
        if ma & mb:
            continue
        if len(ga) * len(gb) > 1:
            hits = sum(((min(x, y), max(x, y)) in linked) for x in ga for y in gb)
            if hits < min_link_fraction * len(ga) * len(gb):
                continue
        parent[b] = a
        groups[a] = ga + gb
        masks[a] = ma | mb

"""Batched, confidence-weighted triangulation of 3D skeletons with covariance (pure numpy).

Each joint is the weighted linear least-squares point closest to its keypoint rays: the DLT
written in ray form, ``sum_v w_v (I - d_v d_v^T) (X - c_v) = 0``, one 3x3 system per joint,
solved for every joint of every person in one batched call. Weighting the rows by
``w_v = score_v * (f_v / depth_v)^2 / sigma_px^2`` makes each residual a pixel error seen by its
camera, so the normal matrix is the information matrix of the joint and its inverse is the
covariance [m^2] that propagates the pixel noise (``keypoint_sigma_px / sqrt(score)``); it is
inflated by the a-posteriori variance factor when the reprojection error says the noise was larger.

Robustness: when a joint seen by 3 or more cameras has a view whose reprojection error exceeds
``joint_reject_px``, every leave-one-out solution is computed at once and the view whose removal
makes the rest agree is dropped (at most ``max_view_rejections`` times); a camera that loses most
of its joints that way is dropped from the skeleton (it was a wrong association). A skeleton sunk
towards the floor (hips and knees low, no foot on the floor) is a phantom of views of different
people that happen to agree (two cameras on one baseline see side-by-side shoppers on the same
epipolar planes) and is dropped whole, so the tracker does not follow it.

People seen by one camera only are lifted with a prior: the previous 3D skeleton of their track
when there is one, else a standing-body model on the ground plane (ankle or hip rays meet the
plane at their usual height); the covariance is then large along the ray. Such a depth can put
the body inside a fixture (ankles hidden by the shelf front, or someone else's): nobody stands
inside a gondola, so the body slides back along its camera ray until it is out
(:func:`step_off_fixtures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from go_fusion.core.association import FLIP, NUM_KEYPOINTS, DetectionBatch
from go_fusion.core.cameras import CameraRig
from go_fusion.core.vecmath import dot3, max_last, norm3, sum_last

# Height [m] of each COCO joint of a standing 1.70 m adult, and how much it varies [m] (arms
# reach shelves, so wrists and elbows vary most). Used only for people seen by one camera.
# fmt: off
BODY_JOINT_HEIGHT_M = np.array(
    [1.60, 1.63, 1.63, 1.60, 1.60, 1.42, 1.42, 1.10, 1.10, 0.85, 0.85, 0.92, 0.92, 0.50, 0.50,
     0.08, 0.08]
)
BODY_JOINT_HEIGHT_SD_M = np.array(
    [0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.35, 0.35, 0.5, 0.5, 0.12, 0.12, 0.1, 0.1,
     0.08, 0.08]
)
# fmt: on
_ANKLES = np.array([15, 16])
_KNEES = np.array([13, 14])
_HIPS = np.array([11, 12])


@dataclass(frozen=True)
class TriangulationConfig:
    """Noise model and rejection thresholds of the triangulation."""

    keypoint_sigma_px: float = 4.0  # pixel noise of a keypoint of score 1
    joint_reject_px: float = 20.0  # a view further than this from the others' solution is wrong
    max_view_rejections: int = 2  # views one joint may lose
    max_residual_px: float = 40.0  # a joint still this far off after rejection is dropped
    view_reject_fraction: float = 0.5  # a camera losing this share of its joints leaves the person
    max_joint_sigma_m: float = 0.6  # joints with sqrt(trace(cov)) above this are dropped
    min_valid_joints: int = 4  # a skeleton needs this many joints
    min_depth_m: float = 0.2  # a joint must be this far in front of each camera that sees it
    z_min_m: float = -0.3  # joints below / above these heights are impossible
    z_max_m: float = 3.0
    body_horizontal_sd_m: float = 0.3  # single view: spread of joints around the body axis
    anchor_motion_sd_m: float = 0.15  # single view with a previous skeleton: its motion per step
    # Sunk phantoms are dropped whole. With two cameras on one baseline, views of two people side
    # by side (or a view half hidden by the nearer person) meet on one epipolar plane with a
    # small reprojection error, at a point too far along the rays: a body sunk towards the
    # floor, every joint lowered. Measured on adjacent_reach and crossed_arms: phantoms' hips
    # at 0.40-0.51 m and knees below 0.3 m, real people's hips at 0.80-0.95 m. A crouching
    # shopper lowers the hips but keeps the knees up; a kneeling one keeps the ankles on the
    # floor. So: hips below ``phantom_hip_m`` AND knees below ``phantom_knee_m`` AND no ankle
    # at or above ``phantom_ankle_m``. Multi-view skeletons only. phantom_hip_m = 0: off.
    phantom_hip_m: float = 0.6
    phantom_knee_m: float = 0.3
    phantom_ankle_m: float = -0.05
    # Left/right consistency across views: a pose estimator that sees a person from behind (or
    # from straight above) often swaps left and right, in one view and not another; the views'
    # joints then pair left with right and triangulate between the two hands. A view is mirrored
    # (its left and right joints exchanged) when, against the group's reference view (the one
    # that sees the face best, with nose + eye scores summing to at least
    # ``side_min_face_score``; no such view: the group is left as labelled), the exchanged
    # pairing fits with less than ``side_flip_ratio`` of the mean pixel error and both pairings
    # match at least ``side_min_pairs`` left/right twins.
    side_consistency: bool = True
    side_flip_ratio: float = 0.5
    side_min_pairs: int = 3
    side_min_face_score: float = 1.0
    side_residual_cap_px: float = 60.0  # one bad joint cannot decide it


@dataclass(frozen=True)
class Skeleton3D:
    """One 3D COCO-17 skeleton in the ``store`` frame at one synchronised step.

    Attributes:
        skeleton_id: id within its step (not a track id).
        keypoints: (17, 3) joints [m]; NaN where the joint was not triangulated.
        scores: (17,) in [0, 1]; 0 where not triangulated.
        covariance: (17, 3, 3) joint covariances [m^2]; NaN where not triangulated.
        camera_ids: cameras whose views were fused.
        reprojection_error: mean reprojection error of the valid joints [px].
        single_view: True when lifted from one camera with a prior (large covariance along the
            camera ray) rather than triangulated.
    """

    skeleton_id: str
    keypoints: np.ndarray
    scores: np.ndarray
    covariance: np.ndarray
    camera_ids: tuple[str, ...]
    reprojection_error: float
    single_view: bool

    @property
    def valid(self) -> np.ndarray:
        """(17,) bool: joints that were triangulated."""
        return self.scores > 0


@dataclass(frozen=True)
class SkeletonBatch:
    """S triangulated skeletons in the store frame.

    Attributes:
        keypoints: (S, 17, 3) joints [m], NaN where invalid.
        covariance: (S, 17, 3, 3) joint covariances [m^2] (NaN where invalid).
        scores: (S, 17) in [0, 1], 0 where invalid.
        valid: (S, 17) bool.
        detections: (S, V) batch indices of the detections fused (-1 padding); after rejection.
        reprojection_error: (S,) mean reprojection error of the valid joints [px].
        single_view: (S,) bool, lifted from one camera with a prior.
    """

    keypoints: np.ndarray
    covariance: np.ndarray
    scores: np.ndarray
    valid: np.ndarray
    detections: np.ndarray
    reprojection_error: np.ndarray
    single_view: np.ndarray

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])


def empty_skeletons() -> SkeletonBatch:
    """A batch of no skeletons."""
    k = NUM_KEYPOINTS
    return SkeletonBatch(
        np.zeros((0, k, 3)),
        np.zeros((0, k, 3, 3)),
        np.zeros((0, k)),
        np.zeros((0, k), dtype=bool),
        np.zeros((0, 1), dtype=np.int64),
        np.zeros(0),
        np.zeros(0, dtype=bool),
    )


def concat_skeletons(parts: list[SkeletonBatch]) -> SkeletonBatch:
    """Concatenate batches (their detection columns are padded to the widest)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_skeletons()
    if len(parts) == 1:
        return parts[0]
    width = max(p.detections.shape[1] for p in parts)
    dets = [
        np.pad(p.detections, ((0, 0), (0, width - p.detections.shape[1])), constant_values=-1)
        for p in parts
    ]
    return SkeletonBatch(
        np.concatenate([p.keypoints for p in parts]),
        np.concatenate([p.covariance for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.valid for p in parts]),
        np.concatenate(dets),
        np.concatenate([p.reprojection_error for p in parts]),
        np.concatenate([p.single_view for p in parts]),
    )


def solve_rays(
    origins: np.ndarray,
    directions: np.ndarray,
    weights: np.ndarray,
    prior_mean: np.ndarray | None = None,
    prior_info: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares point closest to rays, batched over leading axes.

    Args:
        origins: (..., V, 3) ray origins [m].
        directions: (..., V, 3) unit ray directions.
        weights: (..., V) weights [1/m^2] (0 = unused view).
        prior_mean, prior_info: optional (..., 3) point and (..., 3, 3) information [1/m^2].

    Returns:
        points (..., 3) [m], the normal (information) matrices (..., 3, 3) [1/m^2] and their
        (slightly regularised) inverses (..., 3, 3) [m^2].
    """
    # sum_v w (I - d d^T) and sum_v w (I - d d^T) o, as matrix products over the views.
    wd = directions * weights[..., None]  # (..., V, 3)
    wsum = sum_last(weights)
    info = wsum[..., None, None] * np.eye(3) - np.matmul(wd.swapaxes(-1, -2), directions)
    along = dot3(directions, origins)  # (..., V)
    rhs = (
        np.matmul(weights[..., None, :], origins)[..., 0, :]
        - np.matmul(wd.swapaxes(-1, -2), along[..., None])[..., 0]
    )
    if prior_info is not None and prior_mean is not None:
        info = info + prior_info
        rhs = rhs + np.matmul(prior_info, prior_mean[..., None])[..., 0]
    inv = _inv3_sym(info)
    return np.matmul(inv, rhs[..., None])[..., 0], info, inv


def _inv3_sym(m: np.ndarray) -> np.ndarray:
    """Inverse of symmetric (..., 3, 3) matrices by cofactors, regularised by 1e-9 of the trace.

    Closed form because thousands of 3x3 systems per step cost more in LAPACK call overhead.
    """
    reg = 1e-9 * (m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]) + 1e-12
    a, d, f = m[..., 0, 0] + reg, m[..., 1, 1] + reg, m[..., 2, 2] + reg
    b, c, e = m[..., 0, 1], m[..., 0, 2], m[..., 1, 2]
    ca, cb, cc = d * f - e * e, c * e - b * f, b * e - c * d
    cd, ce, cf = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * ca + b * cb + c * cc
    det = np.where(np.abs(det) < 1e-300, 1e-300, det)
    out = np.empty_like(m)
    out[..., 0, 0], out[..., 0, 1], out[..., 0, 2] = ca, cb, cc
    out[..., 1, 0], out[..., 1, 1], out[..., 1, 2] = cb, cd, ce
    out[..., 2, 0], out[..., 2, 1], out[..., 2, 2] = cc, ce, cf
    return out / det[..., None, None]


def _residuals(
    points: np.ndarray, origins: np.ndarray, directions: np.ndarray, focals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-view reprojection error of points (..., 3) against rays (..., V, 3).

    Returns pixel residuals (..., V) [px], depth along each ray (..., V) [m] and metric
    perpendicular distances (..., V) [m].
    """
    rel = points[..., None, :] - origins
    depth = dot3(rel, directions)
    perp = norm3(rel - depth[..., None] * directions)
    px = perp * focals / np.maximum(depth, 1e-3)
    return px, depth, perp


def _gather(
    rig: CameraRig, batch: DetectionBatch, detections: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rays of groups ``detections`` (S, V) (-1 padding) as joint-major arrays.

    Returns origins (S, 17, V, 3), directions (S, 17, V, 3), scores (S, 17, V), focals (S, 1, V).
    """
    pad = detections < 0
    safe = np.where(pad, 0, detections)
    cams = batch.camera_index[safe]  # (S, V)
    origins = np.broadcast_to(
        rig.centers[cams][:, None], (*safe.shape[:1], NUM_KEYPOINTS, *safe.shape[1:], 3)
    )
    dirs = batch.directions[safe].transpose(0, 2, 1, 3)  # (S, 17, V, 3)
    scores = np.where(pad[:, None, :], 0.0, batch.scores[safe].transpose(0, 2, 1))
    focals = rig.focals[cams][:, None, :]
    return origins, dirs, scores, focals


def triangulate_groups(
    rig: CameraRig, batch: DetectionBatch, detections: np.ndarray, config: TriangulationConfig
) -> SkeletonBatch:
    """Triangulate S groups of detections ``detections`` (S, V) (-1 padding, >= 2 views each)."""
    if detections.shape[0] == 0:
        return empty_skeletons()
    origins, dirs, scores, focals = _gather(rig, batch, detections)
    sigma2 = config.keypoint_sigma_px**2
    # The metric weights need each view's depth: the torso centre's, triangulated first (one
    # point per person), stands in for every joint's (a body is small next to its distance).
    safe = np.maximum(detections, 0)
    c_orig = origins[:, 0]  # (S, V, 3)
    c_dirs = batch.center_directions[safe]
    _, c_depth, _ = _residuals(
        solve_rays(c_orig, c_dirs, (detections >= 0).astype(np.float64))[0],
        c_orig, c_dirs, focals[:, 0],
    )  # fmt: skip
    if config.side_consistency:
        dirs, scores = _consistent_sides(
            origins, dirs, scores, focals[:, 0] / np.maximum(c_depth, config.min_depth_m), config
        )
    depth = c_depth[:, None, :]  # (S, 1, V)
    weights = np.where(
        depth > config.min_depth_m, scores * focals**2 / (sigma2 * np.maximum(depth, 0.1) ** 2), 0.0
    )
    points, _, inv = solve_rays(origins, dirs, weights)
    res_px, depth, _ = _residuals(points, origins, dirs, focals)
    weights = np.where(depth > config.min_depth_m, weights, 0.0)
    used = weights > 0
    rejected = np.zeros_like(used)
    for _ in range(config.max_view_rejections):
        n_used = sum_last(used)
        worst = max_last(np.where(used, res_px, 0.0))
        flagged = (n_used >= 3) & (worst > config.joint_reject_px)
        if not flagged.any():
            break
        s_idx, j_idx = np.nonzero(flagged)
        drop = _leave_one_out(
            origins[s_idx, j_idx], dirs[s_idx, j_idx], weights[s_idx, j_idx],
            focals[s_idx, 0], config.joint_reject_px,
        )  # fmt: skip
        hit = drop >= 0
        s_idx, j_idx, drop = s_idx[hit], j_idx[hit], drop[hit]
        if s_idx.size == 0:
            break
        weights[s_idx, j_idx, drop] = 0.0
        used[s_idx, j_idx, drop] = False
        rejected[s_idx, j_idx, drop] = True
        p_new, _, v_new = solve_rays(
            origins[s_idx, j_idx], dirs[s_idx, j_idx], weights[s_idx, j_idx]
        )
        points[s_idx, j_idx], inv[s_idx, j_idx] = p_new, v_new
        res_px, depth, _ = _residuals(points, origins, dirs, focals)
    # A camera that lost most of its joints was a wrong association: it leaves the person.
    had = scores > 0
    lost_share = rejected.sum(axis=1) / np.maximum(had.sum(axis=1), 1)  # (S, V)
    wrong_view = (lost_share >= config.view_reject_fraction) & (rejected.sum(axis=1) >= 3)
    if wrong_view.any():
        detections = np.where(wrong_view, -1, detections)
        weights = np.where(wrong_view[:, None, :], 0.0, weights)
        used &= ~wrong_view[:, None, :]
        points, _, inv = solve_rays(origins, dirs, weights)
        res_px, depth, _ = _residuals(points, origins, dirs, focals)
    return _finish(points, inv, used, scores, res_px, detections, config, single=False)


_SIDED = np.flatnonzero(np.arange(NUM_KEYPOINTS) != FLIP)  # joints with a left/right twin
_FACE = np.array([0, 1, 2])  # nose and eyes: seen when the person faces the camera


def _consistent_sides(
    origins: np.ndarray,
    dirs: np.ndarray,
    scores: np.ndarray,
    px_per_m: np.ndarray,
    config: TriangulationConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror the views whose left/right labels disagree with their group's reference view.

    origins, dirs: (S, 17, V, 3); scores: (S, 17, V) (0 = missing or padding); px_per_m: (S, V)
    pixels per metre at the person in each view (focal over the torso's depth). The reference
    is each group's view with the highest summed nose and eye scores (a pose estimator tells
    left from right best when it sees the face); a group whose best is below
    ``side_min_face_score`` is left alone. For every other real view, the gap between its rays
    and the reference's (the distance of two skew lines, in that view's pixels, capped) is
    averaged over the sided joints both have, as labelled and mirrored; a view whose mirrored
    mean is below ``side_flip_ratio`` of the labelled one is mirrored, provided both pairings
    match at least ``side_min_pairs`` twins. Returns dirs and scores with mirrored views'
    joints exchanged (copies; inputs untouched).
    """
    n_s, _, n_v = scores.shape
    if n_s == 0 or n_v < 2:
        return dirs, scores
    face = scores[:, _FACE, :].sum(axis=1)  # (S, V)
    ref = np.argmax(face, axis=1)  # (S,)
    # A reference must see the face: with none, which view is mirrored cannot be told (the
    # views outvote a swapped one joint by joint in the triangulation instead).
    sure = face[np.arange(n_s), ref] >= config.side_min_face_score
    # Only the real views other than the reference (groups are padded to the widest one).
    real = (scores > 0).any(axis=1) & (np.arange(n_v)[None, :] != ref[:, None]) & sure[:, None]
    s_idx, v_idx = np.nonzero(real)
    if s_idx.size == 0:
        return dirs, scores
    r_idx = ref[s_idx]
    ref_d = dirs[s_idx, :, r_idx][:, None, _SIDED]  # (P, 1, J, 3)
    ref_s = scores[s_idx, :, r_idx][:, None, _SIDED]  # (P, 1, J)
    baseline = (origins[s_idx, 0, v_idx] - origins[s_idx, 0, r_idx])[:, None, None]  # (P,1,1,3)
    scale = px_per_m[s_idx, v_idx][:, None, None]  # (P, 1, 1)
    orders = np.stack([_SIDED, FLIP[_SIDED]])  # (2, J): as labelled, mirrored
    view_d = dirs[s_idx, :, v_idx][:, orders]  # (P, 2, J, 3)
    view_s = scores[s_idx, :, v_idx][:, orders]  # (P, 2, J)
    # Distance of two skew lines: |baseline . (a x b)| / |a x b|, component by component.
    a, b, w = ref_d, view_d, baseline
    nx = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    ny = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    nz = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    size = np.sqrt(nx * nx + ny * ny + nz * nz)
    along = w[..., 0] * nx + w[..., 1] * ny + w[..., 2] * nz
    cap = config.side_residual_cap_px
    gap = np.abs(along) / np.maximum(size, 1e-9) * scale
    px = np.where(size > 1e-6, np.minimum(gap, cap), cap)  # parallel rays: no information
    # Each pairing is judged by its mean gap over the joints it pairs, and each must pair
    # enough joints (a side hidden in the view leaves the mirrored pairing nothing to pay for:
    # a sum would let it win by default).
    both = (ref_s > 0) & (view_s > 0)  # (P, 2, J)
    weight = np.sqrt(ref_s * view_s) * both
    n_pairs = both.sum(axis=2)  # (P, 2); a pair of twins counts twice
    mean = (px * weight).sum(axis=2) / np.maximum(weight.sum(axis=2), 1e-9)
    flip = (n_pairs.min(axis=1) >= 2 * config.side_min_pairs) & (
        mean[:, 1] < config.side_flip_ratio * mean[:, 0]
    )
    if not flip.any():
        return dirs, scores
    s_idx, v_idx = s_idx[flip], v_idx[flip]
    dirs, scores = dirs.copy(), scores.copy()
    dirs[s_idx, :, v_idx] = dirs[s_idx, :, v_idx][:, FLIP]
    scores[s_idx, :, v_idx] = scores[s_idx, :, v_idx][:, FLIP]
    return dirs, scores


def _leave_one_out(
    origins: np.ndarray,
    dirs: np.ndarray,
    weights: np.ndarray,
    focals: np.ndarray,
    threshold_px: float,
) -> np.ndarray:
    """For F joints (origins, dirs (F, V, 3), weights (F, V)), the view to drop or -1.

    The dropped view is the one whose removal leaves the other views agreeing best (smallest
    worst residual), provided that worst residual is below ``threshold_px``.
    """
    n_views = weights.shape[1]
    keep = 1.0 - np.eye(n_views)
    w_loo = weights[:, None, :] * keep[None]  # (F, V drop, V)
    o = np.broadcast_to(origins[:, None], (origins.shape[0], n_views, n_views, 3))
    d = np.broadcast_to(dirs[:, None], o.shape)
    pts, _, _ = solve_rays(o, d, w_loo)  # (F, V, 3)
    res, _, _ = _residuals(pts, o, d, focals[:, None, :])  # (F, V, V)
    worst = np.where(w_loo > 0, res, 0.0).max(axis=-1)
    worst = np.where(weights > 0, worst, np.inf)
    best = np.argmin(worst, axis=1)
    ok = worst[np.arange(best.size), best] < threshold_px
    return np.where(ok, best, -1)


def _sunk(points: np.ndarray, valid: np.ndarray, config: TriangulationConfig) -> np.ndarray:
    """(S,) bool: sunk phantoms of mismatched views (see ``TriangulationConfig.phantom_hip_m``).

    points: (S, 17, 3) [m] store frame, z up; valid: (S, 17). A skeleton without valid hips and
    knees is never called a phantom (nothing to judge it by).
    """
    z = np.nan_to_num(points[..., 2])

    def mean_z(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = valid[:, joints]
        count = ok.sum(axis=1)
        return np.where(ok, z[:, joints], 0.0).sum(axis=1) / np.maximum(count, 1), count > 0

    hip, has_hip = mean_z(_HIPS)
    knee, has_knee = mean_z(_KNEES)
    ankle_up = np.any(valid[:, _ANKLES] & (z[:, _ANKLES] >= config.phantom_ankle_m), axis=1)
    return (
        has_hip
        & has_knee
        & (hip < config.phantom_hip_m)
        & (knee < config.phantom_knee_m)
        & ~ankle_up
    )


def _finish(
    points: np.ndarray,
    inv_info: np.ndarray,
    used: np.ndarray,
    scores: np.ndarray,
    res_px: np.ndarray,
    detections: np.ndarray,
    config: TriangulationConfig,
    *,
    single: bool,
    prior_dof: int = 0,
) -> SkeletonBatch:
    """Covariances, validity, scores and mean reprojection errors of solved joints."""
    n_used = sum_last(used)
    cov = inv_info
    # A-posteriori variance factor: chi2 of pixel residuals over its degrees of freedom.
    sigma2 = config.keypoint_sigma_px**2
    chi2 = sum_last(np.where(used, scores * res_px**2 / sigma2, 0.0))
    dof = np.maximum(2 * n_used + prior_dof - 3, 1)
    factor = np.maximum(1.0, chi2 / dof)
    cov = cov * factor[..., None, None]
    worst = max_last(np.where(used, res_px, 0.0))
    # The trace bounds the largest axis from above and costs far less than eigenvalues.
    largest_var = np.trace(cov, axis1=-2, axis2=-1)
    valid = (
        (n_used >= (1 if single else 2))
        & (worst <= config.max_residual_px)
        & (largest_var <= config.max_joint_sigma_m**2)
        & (points[..., 2] >= config.z_min_m)
        & (points[..., 2] <= config.z_max_m)
        & np.isfinite(points[..., 0] + points[..., 1] + points[..., 2])
    )
    if not single:  # a phantom needs two views; a lone view's depth comes from its prior
        valid &= ~_sunk(points, valid, config)[..., None]
    joint_scores = np.where(
        valid, sum_last(np.where(used, scores, 0.0)) / np.maximum(n_used, 1), 0.0
    )
    counted = used & valid[..., None]
    n_res = sum_last(sum_last(counted))
    reproj = sum_last(sum_last(np.where(counted, res_px, 0.0))) / np.maximum(n_res, 1)
    keypoints = np.where(valid[..., None], points, np.nan)
    cov = np.where(valid[..., None, None], cov, np.nan)
    n_skel = points.shape[0]
    return SkeletonBatch(
        keypoints,
        cov,
        joint_scores,
        valid,
        detections,
        reproj,
        np.full(n_skel, single, dtype=bool),
    )


def body_prior(
    rig: CameraRig, batch: DetectionBatch, detections: np.ndarray, config: TriangulationConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standing-body prior for single-view detections ``detections`` (S,).

    The body axis is where the ankle rays meet the plane at ankle height (else the hip rays at hip
    height); each joint is expected on that axis at its usual height.

    Returns prior means (S, 17, 3) [m], information matrices (S, 17, 3, 3) [1/m^2] and (S,) bool
    for detections whose axis could be placed (rays pointing down at the ground).
    """
    n = detections.shape[0]
    cams = batch.camera_index[detections]
    origin = rig.centers[cams]  # (S, 3)
    dirs = batch.directions[detections]  # (S, 17, 3)
    valid = batch.valid[detections]
    axis = np.full((n, 2), np.nan)
    for joints in (_HIPS, _ANKLES):  # ankles last: they win when both exist
        h = BODY_JOINT_HEIGHT_M[joints]
        dz = dirs[:, joints, 2]
        s = (h[None] - origin[:, None, 2]) / np.where(np.abs(dz) < 1e-6, np.nan, dz)
        hit = origin[:, None, :2] + s[..., None] * dirs[:, joints, :2]  # (S, 2, 2)
        ok = valid[:, joints] & (s > 0) & np.isfinite(s)
        cnt = ok.sum(axis=1)
        mean = np.where(ok[..., None], hit, 0.0).sum(axis=1) / np.maximum(cnt, 1)[:, None]
        axis = np.where((cnt > 0)[:, None], mean, axis)
    placed = np.isfinite(axis).all(axis=1)
    axis = np.nan_to_num(axis)
    mean = np.concatenate(
        [np.broadcast_to(axis[:, None], (n, NUM_KEYPOINTS, 2)), np.broadcast_to(
            BODY_JOINT_HEIGHT_M[None, :, None], (n, NUM_KEYPOINTS, 1))],
        axis=2,
    )  # fmt: skip
    var = np.empty((n, NUM_KEYPOINTS, 3))
    var[..., :2] = config.body_horizontal_sd_m**2
    var[..., 2] = BODY_JOINT_HEIGHT_SD_M[None] ** 2
    info = np.zeros((n, NUM_KEYPOINTS, 3, 3))
    idx = np.arange(3)
    info[..., idx, idx] = 1.0 / var
    return mean, info, placed


@dataclass(frozen=True)
class FloorBox:
    """The footprint of a fixture nobody stands in (a gondola, a counter), axis-aligned on the
    floor. min_xy, max_xy: (2,) corners [m] in the store frame."""

    box_id: str
    min_xy: tuple[float, float]
    max_xy: tuple[float, float]


def step_off_fixtures(
    centres_xy: np.ndarray,
    cameras_xy: np.ndarray,
    boxes: Sequence[FloorBox],
    clearance_m: float,
) -> np.ndarray:
    """(S, 2) floor shifts [m] that take body centres out of fixtures, towards their cameras.

    A body seen by one camera lies somewhere on that camera's rays; only its depth along them
    comes from a prior. A centre ``centres_xy`` (S, 2) inside a footprint grown by
    ``clearance_m`` moves back along the floor direction from its camera ``cameras_xy`` (S, 2)
    until it is outside every grown footprint. Centres outside, non-finite ones and those whose
    camera stands over the same footprint (moving towards it never leaves) get no shift.
    """
    centres = np.asarray(centres_xy, dtype=np.float64).reshape(-1, 2)
    cams = np.asarray(cameras_xy, dtype=np.float64).reshape(-1, 2)
    if centres.shape != cams.shape:
        raise ValueError(f"centres {centres.shape} and cameras {cams.shape} differ")
    p = centres.copy()
    if not boxes or not len(p):
        return np.zeros_like(p)
    lo = np.array([b.min_xy for b in boxes], dtype=np.float64) - clearance_m
    hi = np.array([b.max_xy for b in boxes], dtype=np.float64) + clearance_m
    toward = cams - p
    length = np.hypot(toward[:, 0], toward[:, 1])
    ok = np.isfinite(length) & (length > 1e-6)
    v = np.where(ok[:, None], toward / np.where(ok, length, 1.0)[:, None], 0.0)
    cam_over = np.all((cams[:, None, :] > lo[None]) & (cams[:, None, :] < hi[None]), axis=2)
    first = np.all((p[:, None, :] > lo[None]) & (p[:, None, :] < hi[None]), axis=2)
    if not np.any(first & ~cam_over & ok[:, None]):
        return np.zeros_like(p)  # the usual case: one test for every centre and footprint
    for _ in range(len(boxes)):  # stepping out of one footprint may land in another
        moved = False
        for b in range(len(boxes)):
            inside = ok & ~cam_over[:, b] & np.all((p > lo[b]) & (p < hi[b]), axis=1)
            if not inside.any():
                continue
            vi, pi = v[inside], p[inside]
            with np.errstate(divide="ignore", invalid="ignore"):
                ahead = np.where(vi < 0, (lo[b] - pi) / vi, np.inf)
                leave = np.where(vi > 0, (hi[b] - pi) / vi, ahead)
            p[inside] = pi + (leave.min(axis=1) + 1e-6)[:, None] * vi
            moved = True
        if not moved:
            break
    shift = p - centres
    return np.where(np.isfinite(shift), shift, 0.0)


def lift_single_views(
    rig: CameraRig,
    batch: DetectionBatch,
    detections: np.ndarray,
    prior_mean: np.ndarray,
    prior_info: np.ndarray,
    config: TriangulationConfig,
) -> SkeletonBatch:
    """Skeletons from one view each: rays (S,) fused with priors (S, 17, 3) / (S, 17, 3, 3)."""
    if detections.shape[0] == 0:
        return empty_skeletons()
    origins, dirs, scores, focals = _gather(rig, batch, detections[:, None])
    sigma2 = config.keypoint_sigma_px**2
    points, _, _ = solve_rays(origins, dirs, scores * 1e4, prior_mean, prior_info)
    _, depth, _ = _residuals(points, origins, dirs, focals)
    in_front = depth > config.min_depth_m
    weights = np.where(in_front, scores * focals**2 / (sigma2 * np.maximum(depth, 0.1) ** 2), 0.0)
    points, _, inv = solve_rays(origins, dirs, weights, prior_mean, prior_info)
    res_px, _, _ = _residuals(points, origins, dirs, focals)
    used = weights > 0
    return _finish(
        points, inv, used, scores, res_px, detections[:, None], config,
        single=True, prior_dof=3,
    )  # fmt: skip

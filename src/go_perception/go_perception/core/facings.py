"""Shelf facings seen from a ceiling camera: which lane of a mixed bin lost (or gained) units.

Products of equal weight that share a bin (two flavours of one yoghurt) leave the same weight
change whichever is taken, and a held item is a few pixels wide from the ceiling. The facings on
the shelf are larger and stand still: compare the bin as the camera saw it before the reach with
the bin after the shopper has stepped away, and the lane that changed names the product
(``StoreModel.facing_lanes``: the planogram says which product stands in which lane). This is
the "facing" evidence of ``go_msgs/ProductEvidence`` (``SOURCE_FACING``); only these scores
leave the camera, never the image.

Per camera and per lane of every bin with two or more lanes, :class:`FacingWatcher` keeps a
reference view of the lane. A frame counts for a lane only when no detected person covers it
(each person drawn from their 2D skeleton: limbs, torso and head, generously thick) and the lane
looks the same as in the camera's previous clear frame (a hand the detector missed moves, so it
does not look the same twice) for ``confirm_s``. Such a frame is compared with the lane as last
reported. A :class:`FacingReport` gives the lane's changed share between the last report's
stamp (``since``) and this frame's (``t``) whenever it moved, on the first such frame after the
lane was hidden, and every ``report_every_s`` while it stays in view: that a lane did not
change is evidence too (the product taken was another lane's).
Lanes are watched one by one because a shopper at the shelf hides part of a bin for a long
time, and two picks from one bin are told apart only when the lane of the first is seen before
the second. Pure numpy + OpenCV; stamps are the images' (no wall clock).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from go_common.core.store import Camera, StoreModel
from go_perception.core.keypoints import SKELETON


@dataclass(frozen=True)
class FacingConfig:
    """Thresholds of the before/after comparison.

    diff_threshold: a pixel changed when a colour channel of the blurred images differs by more
    than this [0-255]. min_changed: share of a lane's pixels that must change for it to count as
    moved.
    stable_changed: a clear frame of a lane is steady when it differs from the lane's previous
    clear frame by at most this share. person_margin_px, limb_scale, min_keypoint_score,
    min_keypoints: how people are drawn over the image to tell which lanes they hide
    (``people_mask``).
    min_lane_px: a lane smaller than this in the image is not watched. max_gap_s: a clear frame
    more than this after the previous one is not compared with it for steadiness. confirm_s: a
    lane's look counts (as the reference, or as a change) once it has stayed steady this long
    [s]: an arm held still for a moment over a lane is not taken for its stock.
    report_every_s: a lane in view is reported at least this often [s], moved or not.
    """

    diff_threshold: float = 24.0
    min_changed: float = 0.05
    stable_changed: float = 0.02
    person_margin_px: int = 6
    limb_scale: float = 0.06
    min_keypoint_score: float = 0.3
    min_keypoints: int = 8
    min_lane_px: int = 12
    blur_px: int = 3
    max_gap_s: float = 0.5
    confirm_s: float = 0.25
    report_every_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.diff_threshold < 255.0:
            raise ValueError(f"diff_threshold must be in (0, 255), got {self.diff_threshold}")
        if not 0.0 < self.stable_changed < self.min_changed < 1.0:
            raise ValueError(
                "need 0 < stable_changed < min_changed < 1, got "
                f"{self.stable_changed}, {self.min_changed}"
            )
        if self.limb_scale < 0.0 or not 0.0 <= self.min_keypoint_score <= 1.0:
            raise ValueError("limb_scale >= 0 and min_keypoint_score in [0, 1] required")
        if self.person_margin_px < 0 or self.min_lane_px < 1 or self.blur_px < 1:
            raise ValueError("person_margin_px >= 0, min_lane_px >= 1 and blur_px >= 1 required")
        if not self.report_every_s > 0.0:
            raise ValueError(f"report_every_s must be positive, got {self.report_every_s}")
        if not self.max_gap_s > 0.0 or self.confirm_s < 0.0:
            raise ValueError(
                f"max_gap_s must be positive and confirm_s >= 0, got {self.max_gap_s}, "
                f"{self.confirm_s}"
            )


@dataclass(frozen=True)
class FacingReport:
    """One lane of a bin compared between two clear views of one camera.

    since, t: [s] stamps of the reference view and of the view compared with it. changed: share
    of the lane's pixels that differ; moved: ``changed >= min_changed``, units left or came.
    """

    camera_id: str
    bin_id: str
    sku: str
    since: float
    t: float
    changed: float
    moved: bool


def facing_evidence_id(camera_id: str, stamp_ns: int, bin_id: str, sku: str) -> str:
    """The ``evidence_id`` of one lane's report (``<camera>/<stamp ns>/facing/<bin>/<sku>``):
    unique per image and lane, the same in a live run, a replay and the offline evaluation."""
    return f"{camera_id}/{stamp_ns}/facing/{bin_id}/{sku}"


@dataclass
class _Lane:
    sku: str
    pixels: np.ndarray  # (h, w) bool: this lane's pixels in the bin's rect (nearest lane wins)
    reference: np.ndarray | None = None  # (n, 3) float32 blurred colours at the last report
    since: float = math.nan
    previous: np.ndarray | None = None
    previous_t: float = math.nan
    steady_since: float = math.nan  # first stamp of the current run of steady clear frames
    reported_run: float = math.nan  # steady_since of the run last reported


@dataclass
class _BinView:
    bin_id: str
    rect: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image
    lanes: list[_Lane]


class FacingWatcher:
    """Before/after comparison of the mixed bins one camera sees (see the module docstring)."""

    def __init__(
        self, store: StoreModel, camera_id: str, config: FacingConfig | None = None
    ) -> None:
        if camera_id not in store.cameras:
            raise ValueError(f"camera '{camera_id}' is not in store '{store.store_id}'")
        self.camera_id = camera_id
        self.config = config or FacingConfig()
        self._views = [
            v
            for bin_id in sorted(store.bins)
            if len(store.bin_skus(bin_id)) >= 2
            and (v := _bin_view(store, store.cameras[camera_id], bin_id, self.config)) is not None
        ]

    @property
    def bin_ids(self) -> tuple[str, ...]:
        """The bins this camera watches (two or more lanes, each in view)."""
        return tuple(v.bin_id for v in self._views)

    def update(
        self, t: float, image: np.ndarray, people: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> list[FacingReport]:
        """One frame (H, W, 3) uint8 and the people found in it: (bbox [x1, y1, x2, y2] px,
        (17, 3) COCO keypoints [x px, y px, score]) each (``keypoints.Person``)."""
        if not math.isfinite(t):
            raise ValueError(f"frame stamp must be finite, got {t}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
        cfg = self.config
        out = []
        for view in self._views:
            x0, y0, x1, y1 = view.rect
            if y1 > image.shape[0] or x1 > image.shape[1]:
                continue
            covered = people_mask(people, view.rect, cfg)
            patch = cv2.blur(image[y0:y1, x0:x1].astype(np.float32), (cfg.blur_px, cfg.blur_px))
            for lane in view.lanes:
                if np.any(covered[lane.pixels]):
                    lane.previous = None
                    continue
                colours = patch[lane.pixels]
                previous, previous_t = lane.previous, lane.previous_t
                lane.previous, lane.previous_t = colours, t
                steady = (
                    previous is not None
                    and 0.0 < t - previous_t <= cfg.max_gap_s
                    and _changed(colours, previous, cfg) <= cfg.stable_changed
                )
                if not steady:
                    lane.steady_since = t
                    continue
                if t - lane.steady_since < cfg.confirm_s:
                    continue
                if lane.reference is None:
                    lane.reference, lane.since, lane.reported_run = colours, t, lane.steady_since
                    continue
                share = _changed(colours, lane.reference, cfg)
                moved = share >= cfg.min_changed
                if (
                    moved
                    or lane.reported_run != lane.steady_since
                    or t - lane.since >= cfg.report_every_s
                ):
                    out.append(
                        FacingReport(
                            self.camera_id, view.bin_id, lane.sku, lane.since, t, share, moved
                        )
                    )
                    lane.reference, lane.since, lane.reported_run = colours, t, lane.steady_since
        return out


def people_mask(
    people: Sequence[tuple[np.ndarray, np.ndarray]],
    rect: tuple[int, int, int, int],
    cfg: FacingConfig,
) -> np.ndarray:
    """(h, w) bool over ``rect``: pixels covered by a person.

    people: (bbox [x1, y1, x2, y2] px, (17, 3) COCO keypoints [x, y, score]) per person. A person
    whose skeleton is trusted (at least ``min_keypoints`` keypoints scoring ``min_keypoint_score``
    or more inside the box) is drawn from it: limbs as lines ``limb_scale`` x the person's height
    thick (at least ``person_margin_px``), the torso filled, the head a disc twice as wide; any
    other person covers their whole box.
    """
    x0, y0, x1, y1 = rect
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    offset = np.array([x0, y0])
    for bbox, kp in people:
        bbox = np.asarray(bbox, dtype=np.float64).reshape(-1)
        kp = np.asarray(kp, dtype=np.float64)
        if bbox.shape != (4,) or kp.shape != (17, 3):
            raise ValueError(
                f"a person is a (4,) box and (17, 3) keypoints, got {bbox.shape}, {kp.shape}"
            )
        if not np.all(np.isfinite(bbox)):
            continue
        ok = np.isfinite(kp).all(axis=1) & (kp[:, 2] >= cfg.min_keypoint_score)
        ok &= (kp[:, 0] >= bbox[0]) & (kp[:, 0] <= bbox[2])
        ok &= (kp[:, 1] >= bbox[1]) & (kp[:, 1] <= bbox[3])
        m = cfg.person_margin_px
        if int(ok.sum()) < cfg.min_keypoints:
            lo = np.floor(bbox[:2] - offset - m).astype(int)
            hi = np.ceil(bbox[2:] - offset + m).astype(int)
            cv2.rectangle(mask, (int(lo[0]), int(lo[1])), (int(hi[0]), int(hi[1])), 1, -1)
            continue
        pts = np.round(kp[:, :2] - offset).astype(np.int32)
        thick = max(m, round(cfg.limb_scale * float(bbox[3] - bbox[1])))
        for a, b in SKELETON:
            if ok[a] and ok[b]:
                start = (int(pts[a, 0]), int(pts[a, 1]))
                cv2.line(mask, start, (int(pts[b, 0]), int(pts[b, 1])), 1, thick)
        for k in np.flatnonzero(ok):
            radius = 2 * thick if k <= 4 else thick  # the head is wider than a limb
            cv2.circle(mask, (int(pts[k, 0]), int(pts[k, 1])), radius, 1, -1)
        torso = [k for k in (5, 6, 12, 11) if ok[k]]
        if len(torso) >= 3:
            cv2.fillConvexPoly(mask, cv2.convexHull(pts[torso]), 1)
    return mask.astype(bool)


def _changed(a: np.ndarray, b: np.ndarray, cfg: FacingConfig) -> float:
    """Share of pixels whose blurred colour differs by more than ``diff_threshold`` in a channel."""
    return float(np.mean(np.abs(a - b).max(axis=1) > cfg.diff_threshold))


def _bin_view(store: StoreModel, camera: Camera, bin_id: str, cfg: FacingConfig) -> _BinView | None:
    """The bin's pixels in ``camera`` split by lane (nearer lanes drawn over farther ones), or
    None when a lane is out of view or too small to watch."""
    lanes = store.facing_lanes(bin_id)
    hulls = []
    for lane in lanes:
        # Only where the units stand: from the shelf floor up to the product's height.
        top = min(lane.hi[2], lane.lo[2] + float(max(store.products[lane.sku].dims_m)))
        corners = np.array(
            [
                [x, y, z]
                for x in (lane.lo[0], lane.hi[0])
                for y in (lane.lo[1], lane.hi[1])
                for z in (lane.lo[2], top)
            ]
        )
        uv, depth = camera.project(corners)
        if np.any(depth <= 0.1) or not np.all(np.isfinite(uv)):
            return None
        hull = cv2.convexHull(np.round(uv).astype(np.int32))
        hulls.append((float(np.mean(depth)), hull))
    pts = np.concatenate([h for _, h in hulls]).reshape(-1, 2)
    x0 = int(max(0, pts[:, 0].min()))
    y0 = int(max(0, pts[:, 1].min()))
    x1 = int(min(camera.width, pts[:, 0].max() + 1))
    y1 = int(min(camera.height, pts[:, 1].max() + 1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    labels = np.full((y1 - y0, x1 - x0), -1, dtype=np.int8)
    for k in sorted(range(len(lanes)), key=lambda k: -hulls[k][0]):  # far to near
        cv2.fillConvexPoly(labels, hulls[k][1] - np.array([x0, y0], dtype=np.int32), int(k))
    out = [_Lane(lane.sku, labels == k) for k, lane in enumerate(lanes)]
    if any(int(np.count_nonzero(lane.pixels)) < cfg.min_lane_px for lane in out):
        return None
    return _BinView(bin_id, (x0, y0, x1, y1), out)

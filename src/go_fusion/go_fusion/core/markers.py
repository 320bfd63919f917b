"""RViz marker geometry for the store view (pure: plain dataclasses, no ROS types).

``go_fusion.conversions.marker_array`` turns these into ``visualization_msgs/MarkerArray`` in the
``store`` frame. Namespaces: ``gondolas`` and ``bins`` (static layout), ``bin_changes`` (bins whose
weight just changed: red for a pick, green for a return, fading out), ``skeletons`` (3D COCO
limbs per track), ``tracks`` (a disc at each shopper's floor position), ``track_ids`` and
``carts`` (text above each shopper: track id, session and cart summary).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from go_fusion.core.store_view import StoreView

CUBE = "cube"
CYLINDER = "cylinder"
LINE_LIST = "line_list"
TEXT = "text"

# COCO-17 limbs drawn as line segments (joint index pairs).
COCO_LIMBS: tuple[tuple[int, int], ...] = (
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 6),
    (11, 12),
    (5, 11),
    (6, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
    (0, 5),
    (0, 6),
)

# A few distinct colours per track id (RGB in [0, 1]).
PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.12, 0.47, 0.71),
    (1.0, 0.5, 0.05),
    (0.17, 0.63, 0.17),
    (0.84, 0.15, 0.16),
    (0.58, 0.4, 0.74),
    (0.55, 0.34, 0.29),
    (0.89, 0.47, 0.76),
    (0.5, 0.5, 0.5),
)


@dataclass(frozen=True)
class MarkerSpec:
    """One marker. position, scale: (3,) [m] store frame; color: RGBA in [0, 1].

    points: (N, 3) [m] for line lists (pairs of points), None otherwise. lifetime_s: 0 = forever.
    """

    ns: str
    marker_id: int
    kind: str
    position: tuple[float, float, float]
    scale: tuple[float, float, float]
    color: tuple[float, float, float, float]
    points: np.ndarray | None = None
    text: str = ""
    lifetime_s: float = 0.0


@dataclass(frozen=True)
class ShopperView:
    """What the markers show of one shopper.

    position: (3,) [m] floor position. keypoints: (17, 3) [m] or None; scores: (17,) or None.
    cart_text: one line of cart summary ("" for none).
    """

    track_id: str
    session_id: str
    position: np.ndarray
    keypoints: np.ndarray | None = None
    scores: np.ndarray | None = None
    cart_text: str = ""


def color_of(key: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """A stable colour for an id (same id, same colour in every frame and replay)."""
    r, g, b = PALETTE[sum(key.encode()) % len(PALETTE)]
    return (r, g, b, alpha)


def _triple(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def layout_markers(store: StoreView) -> list[MarkerSpec]:
    """Gondolas as translucent grey boxes and bins as light boxes (static; publish latched)."""
    out = []
    for i, g in enumerate(sorted(store.gondolas.values(), key=lambda g: g.gondola_id)):
        out.append(
            MarkerSpec(
                "gondolas", i, CUBE, _triple(g.center), _triple(g.size), (0.6, 0.6, 0.6, 0.25)
            )
        )
    for i, b in enumerate(sorted(store.bins.values(), key=lambda b: b.bin_id)):
        size = np.maximum(b.size * 0.96, 1e-3)  # a small gap shows the bin boundaries
        out.append(
            MarkerSpec("bins", i, CUBE, _triple(b.center), _triple(size), (0.85, 0.85, 0.75, 0.5))
        )
    return out


def bin_change_markers(
    store: StoreView,
    changes: Sequence[tuple[str, float, float]],
    now: float,
    show_s: float,
) -> list[MarkerSpec]:
    """Bins that changed recently: (bin_id, t_end [s], delta_g [g]) -> fading highlight boxes.

    A pick (delta < 0) is red, a return green; opacity falls linearly to 0 over ``show_s``.
    """
    ids = {b: i for i, b in enumerate(sorted(store.bins))}
    latest: dict[str, tuple[float, float]] = {}
    for bin_id, t, delta in changes:
        if bin_id in ids and (bin_id not in latest or t > latest[bin_id][0]):
            latest[bin_id] = (t, delta)
    out = []
    for bin_id, (t, delta) in sorted(latest.items()):
        age = now - t
        if age < 0.0 or age > show_s:
            continue
        alpha = 0.8 * (1.0 - age / show_s)
        rgb = (0.9, 0.1, 0.1) if delta < 0 else (0.1, 0.8, 0.2)
        b = store.bins[bin_id]
        out.append(
            MarkerSpec(
                "bin_changes",
                ids[bin_id],
                CUBE,
                _triple(b.center),
                _triple(b.size * 1.02),
                (*rgb, alpha),
                lifetime_s=show_s,
            )
        )
    return out


def shopper_markers(shoppers: Sequence[ShopperView], lifetime_s: float) -> list[MarkerSpec]:
    """Skeleton limbs, a floor disc, the track id and the cart summary of each shopper."""
    out = []
    for i, s in enumerate(sorted(shoppers, key=lambda s: s.track_id)):
        color = color_of(s.session_id or s.track_id)
        pos = _triple(s.position)
        out.append(
            MarkerSpec(
                "tracks",
                i,
                CYLINDER,
                (pos[0], pos[1], 0.01),
                (0.4, 0.4, 0.02),
                (*color[:3], 0.6),
                lifetime_s=lifetime_s,
            )
        )
        top = 2.0
        if s.keypoints is not None:
            limbs = _limb_points(s.keypoints, s.scores)
            if len(limbs):
                out.append(
                    MarkerSpec(
                        "skeletons",
                        i,
                        LINE_LIST,
                        (0.0, 0.0, 0.0),
                        (0.03, 0.0, 0.0),
                        color,
                        limbs,
                        lifetime_s=lifetime_s,
                    )
                )
            finite = s.keypoints[np.all(np.isfinite(s.keypoints), axis=1)]
            if len(finite):
                top = float(finite[:, 2].max()) + 0.25
        label = s.track_id if not s.session_id else f"{s.track_id} [{s.session_id}]"
        out.append(
            MarkerSpec(
                "track_ids",
                i,
                TEXT,
                (pos[0], pos[1], top),
                (0.0, 0.0, 0.15),
                (1.0, 1.0, 1.0, 1.0),
                text=label,
                lifetime_s=lifetime_s,
            )
        )
        if s.cart_text:
            out.append(
                MarkerSpec(
                    "carts",
                    i,
                    TEXT,
                    (pos[0], pos[1], top + 0.2),
                    (0.0, 0.0, 0.12),
                    (1.0, 0.9, 0.3, 1.0),
                    text=s.cart_text,
                    lifetime_s=lifetime_s,
                )
            )
    return out


def _limb_points(keypoints: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    """(2 L, 3) endpoints of the limbs whose both joints are valid."""
    kp = np.asarray(keypoints, dtype=float)
    ok = np.all(np.isfinite(kp), axis=1)
    if scores is not None:
        ok &= np.asarray(scores, dtype=float) > 0.0
    pts = [kp[j] for a, b in COCO_LIMBS if ok[a] and ok[b] for j in (a, b)]
    return np.array(pts, dtype=float).reshape(-1, 3)


def cart_summary(lines: Sequence[tuple[str, int, float]], currency: str) -> str:
    """'3 items, 71.85 SEK' from (sku, units, unit price) lines; '' for an empty cart."""
    units = sum(q for _, q, _ in lines)
    if units == 0:
        return ""
    total = sum(q * p for _, q, p in lines)
    return f"{units} item{'s' if units != 1 else ''}, {total:.2f} {currency}"


def summaries(
    carts: Mapping[str, Sequence[tuple[str, int, float]]], currency: str
) -> dict[str, str]:
    """Cart summary text per session id."""
    return {sid: cart_summary(lines, currency) for sid, lines in carts.items()}

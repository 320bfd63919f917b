"""People as articulated bodies: COCO-17 keypoints -> shaded capsules drawn into a z-buffer.

Each person becomes a list of primitives (capsules from joint to joint, spheres for head, hands
and feet, a torso polygon, boxes for held items). A capsule's depth varies along it (drawn in
pieces) so that a limb that crosses a shelf edge (a forearm reaching into a bin) is occluded only
where it is behind the shelf. Primitives of
all people are sorted far to near and drawn into a colour, a depth and an id layer (painter's
algorithm within the people, which is how people occlude each other); the caller composites the
layers against the static depth map (a z-buffer test per pixel, which is how shelves occlude
people).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from go_sensors.core.render.geometry import CameraGeometry
from go_sensors.core.render.scene import light_gain
from go_sensors.core.render.textures import TextureAtlas
from go_sensors.core.world import PersonState

_SHIFT = 2  # sub-pixel bits for cv2 drawing
_SCALE = 1 << _SHIFT

# Body parts as capsules between points: (a, b, radius [m] for a 1.75 m person of girth 1,
# role). Indices < 17 are COCO keypoints; 17 = neck (mid-shoulders), 18 = pelvis (mid-hips),
# 19 = head centre, 20 = back of the head (hair).
_NECK, _PELVIS, _HEAD, _HAIR = 17, 18, 19, 20
_CAPSULES: tuple[tuple[int, int, float, str], ...] = (
    (_PELVIS, _NECK, 0.125, "shirt"),
    (5, 6, 0.06, "shirt"),
    (11, 12, 0.085, "trousers"),
    (5, 7, 0.048, "shirt"),
    (6, 8, 0.048, "shirt"),
    (7, 9, 0.038, "skin"),
    (8, 10, 0.038, "skin"),
    (11, 13, 0.07, "trousers"),
    (12, 14, 0.07, "trousers"),
    (13, 15, 0.052, "trousers"),
    (14, 16, 0.052, "trousers"),
    (_NECK, _HEAD, 0.045, "skin"),
)
_HEAD_RADIUS = 0.1
_SPHERES: tuple[tuple[int, float, str], ...] = (
    (_HEAD, _HEAD_RADIUS, "skin"),
    (_HAIR, 0.088, "hair"),
    (9, 0.045, "skin"),
    (10, 0.045, "skin"),
    (15, 0.05, "shoe"),
    (16, 0.05, "shoe"),
)
# Face features: drawn on the head only when on the camera's side of it (nose, eyes, ears).
_FACE: tuple[tuple[int, float, str], ...] = (
    (0, 0.016, "nose"),
    (1, 0.013, "eye"),
    (2, 0.013, "eye"),
    (3, 0.024, "skin"),
    (4, 0.024, "skin"),
)

_SHOE_BGR = (40.0, 40.0, 45.0)
_EYE_BGR = (30.0, 25.0, 25.0)
_N_POINTS = 21
_DEPTH_PIECES = 4  # pieces of constant depth per capsule in the z-buffer

KIND_LINE = 0
KIND_CIRCLE = 1
KIND_POLY = 2
KIND_ITEM = 3


@dataclass
class PeopleLayers:
    """People drawn in the region ``roi`` (x0, y0, x1, y1) of the image.

    color: (h, w, 3) uint8 BGR; depth: (h, w) float32 optical depth [m], inf where no person;
    ids: (h, w) uint8 person index + 1 (0 = none) or None when not asked for.
    """

    roi: tuple[int, int, int, int]
    color: np.ndarray
    depth: np.ndarray
    ids: np.ndarray | None


def body_points(person: PersonState) -> np.ndarray:
    """(21, 3) [m] store frame: the 17 COCO keypoints, neck, pelvis, head centre, back of head."""
    kp = np.asarray(person.keypoints, dtype=np.float64)
    if kp.shape != (17, 3):
        raise ValueError(
            f"person '{person.person_id}': keypoints must be (17, 3) COCO-17, got {kp.shape}"
        )
    neck = (kp[5] + kp[6]) / 2
    pelvis = (kp[11] + kp[12]) / 2
    ears = (kp[3] + kp[4]) / 2
    head = 0.75 * ears + 0.25 * kp[0]
    back = head - kp[0]
    back[2] = 0.0
    norm = np.linalg.norm(back)
    back = back / norm if norm > 1e-6 else back
    hair = head + np.array([0.0, 0.0, 0.03]) + 0.04 * back
    return np.vstack([kp, neck, pelvis, head, hair])


def _role_bgr(person: PersonState, role: str, gain: float) -> tuple[float, float, float]:
    a = person.appearance
    rgb = {
        "shirt": a.shirt_rgb,
        "trousers": a.trousers_rgb,
        "skin": a.skin_rgb,
        "hair": a.hair_rgb,
    }.get(role)
    bgr = (
        (rgb[2], rgb[1], rgb[0]) if rgb is not None else (_SHOE_BGR if role == "shoe" else _EYE_BGR)
    )
    return (bgr[0] * gain, bgr[1] * gain, bgr[2] * gain)


def _shades(color: tuple[float, float, float]) -> tuple[tuple[int, int, int], ...]:
    """Shadow, mid and highlight tones of a base colour (BGR ints for cv2)."""
    return tuple(tuple(int(min(255.0, c * f)) for c in color) for f in (0.7, 1.0, 1.15))


def draw_people(
    geom: CameraGeometry,
    people: tuple[PersonState, ...],
    atlas: TextureAtlas | None,
    *,
    with_ids: bool = False,
) -> PeopleLayers | None:
    """Draw ``people`` as seen by ``geom``; None when nobody is in view."""
    if not people:
        return None
    pts3 = np.concatenate([body_points(p) for p in people])
    uv_all, depth_all, valid_all = geom.project(pts3)
    # Plain Python numbers: the per-primitive work below is scalar and numpy scalars are slow.
    uv = uv_all.tolist()
    depth = depth_all.tolist()
    valid = valid_all.tolist()
    fx = float(geom.K[0, 0])

    prims: list[tuple] = []  # (sort depth, person, kind, geometry, radius_px, tones, z-values)
    for i, person in enumerate(people):
        o = i * _N_POINTS
        scale = float(person.appearance.height_m) / 1.75
        girth = float(person.appearance.girth)
        gain = float(light_gain(pts3[o + _PELVIS, 0], pts3[o + _PELVIS, 1]))
        tones = {
            role: _shades(_role_bgr(person, role, gain))
            for role in ("shirt", "trousers", "skin", "hair", "shoe", "eye", "nose")
        }
        for a, b, radius, role in _CAPSULES:
            ia, ib = o + a, o + b
            if not (valid[ia] and valid[ib]):
                continue
            r = radius * scale * (girth if role != "skin" else 1.0)
            da, db = depth[ia], depth[ib]
            d = (da + db) / 2
            prims.append(
                (d - r, i, KIND_LINE, (uv[ia], uv[ib]), fx * r / d, tones[role], (da - r, db - r))
            )
        for idx, radius, role in _SPHERES:
            if not valid[o + idx]:
                continue
            r = radius * scale
            d = depth[o + idx]
            prims.append((d - r, i, KIND_CIRCLE, uv[o + idx], fx * r / d, tones[role], d - r))
        if valid[o + _HEAD] and valid[o + _HAIR]:
            # Just in front of the head and hair surfaces, so that they never cover the face.
            d_head = depth[o + _HEAD]
            z = min(d_head - _HEAD_RADIUS * scale, depth[o + _HAIR] - 0.088 * scale) - 0.003
            for idx, radius, role in _FACE:
                if valid[o + idx] and depth[o + idx] < d_head - 0.02 * scale:
                    r = radius * scale
                    prims.append(
                        (z, i, KIND_CIRCLE, uv[o + idx], fx * r / depth[o + idx], tones[role], z)
                    )
        torso = (o + 5, o + 6, o + 12, o + 11)
        if all(valid[k] for k in torso):
            front = 0.1 * scale * girth
            z_top = (depth[o + 5] + depth[o + 6]) / 2 - front
            z_bottom = (depth[o + 11] + depth[o + 12]) / 2 - front
            prims.append(
                (
                    (z_top + z_bottom) / 2,
                    i,
                    KIND_POLY,
                    [uv[k] for k in torso],
                    0.0,
                    tones["shirt"],
                    (z_top, z_bottom),
                )
            )
        if atlas is not None:
            prims.extend(_held_items(geom, person, i, pts3[o : o + _N_POINTS], atlas, gain))
    if not prims:
        return None

    roi = _roi(geom, uv_all[valid_all], max(p[4] for p in prims))
    if roi is None:
        return None
    x0, y0, x1, y1 = roi
    h, w = y1 - y0, x1 - x0
    color = np.zeros((h, w, 3), np.uint8)
    zbuf = np.full((h, w), np.inf, np.float32)
    ids = np.zeros((h, w), np.uint8) if with_ids else None
    prims.sort(key=lambda item: -item[0])
    for _, i, kind, geo, r_px, tones, z in prims:
        _draw(color, zbuf, ids, kind, geo, (x0, y0), r_px, tones, z, i + 1)
    return PeopleLayers(roi, color, zbuf, ids)


def _held_items(
    geom: CameraGeometry,
    person: PersonState,
    index: int,
    pts: np.ndarray,
    atlas: TextureAtlas,
    gain: float,
) -> list[tuple]:
    out = []
    for item in person.held:
        if item.sku not in atlas.index_of:
            continue
        wrist, elbow = (pts[9], pts[7]) if item.hand == "left" else (pts[10], pts[8])
        along = wrist - elbow
        norm = np.linalg.norm(along)
        along = along / norm if norm > 1e-6 else np.array([0.0, 0.0, -1.0])
        tex = atlas.texture(item.sku)
        center = wrist + 0.06 * along
        uv, depth, valid = geom.project(center[None, :])
        if not valid[0]:
            continue
        size = 0.07 * np.array([1.0, tex.shape[0] / tex.shape[1]])
        d = float(depth[0])
        w_px, h_px = geom.K[0, 0] * size[0] / d, geom.K[1, 1] * size[1] / d
        if w_px < 2 or h_px < 2:
            continue
        out.append(
            (d - 0.03, index, KIND_ITEM, (uv[0].tolist(), w_px, h_px, tex, gain), 0.0, (), d - 0.03)
        )
    return out


def _roi(geom: CameraGeometry, uv: np.ndarray, r_px: float) -> tuple[int, int, int, int] | None:
    """Pixel rectangle around the projected points uv (N, 2) grown by r_px, clipped."""
    if len(uv) == 0:
        return None
    r = r_px + 3
    x0 = max(int(np.floor(uv[:, 0].min() - r)), 0)
    y0 = max(int(np.floor(uv[:, 1].min() - r)), 0)
    x1 = min(int(np.ceil(uv[:, 0].max() + r)) + 1, geom.width)
    y1 = min(int(np.ceil(uv[:, 1].max() + r)) + 1, geom.height)
    if x0 >= x1 or y0 >= y1:
        return None
    return (x0, y0, x1, y1)


_LIMIT = float(1 << 28)


def _fixed(p: list[float], offset: tuple[int, int]) -> tuple[int, int]:
    x = (p[0] - offset[0]) * _SCALE
    y = (p[1] - offset[1]) * _SCALE
    return (int(min(max(x, -_LIMIT), _LIMIT)), int(min(max(y, -_LIMIT), _LIMIT)))


def _depth_line(
    zbuf: np.ndarray, p: tuple[int, int], q: tuple[int, int], zp: float, zq: float, t: int
) -> None:
    """A capsule into the z-buffer as short pieces of linearly varying depth, far piece first.

    A constant depth per limb would hide a joint behind its own limb (a hip behind the chest
    seen from above) or show a forearm through a shelf edge it reaches past.
    """
    if zp < zq:
        p, q, zp, zq = q, p, zq, zp
    n = _DEPTH_PIECES
    for k in range(n):
        a = (p[0] + (q[0] - p[0]) * k // n, p[1] + (q[1] - p[1]) * k // n)
        b = (p[0] + (q[0] - p[0]) * (k + 1) // n, p[1] + (q[1] - p[1]) * (k + 1) // n)
        cv2.line(zbuf, a, b, zp + (zq - zp) * (k + 0.5) / n, t, cv2.LINE_8, _SHIFT)


def _draw(
    color: np.ndarray,
    zbuf: np.ndarray,
    ids: np.ndarray | None,
    kind: int,
    geo: object,
    offset: tuple[int, int],
    r_px: float,
    tones: tuple[tuple[int, int, int], ...],
    z: object,
    person_id: int,
) -> None:
    if kind == KIND_LINE:
        p, q = _fixed(geo[0], offset), _fixed(geo[1], offset)
        t = max(1, int(2 * r_px + 0.5))
        cv2.line(color, p, q, tones[0], t, cv2.LINE_8, _SHIFT)
        if t >= 4:
            # Lit side up and to the left: a thinner, brighter core shifted towards the light.
            s = int(0.2 * r_px * _SCALE)
            cv2.line(
                color,
                (p[0] - s, p[1] - s),
                (q[0] - s, q[1] - s),
                tones[1],
                max(1, int(1.1 * r_px + 0.5)),
                cv2.LINE_8,
                _SHIFT,
            )
        if t >= 10:
            s = int(0.35 * r_px * _SCALE)
            cv2.line(
                color,
                (p[0] - s, p[1] - s),
                (q[0] - s, q[1] - s),
                tones[2],
                max(1, int(0.4 * r_px + 0.5)),
                cv2.LINE_8,
                _SHIFT,
            )
        _depth_line(zbuf, p, q, z[0], z[1], t)
        if ids is not None:
            cv2.line(ids, p, q, person_id, t, cv2.LINE_8, _SHIFT)
    elif kind == KIND_CIRCLE:
        c = _fixed(geo, offset)
        r = max(1, int(r_px * _SCALE + 0.5))
        cv2.circle(color, c, r, tones[0], -1, cv2.LINE_8, _SHIFT)
        if r_px >= 3:
            s = int(0.25 * r_px * _SCALE)
            cv2.circle(color, (c[0] - s, c[1] - s), int(r * 0.6), tones[1], -1, cv2.LINE_8, _SHIFT)
        cv2.circle(zbuf, c, r, z, -1, cv2.LINE_8, _SHIFT)
        if ids is not None:
            cv2.circle(ids, c, r, person_id, -1, cv2.LINE_8, _SHIFT)
    elif kind == KIND_POLY:
        pts = np.array([_fixed(v, offset) for v in geo], np.int32)
        cv2.fillConvexPoly(color, pts, tones[0], cv2.LINE_8, _SHIFT)
        # Shoulder-to-hip bands of their own depth (see _depth_line).
        ls, rs, rh, lh = pts
        n = _DEPTH_PIECES
        order = range(n) if z[0] >= z[1] else range(n - 1, -1, -1)
        for k in order:
            band = np.array(
                [
                    ls + (lh - ls) * k // n,
                    rs + (rh - rs) * k // n,
                    rs + (rh - rs) * (k + 1) // n,
                    ls + (lh - ls) * (k + 1) // n,
                ],
                np.int32,
            )
            cv2.fillConvexPoly(zbuf, band, z[0] + (z[1] - z[0]) * (k + 0.5) / n, cv2.LINE_8, _SHIFT)
        if ids is not None:
            cv2.fillConvexPoly(ids, pts, person_id, cv2.LINE_8, _SHIFT)
    else:
        center, w_px, h_px, tex, gain = geo
        cx, cy = center[0] - offset[0], center[1] - offset[1]
        x0, y0 = round(cx - w_px / 2), round(cy - h_px / 2)
        x1, y1 = x0 + max(1, round(w_px)), y0 + max(1, round(h_px))
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x1, color.shape[1]), min(y1, color.shape[0])
        if cx0 >= cx1 or cy0 >= cy1:
            return
        patch = cv2.resize(tex, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        patch = cv2.convertScaleAbs(patch, alpha=0.9 * gain)
        color[cy0:cy1, cx0:cx1] = patch[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        zbuf[cy0:cy1, cx0:cx1] = z
        if ids is not None:
            ids[cy0:cy1, cx0:cx1] = person_id


_SHADOW_RING = np.stack(
    [np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
     np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))], axis=1
)  # fmt: skip
# Soft contact shadow of diffuse ceiling light: (radius [m] for girth 1, darkening 0..255).
_SHADOW_DISCS = ((0.34, 28), (0.22, 34))


def draw_shadows(
    geom: CameraGeometry,
    people: tuple[PersonState, ...],
    image: np.ndarray,
    bg_depth: np.ndarray,
    floor_depth: np.ndarray,
) -> None:
    """Darken the floor under each person (in place on image (H, W, 3) uint8).

    floor_depth: (H, W) float32 depth [m] of the floor plane along each pixel's ray (inf where
    the ray never meets it). Only pixels that see the floor are darkened: a shelf between the
    camera and the shadow keeps its colour.
    """
    centers, girths = [], []
    for person in people:
        kp = np.asarray(person.keypoints, dtype=np.float64)
        if kp.shape == (17, 3) and np.all(np.isfinite(kp[[11, 12, 15, 16]])):
            centers.append((kp[11, :2] + kp[12, :2] + kp[15, :2] + kp[16, :2]) / 4)
            girths.append(float(person.appearance.girth))
    if not centers:
        return
    n_ring = len(_SHADOW_RING)
    rings = [
        c + radius * g * _SHADOW_RING
        for c, g in zip(centers, girths, strict=True)
        for radius, _ in _SHADOW_DISCS
    ]
    flat = np.concatenate(rings)
    uv_all, _, valid_all = geom.project(np.hstack([flat, np.full((len(flat), 1), 0.002)]))
    per_person = n_ring * len(_SHADOW_DISCS)
    for k in range(len(centers)):
        uv = uv_all[k * per_person : (k + 1) * per_person]
        if not np.all(valid_all[k * per_person : (k + 1) * per_person]):
            continue
        x0 = max(int(np.floor(uv[:, 0].min())), 0)
        y0 = max(int(np.floor(uv[:, 1].min())), 0)
        x1 = min(int(np.ceil(uv[:, 0].max())) + 1, geom.width)
        y1 = min(int(np.ceil(uv[:, 1].max())) + 1, geom.height)
        if x0 >= x1 or y0 >= y1:
            continue
        keep = np.full((y1 - y0, x1 - x0), 255, np.uint8)
        for d, (_, strength) in enumerate(_SHADOW_DISCS):
            ring = uv[d * n_ring : (d + 1) * n_ring]
            pts = np.round((ring - (x0, y0)) * _SCALE).astype(np.int32)
            layer = np.zeros_like(keep)
            cv2.fillConvexPoly(layer, pts, strength, cv2.LINE_AA, _SHIFT)
            cv2.subtract(keep, layer, dst=keep)
        keep[bg_depth[y0:y1, x0:x1] < floor_depth[y0:y1, x0:x1] - 0.03] = 255
        patch = image[y0:y1, x0:x1]
        cv2.multiply(patch, cv2.cvtColor(keep, cv2.COLOR_GRAY2BGR), dst=patch, scale=1.0 / 255)

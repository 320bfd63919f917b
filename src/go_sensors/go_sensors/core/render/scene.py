"""The static store as ray-cast boxes, product facings per bin, and the painter of box pixels.

The static scene (floor, walls, ceiling, gondola plinths, back and end panels, shelf boards and
price labels) is built once per store. Facings are built per bin from its live contents: units
stand in lanes (one lane per SKU across the bin width), rows filled from the back of the bin so
that the front row empties first, as on a faced-up shelf, and a pick is visible from the aisle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from go_common.core.store import Bin, FacingLane, Product, StoreModel
from go_sensors.core.render.geometry import FACE_NORMALS, Box, CameraGeometry, raycast_box
from go_sensors.core.render.textures import TEXTURE_H, TEXTURE_W, TextureAtlas

MATERIAL_PLAIN = 0
MATERIAL_FLOOR = 1
MATERIAL_WALL = 2

_PANEL_BGR = (205.0, 208.0, 210.0)
_SHELF_BGR = (222.0, 224.0, 226.0)
_PLINTH_BGR = (70.0, 72.0, 75.0)
_LABEL_BGR = (245.0, 245.0, 245.0)
_FLOOR_BGR = (168.0, 178.0, 184.0)
_WALL_BGR = (214.0, 220.0, 224.0)
_CEILING_BGR = (236.0, 236.0, 236.0)
_MISS_BGR = (40.0, 40.0, 40.0)

# Diffuse ceiling light: ambient plus a direction mostly from above.
_LIGHT_DIR = np.array([0.25, 0.35, 0.9]) / np.linalg.norm([0.25, 0.35, 0.9])
_FACE_SHADE = (0.62 + 0.38 * np.clip(FACE_NORMALS @ _LIGHT_DIR, 0.0, None)).astype(np.float32)
_FACE_SHADE[4] = 0.45  # faces looking down only see light bounced off the floor

_LIGHT_PITCH_M = 2.4  # spacing of the ceiling light rows


def light_gain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brightness factor (same shape) of the ceiling lights at store floor coordinates [m]."""
    wave = np.cos(2 * np.pi * x / _LIGHT_PITCH_M) * np.cos(2 * np.pi * y / _LIGHT_PITCH_M)
    return (1.0 + 0.07 * wave).astype(np.float32)


def _thin_box(lo: np.ndarray, hi: np.ndarray, color: tuple[float, float, float], **kw: int) -> Box:
    return Box(np.asarray(lo, float), np.asarray(hi, float), color, **kw)


def static_boxes(store: StoreModel, camera_top_z: float) -> list[Box]:
    """Boxes of everything in the store that never moves (store frame).

    ``camera_top_z``: highest camera [m]; the ceiling is kept above it so that no camera sits
    inside the ceiling slab.
    """
    fx, fy = (float(v) for v in store.floor_size)
    ceil_z = max(float(getattr(store, "ceiling_height", 3.0)), camera_top_z + 0.05)
    wall = 0.1
    boxes = [
        _thin_box([-wall, -wall, -0.05], [fx + wall, fy + wall, 0.0], _FLOOR_BGR, material=1),
        _thin_box([-wall, -wall, ceil_z], [fx + wall, fy + wall, ceil_z + 0.1], _CEILING_BGR),
        _thin_box([-wall, -wall, 0.0], [0.0, fy + wall, ceil_z], _WALL_BGR, material=2),
        _thin_box([fx, -wall, 0.0], [fx + wall, fy + wall, ceil_z], _WALL_BGR, material=2),
        _thin_box([0.0, -wall, 0.0], [fx, 0.0, ceil_z], _WALL_BGR, material=2),
        _thin_box([0.0, fy, 0.0], [fx, fy + wall, ceil_z], _WALL_BGR, material=2),
    ]
    shelves_of: dict[str, list[object]] = {}
    for shelf in store.shelves.values():
        shelves_of.setdefault(shelf.gondola_id, []).append(shelf)
    for gid, gondola in store.gondolas.items():
        lo = np.asarray(gondola.center) - np.asarray(gondola.size) / 2
        hi = np.asarray(gondola.center) + np.asarray(gondola.size) / 2
        shelves = shelves_of.get(gid, [])
        long_axis = 0 if hi[0] - lo[0] >= hi[1] - lo[1] else 1
        depth_axis = 1 - long_axis
        lowest = min((float(s.z) for s in shelves), default=0.12)
        boxes.append(_thin_box(lo, [hi[0], hi[1], min(0.12, max(lowest, 0.02))], _PLINTH_BGR))
        # Back panel: at the centre plane of a double-sided unit, else at the side away from
        # the aisle its shelves face.
        panel_lo, panel_hi = lo.copy(), hi.copy()
        t = 0.03
        sides = {float(np.sign(s.access_normal[depth_axis])) for s in shelves}
        if getattr(gondola, "double_sided", False) or len(sides) > 1:
            mid = float(gondola.center[depth_axis])
            panel_lo[depth_axis], panel_hi[depth_axis] = mid - t / 2, mid + t / 2
        elif sides == {1.0}:
            panel_hi[depth_axis] = lo[depth_axis] + t
        else:
            panel_lo[depth_axis] = hi[depth_axis] - t
        boxes.append(_thin_box(panel_lo, panel_hi, _PANEL_BGR))
        for end in (lo[long_axis], hi[long_axis] - t):
            e_lo, e_hi = lo.copy(), hi.copy()
            e_lo[long_axis], e_hi[long_axis] = end, end + t
            boxes.append(_thin_box(e_lo, e_hi, _PANEL_BGR))
        for shelf in shelves:
            z = float(shelf.z)
            if z < 0.05:
                continue
            s_lo = [float(shelf.min_xy[0]), float(shelf.min_xy[1]), z - 0.025]
            s_hi = [float(shelf.max_xy[0]), float(shelf.max_xy[1]), z]
            boxes.append(_thin_box(s_lo, s_hi, _SHELF_BGR))
    for b in store.bins.values():
        boxes.append(_label_box(b))
    return boxes


def _label_box(b: Bin) -> Box:
    """A white price label on the shelf edge in front of bin ``b``."""
    normal = np.asarray(b.access_normal, float)
    axis = int(np.argmax(np.abs(normal)))
    lateral = 1 - axis if axis < 2 else 0
    front = np.asarray(b.center, float) + normal * float(np.asarray(b.size)[axis]) / 2
    z = float(b.center[2] - b.size[2] / 2)
    lo = front.copy()
    hi = front.copy()
    lo[lateral] -= 0.03
    hi[lateral] += 0.03
    lo[axis], hi[axis] = sorted((front[axis], front[axis] + 0.006 * np.sign(normal[axis])))
    lo[2], hi[2] = z - 0.024, z - 0.002
    return Box(lo, hi, _LABEL_BGR)


def facing_boxes(
    b: Bin,
    contents: Mapping[str, int],
    products: Mapping[str, Product],
    atlas: TextureAtlas,
    lanes: Sequence[FacingLane],
) -> list[Box]:
    """Boxes of the product units visible in bin ``b`` for ``contents`` (sku -> units).

    Each SKU's units stand in its lane (``StoreModel.facing_lanes``: the planogram's order, from
    the left as a shopper sees the bin), rows filled from the back. Units beyond what fits on
    the shelf floor are not drawn (stacked stock is hidden behind the front units anyway).
    """
    normal = np.asarray(b.access_normal, float)
    axis = int(np.argmax(np.abs(normal)))
    sign = 1.0 if normal[axis] > 0 else -1.0
    lateral = 1 - axis if axis < 2 else 0
    lo = np.asarray(b.center, float) - np.asarray(b.size, float) / 2
    hi = np.asarray(b.center, float) + np.asarray(b.size, float) / 2
    front = hi[axis] if sign > 0 else lo[axis]
    depth_span = hi[axis] - lo[axis]
    face = 2 * axis + (1 if sign > 0 else 0)
    out: list[Box] = []
    gap = 0.004
    for lane in lanes:
        count = int(contents.get(lane.sku, 0))
        if count <= 0 or lane.sku not in products:
            continue
        sku = lane.sku
        lane_lo = float(min(lane.lo[lateral], lane.hi[lateral]))
        lane_w = float(abs(lane.hi[lateral] - lane.lo[lateral]))
        w, d, h = (float(v) for v in products[sku].dims_m)
        w = min(w, lane_w - gap)
        d = min(d, depth_span)
        h = min(h, hi[2] - lo[2])
        ncols = max(1, int(lane_w // (w + gap)))
        nrows = max(1, int(depth_span // (d + gap)))
        shown = min(count, ncols * nrows)
        full_rows, rest = divmod(shown, ncols)
        used_w = ncols * (w + gap)
        lane_lo += (lane_w - used_w) / 2
        color = tuple(float(c) for c in atlas.mean_bgr[atlas.index_of[sku]])
        for k in range(shown):
            row_from_back = k // ncols
            col = k % ncols
            if row_from_back == full_rows and rest:
                # The partial front row is centred so that a depleted row still looks faced.
                col += (ncols - rest) // 2
            row_from_front = nrows - 1 - row_from_back
            u_lo = np.zeros(3)
            u_hi = np.zeros(3)
            u_lo[lateral] = lane_lo + col * (w + gap) + gap / 2
            u_hi[lateral] = u_lo[lateral] + w
            near = front - sign * row_from_front * (d + gap)
            far = near - sign * d
            u_lo[axis], u_hi[axis] = min(near, far), max(near, far)
            u_lo[2], u_hi[2] = lo[2], lo[2] + h
            out.append(Box(u_lo, u_hi, color, texture=atlas.index_of[sku], texture_face=face))
    return out


def paint_boxes(
    geom: CameraGeometry,
    boxes: list[Box],
    rects: list[tuple[int, int, int, int] | None],
    region: tuple[int, int, int, int],
    atlas: TextureAtlas,
    rgb: np.ndarray,
    depth: np.ndarray,
    vignette: np.ndarray,
) -> None:
    """Ray-cast ``boxes`` over ``region`` (x0, y0, x1, y1) and paint the nearer hits in place.

    rgb: (H, W, 3) uint8 BGR image; depth: (H, W) float32 optical depth [m] (inf = nothing);
    rects: per box the pixel rectangle of its image (``geometry.box_rect``), None = not visible;
    vignette: (H, W) float32 lens and exposure falloff.
    """
    x0, y0, x1, y1 = region
    sub_depth = depth[y0:y1, x0:x1].copy()
    hit_box = np.full(sub_depth.shape, -1, np.int32)
    hit_face = np.zeros(sub_depth.shape, np.int8)
    origin = geom.origin
    for i, (box, rect) in enumerate(zip(boxes, rects, strict=True)):
        if rect is None:
            continue
        bx0, by0 = max(rect[0], x0), max(rect[1], y0)
        bx1, by1 = min(rect[2], x1), min(rect[3], y1)
        if bx0 >= bx1 or by0 >= by1:
            continue
        inv = tuple(plane[by0:by1, bx0:bx1] for plane in geom.inv_rays)
        t, face = raycast_box(origin, inv, box.lo, box.hi)
        window = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
        nearer = t < sub_depth[window]
        if not nearer.any():
            continue
        sub_depth[window][nearer] = t[nearer]
        hit_box[window][nearer] = i
        hit_face[window][nearer] = face[nearer]
    ys, xs = np.nonzero(hit_box >= 0)
    if len(ys) == 0:
        return
    ids = hit_box[ys, xs]
    faces = hit_face[ys, xs].astype(np.intp)
    t = sub_depth[ys, xs]
    p = origin[None, :] + geom.rays_store[ys + y0, xs + x0].astype(np.float64) * t[:, None]
    colors = np.array([b.color_bgr for b in boxes], np.float32)[ids]
    materials = np.array([b.material for b in boxes], np.int8)[ids]
    _materials(colors, materials, p)
    _textures(colors, boxes, ids, faces, p, atlas)
    gain = _FACE_SHADE[faces] * light_gain(p[:, 0], p[:, 1]) * vignette[ys + y0, xs + x0]
    rgb[ys + y0, xs + x0] = np.clip(colors * gain[:, None], 0, 255).astype(np.uint8)
    depth[y0:y1, x0:x1] = sub_depth


def _materials(colors: np.ndarray, materials: np.ndarray, p: np.ndarray) -> None:
    """Procedural floor tiles and a wall band, in place on colors (N, 3)."""
    floor = materials == MATERIAL_FLOOR
    if floor.any():
        q = p[floor, :2] / 0.6
        cell = np.floor(q)
        frac = q - cell
        grout = (np.minimum(frac, 1 - frac) < 0.02).any(axis=1)
        checker = ((cell[:, 0] + cell[:, 1]) % 2 == 0).astype(np.float32)
        shade = 1.0 - 0.05 * checker - 0.25 * grout
        colors[floor] *= shade[:, None]
    wall = materials == MATERIAL_WALL
    if wall.any():
        band = (p[wall, 2] > 2.1) & (p[wall, 2] < 2.4)
        colors[np.flatnonzero(wall)[band]] = (60.0, 140.0, 40.0)


def _textures(
    colors: np.ndarray,
    boxes: list[Box],
    ids: np.ndarray,
    faces: np.ndarray,
    p: np.ndarray,
    atlas: TextureAtlas,
) -> None:
    """Sample the product texture on each pixel that sees a box's textured face (in place)."""
    tex_face = np.array([b.texture_face for b in boxes], np.int8)[ids]
    sel = np.flatnonzero((tex_face >= 0) & (faces == tex_face))
    if len(sel) == 0:
        return
    lo = np.array([b.lo for b in boxes])[ids[sel]]
    hi = np.array([b.hi for b in boxes])[ids[sel]]
    tex = np.array([b.texture for b in boxes])[ids[sel]]
    face = faces[sel]
    axis = face // 2
    outward = np.where(face % 2 == 1, 1.0, -1.0)
    lateral = 1 - axis
    # The viewer's right on a face with outward normal n is cross(-n, up): +y for +x faces,
    # -x for +y faces, -y for -x faces and +x for -y faces.
    right_positive = np.where(axis == 0, outward > 0, outward < 0)
    rows = np.arange(len(sel))
    lat_p = p[sel][rows, lateral]
    lat_lo = lo[rows, lateral]
    lat_hi = hi[rows, lateral]
    u = (lat_p - lat_lo) / np.maximum(lat_hi - lat_lo, 1e-6)
    u = np.where(right_positive, u, 1.0 - u)
    v = (hi[:, 2] - p[sel][:, 2]) / np.maximum(hi[:, 2] - lo[:, 2], 1e-6)
    tx = np.clip((u * TEXTURE_W).astype(np.intp), 0, TEXTURE_W - 1)
    ty = np.clip((v * TEXTURE_H).astype(np.intp), 0, TEXTURE_H - 1)
    colors[sel] = atlas.atlas[tex, ty, tx].astype(np.float32)

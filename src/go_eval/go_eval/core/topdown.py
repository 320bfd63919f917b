"""Top-down views of a session: the store plan with tracks against ground truth.

``TopDownMap`` draws animation frames (OpenCV) for the demo's GIF; ``plot_tracks`` draws the whole
session as one matplotlib figure for the evaluation report. Coordinates are the ``store`` frame
[m]; images put x to the right and y up, as RViz's top view does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from go_common.core.store import StoreModel

_MARGIN_M = 0.3
_TRUTH_BGR = (160, 160, 160)


def _track_colour(track_id: str) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per id (golden-angle hue steps over a hash)."""
    hue = (sum(ord(c) * 31**i for i, c in enumerate(track_id)) * 0.618034) % 1.0
    hsv = np.uint8([[[int(hue * 179), 200, 230]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


class TopDownMap:
    """Store plan raster at ``px_per_m``; ``frame()`` draws positions on a copy."""

    def __init__(self, store: StoreModel, px_per_m: float = 60.0):
        self.store = store
        self.scale = px_per_m
        width_m, depth_m = store.floor_size
        self.size = (
            int((width_m + 2 * _MARGIN_M) * px_per_m),
            int((depth_m + 2 * _MARGIN_M) * px_per_m),
        )
        self._background = self._draw_plan()

    def to_px(self, x: float, y: float) -> tuple[int, int]:
        """Store (x, y) [m] -> pixel (column, row), y up."""
        col = (x + _MARGIN_M) * self.scale
        row = self.size[1] - (y + _MARGIN_M) * self.scale
        return round(col), round(row)

    def _draw_plan(self) -> np.ndarray:
        image = np.full((self.size[1], self.size[0], 3), 245, np.uint8)
        width_m, depth_m = self.store.floor_size
        cv2.rectangle(image, self.to_px(0, 0), self.to_px(width_m, depth_m), (90, 90, 90), 2)
        for gate in self.store.gates.values():
            colour = (80, 180, 80) if gate.kind == "entry" else (80, 80, 200)
            cv2.rectangle(image, self.to_px(*gate.min_xy), self.to_px(*gate.max_xy), colour, -1)
            cv2.putText(
                image,
                gate.gate_id,
                self.to_px(gate.min_xy[0], gate.max_xy[1]),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (40, 40, 40),
                1,
                cv2.LINE_AA,
            )
        for gondola in self.store.gondolas.values():
            lo, hi = gondola.min_corner, gondola.max_corner
            cv2.rectangle(
                image, self.to_px(lo[0], lo[1]), self.to_px(hi[0], hi[1]), (150, 120, 90), -1
            )
        for shelf_bin in self.store.bins.values():
            lo, hi = shelf_bin.min_corner, shelf_bin.max_corner
            cv2.rectangle(
                image, self.to_px(lo[0], lo[1]), self.to_px(hi[0], hi[1]), (200, 180, 150), 1
            )
        for camera in self.store.cameras.values():
            x, y, _ = camera.position
            cv2.drawMarker(image, self.to_px(x, y), (30, 30, 30), cv2.MARKER_TRIANGLE_UP, 10, 2)
        return image

    def frame(
        self,
        t: float,
        predicted: Mapping[str, tuple[float, float]],
        truth: Mapping[str, tuple[float, float]] | None = None,
        labels: Mapping[str, str] | None = None,
        active_bins: Iterable[str] = (),
    ) -> np.ndarray:
        """One frame: ground truth as grey rings, tracks as filled dots with their labels."""
        image = self._background.copy()
        for bin_id in active_bins:
            shelf_bin = self.store.bins.get(bin_id)
            if shelf_bin is not None:
                lo, hi = shelf_bin.min_corner, shelf_bin.max_corner
                cv2.rectangle(
                    image, self.to_px(lo[0], lo[1]), self.to_px(hi[0], hi[1]), (0, 200, 255), -1
                )
        radius = max(3, int(0.2 * self.scale))
        for xy in (truth or {}).values():
            cv2.circle(image, self.to_px(*xy), radius + 2, _TRUTH_BGR, 2, cv2.LINE_AA)
        for track_id, xy in predicted.items():
            centre = self.to_px(*xy)
            cv2.circle(image, centre, radius, _track_colour(track_id), -1, cv2.LINE_AA)
            text = (labels or {}).get(track_id, track_id)
            cv2.putText(
                image,
                text,
                (centre[0] + radius, centre[1] - radius),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (20, 20, 20),
                1,
                cv2.LINE_AA,
            )
        cv2.putText(
            image,
            f"t = {t:6.1f} s",
            (8, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        return image


def write_gif(frames: Sequence[np.ndarray], path: Path, fps: float = 5.0) -> Path:
    """Write BGR frames as an animated GIF (Pillow, shipped with matplotlib)."""
    from PIL import Image

    if not frames:
        raise ValueError(f"no frames to write to {path}")
    images = [Image.fromarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=int(1000 / fps),
        loop=0,
        optimize=True,
    )
    return path


def plot_tracks(
    store: StoreModel,
    predicted: Mapping[str, Sequence[tuple[float, float, float]]],
    truth: Mapping[str, Sequence[tuple[float, float, float]]],
    path: Path,
    title: str = "",
) -> Path:
    """Whole-session top-down plot: truth (grey, dashed) and tracks (colour), (t, x, y) samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6 * store.floor_size[1] / max(store.floor_size[0], 1e-6)))
    for gondola in store.gondolas.values():
        lo, hi = gondola.min_corner, gondola.max_corner
        ax.add_patch(plt.Rectangle((lo[0], lo[1]), hi[0] - lo[0], hi[1] - lo[1], color="tan"))
    for gate in store.gates.values():
        w, h = gate.max_xy[0] - gate.min_xy[0], gate.max_xy[1] - gate.min_xy[1]
        colour = "palegreen" if gate.kind == "entry" else "lightcoral"
        ax.add_patch(plt.Rectangle(gate.min_xy, w, h, color=colour))
    for samples in truth.values():
        arr = np.asarray(samples, dtype=float).reshape(-1, 3)
        ax.plot(arr[:, 1], arr[:, 2], "--", color="grey", linewidth=1)
    for track_id, samples in predicted.items():
        arr = np.asarray(samples, dtype=float).reshape(-1, 3)
        b, g, r = _track_colour(track_id)
        ax.plot(arr[:, 1], arr[:, 2], color=(r / 255, g / 255, b / 255), linewidth=1.5)
        if len(arr):
            ax.annotate(track_id, (arr[-1, 1], arr[-1, 2]), fontsize=7)
    ax.set_xlim(-_MARGIN_M, store.floor_size[0] + _MARGIN_M)
    ax.set_ylim(-_MARGIN_M, store.floor_size[1] + _MARGIN_M)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(title or "tracks (colour) vs ground truth (grey dashed)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path

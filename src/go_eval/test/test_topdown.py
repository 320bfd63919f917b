"""Top-down views: plan geometry, track drawing, GIF and report plot files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from go_common.core.store import load_store
from go_eval.core.topdown import TopDownMap, plot_tracks, write_gif


def test_store_points_land_where_expected() -> None:
    store = load_store("small")
    view = TopDownMap(store, px_per_m=50)
    col0, row0 = view.to_px(0.0, 0.0)
    col1, row1 = view.to_px(1.0, 1.0)
    assert col1 - col0 == 50
    assert row0 - row1 == 50  # y up


def test_track_is_drawn_at_its_position(tmp_path: Path) -> None:
    store = load_store("small")
    view = TopDownMap(store)
    empty = view.frame(0.0, {})
    drawn = view.frame(0.0, {"track_1": (1.0, 1.0)})
    col, row = view.to_px(1.0, 1.0)
    assert not np.array_equal(empty[row, col], drawn[row, col])
    gif = write_gif([empty, drawn], tmp_path / "s.gif")
    with Image.open(gif) as image:
        assert image.n_frames == 2


def test_report_plot_is_written(tmp_path: Path) -> None:
    store = load_store("small")
    track = [(0.0, 2.0, 0.3), (1.0, 2.0, 1.0), (2.0, 2.1, 2.0)]
    path = plot_tracks(store, {"t1": track}, {"p1": track}, tmp_path / "map.png")
    assert path.stat().st_size > 1000

"""Load-cell board driver core: line protocol, tare/calibration, batching, a pty replay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from go_sensors.drivers.backoff import Backoff
from go_sensors.drivers.line_source import LineSource
from go_sensors.drivers.load_cell import (
    STATUS_FAULT,
    STATUS_OK,
    STATUS_SATURATED,
    LineError,
    LoadCellBoard,
    Reading,
    calibrate_scale,
    parse_line,
)

DATA = Path(__file__).parent / "data" / "load_cell_board.txt"
TARE = (81234.0, -40211.0, 120500.0, 5012.0)  # the recording's true tares [counts]
SCALE = 0.002  # [g/count] of the recording's board
CHANNELS = ("bin_a", "bin_b", "bin_c", "bin_d")


def _board(**kw: object) -> LoadCellBoard:
    args = {"board_id": "shelf_A1", "channel_ids": CHANNELS, "scales": (SCALE,) * 4}
    args.update(kw)
    return LoadCellBoard(**args)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("3,-120456", Reading(3, -120456)),
        (b"0,17\r\n", Reading(0, 17)),
        (" 2 , 5 ", Reading(2, 5)),
        ("12.5,1,-7", Reading(1, -7, 12.5)),
        ("", None),
        ("# banner", None),
    ],
)
def test_parse_line(line: str | bytes, expected: Reading | None) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    "line", ["ERR", "1", "1,2,3,4", "a,5", "1,5.5", "-1,5", "nan,1,2", b"\xff\xfe,1", "3,"]
)
def test_garbage_lines_raise_line_error(line: str | bytes) -> None:
    with pytest.raises(LineError):
        parse_line(line)


def test_calibration_from_a_known_mass() -> None:
    scale = calibrate_scale(raw_loaded=120500 + 250000, tare=120500, known_grams=500.0)
    assert scale == pytest.approx(0.002)
    with pytest.raises(ValueError, match="non-zero"):
        calibrate_scale(100, 100, 500.0)


def test_batches_with_configured_tare() -> None:
    board = _board(tares=TARE, samples_per_message=2)
    batches = []
    for k, raw in enumerate([(81234, -40211, 120500 + 50000, 5012)] * 4):
        for c, value in enumerate(raw):
            batches += board.feed(f"{c},{value}", now=k / 60)
    batches += board.flush()
    assert [b.grams.shape for b in batches] == [(2, 4), (2, 4)]
    np.testing.assert_allclose(batches[0].grams[0], [0.0, 0.0, 100.0, 0.0], atol=1e-3)
    assert batches[0].first_time == 0.0 and batches[1].first_time == pytest.approx(2 / 60)
    assert batches[0].channel_ids == CHANNELS
    assert np.all(batches[0].status == STATUS_OK)


def test_missing_channel_is_a_dropout_and_saturation_is_flagged() -> None:
    board = _board(tares=TARE, samples_per_message=2, raw_min=-1000000, raw_max=1000000)
    lines = ["0,81234", "1,-40211", "3,5012", "0,81234", "1,1000000", "2,120500", "3,5012"]
    batches = [b for line in lines for b in board.feed(line, 0.0)] + board.flush()
    grams = batches[0].grams
    assert np.isnan(grams[0, 2]) and not np.isnan(grams[0, 3])  # sample 1 lacks channel 2
    assert np.isnan(grams[1, 1])  # saturated, no value
    assert batches[0].status[1] == STATUS_SATURATED
    assert board.stats.incomplete_samples == 1 and board.stats.saturated == 1


def test_timestamped_variant_groups_by_board_time() -> None:
    board = _board(tares=TARE, samples_per_message=3)
    lines = [
        f"{t:.4f},{c},{int(TARE[c]) + 500 * t_i}"
        for t_i, t in enumerate((0.0, 0.0167, 0.0333))
        for c in range(4)
    ]
    lines.remove("0.0167,2,121000")  # a dropout in the middle sample
    batches = [b for line in lines for b in board.feed(line, 5.0)] + board.flush()
    assert len(batches) == 1 and batches[0].grams.shape == (3, 4)
    np.testing.assert_allclose(batches[0].grams[:, 0], [0.0, 1.0, 2.0], atol=1e-4)
    assert np.isnan(batches[0].grams[1, 2])


def _replay(board: LoadCellBoard, lines: list[bytes]) -> list:
    batches = []
    for k, line in enumerate(lines):
        batches += board.feed(line, now=k / 240)
    return batches + board.flush()


def test_recorded_stream_auto_tare_garbage_and_a_placed_item() -> None:
    lines = DATA.read_bytes().split(b"\n")
    board = _board(samples_per_message=3, tare_samples=30)
    batches = _replay(board, lines)
    stats = board.stats
    assert stats.garbage == 4 and stats.unknown_channel == 1 and stats.out_of_range == 1
    assert stats.comments >= 3
    np.testing.assert_allclose(board.tare_values, TARE, atol=150)  # 0.3 g of 0.5 g noise
    grams = np.vstack([b.grams for b in batches])
    assert grams.shape == (120 - 30, 4)
    # Before the item: ~0 g; after it settled (sample 60 on): 350 g on channel 2 only.
    settled = grams[60 - 30 :]
    assert np.nanmedian(grams[:10, 2]) == pytest.approx(0.0, abs=1.0)
    assert np.nanmedian(settled[:, 2]) == pytest.approx(350.0, abs=1.0)
    assert np.nanmedian(np.abs(settled[:, [0, 1, 3]])) < 1.0
    assert any(b.status[1] == STATUS_FAULT for b in batches)  # the out-of-range line
    assert 0.2 < np.nanstd(grams[:20, 0]) < 1.0  # the recording's noise survives, 0.5 g


def test_bad_board_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="scales"):
        _board(scales=(1.0,))
    with pytest.raises(ValueError, match="tares"):
        _board(tares=(0.0,))
    with pytest.raises(ValueError, match="non-zero"):
        _board(scales=(0.0, 1.0, 1.0, 1.0))


def test_backoff_grows_to_its_ceiling_and_resets() -> None:
    b = Backoff(initial_s=0.5, factor=2.0, max_s=3.0)
    assert b.due(0.0)
    assert [b.failed(0.0) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert not b.due(2.9) and b.due(3.0)
    b.succeeded()
    assert b.due(0.0) and b.failed(10.0) == 0.5


def test_pty_replay_of_the_recorded_stream() -> None:
    """The serial reader on a pseudo-terminal gets every line of a recording, in order."""
    master, slave = os.openpty()
    try:
        source = LineSource("serial", os.ttyname(slave), baud=115200)
        assert source.poll(0.0) == [] and source.status.connected
        payload = DATA.read_bytes()
        board = _board(samples_per_message=3, tare_samples=30)
        batches, lines = [], []
        for start in range(0, len(payload), 512):  # a board writes in small bursts
            os.write(master, payload[start : start + 512])
            time.sleep(0.002)
            for line in source.poll(1.0):
                lines.append(line)
                batches += board.feed(line, 1.0)
        deadline = time.monotonic() + 5.0
        while len(lines) < payload.count(b"\n") and time.monotonic() < deadline:
            for line in source.poll(1.0):
                lines.append(line)
                batches += board.feed(line, 1.0)
            time.sleep(0.005)
        assert lines == payload.split(b"\n")[:-1]
        batches += board.flush()
        assert sum(b.grams.shape[0] for b in batches) == 90
        assert board.stats.garbage == 4
        source.close()
    finally:
        os.close(master)
        os.close(slave)


def test_missing_serial_port_keeps_retrying_with_backoff(tmp_path: Path) -> None:
    source = LineSource("serial", str(tmp_path / "ttyUSB9"), backoff=Backoff(0.5, 2.0, 4.0))
    assert source.poll(0.0) == []
    assert not source.status.connected and source.status.failures == 1
    assert "ttyUSB9" in source.status.last_error
    assert source.poll(0.2) == [] and source.status.failures == 1  # waiting for the retry
    source.poll(0.5)
    assert source.status.failures == 2
    source.poll(1.5)
    assert source.status.failures == 3 and source.backoff.delay() == 2.0


def test_unplugged_pty_is_detected_and_retried() -> None:
    master, slave = os.openpty()
    source = LineSource("serial", os.ttyname(slave), backoff=Backoff(0.1, 2.0, 1.0))
    try:
        source.poll(0.0)
        os.write(master, b"0,1\n")
        time.sleep(0.01)
        assert source.poll(0.1) == [b"0,1"]
    finally:
        os.close(master)  # the board goes away: the port now fails with EIO
    try:
        assert source.poll(0.2) == []
        assert not source.status.connected and source.status.failures == 1
        assert "disconnected" in source.status.last_error or "Errno 5" in source.status.last_error
        source.poll(0.31)  # the retry is due; reopening the orphaned pty fails or reads nothing
        assert source.status.opens + source.status.failures >= 2
    finally:
        source.close()
        os.close(slave)

"""Gate payload decoding; camera capture: sources, video file, missing device, reconnection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from go_sensors.drivers.backoff import Backoff
from go_sensors.drivers.calibration import CalibrationFileError, load_camera_intrinsics
from go_sensors.drivers.capture import Capture, CaptureSource, parse_source
from go_sensors.drivers.gate_payload import GateDecoder, PayloadError, parse_payload

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.mark.parametrize(
    ("payload", "kind", "expected"),
    [
        ("GO1:abc123XYZ", "entry", ("abc123XYZ", 1)),
        ("  GO1:tok_en-42:3\r\n", "entry", ("tok_en-42", 3)),
        (b"GO1:abcdef:20", "entry", ("abcdef", 20)),
        ("GO1:-", "exit", ("", 1)),
        ("GO1:abcdef", "exit", ("abcdef", 1)),
    ],
)
def test_valid_payloads(payload: str | bytes, kind: str, expected: tuple[str, int]) -> None:
    assert parse_payload(payload, kind) == expected


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("", "empty"),
        ("4006381333931", "GO1"),  # a product barcode read by the same scanner
        ("GO2:abcdef", "GO1"),
        ("GO1:abc", "token"),
        ("GO1:abc def", "token"),
        ("GO1:" + "a" * 65, "token"),
        ("GO1:abcdef:0", "group size"),
        ("GO1:abcdef:21", "group size"),
        ("GO1:abcdef:x", "group size"),
        ("GO1:abcdef:2:9", "expected"),
        ("GO1:-", "exit"),  # anonymous crossing at an entry gate
        (b"GO1:\xffabcdef", "non-ASCII"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(payload: str | bytes, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        parse_payload(payload, "entry")


def test_decoder_debounces_repeats_and_counts_rejects() -> None:
    decoder = GateDecoder("gate_in", "entry", debounce_s=2.0)
    first = decoder.decode("GO1:family77:4", 10.0)
    assert first is not None and first.group_size == 4 and first.gate_id == "gate_in"
    assert decoder.decode("GO1:family77:4", 11.0) is None  # the phone is still held up
    assert decoder.decode("GO1:family77:4", 12.5) is None  # each repeat extends the window
    assert decoder.decode("GO1:family77:4", 15.0) is not None
    assert decoder.decode("GO1:other_1", 11.0) is not None
    assert decoder.decode("garbage", 11.0) is None
    assert (decoder.accepted, decoder.repeats, decoder.rejected) == (3, 2, 1)
    assert "GO1" in decoder.last_error
    with pytest.raises(ValueError, match="kind"):
        GateDecoder("g", "sideways")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", CaptureSource("device", 0)),
        ("/dev/video2", CaptureSource("device", "/dev/video2")),
        ("rtsp://10.0.0.5:554/stream1", CaptureSource("url", "rtsp://10.0.0.5:554/stream1")),
        ("clip.mp4", CaptureSource("file", "clip.mp4")),
    ],
)
def test_parse_source(text: str, expected: CaptureSource) -> None:
    assert parse_source(text) == expected
    with pytest.raises(ValueError, match="empty"):
        parse_source("  ")


@pytest.mark.skipif(not VTEST.is_file(), reason="opencv-doc example video not installed")
def test_video_file_frames_and_loop() -> None:
    capture = Capture(str(VTEST), loop_file=True)
    frame = capture.read(0.0)
    assert frame is not None and frame.image.shape == (576, 768, 3)
    assert capture.stats.source_fps == pytest.approx(10.0, abs=0.5)
    assert capture.period_s == pytest.approx(0.1, abs=0.01)
    capture.release()


def test_missing_file_keeps_retrying(tmp_path: Path) -> None:
    capture = Capture(str(tmp_path / "nope.mp4"), backoff=Backoff(1.0, 2.0, 8.0))
    assert capture.read(0.0) is None
    assert capture.stats.open_failures == 1 and "nope.mp4" in capture.stats.last_error
    assert capture.read(0.5) is None and capture.stats.open_failures == 1  # waiting
    assert capture.read(1.0) is None and capture.stats.open_failures == 2
    assert capture.read(3.0) is None and capture.stats.open_failures == 3
    assert not capture.stats.connected and not capture.ended


class FakeCamera:
    """A cv2.VideoCapture stand-in: a script of read results; None = read failure."""

    def __init__(self, script: list[np.ndarray | None], fps: float = 10.0) -> None:
        self.script = list(script)
        self.fps = fps
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - the OpenCV name
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.script:
            return False, None
        image = self.script.pop(0)
        return image is not None, image

    def get(self, prop: int) -> float:
        return self.fps

    def set(self, prop: int, value: float) -> bool:
        return False

    def release(self) -> None:
        self.released = True


def test_device_reconnects_after_repeated_failures_and_counts_drops() -> None:
    good = np.zeros((4, 6, 3), np.uint8)
    cameras = [FakeCamera([good, good, None, None, None]), FakeCamera([good, good])]
    opened: list[FakeCamera] = []

    def opener(target: int | str) -> FakeCamera | None:
        if not cameras:
            return None
        opened.append(cameras.pop(0))
        return opened[-1]

    capture = Capture("0", opener=opener, backoff=Backoff(0.5, 2.0, 4.0), max_read_failures=3)
    assert capture.read(0.0) is not None
    assert capture.read(0.3) is not None  # 0.3 s after the last at 10 fps: 2 frames lost
    assert capture.stats.dropped == 2
    for t in (0.4, 0.5, 0.6):
        assert capture.read(t) is None
    assert opened[0].released and not capture.stats.connected
    assert capture.read(0.7) is None  # still inside the 0.5 s backoff
    frame = capture.read(1.2)
    assert frame is not None and capture.stats.opens == 2 and frame.seq == 3
    assert capture.stats.read_failures == 3


def test_corrupt_frames_are_skipped() -> None:
    good = np.zeros((4, 6, 3), np.uint8)
    bad = [np.zeros((4, 6, 4), np.uint8), np.zeros((5, 6, 3), np.uint8)]
    capture = Capture("1", opener=lambda _: FakeCamera([good, *bad, good]))
    results = [capture.read(t * 0.1) for t in range(4)]
    assert [r is not None for r in results] == [True, False, False, True]
    assert capture.stats.corrupt == 2 and capture.stats.frames == 2


def test_camera_calibration_yaml(tmp_path: Path) -> None:
    good = tmp_path / "cam.yaml"
    good.write_text(
        "image_width: 640\nimage_height: 480\ncamera_name: cam_front\n"
        "camera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}\n"
        "distortion_model: plumb_bob\n"
        "distortion_coefficients: {rows: 1, cols: 5, data: [-0.1, 0.01, 0, 0, 0]}\n"
    )
    cal = load_camera_intrinsics(good)
    assert cal.width == 640 and cal.K[0, 2] == 320 and cal.D[0] == -0.1
    np.testing.assert_array_equal(cal.P[:, :3], cal.K)
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("data: [-0.1, 0.01, 0, 0, 0]", "data: [1, 2]"))
    with pytest.raises(CalibrationFileError, match=r"bad\.yaml: distortion_coefficients"):
        load_camera_intrinsics(bad)
    with pytest.raises(CalibrationFileError, match="not found"):
        load_camera_intrinsics(tmp_path / "missing.yaml")

"""Image <-> numpy conversions and their bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from go_common.image import (
    ImageConversionError,
    compressed_to_numpy,
    image_to_numpy,
    numpy_to_compressed,
    numpy_to_image,
)

RNG = np.random.default_rng(7)
COLOUR = RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
MONO = RNG.integers(0, 256, size=(6, 5), dtype=np.uint8)
DEPTH = RNG.integers(0, 65536, size=(6, 5), dtype=np.uint16)


def smooth_bgr(h: int = 48, w: int = 64) -> np.ndarray:
    """A gradient image: JPEG keeps it within a few grey levels."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=2).astype(np.uint8)


@pytest.mark.parametrize(
    ("array", "encoding"),
    [(COLOUR, "rgb8"), (COLOUR, "bgr8"), (MONO, "mono8"), (DEPTH, "16UC1")],
)
def test_raw_round_trip_through_serialisation(array: np.ndarray, encoding: str) -> None:
    header = Header(frame_id="cam_0_optical")
    msg = numpy_to_image(array, encoding, header=header)
    assert (msg.height, msg.width, msg.encoding) == (6, 5, encoding)
    assert msg.step == array.shape[1] * array.itemsize * (3 if array.ndim == 3 else 1)
    assert msg.header.frame_id == "cam_0_optical"
    wire = deserialize_message(serialize_message(msg), Image)
    back = image_to_numpy(wire)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_padded_rows_are_skipped() -> None:
    step = 5 * 3 + 9  # 9 bytes of padding per row
    rows = np.zeros((6, step), dtype=np.uint8)
    rows[:, :15] = COLOUR.reshape(6, 15)
    rows[:, 15:] = 0xEE
    msg = Image(height=6, width=5, encoding="bgr8", step=step, data=rows.tobytes())
    np.testing.assert_array_equal(image_to_numpy(msg), COLOUR)
    # The last row may come without its padding.
    msg.data = rows.tobytes()[:-9]
    np.testing.assert_array_equal(image_to_numpy(msg), COLOUR)


def test_big_endian_depth_is_swapped() -> None:
    msg = Image(
        height=6,
        width=5,
        encoding="16UC1",
        step=10,
        is_bigendian=1,
        data=DEPTH.astype(">u2").tobytes(),
    )
    out = image_to_numpy(msg)
    np.testing.assert_array_equal(out, DEPTH)
    assert out.dtype.isnative


def test_colour_conversion_on_read() -> None:
    msg = numpy_to_image(COLOUR, "rgb8")
    np.testing.assert_array_equal(image_to_numpy(msg, desired_encoding="bgr8"), COLOUR[..., ::-1])
    grey = image_to_numpy(numpy_to_image(MONO, "mono8"), desired_encoding="bgr8")
    assert grey.shape == (6, 5, 3)
    np.testing.assert_array_equal(grey[..., 1], MONO)
    with pytest.raises(ImageConversionError, match="cannot convert encoding '16UC1' to 'bgr8'"):
        image_to_numpy(numpy_to_image(DEPTH, "16UC1"), desired_encoding="bgr8")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"encoding": "yuv422"}, "unsupported encoding 'yuv422'"),
        ({"width": 0, "step": 0, "data": b""}, "empty image: 0x6"),
        ({"height": 0, "data": b""}, "empty image: 5x0"),
        ({"step": 10}, "step 10 is smaller than one row"),
        ({"data": bytes(15 * 6 - 1)}, "truncated image: 89 bytes"),
    ],
)
def test_bad_raw_images_raise(fields: dict, match: str) -> None:
    base = {"height": 6, "width": 5, "encoding": "bgr8", "step": 15, "data": bytes(90)}
    msg = Image(**{**base, **fields})
    with pytest.raises(ImageConversionError, match=match):
        image_to_numpy(msg)


@pytest.mark.parametrize(
    ("array", "encoding", "match"),
    [
        (COLOUR.astype(np.float32), "bgr8", "does not fit encoding 'bgr8'"),
        (MONO, "bgr8", r"needs \(H, W, 3\) uint8"),
        (COLOUR, "mono8", r"needs \(H, W\) uint8"),
        (MONO, "16UC1", "uint16"),
        (np.zeros((0, 4, 3), np.uint8), "bgr8", "empty array"),
        (COLOUR, "32FC1", "unsupported encoding '32FC1'"),
    ],
)
def test_bad_arrays_raise(array: np.ndarray, encoding: str, match: str) -> None:
    with pytest.raises(ImageConversionError, match=match):
        numpy_to_image(array, encoding)


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8"])
def test_jpeg_round_trip(encoding: str) -> None:
    bgr = smooth_bgr()
    array = bgr if encoding == "bgr8" else bgr[..., ::-1].copy()
    msg = numpy_to_compressed(array, encoding, quality=95)
    assert msg.format == f"{encoding}; jpeg compressed bgr8"
    wire = deserialize_message(serialize_message(msg), CompressedImage)
    back = compressed_to_numpy(wire, desired_encoding=encoding)
    assert back.shape == array.shape
    assert np.abs(back.astype(int) - array.astype(int)).mean() < 3.0


def test_jpeg_mono_and_plain_format() -> None:
    grey = smooth_bgr()[..., 0].copy()
    msg = numpy_to_compressed(grey, "mono8")
    assert msg.format == "mono8; jpeg compressed mono8"
    msg.format = "jpeg"  # what cv_bridge writes
    back = compressed_to_numpy(msg, desired_encoding="mono8")
    assert back.shape == grey.shape
    assert np.abs(back.astype(int) - grey.astype(int)).mean() < 3.0
    assert compressed_to_numpy(msg).shape == (*grey.shape, 3)


def test_bad_compressed_images_raise() -> None:
    good = numpy_to_compressed(smooth_bgr())
    data = bytes(good.data)
    cases = [
        (CompressedImage(format="tiff", data=data), "unsupported compressed format 'tiff'"),
        (CompressedImage(format="jpeg", data=b""), "empty compressed image"),
        (CompressedImage(format="jpeg", data=b"hello world"), "neither JPEG nor PNG"),
        (CompressedImage(format="jpeg", data=data[:40]), "corrupt compressed image|truncated"),
        (CompressedImage(format="jpeg", data=data[: len(data) // 2]), "corrupt|truncated JPEG"),
        (
            CompressedImage(format="jpeg", data=data[:2] + bytes(len(data) - 2)),
            "corrupt compressed image",
        ),
    ]
    for msg, match in cases:
        with pytest.raises(ImageConversionError, match=match):
            compressed_to_numpy(msg)
    with pytest.raises(ImageConversionError, match="cannot decode to '16UC1'"):
        compressed_to_numpy(good, desired_encoding="16UC1")
    with pytest.raises(ImageConversionError, match="quality 0"):
        numpy_to_compressed(smooth_bgr(), quality=0)
    with pytest.raises(ImageConversionError, match="JPEG needs"):
        numpy_to_compressed(DEPTH, "16UC1")

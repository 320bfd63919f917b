"""sensor_msgs/Image and CompressedImage <-> numpy arrays.

Supported raw encodings (REP 104 names, as ``sensor_msgs/image_encodings``):

======== ================ =========================
encoding array            dtype
======== ================ =========================
rgb8     (H, W, 3)        uint8, channels R, G, B
bgr8     (H, W, 3)        uint8, channels B, G, R (OpenCV order)
mono8    (H, W)           uint8
16UC1    (H, W)           uint16 (depth in mm; ``mono16`` is read the same way)
======== ================ =========================

``step`` (bytes per row, may include padding) and ``is_bigendian`` are honoured when reading;
written images are unpadded and in the machine's byte order. Compressed images are JPEG (or PNG
on reading) with the ``format`` field of image_transport's compressed plugin
(``"bgr8; jpeg compressed bgr8"``); a plain ``"jpeg"`` (cv_bridge) is read as well.

Uses ``cv_bridge`` for the conversion itself where it imports; the checks below run either way,
so bad input always raises ``ImageConversionError`` with a message that names the problem.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

try:  # the real package on a full ROS 2 install
    from cv_bridge import CvBridge as _CvBridge
    from cv_bridge import CvBridgeError as _CvBridgeError
except ImportError:  # pip-installed rclpy: numpy and OpenCV do the same
    _CvBridge = None
    _CvBridgeError = Exception


class ImageConversionError(ValueError):
    """An image message or array that cannot be converted; the message says why."""


@dataclass(frozen=True)
class _Encoding:
    channels: int
    dtype: np.dtype


ENCODINGS: dict[str, _Encoding] = {
    "rgb8": _Encoding(3, np.dtype(np.uint8)),
    "bgr8": _Encoding(3, np.dtype(np.uint8)),
    "mono8": _Encoding(1, np.dtype(np.uint8)),
    "16UC1": _Encoding(1, np.dtype(np.uint16)),
    "mono16": _Encoding(1, np.dtype(np.uint16)),
}

_COLOUR_CONVERSIONS = {
    ("rgb8", "bgr8"): cv2.COLOR_RGB2BGR,
    ("bgr8", "rgb8"): cv2.COLOR_BGR2RGB,
    ("mono8", "bgr8"): cv2.COLOR_GRAY2BGR,
    ("mono8", "rgb8"): cv2.COLOR_GRAY2RGB,
    ("bgr8", "mono8"): cv2.COLOR_BGR2GRAY,
    ("rgb8", "mono8"): cv2.COLOR_RGB2GRAY,
}

_BRIDGE = _CvBridge() if _CvBridge is not None else None


def _encoding(name: str) -> _Encoding:
    try:
        return ENCODINGS[name]
    except KeyError:
        known = ", ".join(ENCODINGS)
        raise ImageConversionError(f"unsupported encoding '{name}' (supported: {known})") from None


def _convert_colour(array: np.ndarray, source: str, target: str | None) -> np.ndarray:
    if target is None or target == source:
        return array
    _encoding(target)
    code = _COLOUR_CONVERSIONS.get((source, target))
    if code is None:
        raise ImageConversionError(f"cannot convert encoding '{source}' to '{target}'")
    return cv2.cvtColor(array, code)


def image_to_numpy(msg: Image, desired_encoding: str | None = None) -> np.ndarray:
    """``sensor_msgs/Image`` -> array (shape and dtype in the module table).

    Args:
        msg: the image; ``step`` padding and ``is_bigendian`` are handled.
        desired_encoding: convert to this encoding (rgb8 <-> bgr8, mono8 <-> colour); None keeps
            the message's encoding.

    Returns:
        A C-contiguous array; without padding, byte swap or colour conversion it shares memory
        with ``msg.data`` (copy it before changing the message).

    Raises:
        ImageConversionError: unsupported encoding, zero size, ``step`` smaller than a row,
            or fewer bytes than ``step * height``.
    """
    enc = _encoding(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image: {width}x{height} ({msg.encoding})")
    row_bytes = width * enc.channels * enc.dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than one row of {width} px {msg.encoding} ({row_bytes} bytes)"
        )
    needed = step * (height - 1) + row_bytes
    if len(msg.data) < needed:
        raise ImageConversionError(
            f"truncated image: {len(msg.data)} bytes for {width}x{height} {msg.encoding} "
            f"with step {step} (needs {needed})"
        )
    if _BRIDGE is not None:
        try:
            array = _BRIDGE.imgmsg_to_cv2(msg, desired_encoding=desired_encoding or "passthrough")
        except _CvBridgeError as error:
            raise ImageConversionError(str(error)) from None
        return np.ascontiguousarray(array)
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(height, row_bytes), strides=(step, 1))
    if step != row_bytes:
        rows = np.ascontiguousarray(rows)
    byte_order = ">" if msg.is_bigendian else "<"
    array = rows.view(enc.dtype.newbyteorder(byte_order))
    if enc.dtype.itemsize > 1 and (byte_order == ">") != (sys.byteorder == "big"):
        array = array.astype(enc.dtype)  # swap to the machine's byte order
    else:
        array = array.view(enc.dtype)
    shape = (height, width, enc.channels) if enc.channels > 1 else (height, width)
    array = array.reshape(shape)
    return np.ascontiguousarray(_convert_colour(array, msg.encoding, desired_encoding))


def _check_array(array: np.ndarray, encoding: str) -> np.ndarray:
    """``array`` as an ndarray after checking its shape and dtype against ``encoding``."""
    enc = _encoding(encoding)
    a = np.asarray(array)
    expected_ndim = 3 if enc.channels > 1 else 2
    if (
        a.ndim != expected_ndim
        or (enc.channels > 1 and a.shape[2] != enc.channels)
        or a.dtype != enc.dtype
    ):
        want = "(H, W, 3)" if enc.channels > 1 else "(H, W)"
        raise ImageConversionError(
            f"array {a.shape} {a.dtype} does not fit encoding '{encoding}' "
            f"(needs {want} {enc.dtype})"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageConversionError(f"empty array {a.shape} for encoding '{encoding}'")
    return a


def numpy_to_image(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """Array -> ``sensor_msgs/Image`` (unpadded rows, machine byte order).

    Raises:
        ImageConversionError: unsupported encoding, or an array whose shape or dtype does not
            match it (e.g. a float array as bgr8), or an empty array.
    """
    enc = _encoding(encoding)
    a = _check_array(array, encoding)
    if _BRIDGE is not None:
        msg = _BRIDGE.cv2_to_imgmsg(np.ascontiguousarray(a), encoding=encoding)
    else:
        msg = Image()
        msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
        msg.encoding = encoding
        msg.is_bigendian = int(sys.byteorder == "big")
        msg.step = int(a.shape[1] * enc.channels * enc.dtype.itemsize)
        msg.data = np.ascontiguousarray(a).tobytes()
    if header is not None:
        msg.header = header
    return msg


_JPEG_MAGIC = b"\xff\xd8"
_PNG_MAGIC = b"\x89PNG"


def compressed_to_numpy(msg: CompressedImage, desired_encoding: str = "bgr8") -> np.ndarray:
    """``sensor_msgs/CompressedImage`` (JPEG or PNG) -> array in ``desired_encoding``.

    ``desired_encoding`` is bgr8 (default), rgb8 or mono8.

    Raises:
        ImageConversionError: an unknown ``format``, empty data, or data that does not decode
            (corrupt or truncated JPEG).
    """
    fmt = msg.format.lower()
    if not any(k in fmt for k in ("jpeg", "jpg", "png")):
        raise ImageConversionError(
            f"unsupported compressed format '{msg.format}' (expected jpeg or png)"
        )
    data = bytes(msg.data)
    if not data:
        raise ImageConversionError(f"empty compressed image (format '{msg.format}')")
    if not (data.startswith(_JPEG_MAGIC) or data.startswith(_PNG_MAGIC)):
        raise ImageConversionError(
            f"compressed data ({len(data)} bytes, format '{msg.format}') is neither JPEG nor PNG"
        )
    if desired_encoding not in ("bgr8", "rgb8", "mono8"):
        raise ImageConversionError(
            f"cannot decode to '{desired_encoding}' (use bgr8, rgb8 or mono8)"
        )
    flag = cv2.IMREAD_GRAYSCALE if desired_encoding == "mono8" else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if decoded is None or decoded.size == 0:
        raise ImageConversionError(
            f"corrupt compressed image: {len(data)} bytes of format '{msg.format}' do not decode"
        )
    if data.startswith(_JPEG_MAGIC) and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        # libjpeg fills a truncated stream with grey and only warns: refuse it here.
        raise ImageConversionError(
            f"truncated JPEG: {len(data)} bytes without an end-of-image marker"
        )
    if desired_encoding == "rgb8":
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return decoded


def numpy_to_compressed(
    array: np.ndarray, encoding: str = "bgr8", quality: int = 90, header: Header | None = None
) -> CompressedImage:
    """Array (bgr8, rgb8 or mono8) -> JPEG ``sensor_msgs/CompressedImage``.

    ``format`` follows image_transport's compressed plugin: ``"<encoding>; jpeg compressed
    <bgr8|mono8>"``, so ``image_transport republish`` and rqt_image_view read it.

    Raises:
        ImageConversionError: bad array or encoding, or quality outside [1, 100].
    """
    if encoding not in ("bgr8", "rgb8", "mono8"):
        raise ImageConversionError(f"JPEG needs bgr8, rgb8 or mono8, not '{encoding}'")
    if not 1 <= quality <= 100:
        raise ImageConversionError(f"JPEG quality {quality} outside [1, 100]")
    a = _check_array(array, encoding)
    if encoding == "rgb8":
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageConversionError(f"JPEG encoding of a {a.shape} array failed")
    msg = CompressedImage()
    compressed_as = "mono8" if encoding == "mono8" else "bgr8"
    msg.format = f"{encoding}; jpeg compressed {compressed_as}"
    msg.data = buffer.tobytes()
    if header is not None:
        msg.header = header
    return msg

"""Messages <-> people/pose core types (go_msgs/PersonDetectionArray, camera images)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from go_common.image import ImageConversionError, compressed_to_numpy, image_to_numpy
from go_msgs.msg import PersonDetection, PersonDetectionArray
from go_perception.core.keypoints import NUM_KEYPOINTS, Person

# Raw encodings the perception node accepts; everything else is skipped with a diagnostic.
ACCEPTED_ENCODINGS = ("bgr8", "rgb8", "mono8")


def image_to_bgr(msg: Image | CompressedImage) -> np.ndarray:
    """BGR (H, W, 3) uint8 from a raw bgr8/rgb8/mono8 image or a JPEG/PNG compressed one.

    Raises:
        go_common.image.ImageConversionError: another encoding, zero size, truncated data,
            corrupt or truncated JPEG (the message says which).
    """
    if isinstance(msg, CompressedImage):
        return compressed_to_numpy(msg, "bgr8")
    if msg.encoding not in ACCEPTED_ENCODINGS:
        raise ImageConversionError(
            f"encoding '{msg.encoding}' is not one of {', '.join(ACCEPTED_ENCODINGS)}"
        )
    return image_to_numpy(msg, "bgr8")


def person_to_msg(person: Person, appearance: np.ndarray | None = None) -> PersonDetection:
    """One core Person -> go_msgs/PersonDetection (pixels, scores in [0, 1]).

    ``appearance``: the person's clothing-colour descriptor (NaN where unseen), or None.
    """
    msg = PersonDetection()
    if appearance is not None:
        msg.appearance = np.asarray(appearance, dtype=np.float32).ravel().tolist()
    msg.score = float(person.score)
    msg.bbox = [float(v) for v in person.bbox]
    kp = np.asarray(person.keypoints, dtype=np.float32)
    msg.keypoints = kp[:, :2].reshape(-1).tolist()
    msg.keypoint_scores = np.clip(kp[:, 2], 0.0, 1.0).tolist()
    return msg


def people_to_msg(
    header: Header,
    camera_id: str,
    width: int,
    height: int,
    people: list[Person],
    appearance: np.ndarray | None = None,
) -> PersonDetectionArray:
    """Everyone seen in one image; ``header`` is the image's, copied unchanged.

    ``appearance``: (P, A) clothing-colour descriptors of the P people, or None.
    """
    msg = PersonDetectionArray()
    msg.header = header
    msg.camera_id = camera_id
    msg.image_width = int(width)
    msg.image_height = int(height)
    looks = [None] * len(people) if appearance is None else list(appearance)
    msg.people = [person_to_msg(p, a) for p, a in zip(people, looks, strict=True)]
    return msg


def people_from_msg(msg: PersonDetectionArray) -> list[Person]:
    """go_msgs/PersonDetectionArray -> core people (keypoints (17, 3): x, y [px], score)."""
    people = []
    for p in msg.people:
        kp = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
        kp[:, :2] = np.asarray(p.keypoints, dtype=np.float32).reshape(NUM_KEYPOINTS, 2)
        kp[:, 2] = np.asarray(p.keypoint_scores, dtype=np.float32)
        people.append(Person(np.asarray(p.bbox, dtype=np.float32), float(p.score), kp))
    return people

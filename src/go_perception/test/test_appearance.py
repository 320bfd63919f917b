"""Clothing-colour descriptors: what they see, and what they refuse to guess."""

from __future__ import annotations

import cv2
import numpy as np

from go_perception.core.appearance import (
    DESCRIPTOR_SIZE,
    HUE_BINS,
    REGION_BINS,
    appearance_distance,
    describe,
    describe_people,
)


def _person(x: float, shirt_bgr: tuple[int, int, int], trousers_bgr: tuple[int, int, int]):
    """A drawn person at column x: shirt from y=100 to 200, trousers to 300; its keypoints."""
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    kp[5], kp[6] = (x - 30, 100, 0.9), (x + 30, 100, 0.9)  # shoulders
    kp[11], kp[12] = (x - 25, 200, 0.9), (x + 25, 200, 0.9)  # hips
    kp[13], kp[14] = (x - 25, 300, 0.9), (x + 25, 300, 0.9)  # knees
    return kp, shirt_bgr, trousers_bgr


def _draw(people, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    image = np.full((400, 640, 3), 200, np.uint8)
    for kp, shirt, trousers in people:
        x = int(kp[5, 0] + 30)
        cv2.rectangle(image, (x - 32, 95), (x + 32, 200), shirt, -1)
        cv2.rectangle(image, (x - 28, 200), (x + 28, 305), trousers, -1)
    if noise:
        jitter = np.random.default_rng(seed).normal(0, noise, image.shape)
        image = np.clip(image + jitter, 0, 255).astype(np.uint8)
    return image


RED, GREEN, NAVY, GREY = (40, 40, 200), (60, 130, 30), (80, 40, 30), (150, 150, 150)


def test_regions_are_histograms_of_the_clothes() -> None:
    person = _person(200, RED, NAVY)
    d = describe(_draw([person]), person[0])
    assert d.shape == (DESCRIPTOR_SIZE,)
    torso, thighs = d[:REGION_BINS], d[REGION_BINS:]
    assert np.isclose(torso.sum(), 1.0) and np.isclose(thighs.sum(), 1.0)
    assert torso[0] > 0.9  # red: the first hue bin
    assert thighs[7] > 0.9  # navy: OpenCV hue ~110 of 180, bin 7 of 12


def test_grey_clothes_fall_in_the_brightness_bins() -> None:
    person = _person(200, GREY, GREY)
    d = describe(_draw([person]), person[0])
    assert d[HUE_BINS:REGION_BINS].sum() > 0.95


def test_same_clothes_are_close_and_other_clothes_far() -> None:
    a, b, c = _person(150, RED, NAVY), _person(350, RED, NAVY), _person(520, GREEN, NAVY)
    first = describe_people(_draw([a, b, c], noise=6.0, seed=1), [a[0], b[0], c[0]])
    again = describe_people(_draw([a, b, c], noise=6.0, seed=2), [a[0], b[0], c[0]])
    assert appearance_distance(first[0], again[0]) < 0.15
    assert appearance_distance(first[0], first[1]) < 0.15
    assert appearance_distance(first[0], first[2]) > 0.4  # same trousers, other shirt


def test_unseen_regions_are_unknown_not_black() -> None:
    kp, shirt, trousers = _person(200, RED, NAVY)
    kp[13:15, 2] = 0.0  # knees not found
    d = describe(_draw([(kp, shirt, trousers)]), kp)
    assert np.all(np.isfinite(d[:REGION_BINS])) and np.all(np.isnan(d[REGION_BINS:]))
    kp[5:7, 2] = 0.0
    assert np.all(np.isnan(describe(_draw([(kp, shirt, trousers)]), kp)))
    # a person outside the image, and a zero-size image: unknown, no exception
    far = kp.copy()
    far[:, 0] += 5000
    far[:, 2] = 0.9
    assert np.all(np.isnan(describe(np.zeros((10, 10, 3), np.uint8), far)))
    assert np.all(np.isnan(describe(np.zeros((0, 0, 3), np.uint8), far)))
    assert np.isnan(appearance_distance(d, np.full(DESCRIPTOR_SIZE, np.nan)))
    assert np.isnan(appearance_distance(d, d[:5]))

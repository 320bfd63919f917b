"""Pose-level NMS (go_common.core.pose_nms): one person found twice in one image."""

from __future__ import annotations

import numpy as np
import pytest

from go_common.core.pose_nms import duplicate_poses, same_group_pairs


def _person(x0: float, rng: np.random.Generator) -> np.ndarray:
    """(17, 2) keypoints of a standing person about 40 x 120 px with its left edge at x0."""
    xs = x0 + rng.uniform(0.0, 40.0, 17)
    ys = np.linspace(10.0, 130.0, 17)
    return np.stack([xs, ys], axis=1)


def test_a_repeated_skeleton_is_marked_and_the_more_confident_one_stays() -> None:
    rng = np.random.default_rng(0)
    a = _person(100.0, rng)
    b = _person(200.0, rng)
    copy = a + rng.normal(0.0, 2.0, a.shape)
    kp = np.stack([a, b, copy])
    ks = np.full((3, 17), 0.8)
    ks[2, 13:] = 0.0  # the copy misses the legs
    dup = duplicate_poses(np.zeros(3, int), kp, ks, np.array([0.5, 0.9, 0.7]))
    # the copy scores higher (0.7 x 0.8) than the original (0.5 x 0.8): the original goes
    assert dup.tolist() == [True, False, False]
    # a copy in another image is a different view, not a duplicate
    assert not duplicate_poses(np.array([0, 0, 1]), kp, ks, np.array([0.5, 0.9, 0.7])).any()
    # switched off
    assert not duplicate_poses(np.zeros(3, int), kp, ks, np.ones(3), fraction=1.1).any()


def test_people_overlapping_in_the_image_are_not_duplicates() -> None:
    rng = np.random.default_rng(1)
    a = _person(100.0, rng)
    b = a + np.array([25.0, 8.0])  # one behind the other: boxes overlap, joints 26 px apart
    ks = np.full((2, 17), 0.8)
    assert not duplicate_poses(np.zeros(2, int), np.stack([a, b]), ks, np.ones(2)).any()
    # the same pair 3 px apart is one person
    c = a + np.array([3.0, 0.0])
    assert duplicate_poses(np.zeros(2, int), np.stack([a, c]), ks, np.ones(2)).sum() == 1


def test_too_few_common_keypoints_decide_nothing() -> None:
    rng = np.random.default_rng(2)
    a = _person(100.0, rng)
    ks = np.zeros((2, 17))
    ks[0, :2] = ks[1, :2] = 0.9  # two joints in common (3 needed)
    assert not duplicate_poses(np.zeros(2, int), np.stack([a, a]), ks, np.ones(2)).any()
    ks[0, 2] = ks[1, 2] = 0.9
    assert duplicate_poses(np.zeros(2, int), np.stack([a, a]), ks, np.ones(2)).sum() == 1


def test_a_chain_of_copies_keeps_one() -> None:
    rng = np.random.default_rng(3)
    a = _person(100.0, rng)
    kp = np.stack([a, a + 1.0, a + 2.0])
    dup = duplicate_poses(np.zeros(3, int), kp, np.full((3, 17), 0.8), np.array([0.6, 0.9, 0.3]))
    assert dup.tolist() == [True, False, True]


@pytest.mark.parametrize("group", [[0, 0, 1, 1, 1], [1, 0, 1, 0, 1]])
def test_pairs_are_those_of_one_group(group: list[int]) -> None:
    g = np.array(group)
    ii, jj = same_group_pairs(g)
    want = {(i, j) for i in range(5) for j in range(i + 1, 5) if g[i] == g[j]}
    assert set(zip(ii.tolist(), jj.tolist(), strict=True)) == want


def test_a_dropped_detection_suppresses_nothing() -> None:
    # A ~ B and B ~ C, but A and C are 8 px apart (more than 0.1 x the ~125 px diagonal)
    rng = np.random.default_rng(4)
    a = _person(100.0, rng)
    kp = np.stack([a, a + np.array([4.0, 0.0]), a + np.array([8.0, 0.0])])
    scale = 0.05  # 6 px: A-B and B-C match, A-C does not
    dup = duplicate_poses(
        np.zeros(3, int), kp, np.full((3, 17), 0.8), np.array([0.9, 0.6, 0.5]), scale=scale
    )
    assert dup.tolist() == [False, True, False]  # B goes; C, which only B matched, stays


def test_equal_confidence_keeps_the_first() -> None:
    rng = np.random.default_rng(5)
    a = _person(100.0, rng)
    kp, ks = np.stack([a, a + 1.0]), np.full((2, 17), 0.8)
    dup = duplicate_poses(np.zeros(2, int), kp, ks, np.ones(2))
    assert dup.tolist() == [False, True]


def test_non_finite_input_is_missing_not_a_match() -> None:
    rng = np.random.default_rng(6)
    a, b = _person(100.0, rng), _person(580.0, rng)  # 480 px apart
    b[3, 0] = np.inf  # one broken keypoint must not make b everyone's duplicate
    ks = np.full((2, 17), 0.8)
    assert not duplicate_poses(np.zeros(2, int), np.stack([a, b]), ks, np.ones(2)).any()
    # a NaN person score loses the tie-break instead of winning it
    copy = a + 1.0
    dup = duplicate_poses(np.zeros(2, int), np.stack([a, copy]), ks, np.array([np.nan, 0.5]))
    assert dup.tolist() == [True, False]

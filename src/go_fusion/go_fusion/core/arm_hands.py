"""Where a hand is when the pose network does not see the wrist: along the upper arm (pure numpy).

A hand inside a shelf bin is under the board above it, and from ceiling cameras often behind the
shopper's own body too; the pose network then gives the wrist a low score or places it on the
forearm, near the elbow. The shoulder and the elbow stay outside the shelf and are seen. A
reaching arm is nearly straight, so the hand lies about a forearm's length beyond the elbow along
the upper arm: measured on the simulator's reaches (crossed_arms, adjacent_reach) this puts the
hand in the bin it reached into, also when the arm crosses in front of a neighbour, where the
wrist keypoint sat on the elbow of the arm.

``arm_hands`` gives that estimate for each side whose wrist is weak, with the elbow's
uncertainty plus ``sd_m``; attribution reads it as one more wrist sample of the track (a wide
Gaussian: it raises the presence in a bin only as far as its spread allows).

Off by default (``ArmHandConfig.enabled``; ``./gostore eval --arm-hands``): on the simulator's
hard scenarios over eight seeds it turned three crossed-arms sessions right and lost as many
elsewhere (MoveNet 85 -> 85 of 146; the sim backend 42 -> 41 of 55 on seeds 0-2), because an
elbow 10 cm off sideways, extended by a forearm, puts a neighbour's hand into the bin next door
(adjacent_reach seed 7: two straight reaches sent to review). It pays where the elbows are
placed well (docs/benchmarks/evaluation.md, fourteenth session).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# COCO-17: (shoulder, elbow, wrist) of the left and the right arm.
ARMS = ((5, 7, 9), (6, 8, 10))


@dataclass(frozen=True)
class ArmHandConfig:
    """enabled: add arm hands at all. forearm_m: elbow to hand along the upper arm [m].
    sd_m: spread added to the elbow's [m]. max_wrist_score: only for a wrist scored below this
    (a seen wrist is better). min_joint_score: shoulder and elbow must score at least this.
    upper_arm_m: (min, max) plausible shoulder-to-elbow length [m]; outside it the joints are
    not one arm."""

    enabled: bool = False
    forearm_m: float = 0.27
    sd_m: float = 0.08
    max_wrist_score: float = 0.5
    min_joint_score: float = 0.3
    upper_arm_m: tuple[float, float] = (0.15, 0.45)

    def __post_init__(self) -> None:
        if not (self.forearm_m > 0.0 and self.sd_m > 0.0):
            raise ValueError(f"forearm_m and sd_m must be positive: {self.forearm_m}, {self.sd_m}")
        lo, hi = self.upper_arm_m
        if not 0.0 < lo < hi:
            raise ValueError(f"upper_arm_m must be 0 < min < max, got {self.upper_arm_m}")
        for name in ("max_wrist_score", "min_joint_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def arm_hands(
    keypoints: np.ndarray,
    scores: np.ndarray,
    covariance: np.ndarray | None,
    config: ArmHandConfig,
    default_sd_m: float,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(side 0 left / 1 right, hand position (3,) [m], variance (3,) [m^2]) for each arm whose
    wrist scores below ``max_wrist_score`` and whose shoulder and elbow are seen.

    keypoints: (17, 3) [m], NaN where not triangulated; scores: (17,); covariance: (17, 3, 3)
    [m^2] or None (then ``default_sd_m`` per axis for the elbow).
    """
    out: list[tuple[int, np.ndarray, np.ndarray]] = []
    if not config.enabled or len(keypoints) < 17 or len(scores) < 17:
        return out
    lo, hi = config.upper_arm_m
    # Plain floats: called for every track at every step (50 shoppers: a few microseconds each).
    score = scores.tolist()
    for side, (s, e, w) in enumerate(ARMS):
        if score[w] >= config.max_wrist_score or min(score[s], score[e]) < config.min_joint_score:
            continue
        (sx, sy, sz), (ex, ey, ez) = keypoints[s].tolist(), keypoints[e].tolist()
        ux, uy, uz = ex - sx, ey - sy, ez - sz
        length = math.sqrt(ux * ux + uy * uy + uz * uz)
        if not lo <= length <= hi:  # also False for NaN joints
            continue
        k = config.forearm_m / length
        hand = np.array((ex + ux * k, ey + uy * k, ez + uz * k))
        var = None
        if covariance is not None:
            var = np.diagonal(covariance[e]).astype(float)
            if not np.all(np.isfinite(var)):
                var = None
        if var is None:
            var = np.full(3, default_sd_m**2)
        out.append((side, hand, var + config.sd_m**2))
    return out

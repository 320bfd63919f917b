"""Retry timing for devices that are missing or drop out: exponential backoff with a ceiling.

Time is an argument (seconds on any monotonic clock), so the policy is testable without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """When to try to (re)open a device next.

    initial_s: delay after the first failure [s]; factor: growth per further failure; max_s: the
    ceiling [s]. ``failures`` counts consecutive failures since the last success.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0
    failures: int = 0
    next_attempt: float = float("-inf")

    def __post_init__(self) -> None:
        if not (self.initial_s > 0 and self.factor >= 1.0 and self.max_s >= self.initial_s):
            raise ValueError(
                f"backoff needs initial_s > 0, factor >= 1 and max_s >= initial_s, got "
                f"{self.initial_s}, {self.factor}, {self.max_s}"
            )

    def due(self, now: float) -> bool:
        """Whether an attempt may be made at ``now`` [s]."""
        return now >= self.next_attempt

    def delay(self) -> float:
        """Delay [s] after the current number of failures (0 before any failure)."""
        if self.failures == 0:
            return 0.0
        return min(self.max_s, self.initial_s * self.factor ** (self.failures - 1))

    def failed(self, now: float) -> float:
        """Record a failed attempt at ``now``; returns the delay [s] until the next one."""
        self.failures += 1
        delay = self.delay()
        self.next_attempt = now + delay
        return delay

    def succeeded(self) -> None:
        """Record a success: the next failure starts again from ``initial_s``."""
        self.failures = 0
        self.next_attempt = float("-inf")

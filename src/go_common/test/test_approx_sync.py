"""Approximate-time synchroniser: pure core with fake stamped messages, no ROS graph."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import pytest

from go_common.core.approx_sync import ApproxTimeSync, SyncConfig, seconds_to_ns

S = 1_000_000_000


@dataclass(frozen=True)
class Fake:
    """A stand-in message: stream, stamp [ns] and a payload."""

    stream: int
    stamp: int
    data: float = 0.0


def make(n: int = 2, queue: int = 10, slop: float = 0.1) -> tuple[ApproxTimeSync, list[tuple]]:
    sync = ApproxTimeSync(SyncConfig(n_streams=n, queue_size=queue, slop_s=slop))
    out: list[tuple] = []
    sync.register_callback(lambda *msgs: out.append(msgs))
    return sync, out


def feed(sync: ApproxTimeSync, msgs: list[Fake]) -> None:
    for m in msgs:
        sync.add(m.stream, m.stamp, m)


def test_pairs_with_equal_stamps_are_combined_one_by_one() -> None:
    sync, out = make(queue=1)
    for t in range(10):
        a, b = Fake(0, t * S), Fake(1, t * S)
        assert sync.add(0, a.stamp, a) is None
        assert len(out) == t
        assert sync.add(1, b.stamp, b) == (a, b)
    assert out[-1] == (Fake(0, 9 * S), Fake(1, 9 * S))
    assert sync.pending() == (0, 0)


@pytest.mark.parametrize("n", range(1, 10))
def test_scrambled_sequences_are_recombined(n: int) -> None:
    rng = random.Random(n)
    seq0 = [Fake(0, t * S, rng.random()) for t in range(n)]
    seq1 = [Fake(1, t * S, rng.random()) for t in range(n)]
    sync, out = make(queue=n)
    feed(sync, rng.sample(seq0, n))
    assert out == []
    feed(sync, rng.sample(seq1, n))
    assert set(out) == set(zip(seq0, seq1, strict=True))


def test_jittered_stamps_within_slop_match_and_outside_do_not() -> None:
    sync, out = make(slop=0.05)
    a = Fake(0, 10 * S)
    feed(sync, [a, Fake(1, 10 * S + seconds_to_ns(0.2))])
    assert out == []  # 0.2 s apart: no set
    b = Fake(1, 10 * S + seconds_to_ns(0.03))
    feed(sync, [b])
    assert out == [(a, b)]


def test_spread_must_be_strictly_below_slop() -> None:
    sync, out = make(slop=0.1)
    feed(sync, [Fake(0, 0), Fake(1, seconds_to_ns(0.1))])
    assert out == []  # exactly slop apart: message_filters requires max - min < slop
    feed(sync, [Fake(1, seconds_to_ns(0.099))])
    assert len(out) == 1


def test_closest_candidate_is_chosen() -> None:
    sync, out = make(slop=0.1)
    far, near = Fake(1, seconds_to_ns(1.06)), Fake(1, seconds_to_ns(1.01))
    feed(sync, [far, near])
    a = Fake(0, 1 * S)
    feed(sync, [a])
    assert out == [(a, near)]
    assert sync.pending() == (0, 1)  # 'far' stays queued for a later partner


def test_three_streams_need_every_stream_and_a_common_window() -> None:
    sync, out = make(n=3, slop=0.05)
    a, b = Fake(0, 5 * S), Fake(1, 5 * S + seconds_to_ns(0.04))
    feed(sync, [a, b])
    # Within slop of c, but the whole set would spread 0.08 s: rejected.
    feed(sync, [Fake(2, 5 * S + seconds_to_ns(0.08))])
    assert out == []
    c = Fake(2, 5 * S + seconds_to_ns(0.02))
    feed(sync, [c])
    assert out == [(a, b, c)]


def test_missing_stream_never_emits_and_queues_stay_bounded() -> None:
    sync, out = make(n=3, queue=4)
    for t in range(100):
        feed(sync, [Fake(0, t * S), Fake(1, t * S)])
    assert out == []
    assert sync.pending() == (4, 4, 0)
    assert sync.n_dropped == 2 * 96


def test_late_message_older_than_a_full_queue_is_dropped() -> None:
    sync, out = make(queue=2)
    feed(sync, [Fake(0, 5 * S), Fake(0, 6 * S), Fake(1, 1 * S)])
    feed(sync, [Fake(0, 1 * S)])  # arrives late; queue 0 is full of newer stamps
    assert out == []
    assert sync.pending() == (2, 1)


def test_same_stamp_twice_on_a_stream_replaces_the_first() -> None:
    sync, out = make()
    first, second = Fake(0, S, 1.0), Fake(0, S, 2.0)
    feed(sync, [first, second])
    assert sync.pending() == (1, 0)
    feed(sync, [Fake(1, S)])
    assert out[0][0] is second


def test_each_message_is_used_at_most_once() -> None:
    sync, out = make(slop=0.5)
    a = Fake(0, 0)
    feed(sync, [a, Fake(1, seconds_to_ns(0.1)), Fake(1, seconds_to_ns(0.2))])
    assert len(out) == 1
    assert sync.pending() == (0, 1)


def _reference_first_match(
    queues: list[dict[int, Fake]], stream: int, stamp: int, slop: int
) -> tuple[int, ...] | None:
    """The brute-force order of message_filters: product of candidates sorted by distance."""
    lists = []
    for i, q in enumerate(queues):
        if i == stream:
            lists.append([stamp])
            continue
        near = sorted((s for s in q if abs(s - stamp) <= slop), key=lambda s: abs(s - stamp))
        if not near:
            return None
        lists.append(near)
    for combo in itertools.product(*lists):
        if max(combo) - min(combo) < slop:
            return combo
    return None


@pytest.mark.parametrize("seed", range(20))
def test_pruned_search_matches_brute_force_order(seed: int) -> None:
    """Random jittered, shuffled, lossy streams: same sets as the exhaustive product order."""
    rng = random.Random(seed)
    n, queue, slop = rng.choice([2, 3, 4]), rng.randint(1, 6), 0.03
    arrivals = []
    for t in range(30):
        for i in range(n):
            if rng.random() < 0.85:
                stamp = seconds_to_ns(t * 0.033 + rng.uniform(-0.02, 0.02))
                arrivals.append(Fake(i, stamp, rng.random()))
    # Local shuffles: arrival order differs from stamp order.
    for k in range(0, len(arrivals) - 3, 3):
        window = arrivals[k : k + 4]
        rng.shuffle(window)
        arrivals[k : k + 4] = window
    sync, out = make(n=n, queue=queue, slop=slop)
    shadow: list[dict[int, Fake]] = [{} for _ in range(n)]
    expected = []
    for m in arrivals:
        q = shadow[m.stream]
        q[m.stamp] = m
        while len(q) > queue:
            del q[min(q)]
        if m.stamp in q:
            combo = _reference_first_match(shadow, m.stream, m.stamp, seconds_to_ns(slop))
            if combo is not None:
                expected.append(tuple(sq.pop(s) for sq, s in zip(shadow, combo, strict=True)))
        sync.add(m.stream, m.stamp, m)
    assert out == expected
    assert len(out) > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_streams": 1, "queue_size": 1, "slop_s": 0.1}, "at least 2 streams"),
        ({"n_streams": 2, "queue_size": 0, "slop_s": 0.1}, "queue_size"),
        ({"n_streams": 2, "queue_size": 1, "slop_s": 0.0}, "slop"),
        ({"n_streams": 2, "queue_size": 1, "slop_s": float("nan")}, "slop"),
    ],
)
def test_bad_config_is_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SyncConfig(**kwargs)


def test_unknown_stream_index_is_rejected() -> None:
    sync, _ = make()
    with pytest.raises(IndexError, match="stream 2"):
        sync.add(2, 0, Fake(2, 0))

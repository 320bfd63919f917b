"""The wrist-history store: ring buffers per track, windows in time order, slots reused."""

from __future__ import annotations

import pickle

import numpy as np

from go_fusion.core.wrist_history import WristStore


def _sample(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = np.full((1, 2, 3), float(k))
    cov = np.broadcast_to(np.eye(3) * 0.01, (1, 2, 3, 3)).copy()
    return pos, cov, np.full((1, 2), 0.5)


def test_windows_stay_in_time_order_after_the_ring_wraps() -> None:
    store = WristStore(capacity=8, slots=1)
    a, b = store.new_slot(), store.new_slot()  # the second slot makes the store grow
    for k in range(20):
        store.push(np.array([a]), k * 0.1, *_sample(k))
    store.push(np.array([b]), 5.0, *_sample(99))
    idx = store.window(a, 1.0, 1.75)
    np.testing.assert_allclose(store.t[a, idx], [1.2, 1.3, 1.4, 1.5, 1.6, 1.7])
    assert store.pos[a, idx, 0, 0].tolist() == [12, 13, 14, 15, 16, 17]
    assert store.window(a, 0.0, 1.1).size == 0  # older samples were overwritten
    assert store.last_time(a) == 19 * 0.1 and store.last_time(b) == 5.0
    store.release(a)
    assert store.last_time(a) == -np.inf
    c = store.new_slot()
    assert c == a and store.window(c, 0.0, 10.0).size == 0


def test_a_pickled_wrist_store_keeps_its_slots_but_not_its_samples() -> None:
    store = WristStore(8, slots=2)
    a, b = store.new_slot(), store.new_slot()
    store.release(a)
    store.push(np.array([b]), 1.0, np.ones((1, 2, 3)), np.zeros((1, 2, 3, 3)), np.ones((1, 2)))
    again = pickle.loads(pickle.dumps(store))
    assert len(pickle.dumps(store)) < 200  # no sample arrays
    assert again.t.shape == store.t.shape and again._free == store._free
    assert again.last_time(b) == -np.inf  # slot b still belongs to its track, but empty
    assert again.new_slot() == a  # the free slot is handed out again, not b
    again.push(np.array([b]), 2.0, np.ones((1, 2, 3)), np.zeros((1, 2, 3, 3)), np.ones((1, 2)))
    assert again.last_time(b) == 2.0

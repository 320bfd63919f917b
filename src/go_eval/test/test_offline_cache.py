"""The perception cache of the offline runs: a replay from it feeds fusion the same inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from go_common.core.store import resolve_store_path
from go_eval.core.offline import OfflineRun, RunConfig, perception_cache_key
from go_perception.core.keypoints import Person


class _ImageDrivenEstimator:
    """One person whose skeleton moves with the image content (so the cache holds real data)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: np.ndarray) -> list[Person]:
        self.calls += 1
        level = float(image.mean())
        keypoints = np.zeros((17, 3), dtype=np.float32)
        keypoints[:, 0] = 300.0 + level + np.arange(17)
        keypoints[:, 1] = 200.0 + 5.0 * np.arange(17)
        keypoints[:, 2] = 0.9
        bbox = np.array([280.0, 180.0, 360.0, 300.0], dtype=np.float32)
        return [Person(bbox=bbox, score=0.9, keypoints=keypoints)]


class _ForbiddenEstimator:
    def __call__(self, image: np.ndarray) -> list[Person]:
        raise AssertionError("a replay from the cache must not run perception")


@pytest.fixture(scope="module")
def config() -> RunConfig:
    return RunConfig("small", "single_pick", seed=0, camera_hz=2.0, products=False)


def test_replay_from_the_cache_gives_the_same_run_without_perception(
    config: RunConfig, tmp_path: Path
) -> None:
    first_estimator = _ImageDrivenEstimator()
    first = OfflineRun(config, estimator=first_estimator, perception_cache=tmp_path)
    assert not first.from_cache
    a = first.run()
    assert first_estimator.calls > 0
    files = list(tmp_path.glob("single_pick-0-*.pkl"))
    assert len(files) == 1

    second = OfflineRun(config, estimator=_ForbiddenEstimator(), perception_cache=tmp_path)
    assert second.from_cache
    b = second.run()
    assert b.predicted_frames == a.predicted_frames
    assert b.predicted_interactions == a.predicted_interactions
    assert b.receipts == a.receipts
    assert (b.frames_total, b.frames_camera_down) == (a.frames_total, a.frames_camera_down)
    assert "render" not in b.compute_s and "perception" not in b.compute_s


def test_cache_key_follows_the_settings(config: RunConfig) -> None:
    key = perception_cache_key(config)
    assert key == perception_cache_key(replace(config))
    assert key != perception_cache_key(replace(config, seed=1))
    assert key != perception_cache_key(replace(config, camera_hz=5.0))


def test_cache_key_follows_the_store_file(config: RunConfig, tmp_path: Path) -> None:
    # An edited store (a camera moved, a shelf added) renders other images: a new key, even
    # under the same file name.
    source = resolve_store_path(config.store)
    store = tmp_path / "shop.yaml"
    text = source.read_text().replace("images/", f"{source.parent}/images/")
    store.write_text(text)
    key = perception_cache_key(replace(config, store=str(store)))
    store.write_text(text.replace("position: [3.7, 0.3, 2.9]", "position: [3.6, 0.3, 2.9]"))
    assert perception_cache_key(replace(config, store=str(store))) != key


def test_fusion_restarts_mid_run_give_the_same_receipts(config: RunConfig, tmp_path: Path) -> None:
    # (python -m go_eval.bench.restarts does this over a suite with real perception.)
    first = OfflineRun(config, estimator=_ImageDrivenEstimator(), perception_cache=tmp_path)
    a = first.run()
    assert a.predicted  # a receipt to compare
    journal = tmp_path / "journal.jsonl"
    run = OfflineRun(
        config,
        estimator=_ForbiddenEstimator(),
        perception_cache=tmp_path,
        journal=journal,
        restarts=[a.duration_s / 3, a.duration_s / 2],
    )
    b = run.run()
    assert run.restarted == 2
    assert b.predicted == a.predicted
    assert b.receipts == a.receipts
    assert (tmp_path / "journal.jsonl.memory.pkl").exists()
    with pytest.raises(ValueError, match="journal"):
        OfflineRun(config, estimator=_ForbiddenEstimator(), restarts=[1.0])

"""Benchmark baselines: regressions beyond the tolerance are flagged in the right direction."""

from __future__ import annotations

from pathlib import Path

from go_eval.core.baseline import Figure, compare, load_baseline, write_report


def test_lower_is_better_regression() -> None:
    figs = [Figure("t", 13.0, "ms", False), Figure("u", 11.0, "ms", False)]
    result = {c.name: c for c in compare(figs, {"t": 10.0, "u": 10.0})}
    assert result["t"].regressed  # 30 % slower
    assert not result["u"].regressed  # 10 % slower is within tolerance


def test_higher_is_better_regression_and_improvement() -> None:
    figs = [Figure("fps", 10.0, "fps", True), Figure("acc", 0.99, "", True)]
    result = {c.name: c for c in compare(figs, {"fps": 15.0, "acc": 0.95})}
    assert result["fps"].regressed
    assert not result["acc"].regressed
    assert result["acc"].change < 0  # better


def test_new_figures_without_baseline_never_regress(tmp_path: Path) -> None:
    assert not compare([Figure("new", 1e9, "ms", False)], {})[0].regressed
    assert load_baseline(tmp_path / "absent.json") == {}


def test_report_round_trips_as_baseline(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    write_report(path, [Figure("a.b", 2.5, "ms", False, "note")], {"cpu": "x"})
    assert load_baseline(path) == {"a.b": 2.5}


def test_changes_within_the_noise_floor_do_not_regress() -> None:
    fig = Figure("setup", 0.6, "s", False, noise_floor=1.0)
    assert not compare([fig], {"setup": 0.4})[0].regressed


def test_update_of_some_benchmarks_keeps_the_other_baselines(tmp_path) -> None:
    from go_eval.cli.bench import _kept_figures

    path = tmp_path / "baseline.json"
    old = [Figure("a.x", 1.0, "ms", False), Figure("b.y", 2.0, "", True, "note", 0.5)]
    write_report(path, old, {"cpu": "test"})
    kept = _kept_figures(path, {"a.x"})
    assert kept == [Figure("b.y", 2.0, "", True, "note", 0.5)]
    assert _kept_figures(tmp_path / "missing.json", {"a.x"}) == []

"""``./gostore shelf-events``: CSV in, one JSON line per event out; bad input named, no crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from go_fusion.bench.shelf_synth import Change, Press, bin_signal
from go_fusion.cli.shelf_events import main

DATA = Path(__file__).parent / "data" / "shelf"
PLANOGRAM = DATA / "planogram.csv"


def write_readings(
    path: Path, signals: dict[str, np.ndarray], t: np.ndarray, extra: str = ""
) -> Path:
    lines = ["t_s,bin_id,grams"]
    for i, ti in enumerate(t):
        lines += [f"{ti:.4f},{b},{x[i]:.2f}" for b, x in signals.items()]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def events_of(capsys: pytest.CaptureFixture[str]) -> tuple[list[dict], str]:
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines() if line.strip()], err


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    t = np.arange(0.0, 16.0, 1.0 / 30.0)
    rng = np.random.default_rng(0)
    signals = {
        "s1_b1": bin_signal(t, changes=[Change(3.0, 0.8, -2 * 355.0, press_g=80.0)], rng=rng),
        "s1_b2": bin_signal(t, presses=[Press(5.0, 0.3, 180.0)], rng=rng),
        "s1_b3": bin_signal(t, changes=[Change(8.0, 1.0, -1085.0)], noise_sd_g=2.0, rng=rng),
        "s1_b4": bin_signal(t, changes=[Change(11.0, 0.8, 160.0)], quant_g=0.5, rng=rng),
    }
    return write_readings(tmp_path / "readings.csv", signals, t)


def test_events_and_ranked_hypotheses_as_json_lines(shop: Path, capsys) -> None:
    assert main([str(shop), "--planogram", str(PLANOGRAM)]) == 0
    events, _ = events_of(capsys)
    assert [e["bin_id"] for e in events] == ["s1_b1", "s1_b3", "s1_b4"]
    cola, juice, chips = events
    assert cola["delta_g"] == pytest.approx(-710.0, abs=3.0) and cola["state"] == "settled"
    assert cola["hypotheses"][0] == {
        "sku": "cola",
        "quantity": 2,
        "probability": pytest.approx(1.0, abs=0.05),
    }
    assert cola["t_start"] < cola["t_end"]
    assert {h["sku"] for h in juice["hypotheses"][:2]} == {"juice_a", "juice_b"}
    assert juice["hypotheses"][0]["probability"] == juice["hypotheses"][1]["probability"]
    assert chips["hypotheses"][0]["sku"] == "chips" and chips["hypotheses"][0]["quantity"] == -1
    for e in events:
        assert set(e) >= {
            "event_id",
            "bin_id",
            "bin_ids",
            "t_start",
            "t_end",
            "delta_g",
            "hypotheses",
        }


def test_rows_out_of_order_give_the_same_events(shop: Path, tmp_path: Path, capsys) -> None:
    main([str(shop), "--planogram", str(PLANOGRAM)])
    expected, _ = events_of(capsys)
    lines = shop.read_text().splitlines()
    body = lines[1:]
    rng = np.random.default_rng(1)
    for i in range(0, len(body) - 8, 8):  # shuffle within windows of a few rows
        chunk = body[i : i + 8]
        rng.shuffle(chunk)
        body[i : i + 8] = chunk
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([lines[0], *body]) + "\n")
    assert main([str(shuffled), "--planogram", str(PLANOGRAM)]) == 0
    got, _ = events_of(capsys)
    assert [e["event_id"] for e in got] == [e["event_id"] for e in expected]


def test_bad_rows_are_named_on_stderr_and_skipped(shop: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    extra = "1.0,nowhere,12\n1.1,s1_b1,nan\nabc,s1_b1,3\n1.2,s1_b2,heavy\n"
    bad.write_text(shop.read_text() + extra)
    assert main([str(bad), "--planogram", str(PLANOGRAM)]) == 0
    events, err = events_of(capsys)
    assert len(events) == 3
    n = len(shop.read_text().splitlines())
    assert f"bad.csv:{n + 1}: unknown bin 'nowhere'" in err
    assert f"bad.csv:{n + 2}: grams is nan for bin s1_b1" in err
    assert f"bad.csv:{n + 3}: t_s 'abc' is not a number" in err
    assert f"bad.csv:{n + 4}: grams 'heavy' is not a number" in err


def test_missing_columns_and_files_are_clear_errors(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "cols.csv"
    bad.write_text("time,bin,grams\n0.0,s1_b1,3\n")
    assert main([str(bad), "--planogram", str(PLANOGRAM)]) == 2
    assert "missing column(s) t_s, bin_id" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.csv"), "--planogram", str(PLANOGRAM)]) == 2
    assert "nope.csv: cannot read" in capsys.readouterr().err
    plan = tmp_path / "plan.csv"
    plan.write_text("bin_id,sku,unit_g,unit_sd_g\ns1_b1,cola,-3,1\n")
    assert main([str(bad), "--planogram", str(plan)]) == 2
    assert "plan.csv:2: unit_g must be > 0" in capsys.readouterr().err


def test_empty_readings_print_nothing(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("t_s,bin_id,grams\n")
    assert main([str(empty), "--planogram", str(PLANOGRAM)]) == 0
    assert events_of(capsys)[0] == []


def test_store_yaml_merges_an_item_across_adjacent_bins(tmp_path: Path, capsys) -> None:
    pytest.importorskip("go_common.core.store")
    from go_common.core.store import load_store

    store = load_store("small")
    a, b = "g1_xp_s1_b1", "g1_xp_s1_b2"
    assert b in store.bins and store.bin_skus(a)
    unit = store.products[store.bin_skus(a)[0]].unit_weight_g
    t = np.arange(0.0, 10.0, 1.0 / 30.0)
    rng = np.random.default_rng(2)
    signals = {
        a: bin_signal(t, changes=[Change(4.0, 0.8, 0.7 * unit)], rng=rng),
        b: bin_signal(t, changes=[Change(4.05, 0.8, 0.3 * unit)], rng=rng),
    }
    path = write_readings(tmp_path / "r.csv", signals, t)
    assert main([str(path), "--store", "small"]) == 0
    events, _ = events_of(capsys)
    assert len(events) == 1 and events[0]["bin_ids"] == [a, b]
    assert events[0]["hypotheses"][0]["quantity"] == -1


def test_help_exits_cleanly(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--planogram" in capsys.readouterr().out


def test_two_reaches_on_neighbouring_bins_at_once_are_two_events(tmp_path: Path, capsys) -> None:
    pytest.importorskip("go_common.core.store")
    a, b = "g1_xp_s1_b1", "g1_xp_s1_b2"  # 1040 g yoghurts side by side
    t = np.arange(0.0, 10.0, 1.0 / 30.0)
    rng = np.random.default_rng(3)
    signals = {
        a: bin_signal(t, changes=[Change(4.0, 0.6, -1040.0)], rng=rng),
        b: bin_signal(t, changes=[Change(4.1, 0.6, -1040.0)], rng=rng),
    }
    path = write_readings(tmp_path / "r.csv", signals, t)
    assert main([str(path), "--store", "small"]) == 0
    events, _ = events_of(capsys)
    assert sorted(e["bin_id"] for e in events) == [a, b]
    assert all(e["hypotheses"][0]["quantity"] == 1 for e in events)


def test_an_item_across_two_plates_is_named_by_the_plate_bearing_most_of_it(
    tmp_path: Path, capsys
) -> None:
    pytest.importorskip("go_common.core.store")
    a, b = "g1_xp_s1_b1", "g1_xp_s1_b2"  # Arla natural and mild vanilla: both 1040 g
    t = np.arange(0.0, 10.0, 1.0 / 30.0)
    for heavy, sku in ((a, "Arla-Natural-Yoghurt"), (b, "Arla-Mild-Vanilla-Yoghurt")):
        rng = np.random.default_rng(4)
        signals = {
            x: bin_signal(t, changes=[Change(4.0, 0.8, -(0.75 if x == heavy else 0.25) * 1040)],
                          rng=rng)
            for x in (a, b)
        }  # fmt: skip
        path = write_readings(tmp_path / "r.csv", signals, t)
        assert main([str(path), "--store", "small"]) == 0
        events, _ = events_of(capsys)
        assert len(events) == 1 and sorted(events[0]["bin_ids"]) == [a, b]
        best = events[0]["hypotheses"][0]
        assert (best["sku"], best["quantity"]) == (sku, 1) and best["probability"] > 0.9

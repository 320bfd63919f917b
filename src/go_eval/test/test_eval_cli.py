"""``./gostore eval`` argument checks that need no simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from go_eval.cli import evaluate


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "default"], "needs --backend sim"),
        (["--backend", "sim", "--suite", "hard", "--publish"], "cannot --publish"),
        (["--backend", "sim", "--scenario", "single_pick"], "not found"),
    ],
)
def test_a_pose_model_is_refused_where_it_cannot_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    model = tmp_path / ("missing.onnx" if message == "not found" else "pose.onnx")
    if message != "not found":
        model.write_bytes(b"onnx")
    argv = ["--pose-model", str(model), "--out", str(tmp_path / "out"), *extra]
    assert evaluate.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--no-facings", "--arm-hands"])
def test_comparison_switches_cannot_publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    argv = ["--suite", "smoke", flag, "--publish", "--out", str(tmp_path / "out")]
    assert evaluate.main(argv) == 2
    assert f"{flag} cannot --publish" in capsys.readouterr().err

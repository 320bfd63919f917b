"""The main job end to end on ROS 2: receipts printed; report, recording and GIF left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(600)
def test_demo_prints_the_right_receipt_and_leaves_its_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "src/go_common/go_common/cli.py"),
            "demo",
            "--scenario",
            "single_pick",
            "--rate",
            "0.5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RECEIPT r-" in proc.stdout
    assert "Arla milk 3 % 1 l" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["receipt_accuracy"] == 1.0
    assert (out / "report" / "report.md").is_file()
    assert (out / "session.gif").stat().st_size > 10_000
    assert (out / "recording" / "metadata.yaml").is_file()
    assert "RECEIPT r-" in (out / "receipts.txt").read_text()

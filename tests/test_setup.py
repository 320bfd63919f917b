"""The set-up script: refuses unsupported Pythons with a clear message and is idempotent."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "tools" / "setup" / "setup.sh"


def _fake_python(tmp_path: Path, version: str) -> Path:
    fake = tmp_path / "python_fake"
    major, minor = version.split(".")
    fake.write_text(f"#!/bin/sh\necho {major}.{minor}\n")
    fake.chmod(0o755)
    return fake


def _run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **env_extra)
    return subprocess.run(
        ["bash", str(SETUP), *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_unsupported_python_is_named_and_stops(tmp_path: Path) -> None:
    result = _run({"GOSTORE_PYTHON": str(_fake_python(tmp_path, "3.9"))})
    assert result.returncode != 0
    assert "unsupported Python 3.9" in result.stderr


def test_missing_python_is_named(tmp_path: Path) -> None:
    result = _run({"GOSTORE_PYTHON": str(tmp_path / "no_such_python")})
    assert result.returncode != 0
    assert "no_such_python" in result.stderr


def test_second_run_with_nothing_changed_does_nothing() -> None:
    first = _run({})
    assert first.returncode == 0, first.stderr
    second = _run({})
    assert second.returncode == 0, second.stderr
    steps = [line for line in second.stdout.splitlines() if line.startswith("[setup]")]
    assert steps == ["[setup] ready: source tools/env.sh (or use ./gostore)"], second.stdout


def test_unknown_option_is_rejected() -> None:
    result = _run({}, "--frobnicate")
    assert result.returncode == 2
    assert "--frobnicate" in result.stderr

"""tools/setup/models.sh and its model check: clear failures, and nothing to do when up to date."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from go_perception.core.backends import MOVENET_FILE, NANODET_FILE, default_models_dir

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tools" / "setup" / "models.sh"
VERIFY = ROOT / "tools" / "setup" / "models" / "verify.py"
SPEC = ROOT / "tools" / "setup" / "models" / "models.json"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_usage_without_output_folder() -> None:
    result = _run()
    assert result.returncode != 0
    assert "usage: tools/setup/models.sh OUT_DIR" in result.stderr


def test_missing_runtime_python_is_named(tmp_path: Path) -> None:
    env = dict(os.environ, GOSTORE_VENV=str(tmp_path / "no-venv"))
    result = _run(str(tmp_path / "models"), env=env)
    assert result.returncode != 0
    assert str(tmp_path / "no-venv" / "bin" / "python") in result.stderr
    assert "./gostore setup" in result.stderr


def test_verify_names_what_differs(tmp_path: Path) -> None:
    src = default_models_dir() / MOVENET_FILE
    if not src.is_file():
        pytest.skip(f"{src} absent: run ./gostore setup")
    result = subprocess.run(
        [sys.executable, str(VERIFY), str(SPEC), "nanodet", str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "inputs: expected" in result.stderr


@pytest.mark.skipif(
    not (default_models_dir() / NANODET_FILE).is_file(),
    reason="models absent: run ./gostore setup (tools/setup/models.sh converts them once)",
)
def test_second_run_with_models_present_does_nothing(tmp_path: Path) -> None:
    out = tmp_path / "models"
    shutil.copytree(default_models_dir(), out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    # Only bash, dirname and mkdir on PATH (no npm, no pip) and no converter cache: an
    # up-to-date folder must need none of them.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "mkdir"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    env = dict(os.environ, PATH=str(bin_dir), GOSTORE_CACHE=str(tmp_path / "no-cache"))
    result = _run(str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


@pytest.mark.skipif(
    not (default_models_dir() / NANODET_FILE).is_file(),
    reason="models absent: run ./gostore setup (tools/setup/models.sh converts them once)",
)
def test_int8_copies_remade_from_the_setup_environment_alone(tmp_path: Path) -> None:
    """The quantize step runs on a fresh machine with only the PYTHONPATH models.sh gives it.

    The test suite itself runs with every package on PYTHONPATH, which once hid that the step
    could not import go_common (CI failed in set-up); here that variable is removed first.
    """
    out = tmp_path / "models"
    shutil.copytree(default_models_dir(), out)
    removed = sorted(p.name for p in out.glob("*.int8.onnx"))
    assert removed, "no int8 copies to remake"
    for name in removed:
        (out / name).unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AMENT_PREFIX_PATH")}
    env["GOSTORE_CACHE"] = str(tmp_path / "no-cache")
    result = _run(str(out), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "quantizing" in result.stdout
    assert sorted(p.name for p in out.glob("*.int8.onnx")) == removed

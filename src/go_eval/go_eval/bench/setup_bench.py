"""Set-up: a second ``tools/setup/setup.sh`` with nothing changed (target: under 30 s)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from go_eval.core.baseline import Figure

ROOT = Path(__file__).resolve().parents[4]


def run(quick: bool) -> list[Figure]:
    setup = ROOT / "tools" / "setup" / "setup.sh"
    subprocess.run(["bash", str(setup), "--quiet"], check=True)  # bring stamps up to date
    times = []
    for _ in range(1 if quick else 3):
        start = time.perf_counter()
        subprocess.run(["bash", str(setup), "--quiet"], check=True)
        times.append(time.perf_counter() - start)
    return [Figure("setup.second_run_s", round(min(times), 3), "s", False, "nothing changed", 1.0)]

"""``./gostore bench --out DIR``: speed and memory figures against the committed baselines.

Writes DIR/bench.json (every figure with unit, direction and the machine) and DIR/bench.md, then
compares with docs/benchmarks/baseline.json and fails (exit 1) when a figure is more than 20 %
worse. ``--update-baseline`` writes the new figures as the baseline instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

from go_eval.bench import BENCHMARKS
from go_eval.core.baseline import Figure, compare, load_baseline, write_report
from go_eval.core.readme_table import update_readme

ROOT = Path(__file__).resolve().parents[4]
BASELINE = ROOT / "docs" / "benchmarks" / "baseline.json"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _run_isolated(name: str, quick: bool) -> list[Figure]:
    cmd = [sys.executable, "-m", "go_eval.bench", name, *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark '{name}' failed:\n{proc.stderr[-3000:]}")
    return [Figure(**entry) for entry in json.loads(proc.stdout.strip().splitlines()[-1])]


def _markdown(figures: list[Figure], comparisons: dict, info: dict[str, str], cmd: str) -> str:
    lines = [
        "# Benchmark figures",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}",
        "",
        "| figure | value | unit | baseline | change | status |",
        "|---|---|---|---|---|---|",
    ]
    for fig in figures:
        comp = comparisons.get(fig.name)
        base = "" if comp is None or comp.baseline is None else f"{comp.baseline:g}"
        change = "" if comp is None or comp.change is None else f"{-comp.change:+.0%}"
        status = "REGRESSED" if comp is not None and comp.regressed else "ok"
        lines.append(f"| {fig.name} | {fig.value:g} | {fig.unit} | {base} | {change} | {status} |")
    lines += ["", "Change: positive is better. A figure regresses when it is > 20 % worse."]
    return "\n".join(lines) + "\n"


def _kept_figures(path: Path, replaced: set[str]) -> list[Figure]:
    """Figures of the baseline at ``path`` that this run did not measure (``--only``): an update
    of some benchmarks keeps the others' baselines."""
    if not path.is_file():
        return []
    entries = json.loads(path.read_text()).get("figures", {})
    return [Figure(name=n, **e) for n, e in sorted(entries.items()) if n not in replaced]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gostore bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/bench"), help="report directory")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="baseline JSON")
    parser.add_argument("--update-baseline", action="store_true", help="write figures as baseline")
    parser.add_argument("--tolerance", type=float, default=0.20, help="allowed worsening (0.2)")
    args = parser.parse_args(argv)

    names = args.only or list(BENCHMARKS)
    figures: list[Figure] = []
    failures: list[str] = []
    for name in tqdm(names, desc="benchmarks", unit="bench"):
        try:
            figures.extend(_run_isolated(name, args.quick))
        except RuntimeError as error:
            failures.append(str(error))
    info = machine()
    write_report(args.out / "bench.json", figures, info)
    comparisons = {
        c.name: c for c in compare(figures, load_baseline(args.baseline), args.tolerance)
    }
    cmd = "./gostore bench " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "bench.md").write_text(_markdown(figures, comparisons, info, cmd.strip()))
    if args.update_baseline:
        kept = [] if not args.only else _kept_figures(args.baseline, {f.name for f in figures})
        write_report(args.baseline, [*kept, *figures], info)
        print(
            f"baseline written: {args.baseline}" + (f" ({len(kept)} figures kept)" if kept else "")
        )
        if update_readme(ROOT / "README.md", args.baseline.parent):
            print("README results table regenerated")
    for failure in failures:
        print(failure, file=sys.stderr)
    regressed = [c for c in comparisons.values() if c.regressed]
    for comp in regressed:
        print(
            f"REGRESSED {comp.name}: {comp.value:g} vs baseline {comp.baseline:g}", file=sys.stderr
        )
    print(f"wrote {args.out / 'bench.json'} and {args.out / 'bench.md'}")
    if failures or (regressed and not args.update_baseline):
        return 1
    return 0

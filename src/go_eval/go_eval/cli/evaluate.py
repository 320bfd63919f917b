"""``./gostore eval``: score a scenario suite or a recorded bag against ground truth.

--suite NAME runs every scenario of the suite through the whole system in one process (simulator
-> renderer -> perception -> products -> fusion; the cores the nodes wrap), deterministically, and
scores it against the simulator's ground truth. --bag PATH replays a recorded bag through the
perception and fusion nodes with sim time (launch/replay.launch.yaml) and compares the receipts
with the bag's expected_receipts.json. Both write DIR/report.json and DIR/report.md with plots.
Any stage that fails (a crashed node, an exception) fails the run: no partial report is written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from go_eval.core.suites import SUITES, SuiteEntry, suite

ROOT = Path(__file__).resolve().parents[4]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gostore eval", description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--suite", help=f"scenario suite: {', '.join(SUITES)}")
    what.add_argument("--bag", type=Path, help="rosbag2 directory with expected_receipts.json")
    what.add_argument("--scenario", nargs="+", help="scenario names (small store) to run")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--out", type=Path, default=Path("out/eval"), help="report directory")
    parser.add_argument("--store", default="small", help="store for --scenario and --bag")
    parser.add_argument("--seed", type=int, default=0, help="seed for --scenario")
    parser.add_argument("--camera-hz", type=float, default=10.0, help="camera frame rate [Hz]")
    parser.add_argument("--no-products", action="store_true", help="skip product recognition")
    parser.add_argument(
        "--no-facings",
        action="store_true",
        help="fusion ignores the cameras' reports of mixed bins' lanes (for comparison)",
    )
    parser.add_argument(
        "--arm-hands",
        action="store_true",
        help="fusion also places a hidden wrist's hand along the upper arm (off by default; "
        "for comparison)",
    )
    parser.add_argument(
        "--backend",
        default="default",
        choices=("default", "sim"),
        help="person/pose backend of the offline runs: default (NanoDet + MoveNet) or sim "
        "(NanoDet + the shipped network trained on simulator renders)",
    )
    parser.add_argument(
        "--pose-model",
        type=Path,
        default=None,
        metavar="ONNX",
        help="with --backend sim: this pose network instead of the shipped one (./gostore train "
        "pose); not with --publish",
    )
    parser.add_argument(
        "--perception-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep what perception made of every frame in DIR, keyed by the run's settings and "
        "model files, and reuse it on the next run (for fusion experiments: only fusion runs "
        "again)",
    )
    parser.add_argument("--rate", type=float, default=0.5, help="--bag: playback rate factor")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="with --suite: store the overall figures in docs/benchmarks/eval_<suite>.json "
        "(eval_<suite>_<backend>.json for another backend) and regenerate the README results "
        "table",
    )
    return parser


def _run_suite(entries: list[SuiteEntry], args: argparse.Namespace, title: str) -> int:
    from go_eval.core.offline import OfflineRun, RunConfig
    from go_eval.core.report import write_report
    from go_fusion.core.arm_hands import ArmHandConfig
    from go_fusion.core.facing_evidence import FacingEvidenceConfig
    from go_fusion.core.pipeline import FusionConfig
    from go_perception.core.backends import BackendConfig

    results = []
    estimator = classifier = None
    fusion_config = FusionConfig(
        facings=FacingEvidenceConfig(enabled=not args.no_facings),
        arm_hands=ArmHandConfig(enabled=args.arm_hands),
    )
    bar = tqdm(entries, desc="scenarios", unit="scenario")
    for entry in bar:
        bar.set_postfix_str(entry.scenario)
        config = RunConfig(
            entry.store,
            entry.scenario,
            entry.seed,
            camera_hz=args.camera_hz,
            products=not args.no_products,
            backend=BackendConfig(backend=args.backend, pose_model=str(args.pose_model or "")),
        )
        run = OfflineRun(
            config,
            estimator=estimator,
            classifier=classifier,
            perception_cache=args.perception_cache,
            fusion_config=fusion_config,
        )
        if not run.from_cache:  # load the networks once
            estimator, classifier = run.estimator, run.classifier
        inner = tqdm(
            total=round(run.sim.duration, 1), desc=entry.scenario, unit="sim s", leave=False
        )

        def progress(t: float, inner: tqdm = inner) -> None:
            inner.update(round(t, 1) - inner.n)

        results.append(run.run(progress))
        inner.close()
    command = "./gostore eval " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else [])
    data = write_report(args.out, results, title, command.strip())
    overall = data["overall"]
    if args.publish and args.suite:
        from go_eval.core.readme_table import update_readme

        suffix = "" if args.backend == "default" else f"_{args.backend}"
        published = ROOT / "docs" / "benchmarks" / f"eval_{args.suite}{suffix}.json"
        summary = {
            "command": data["command"],
            "overall": overall,
            "per_scenario": {
                m["scenario"]: {k: m[k] for k in ("receipt_accuracy", "item_f1", "idf1")}
                for m in data["per_scenario"]
            },
        }
        published.write_text(json.dumps(summary, indent=2) + "\n")
        update_readme(ROOT / "README.md", published.parent)
    print(
        f"{title}: receipt accuracy {overall['receipt_accuracy']:.3f}, item F1 "
        f"{overall['item_f1']:.3f}, attribution {overall['attribution_accuracy']:.3f}, "
        f"IDF1 {overall['idf1']:.3f} over {overall['sessions']} sessions -> {args.out}/report.md"
    )
    return 0


def _journal_receipts(path: Path) -> dict[str, dict[str, int]]:
    receipts: dict[str, dict[str, int]] = {}
    if not path.is_file():
        return receipts
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") != "receipt":
            continue
        receipt = record["receipt"]
        items = receipts.setdefault(receipt["session_id"], {})
        for entry in receipt["lines"]:
            items[entry["sku"]] = items.get(entry["sku"], 0) + int(entry["quantity"])
    return receipts


def run_bag(bag: Path, store: str, rate: float, work: Path) -> dict[str, dict[str, int]]:
    """Replay ``bag`` through perception and fusion nodes; the receipts they journaled.

    Raises:
        RuntimeError: the launch failed (a node crashed or could not start), naming the cause.
    """
    journal = work / "journal.jsonl"
    cmd = [
        sys.executable,
        str(ROOT / "src/go_common/go_common/cli.py"),
        "launch",
        str(ROOT / "launch/replay.launch.yaml"),
        f"bag:={bag.resolve()}",
        f"store:={store}",
        f"rate:={rate}",
        f"journal:={journal}",
    ]
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    (work / "launch.log").write_text(proc.stdout + proc.stderr)
    crashed = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if "process has died" in line or ("exit code" in line and "exit code 0" not in line)
    ]
    if proc.returncode != 0 or crashed:
        detail = "\n".join(crashed[-5:]) or (proc.stdout + proc.stderr)[-2000:]
        raise RuntimeError(f"replay of {bag} failed (exit {proc.returncode}):\n{detail}")
    return _journal_receipts(journal)


def _run_bag(args: argparse.Namespace) -> int:
    from go_common.bags.storage import BagError, BagReader
    from go_eval.core.scoring import score_receipts

    bag: Path = args.bag
    try:
        with BagReader(bag) as reader:
            topics = reader.topics
    except BagError as error:
        print(f"gostore eval: {error}", file=sys.stderr)
        return 1
    expected_file = bag / "expected_receipts.json"
    if not expected_file.is_file():
        print(f"gostore eval: {expected_file} is missing: nothing to score", file=sys.stderr)
        return 1
    expected = {
        r["session"]: {ln["sku"]: int(ln["qty"]) for ln in r["lines"]}
        for r in json.loads(expected_file.read_text())
    }
    work = Path(tempfile.mkdtemp(prefix="go_eval_bag_"))
    try:
        predicted = run_bag(bag, args.store, args.rate, work)
    except RuntimeError as error:
        print(f"gostore eval: {error}", file=sys.stderr)
        return 1
    finally:
        args.out.mkdir(parents=True, exist_ok=True)
        if (work / "launch.log").is_file():
            shutil.copy(work / "launch.log", args.out / "launch.log")
    score = score_receipts(expected, predicted)
    data = {
        "title": f"bag {bag}",
        "overall": {
            "receipt_accuracy": score.receipt_accuracy,
            "item_precision": score.item_precision,
            "item_recall": score.item_recall,
            "item_f1": score.item_f1,
            "sessions": score.n_expected,
            "wrong_sessions": list(score.wrong_sessions),
        },
        "topics": sorted(topics),
        "expected_receipts": expected,
        "issued_receipts": predicted,
    }
    (args.out / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [f"# Bag replay: {bag}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in data["overall"].items()]
    (args.out / "report.md").write_text("\n".join(lines) + "\n")
    print(
        f"bag {bag}: receipt accuracy {score.receipt_accuracy:.3f} "
        f"({score.n_correct}/{score.n_expected}) -> {args.out}/report.md"
    )
    return 0 if score.receipt_accuracy == 1.0 else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for stale in ("report.json", "report.md"):  # a failed run must not leave an old report
        (args.out / stale).unlink(missing_ok=True)
    if args.list:
        for name, entries in SUITES.items():
            print(f"{name}: {', '.join(e.scenario for e in entries)}")
        return 0
    if args.pose_model is not None:
        problem = ""
        if args.backend != "sim":
            problem = "needs --backend sim"
        elif args.publish:
            problem = "cannot --publish (published figures use the shipped models)"
        elif not args.pose_model.is_file():
            problem = f"{args.pose_model} not found"
        if problem:
            print(f"gostore eval: --pose-model {problem}", file=sys.stderr)
            return 2
    for flag, off in (("--no-facings", args.no_facings), ("--arm-hands", args.arm_hands)):
        if off and args.publish:
            print(f"gostore eval: {flag} cannot --publish", file=sys.stderr)
            return 2
    if args.bag:
        return _run_bag(args)
    if args.scenario:
        from go_sensors.core.scenario import list_scenarios

        known = list_scenarios()
        unknown = [s for s in args.scenario if s not in known and not Path(s).is_file()]
        if unknown:
            print(f"gostore eval: unknown scenario(s) {unknown} (known: {known})", file=sys.stderr)
            return 2
        entries = [SuiteEntry(args.store, s, args.seed) for s in args.scenario]
        return _run_suite(entries, args, "scenarios " + ", ".join(args.scenario))
    if not args.suite:
        print("gostore eval: give --suite NAME, --scenario NAME... or --bag PATH", file=sys.stderr)
        return 2
    try:
        entries = list(suite(args.suite))
    except ValueError as error:
        print(f"gostore eval: {error}", file=sys.stderr)
        return 2
    return _run_suite(entries, args, f"suite {args.suite}")

"""``./gostore demo``: the simulated store end to end on ROS 2, printing each receipt.

Starts launch/sim_store.launch.yaml (simulator -> perception -> products -> fusion -> checkout)
through the project's launch runner, records the session to an MCAP bag, prints every receipt as
the shopper leaves, and afterwards writes the evaluation report of the session against the
simulator's ground truth and a top-down GIF of tracks against ground truth:

    out/demo/receipts.txt, out/demo/report/report.{json,md}, out/demo/recording/ (MCAP),
    out/demo/session.gif, out/demo/journal.jsonl, out/demo/launch.log
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
CLI = ROOT / "src" / "go_common" / "go_common" / "cli.py"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gostore demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="small", help="store name or YAML")
    parser.add_argument("--scenario", default="family_one_scan", help="scenario to run")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed")
    parser.add_argument("--rate", type=float, default=0.5, help="real-time factor (1 = real time)")
    parser.add_argument("--camera-hz", type=float, default=10.0, help="camera frame rate [Hz]")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    parser.add_argument("--no-record", action="store_true", help="skip the MCAP recording")
    return parser


def format_receipt(msg: object) -> str:
    """A go_msgs/Receipt as a printed receipt."""
    lines = [
        "=" * 46,
        f"RECEIPT {msg.receipt_id}   session {msg.session_id}",  # type: ignore[attr-defined]
        f"exit at t = {msg.exit_stamp.sec + msg.exit_stamp.nanosec * 1e-9:.2f} s",  # type: ignore[attr-defined]
        "-" * 46,
    ]
    for line in msg.lines:  # type: ignore[attr-defined]
        name = (line.name or line.sku)[:28]
        lines.append(f"{line.quantity:>3} x {name:<28} {line.line_total:>9.2f}")
    if not msg.lines:  # type: ignore[attr-defined]
        lines.append("  (nothing taken)")
    lines += [
        "-" * 46,
        f"{'TOTAL ' + msg.currency:<34} {msg.total:>9.2f}",  # type: ignore[attr-defined]
        f"confidence {msg.confidence:.2f}   pending reviews {msg.pending_reviews}",  # type: ignore[attr-defined]
        "=" * 46,
    ]
    return "\n".join(lines)


class _Watcher:
    """Subscribes to the outputs; prints receipts and measures wall-clock latencies."""

    def __init__(self, receipts_file: Path):
        import rclpy
        from rclpy.node import Node

        from go_common import qos, topics
        from go_msgs.msg import CartEvent, GateEvent, Receipt, ShelfEvent, ShopperTrackArray

        rclpy.init()
        self.node = Node("go_demo_watcher")
        self.receipts_file = receipts_file
        self.receipts: list[object] = []
        self.exit_arrival: dict[int, float] = {}
        self.shelf_arrival: dict[str, float] = {}
        self.exit_to_receipt_s: list[float] = []
        self.event_to_cart_s: list[float] = []
        self.track_frames: list[tuple[float, dict[str, tuple[float, float]]]] = []
        self.node.create_subscription(
            Receipt, topics.CHECKOUT_RECEIPTS, self._receipt, qos.RECEIPTS
        )
        self.node.create_subscription(GateEvent, topics.GATES_EVENTS, self._gate, qos.EVENTS)
        self.node.create_subscription(
            ShelfEvent, topics.FUSION_SHELF_EVENTS, self._shelf, qos.EVENTS
        )
        for topic in (topics.FUSION_CART_EVENTS, topics.FUSION_REVIEW_QUEUE):
            self.node.create_subscription(CartEvent, topic, self._cart, qos.EVENTS)
        self.node.create_subscription(
            ShopperTrackArray, topics.FUSION_TRACKS, self._tracks, qos.EVENTS
        )

    @staticmethod
    def _ns(stamp: object) -> int:
        return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)  # type: ignore[attr-defined]

    def _gate(self, msg: object) -> None:
        if msg.kind == msg.KIND_EXIT:  # type: ignore[attr-defined]
            self.exit_arrival[self._ns(msg.header.stamp)] = time.monotonic()  # type: ignore[attr-defined]

    def _shelf(self, msg: object) -> None:
        self.shelf_arrival.setdefault(msg.event_id, time.monotonic())  # type: ignore[attr-defined]

    def _cart(self, msg: object) -> None:
        start = self.shelf_arrival.get(msg.shelf_event_id)  # type: ignore[attr-defined]
        if start is not None:
            self.event_to_cart_s.append(time.monotonic() - start)

    def _tracks(self, msg: object) -> None:
        t = self._ns(msg.header.stamp) * 1e-9  # type: ignore[attr-defined]
        positions = {
            tr.track_id: (tr.position.x, tr.position.y)
            for tr in msg.tracks  # type: ignore[attr-defined]
            if tr.state in (tr.STATE_CONFIRMED, tr.STATE_OCCLUDED)
        }
        self.track_frames.append((t, positions))

    def _receipt(self, msg: object) -> None:
        arrived = time.monotonic()
        exit_ns = self._ns(msg.exit_stamp)  # type: ignore[attr-defined]
        if exit_ns in self.exit_arrival:
            self.exit_to_receipt_s.append(arrived - self.exit_arrival[exit_ns])
        self.receipts.append(msg)
        text = format_receipt(msg)
        print(text, flush=True)
        with self.receipts_file.open("a") as stream:
            stream.write(text + "\n")

    def spin_until(self, proc: subprocess.Popen) -> None:
        import rclpy

        while proc.poll() is None:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown()


def _stop(proc: subprocess.Popen | None, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = dict(
        os.environ,
        ROS_AUTOMATIC_DISCOVERY_RANGE=os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
    )
    print(
        f"go demo: store '{args.store}', scenario '{args.scenario}', seed {args.seed}, "
        f"{args.rate:g}x real time; outputs in {out}",
        flush=True,
    )
    watcher = _Watcher(out / "receipts.txt")
    recorder = None
    if not args.no_record:
        recorder = subprocess.Popen(
            [
                sys.executable,
                str(CLI),
                "record",
                "-a",
                "-x",
                r".*/image_raw$",
                "-o",
                str(out / "recording"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(1.0)
    launch_log = (out / "launch.log").open("w")
    launch = subprocess.Popen(
        [
            sys.executable,
            str(CLI),
            "launch",
            str(ROOT / "launch" / "sim_store.launch.yaml"),
            f"store:={args.store}",
            f"scenario:={args.scenario}",
            f"seed:={args.seed}",
            f"rate:={args.rate}",
            f"camera_hz:={args.camera_hz}",
            "compressed:=true",
            f"journal:={out / 'journal.jsonl'}",
            f"ground_truth:={out / 'ground_truth.jsonl'}",
        ],
        stdout=launch_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        watcher.spin_until(launch)
    except KeyboardInterrupt:
        _stop(launch)
        _stop(recorder)
        watcher.close()
        return 130
    finally:
        launch_log.close()
    _stop(recorder)
    watcher.close()
    if launch.returncode != 0:
        print(
            f"go demo: the launch failed (exit {launch.returncode}); see {out / 'launch.log'}",
            file=sys.stderr,
        )
        return 1
    return _report(args, out, watcher)


def _report(args: argparse.Namespace, out: Path, watcher: _Watcher) -> int:
    from go_common.core.store import load_store
    from go_eval.core.records import result_from_records
    from go_eval.core.report import write_report
    from go_eval.core.scoring import TrackFrame
    from go_eval.core.topdown import TopDownMap, write_gif

    frames = [TrackFrame(t, p) for t, p in watcher.track_frames]
    result = result_from_records(out / "ground_truth.jsonl", out / "journal.jsonl", frames)
    result.exit_to_receipt_s = watcher.exit_to_receipt_s
    result.event_to_cart_s = watcher.event_to_cart_s
    data = write_report(
        out / "report",
        [result],
        f"demo: {args.scenario} in {args.store}",
        "./gostore demo " + " ".join(sys.argv[2:]),
    )
    view = TopDownMap(load_store(args.store))
    truth_times = [f.t for f in result.truth_frames]
    gif_frames = []
    for t, positions in watcher.track_frames[:: max(1, round(args.camera_hz / 5))]:
        truth = {}
        if truth_times:
            nearest = min(range(len(truth_times)), key=lambda i: abs(truth_times[i] - t))
            truth = result.truth_frames[nearest].positions
        gif_frames.append(view.frame(t, positions, truth))
    if gif_frames:
        write_gif(gif_frames, out / "session.gif", fps=5.0)
    overall = data["overall"]
    print(
        f"\ngo demo: {len(watcher.receipts)} receipts; receipt accuracy "
        f"{overall['receipt_accuracy']:.2f}, item F1 {overall['item_f1']:.2f}, IDF1 "
        f"{overall['idf1']:.2f}; exit -> receipt p95 {overall['exit_to_receipt_p95_s'] or 0:.3f} s"
    )
    print(
        f"report {out / 'report' / 'report.md'}, recording {out / 'recording'}, "
        f"animation {out / 'session.gif'}"
    )
    (out / "summary.json").write_text(json.dumps(overall, indent=2) + "\n")
    return 0

"""``./gostore record`` and ``./gostore replay``: rosbag2 (MCAP) recording and playback."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from go_common.bags.storage import BagError, BagReader, BagWriter


def _record_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gostore record",
        description="Record topics to a rosbag2 bag in MCAP (readable by `ros2 bag play` and "
        "Foxglove). Topics are matched by exact name (--topics) or regular expression "
        "(--regex); --all records everything. Stops on Ctrl-C/SIGTERM or after --duration.",
    )
    parser.add_argument("topics", nargs="*", help="exact topic names to record")
    parser.add_argument(
        "-o", "--output", type=Path, help="bag directory (default: out/bags/go_<time>)"
    )
    parser.add_argument(
        "-e", "--regex", action="append", default=[], help="topic regular expression"
    )
    parser.add_argument("-x", "--exclude", action="append", default=[], help="regex to leave out")
    parser.add_argument("-a", "--all", action="store_true", help="record every topic")
    parser.add_argument(
        "--max-bag-size", type=int, default=0, help="split after N bytes (0: never)"
    )
    parser.add_argument(
        "--max-bag-duration", type=float, default=0.0, help="split after S seconds (0: never)"
    )
    parser.add_argument("--duration", type=float, default=0.0, help="stop after S wall seconds")
    parser.add_argument("--use-sim-time", action="store_true", help="stamp with /clock time")
    return parser


def record_main(argv: list[str] | None = None) -> int:
    args = _record_parser().parse_args(argv)
    if not (args.topics or args.regex or args.all):
        print("gostore record: name topics, give --regex, or use --all", file=sys.stderr)
        return 2
    import rclpy
    from rclpy.parameter import Parameter

    from go_common.bags.ros import Recorder, TopicFilter

    output = args.output or Path("out/bags") / datetime.now(UTC).strftime("go_%Y%m%d_%H%M%S")
    try:
        writer = BagWriter(
            output, max_bytes=args.max_bag_size, max_duration_s=args.max_bag_duration
        )
    except BagError as error:
        print(f"gostore record: {error}", file=sys.stderr)
        return 1
    rclpy.init()
    overrides = [Parameter("use_sim_time", value=True)] if args.use_sim_time else []
    node = rclpy.create_node("go_recorder", parameter_overrides=overrides)
    recorder = Recorder(
        node,
        writer,
        TopicFilter(
            names=tuple(args.topics),
            patterns=tuple(args.regex),
            exclude=tuple(args.exclude),
            record_all=args.all,
        ),
    )
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    start = time.monotonic()
    next_discovery = 0.0
    try:
        while not stop and (not args.duration or time.monotonic() - start < args.duration):
            if time.monotonic() >= next_discovery:
                for topic in recorder.discover():
                    print(f"recording {topic}", file=sys.stderr)
                next_discovery = time.monotonic() + 0.5
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        writer.close()
        node.destroy_node()
        rclpy.try_shutdown()
    total = sum(recorder.counts.values())
    print(f"wrote {output} ({total} messages on {len(recorder.counts)} topics)", file=sys.stderr)
    return 0


def _replay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gostore replay",
        description="Republish a rosbag2 bag (MCAP or sqlite3) with its original timing and the "
        "QoS it was recorded with.",
    )
    parser.add_argument("bag", type=Path, help="bag directory")
    parser.add_argument("-r", "--rate", type=float, default=1.0, help="rate factor (2 = 2x faster)")
    parser.add_argument("-l", "--loop", action="store_true", help="play forever")
    parser.add_argument("--topics", nargs="*", default=[], help="only these topics")
    parser.add_argument("--clock", action="store_true", help="publish /clock (sim time)")
    parser.add_argument("--clock-hz", type=float, default=50.0, help="/clock rate between messages")
    parser.add_argument("--start-offset", type=float, default=0.0, help="skip the first S seconds")
    parser.add_argument(
        "--wait-for-subscribers", type=float, default=1.0, help="wait up to S s for subscribers"
    )
    parser.add_argument("--info", action="store_true", help="print the bag's topics and exit")
    return parser


def replay_main(argv: list[str] | None = None) -> int:
    args = _replay_parser().parse_args(argv)
    try:
        reader = BagReader(args.bag)
    except BagError as error:
        print(f"gostore replay: {error}", file=sys.stderr)
        return 1
    if args.info:
        print(f"bag: {args.bag}  duration: {reader.duration_s:.3f} s")
        for topic in reader.topics.values():
            print(f"  {topic.name}  {topic.msgtype}  {topic.count} msgs")
        return 0
    import rclpy

    from go_common.bags.ros import Player, PlayOptions

    rclpy.init()
    node = rclpy.create_node("go_player")
    try:
        player = Player(
            node,
            reader,
            PlayOptions(
                rate=args.rate,
                loop=args.loop,
                topics=tuple(args.topics),
                publish_clock=args.clock,
                clock_hz=args.clock_hz,
                wait_for_subscribers_s=args.wait_for_subscribers,
                start_offset_s=args.start_offset,
            ),
        )
        signal.signal(signal.SIGTERM, lambda *_: player.stop())
        count = player.play(spin=lambda t: rclpy.spin_once(node, timeout_sec=t))
        print(f"played {count} messages from {args.bag}", file=sys.stderr)
        # Let late joiners of transient-local topics (e.g. /tf_static) get their sample.
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    except BagError as error:
        print(f"gostore replay: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0

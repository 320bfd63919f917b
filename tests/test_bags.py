"""rosbag2 MCAP bags: writing with splits, the rosbag2 metadata and MCAP profile, bad bags, and a
record -> replay round trip through a live ROS graph."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from rclpy.serialization import deserialize_message, serialize_message

from go_common.bags.storage import BagError, BagReader, BagWriter, TopicQos
from go_msgs.msg import GateEvent, LoadCellBoard

ROOT = Path(__file__).resolve().parents[1]


def _board(i: int) -> bytes:
    msg = LoadCellBoard(board_id="b1", channel_ids=["bin_a", "bin_b"], sample_period=1 / 60)
    msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i // 60, (i % 60) * 16_666_666
    msg.num_samples = 1
    msg.grams = [float(i), 2.0 * i]
    msg.channel_status = [0, 0]
    return serialize_message(msg)


def _write_bag(path: Path, n: int = 120, **split: float) -> Path:
    with BagWriter(path, **split) as writer:
        writer.add_topic("/shelves/load_cells", "go_msgs/msg/LoadCellBoard", TopicQos(depth=50))
        writer.add_topic("/gates/events", "go_msgs/msg/GateEvent", TopicQos(transient_local=True))
        writer.add_topic("/shelves/best_effort", "go_msgs/msg/LoadCellBoard", TopicQos(False))
        for i in range(n):
            writer.write("/shelves/load_cells", 1_000_000_000 + i * 16_666_666, _board(i))
            writer.write("/shelves/best_effort", 1_000_000_001 + i * 16_666_666, _board(i))
        gate = GateEvent(kind=GateEvent.KIND_ENTRY, gate_id="entry", session_token="s1")
        writer.write("/gates/events", 1_000_000_000, serialize_message(gate))
    return path


def test_bag_round_trip_keeps_messages_types_and_qos(tmp_path: Path) -> None:
    bag = _write_bag(tmp_path / "bag")
    with BagReader(bag) as reader:
        topics = reader.topics
        assert topics["/shelves/load_cells"].count == 120
        assert topics["/gates/events"].qos.transient_local
        assert not topics["/shelves/load_cells"].qos.transient_local
        boards = [raw for t, _, raw in reader.messages(["/shelves/load_cells"])]
    decoded = deserialize_message(boards[7], LoadCellBoard)
    assert list(decoded.grams) == [7.0, 14.0]
    assert decoded.channel_ids == ["bin_a", "bin_b"]


def test_split_by_duration_lists_every_file_in_metadata(tmp_path: Path) -> None:
    bag = _write_bag(tmp_path / "split", n=300, max_duration_s=1.0)
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9
    assert info["storage_identifier"] == "mcap"
    files = info["relative_file_paths"]
    assert len(files) == 5  # 300 samples at 60 Hz = 5 s, split every second
    assert files[0] == "split_0.mcap"
    assert all((bag / f).is_file() for f in files)
    assert info["message_count"] == 601
    with BagReader(bag) as reader:
        assert sum(1 for _ in reader.messages()) == 601


def test_mcap_uses_ros2_profile_and_full_schemas(tmp_path: Path) -> None:
    bag = _write_bag(tmp_path / "profile")
    with open(bag / "profile_0.mcap", "rb") as stream:
        reader = make_reader(stream)
        header = reader.get_header()
        summary = reader.get_summary()
    assert header.profile == "ros2"
    schemas = {s.name: s for s in summary.schemas.values()}
    assert schemas["go_msgs/msg/LoadCellBoard"].encoding == "ros2msg"
    assert b"float32[] grams" in schemas["go_msgs/msg/LoadCellBoard"].data
    assert {c.message_encoding for c in summary.channels.values()} == {"cdr"}


def test_bad_bags_give_errors_that_name_them(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="does not exist"):
        BagReader(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match=r"no metadata\.yaml"):
        BagReader(tmp_path / "empty")
    bag = _write_bag(tmp_path / "trunc")
    data = (bag / "trunc_0.mcap").read_bytes()
    (bag / "trunc_0.mcap").write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError, match="trunc"), BagReader(bag) as reader:
        list(reader.messages())
    ok_bag = _write_bag(tmp_path / "ok")
    with pytest.raises(BagError, match="not in bag"), BagReader(ok_bag) as reader:
        list(reader.messages(["/no/such/topic"]))
    with BagWriter(tmp_path / "types") as writer, pytest.raises(BagError, match="unknown message"):
        writer.add_topic("/x", "nonexistent_msgs/msg/Thing", TopicQos())


def test_record_then_replay_through_ros(tmp_path: Path) -> None:
    """A recorder process records a replayed bag; the second bag holds the same messages."""
    source = _write_bag(tmp_path / "source", n=60)
    recorded = tmp_path / "recorded"
    gostore = [sys.executable, str(ROOT / "src/go_common/go_common/cli.py")]
    recorder = subprocess.Popen(
        [*gostore, "record", "-e", "/shelves/.*", "/gates/events", "-o", str(recorded)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.0)
        replay = subprocess.run(
            [*gostore, "replay", str(source), "--rate", "4", "--wait-for-subscribers", "3"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert replay.returncode == 0, replay.stderr
        time.sleep(1.0)
    finally:
        recorder.send_signal(subprocess.signal.SIGINT)
        _, err = recorder.communicate(timeout=20)
    assert recorder.returncode == 0, err
    with BagReader(recorded) as reader:
        topics = reader.topics
        assert topics["/shelves/load_cells"].count == 60
        assert topics["/gates/events"].count == 1
        assert topics["/gates/events"].qos.transient_local
        # A best-effort publisher is recorded (a reliable subscription would get nothing).
        assert not topics["/shelves/best_effort"].qos.reliable
        assert topics["/shelves/best_effort"].count >= 50
        first = next(raw for t, _, raw in reader.messages(["/shelves/load_cells"]))
    assert list(deserialize_message(first, LoadCellBoard).grams) == [0.0, 0.0]

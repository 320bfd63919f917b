"""rosbag2 bags in MCAP: a splitting writer, a checked reader and the type store both use.

The container is written by ``rosbags`` (rosbag2 metadata v9, MCAP with the ``ros2`` profile and
``ros2msg`` schemas carrying full message definitions and RIHS01 type hashes), so ``ros2 bag play``,
``ros2 bag info`` and Foxglove read the result. rosbags writes one storage file per bag; splitting
by size or time writes each split as its own file, ``<bag>_<i>.mcap`` as rosbag2 names them, and
merges the metadata into one ``metadata.yaml`` that lists every file.

Messages travel as raw CDR bytes: nothing here deserialises them, so any type a ROS graph publishes
can be recorded, provided its ``.msg`` definition is installed (``share/<pkg>/msg/<Type>.msg`` on
``AMENT_PREFIX_PATH``) or known to rosbags.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore


class BagError(RuntimeError):
    """A bag cannot be read or written; the message names the bag and the reason."""


@dataclass(frozen=True)
class TopicQos:
    """The QoS a topic was offered with, as recorded (the parts a player needs)."""

    reliable: bool = True
    transient_local: bool = False
    depth: int = 10


def _find_msg_file(msgtype: str) -> Path | None:
    package, kind, name = msgtype.split("/")
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / package / kind / f"{name}.msg"
        if prefix and candidate.is_file():
            return candidate
    return None


def make_typestore(msgtypes: Sequence[str] = ()) -> Typestore:
    """Kilted's standard types plus ``msgtypes`` (and their field types) found installed.

    Raises:
        BagError: a type is neither standard nor installed.
    """
    store = get_typestore(Stores.ROS2_KILTED)
    pending = [t for t in msgtypes if t not in store.types]
    seen: set[str] = set()
    while pending:
        msgtype = pending.pop()
        if msgtype in seen or msgtype in store.types:
            continue
        seen.add(msgtype)
        path = _find_msg_file(msgtype)
        if path is None:
            raise BagError(
                f"unknown message type '{msgtype}': no {msgtype}.msg on AMENT_PREFIX_PATH "
                "(source tools/env.sh, or build the package that defines it)"
            )
        types = get_types_from_msg(path.read_text(), msgtype)
        for _, fields in types[msgtype][1]:
            field_type = _nested_type(fields)
            if field_type and field_type not in store.types:
                pending.append(field_type)
        store.register(types)
    return store


def _nested_type(field: object) -> str | None:
    """Name of a message type used by a rosbags field description, if any."""
    kind, detail = field  # type: ignore[misc]
    if getattr(kind, "name", "") == "NAME":
        return str(detail)
    if getattr(kind, "name", "") in {"ARRAY", "SEQUENCE"}:
        return _nested_type(detail[0])
    return None


_INFINITE = QosTime(sec=2147483647, nsec=4294967295)


def to_rosbags_qos(qos: TopicQos) -> Qos:
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=qos.depth,
        reliability=QosReliability.RELIABLE if qos.reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.TRANSIENT_LOCAL if qos.transient_local else QosDurability.VOLATILE,
        deadline=_INFINITE,
        lifespan=_INFINITE,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_INFINITE,
        avoid_ros_namespace_conventions=False,
    )


def from_rosbags_qos(profiles: Sequence[Qos]) -> TopicQos:
    if not profiles:
        return TopicQos()
    first = profiles[0]
    return TopicQos(
        reliable=first.reliability != QosReliability.BEST_EFFORT,
        transient_local=first.durability == QosDurability.TRANSIENT_LOCAL,
        depth=max(int(first.depth), 1) if first.history == QosHistory.KEEP_LAST else 10,
    )


class BagWriter:
    """Write raw CDR messages to a rosbag2 MCAP bag, splitting by size and/or duration.

    Args:
        path: bag directory to create (must not exist).
        max_bytes: start a new file when the current one holds this many message bytes (0: never).
        max_duration_s: start a new file after this much bag time [s] (0: never).
    """

    def __init__(self, path: Path | str, *, max_bytes: int = 0, max_duration_s: float = 0.0):
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists already; choose a new bag name")
        self.path.mkdir(parents=True)
        self._max_bytes = max_bytes
        self._max_duration_ns = int(max_duration_s * 1e9)
        self._topics: dict[str, tuple[str, TopicQos]] = {}
        self._typestore = make_typestore()
        self._splits: list[Path] = []
        self._writer: Writer | None = None
        self._connections: dict[str, object] = {}
        self._split_bytes = 0
        self._split_start_ns: int | None = None

    def add_topic(self, topic: str, msgtype: str, qos: TopicQos) -> None:
        """Declare a topic before writing to it. ``msgtype`` like ``go_msgs/msg/Cart``."""
        if topic in self._topics:
            return
        if msgtype not in self._typestore.types:
            self._typestore = make_typestore([*{t for t, _ in self._topics.values()}, msgtype])
        self._topics[topic] = (msgtype, qos)
        if self._writer is not None:
            self._add_connection(topic)

    def _add_connection(self, topic: str) -> None:
        assert self._writer is not None
        msgtype, qos = self._topics[topic]
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self._typestore, offered_qos_profiles=[to_rosbags_qos(qos)]
        )

    def _open_split(self, start_ns: int) -> None:
        index = len(self._splits)
        split_dir = self.path / f".split_{index}" / f"{self.path.name}_{index}"
        split_dir.parent.mkdir()
        self._writer = Writer(split_dir, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._splits.append(split_dir)
        self._connections = {}
        for topic in self._topics:
            self._add_connection(topic)
        self._split_bytes = 0
        self._split_start_ns = start_ns

    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        """Append one serialised message received (or stamped) at ``stamp_ns``."""
        if topic not in self._topics:
            raise BagError(f"topic '{topic}' was not declared with add_topic()")
        if self._writer is None or self._should_split(stamp_ns):
            self._close_split()
            self._open_split(stamp_ns)
        assert self._writer is not None
        self._writer.write(self._connections[topic], stamp_ns, data)
        self._split_bytes += len(data)

    def _should_split(self, stamp_ns: int) -> bool:
        if self._max_bytes and self._split_bytes >= self._max_bytes:
            return True
        if self._max_duration_ns and self._split_start_ns is not None:
            return stamp_ns - self._split_start_ns >= self._max_duration_ns
        return False

    def _close_split(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> Path:
        """Finish the bag: move split files into place and write one merged metadata.yaml."""
        self._close_split()
        if not self._splits:
            self._open_split(0)
            self._close_split()
        infos = []
        for split_dir in self._splits:
            meta = yaml.safe_load((split_dir / "metadata.yaml").read_text())
            info = meta["rosbag2_bagfile_information"]
            for name in info["relative_file_paths"]:
                shutil.move(str(split_dir / name), str(self.path / name))
            infos.append(info)
            shutil.rmtree(split_dir.parent)
        merged = _merge_metadata(infos)
        (self.path / "metadata.yaml").write_text(
            yaml.safe_dump({"rosbag2_bagfile_information": merged}, sort_keys=False)
        )
        return self.path

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _merge_metadata(infos: list[dict]) -> dict:
    """One rosbag2 v9 metadata dict for several single-file splits of the same recording."""
    first = dict(infos[0])
    files = [f for info in infos for f in info["files"]]
    starts = [f["starting_time"]["nanoseconds_since_epoch"] for f in files if f["message_count"]]
    ends = [
        f["starting_time"]["nanoseconds_since_epoch"] + f["duration"]["nanoseconds"]
        for f in files
        if f["message_count"]
    ]
    counts: dict[str, int] = {}
    topics: dict[str, dict] = {}
    for info in infos:
        for entry in info["topics_with_message_count"]:
            name = entry["topic_metadata"]["name"]
            topics.setdefault(name, entry["topic_metadata"])
            counts[name] = counts.get(name, 0) + int(entry["message_count"])
    start = min(starts) if starts else 0
    first.update(
        relative_file_paths=[f["path"] for f in files],
        files=files,
        starting_time={"nanoseconds_since_epoch": start},
        duration={"nanoseconds": (max(ends) - start) if ends else 0},
        message_count=sum(counts.values()),
        topics_with_message_count=[
            {"topic_metadata": meta, "message_count": counts[name]} for name, meta in topics.items()
        ],
    )
    return first


@dataclass(frozen=True)
class BagTopic:
    name: str
    msgtype: str
    count: int
    qos: TopicQos


class BagReader:
    """Read a rosbag2 bag (MCAP or sqlite3), with errors that name the bag and what is wrong."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag '{self.path}' does not exist")
        if not (self.path / "metadata.yaml").is_file():
            raise BagError(f"'{self.path}' is not a rosbag2 bag: no metadata.yaml")
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as error:  # rosbags raises several types for damaged bags
            raise BagError(f"bag '{self.path}' cannot be opened: {error}") from error

    @property
    def topics(self) -> dict[str, BagTopic]:
        counts: dict[str, int] = {}
        result: dict[str, BagTopic] = {}
        for conn in self._reader.connections:
            counts[conn.topic] = counts.get(conn.topic, 0) + conn.msgcount
            result[conn.topic] = BagTopic(
                conn.topic,
                conn.msgtype,
                counts[conn.topic],
                from_rosbags_qos(conn.ext.offered_qos_profiles),
            )
        return result

    @property
    def duration_s(self) -> float:
        return self._reader.duration / 1e9

    def messages(self, topics: Sequence[str] | None = None) -> Iterator[tuple[str, int, bytes]]:
        """Yield (topic, bag time [ns], raw CDR) in time order.

        Raises:
            BagError: a requested topic is absent, or the data is truncated or corrupt.
        """
        available = self.topics
        if topics:
            missing = [t for t in topics if t not in available]
            if missing:
                raise BagError(
                    f"topic(s) {missing} not in bag '{self.path}' (it has {sorted(available)})"
                )
        conns = [c for c in self._reader.connections if not topics or c.topic in topics]
        try:
            for conn, stamp_ns, raw in self._reader.messages(connections=conns):
                yield conn.topic, stamp_ns, bytes(raw)
        except Exception as error:
            raise BagError(f"bag '{self.path}' is truncated or corrupt: {error}") from error

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

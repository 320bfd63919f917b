"""An append-only JSON-lines journal with fsync: the durable memory of sessions, carts and receipts.

Each record is one JSON object on one line, ``{"seq": n, "type": ..., ...}``. ``append`` writes and
flushes; ``commit`` fsyncs (the pipeline commits once per step, before it publishes anything, so a
crash never publishes what is not on disk). On start the journal is read back; a torn last line (a
crash in the middle of a write) is reported and skipped, never fatal, and
the torn line is closed with a newline so the next append starts on a clean line.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)


class JournalError(RuntimeError):
    """The journal file cannot be opened or written (names the file)."""


@dataclass(frozen=True)
class JournalRecord:
    """One record read back: its sequence number, type and payload."""

    seq: int
    type: str
    data: Mapping[str, Any]


class Journal:
    """Append-only JSON-lines file. ``path=None`` keeps records in memory only (tests, replays)."""

    def __init__(self, path: str | Path | None, *, fsync: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self._fsync = fsync
        self._records: list[JournalRecord] = []
        self.diagnostics: list[str] = []
        self._file = None
        self._dirty = False
        if self.path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            raw = self.path.read_bytes() if self.path.exists() else b""
            for lineno, line in enumerate(raw.split(b"\n"), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    record = JournalRecord(int(obj["seq"]), str(obj["type"]), obj)
                except (ValueError, KeyError, TypeError) as exc:
                    msg = f"{self.path}:{lineno}: unreadable journal record skipped ({exc})"
                    LOGGER.warning(msg)
                    self.diagnostics.append(msg)
                    continue
                self._records.append(record)
            self._file = open(self.path, "ab")  # noqa: SIM115 - long-lived, closed in close()
            if raw and not raw.endswith(b"\n"):
                # A torn last record: end it so the next record starts on its own line.
                self._file.write(b"\n")
                self._file.flush()
        except OSError as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc

    @property
    def records(self) -> list[JournalRecord]:
        """Every record, in order (what was read at start plus what was appended since)."""
        return list(self._records)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record (0 when empty)."""
        return self._records[-1].seq if self._records else 0

    def since(self, seq: int) -> list[JournalRecord]:
        """The records after sequence number ``seq`` (what came after a checkpoint)."""
        start = bisect.bisect_right(self._records, seq, key=lambda r: r.seq)
        return self._records[start:]

    def __iter__(self) -> Iterator[JournalRecord]:
        return iter(list(self._records))

    def append(self, type_: str, data: Mapping[str, Any]) -> JournalRecord:
        """Append one record (written and flushed; durable after :meth:`commit`)."""
        seq = self._records[-1].seq + 1 if self._records else 1
        payload = {"seq": seq, "type": type_, **data}
        record = JournalRecord(seq, type_, payload)
        if self._file is not None:
            line = json.dumps(payload, sort_keys=True, allow_nan=False, separators=(",", ":"))
            try:
                self._file.write(line.encode() + b"\n")
                self._file.flush()
            except OSError as exc:
                raise JournalError(f"cannot write journal {self.path}: {exc}") from exc
            self._dirty = True
        self._records.append(record)
        return record

    def commit(self) -> None:
        """Make every appended record durable (fsync), once per pipeline step."""
        if self._file is not None and self._dirty:
            try:
                self._file.flush()
                if self._fsync:
                    os.fsync(self._file.fileno())
            except OSError as exc:
                raise JournalError(f"cannot sync journal {self.path}: {exc}") from exc
            self._dirty = False

    def close(self) -> None:
        """Commit and close the file."""
        if self._file is not None:
            self.commit()
            self._file.close()
            self._file = None

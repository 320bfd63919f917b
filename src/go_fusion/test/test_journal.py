"""The append-only journal: records survive a reopen, a torn last line is skipped and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from go_fusion.core.journal import Journal, JournalError


def test_records_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "j.jsonl"
    j = Journal(path)
    j.append("a", {"x": 1})
    j.append("b", {"y": [1, 2]})
    j.commit()
    again = Journal(path)
    assert [(r.seq, r.type) for r in again] == [(1, "a"), (2, "b")]
    assert again.records[1].data["y"] == [1, 2]
    again.append("c", {})
    assert Journal(path).records[-1].seq == 3


def test_a_torn_last_record_is_skipped_and_the_next_one_starts_clean(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.append("a", {"x": 1})
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"seq": 2, "type": "b", "x"')
    again = Journal(path)
    assert len(again.records) == 1 and "unreadable" in again.diagnostics[0]
    again.append("c", {"z": 0})
    again.close()
    assert [r.type for r in Journal(path)] == ["a", "c"]


def test_nan_is_refused_rather_than_written(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.jsonl")
    with pytest.raises(ValueError):
        j.append("a", {"x": float("nan")})


def test_memory_journal_and_unwritable_path(tmp_path: Path) -> None:
    mem = Journal(None)
    mem.append("a", {})
    mem.commit()
    assert len(mem.records) == 1
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot open journal"):
        Journal(blocker / "j.jsonl")

"""Gate scan payloads: what an app QR code (or a turnstile sensor) sends to the gate node.

Payload format (ASCII, surrounding whitespace ignored, case-sensitive)::

    GO1:<token>[:<group_size>]

- ``GO1``: format and version tag (anything else is rejected, so a stray product barcode read by
  the same scanner never opens a session).
- ``<token>``: the app's opaque session token, 6..64 characters of ``A-Z a-z 0-9 _ -``. It never
  contains a person's identity. At an exit gate the token ``-`` means "a crossing without a
  scan" (a turnstile or light-barrier input); the event then carries an empty token.
- ``<group_size>``: people admitted on this scan, 1..20 (default 1): a family shares one cart.

A scanner often sends the same code several times while the phone is held up: a repeat of the
same token at the same gate within ``debounce_s`` is dropped (counted, not an error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PREFIX = "GO1"
MAX_GROUP = 20
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
ANONYMOUS_EXIT = "-"


class PayloadError(ValueError):
    """A scan payload that is not a valid gate code; the message says why."""


@dataclass(frozen=True)
class GateScan:
    """A decoded scan: ``kind`` "entry" | "exit", token ("" for an anonymous exit), group size,
    time [s] of the scan."""

    gate_id: str
    kind: str
    token: str
    group_size: int
    t: float


def parse_payload(payload: str | bytes, kind: str) -> tuple[str, int]:
    """``(token, group_size)`` of a payload read at a gate of ``kind`` ("entry" | "exit").

    Raises:
        PayloadError: naming what is wrong (prefix, token, group size, encoding).
    """
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("ascii")
        except UnicodeDecodeError:
            raise PayloadError(f"non-ASCII payload {payload[:32]!r}") from None
    text = payload.strip()
    if not text:
        raise PayloadError("empty payload")
    parts = text.split(":")
    if parts[0] != PREFIX:
        raise PayloadError(f"payload {text[:40]!r} does not start with '{PREFIX}:'")
    if len(parts) not in (2, 3):
        raise PayloadError(f"payload {text[:40]!r}: expected {PREFIX}:<token>[:<group_size>]")
    token = parts[1]
    if token == ANONYMOUS_EXIT:
        if kind != "exit":
            raise PayloadError("an anonymous crossing ('-') is only valid at an exit gate")
        token = ""
    elif not _TOKEN.match(token):
        raise PayloadError(
            f"bad token {token[:70]!r}: 6..64 characters of letters, digits, '_' and '-'"
        )
    group = 1
    if len(parts) == 3:
        if not parts[2].isdigit():
            raise PayloadError(f"group size {parts[2][:10]!r} is not a positive integer")
        group = int(parts[2])
        if not 1 <= group <= MAX_GROUP:
            raise PayloadError(f"group size {group} outside 1..{MAX_GROUP}")
    return token, group


@dataclass
class GateDecoder:
    """Turns payloads read at one gate into ``GateScan`` events, with debouncing and counters."""

    gate_id: str
    kind: str
    debounce_s: float = 2.0
    accepted: int = 0
    rejected: int = 0
    repeats: int = 0
    last_error: str = ""
    _last_seen: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("entry", "exit"):
            raise ValueError(f"gate kind must be 'entry' or 'exit', got {self.kind!r}")
        if not self.gate_id:
            raise ValueError("gate_id is empty")
        if self.debounce_s < 0:
            raise ValueError(f"debounce_s must be >= 0, got {self.debounce_s}")

    def decode(self, payload: str | bytes, t: float) -> GateScan | None:
        """The scan event of ``payload`` read at ``t`` [s]; None for a rejected or repeated one."""
        try:
            token, group = parse_payload(payload, self.kind)
        except PayloadError as error:
            self.rejected += 1
            self.last_error = str(error)
            return None
        key = token or ANONYMOUS_EXIT
        last = self._last_seen.get(key)
        if token and last is not None and 0.0 <= t - last < self.debounce_s:
            self.repeats += 1
            self._last_seen[key] = t
            return None
        self._last_seen[key] = t
        if len(self._last_seen) > 10000:  # forget old tokens; the window is seconds long
            self._last_seen = {k: v for k, v in self._last_seen.items() if t - v < self.debounce_s}
        self.accepted += 1
        return GateScan(self.gate_id, self.kind, token, group, t)

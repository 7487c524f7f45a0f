"""The wallet guard's audit log: one JSON line per decision, appended, never rewritten.

Each line::

    {"at": "2026-05-01T12:00:00.000000+00:00", "event": "signed", "id": "3f2a…",
     "payee": "0x…", "network": "eip155:4020402", "asset": "0x…", "amount": "3000",
     "scheme": "upto", "url": "http://…"}

``event`` is ``refused`` (before any signature), ``signed`` (the authorized maximum is
reserved), ``settled`` (the server's settled amount) or ``released`` (the payment failed).
``id`` links a payment's ``signed`` line to its outcome; ``reason`` says why a payment was
refused, released, or settled for less than claimed. Money is a decimal string of atomic
units. The log is also the guard's memory: a new guard replays it to restore what the
period has committed (see :func:`read_entries`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REFUSED = "refused"
SIGNED = "signed"
SETTLED = "settled"
RELEASED = "released"
EVENTS = (REFUSED, SIGNED, SETTLED, RELEASED)
LINE_BYTES_MAX = 8_192  # a longer line is not one we wrote


class AuditLogError(ValueError):
    """The audit log cannot be read back: the guard will not guess what was spent."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at_s: float
    event: str
    payee: str
    network: str
    asset: str
    amount: int  # atomic units
    scheme: str
    reason: str | None = None
    url: str | None = None
    id: str | None = None  # the payment, for signed/settled/released
    transaction: str | None = None  # the settlement's transaction id

    def to_json(self) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(self.at_s, UTC).isoformat(timespec="microseconds"),
            "event": self.event,
        }
        if self.id is not None:
            line["id"] = self.id
        if self.reason is not None:
            line["reason"] = self.reason
        line |= {"payee": self.payee, "network": self.network, "asset": self.asset,
                 "amount": str(self.amount), "scheme": self.scheme}
        if self.url is not None:
            line["url"] = self.url
        if self.transaction is not None:
            line["transaction"] = self.transaction
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AuditEntry:
        """One line back into an entry; ``ValueError`` when it is not one we wrote."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("event") not in EVENTS:
            raise ValueError("not an audit entry")
        amount = data.get("amount")
        if not isinstance(amount, str) or not amount.isascii() or not amount.isdigit():
            raise ValueError(f"amount {amount!r} is not a string of atomic units")
        return cls(
            at_s=datetime.fromisoformat(_text(data, "at")).timestamp(),
            event=data["event"], payee=_text(data, "payee"), network=_text(data, "network"),
            asset=_text(data, "asset"), amount=int(amount), scheme=_text(data, "scheme"),
            reason=data.get("reason"), url=data.get("url"), id=data.get("id"),
            transaction=data.get("transaction"),
        )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} is missing")
    return value


class AuditLog:
    """Appends entries to ``path`` (opened in append mode per line, flushed per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._torn_checked = False  # whether a torn last line from a crash was looked for

    def append(self, entry: AuditEntry) -> None:
        line = entry.to_json() + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as stream:
            if not self._torn_checked:
                self._torn_checked = True
                if stream.tell() > 0 and not self._ends_with_newline():
                    line = "\n" + line  # a torn last line stays alone on its own line
            stream.write(line)
            stream.flush()

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as stream:
            stream.seek(-1, 2)
            return stream.read(1) == b"\n"


def read_entries(path: Path) -> Iterator[AuditEntry]:
    """Every entry of the log, oldest first; nothing when there is no log yet.

    A line that is not JSON is a write torn by a crash and is skipped: the guard logs
    ``signed`` before the signature leaves the process, so that payment was never sent. A line
    that is JSON but not an entry (an edit, not a crash) raises :class:`AuditLogError`: the
    guard will not guess what was spent.
    """
    try:
        stream = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            if len(line) > LINE_BYTES_MAX:
                raise AuditLogError(f"{path}:{number}: line longer than {LINE_BYTES_MAX}")
            try:
                json.loads(line)
            except json.JSONDecodeError:
                continue
            try:
                yield AuditEntry.from_json(line)
            except (ValueError, TypeError) as exc:
                raise AuditLogError(f"{path}:{number}: {exc}") from None


__all__ = [
    "EVENTS",
    "REFUSED",
    "RELEASED",
    "SETTLED",
    "SIGNED",
    "AuditEntry",
    "AuditLog",
    "AuditLogError",
    "read_entries",
]

"""Recorded costs: each priced usage record, stored once, immutable, with its price version.

A record's id is the caller's idempotency key: storing the same record again is a no-op
(``exists``); storing different content under the same id is refused
(``exists_with_different_content``), and nothing of that batch is written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class UsageRow:
    id: str
    provider: str
    model: str
    at: str  # ISO 8601, UTC
    service_tier: str
    usage_json: str
    cost_minor: int
    currency: str
    price_version: str
    provisional: bool
    recorded_at: str

    @property
    def usage(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.usage_json)
        return data

    def content(self) -> tuple[object, ...]:
        """Everything but ``recorded_at``: what a replay must match."""
        return (self.provider, self.model, self.at, self.service_tier, self.usage_json,
                self.cost_minor, self.currency, self.price_version, self.provisional)


class RecordConflictError(ValueError):
    type = "exists_with_different_content"


_COLUMNS = ("id, provider, model, at, service_tier, usage_json, cost_minor, currency, "
            "price_version, provisional, recorded_at")


def _row(values: Sequence[object]) -> UsageRow:
    (rid, provider, model, at, tier, usage_json, cost, currency, version, provisional,
     recorded_at) = values
    return UsageRow(str(rid), str(provider), str(model), str(at), str(tier), str(usage_json),
                    int(str(cost)), str(currency), str(version), bool(provisional),
                    str(recorded_at))


def record(db: sqlite3.Connection, rows: Sequence[UsageRow]) -> list[str]:
    """Store ``rows`` in one transaction; returns each row's outcome (``ok`` or ``exists``)."""
    outcomes = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for row in rows:
            found = db.execute(f"SELECT {_COLUMNS} FROM usage_records WHERE id = ?",
                               (row.id,)).fetchone()
            if found is None:
                db.execute(
                    f"INSERT INTO usage_records ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (row.id, row.provider, row.model, row.at, row.service_tier, row.usage_json,
                     row.cost_minor, row.currency, row.price_version, int(row.provisional),
                     row.recorded_at),
                )
                outcomes.append("ok")
            elif _row(found).content() == row.content():
                outcomes.append("exists")
            else:
                raise RecordConflictError(
                    f"record {row.id!r} exists with different content; ids are idempotency "
                    "keys and recorded costs are never changed"
                )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return outcomes


def _utc(moment: datetime) -> str:
    """Stored instants are UTC ISO strings; compare like with like (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def since(db: sqlite3.Connection, start: datetime, end: datetime | None = None,
          ) -> Iterator[UsageRow]:
    """Recorded rows with ``start <= at < end``, oldest first."""
    query = f"SELECT {_COLUMNS} FROM usage_records WHERE at >= ?"
    params: list[str] = [_utc(start)]
    if end is not None:
        query += " AND at < ?"
        params.append(_utc(end))
    for values in db.execute(query + " ORDER BY at, id", params):
        yield _row(values)

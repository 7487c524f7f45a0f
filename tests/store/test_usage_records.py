"""Recorded costs on a real SQLite file: idempotent by id, all-or-nothing per batch, and read
back by ``since`` over the half-open window ``[start, end)``, oldest first."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tokenomy.store import MIGRATIONS, SQLiteStore, open_store
from tokenomy.store.usage_records import RecordConflictError, UsageRow, record, since


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'usage.db'}")
    yield opened
    opened.close()


def _row(rid: str, at: datetime, cost_minor: int = 4_500_000, **changes: object) -> UsageRow:
    row = UsageRow(
        id=rid, provider="openai", model="gpt-4o", at=at.isoformat(), service_tier="standard",
        usage_json='{"tokens": {"input": 1000, "output": 200}}', cost_minor=cost_minor,
        currency="USD", price_version="openai/gpt-4o@2024-10-02", provisional=False,
        recorded_at="2025-06-02T00:00:00+00:00",
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def _dump(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute("SELECT * FROM usage_records ORDER BY id").fetchall()


JUNE = datetime(2025, 6, 1, tzinfo=UTC)


def test_rows_are_stored_and_read_back_whole(store: SQLiteStore, tmp_path: Path) -> None:
    held = _row("held", JUNE + timedelta(hours=1), 22_500_000, model="my-llama",
                price_version="provisional", provisional=True)
    assert record(store.connection, [_row("a", JUNE), held]) == ["ok", "ok"]
    store.close()
    reopened = open_store(f"sqlite:///{tmp_path / 'usage.db'}")  # migrations run once
    try:
        assert reopened.schema_version() == MIGRATIONS[-1].version
        rows = list(since(reopened.connection, JUNE))
    finally:
        reopened.close()
    assert rows == [_row("a", JUNE), held]
    assert rows[1].provisional is True and rows[1].cost_minor == 22_500_000
    assert rows[0].usage == {"tokens": {"input": 1000, "output": 200}}


def test_replaying_the_same_rows_is_a_no_op(store: SQLiteStore) -> None:
    db = store.connection
    rows = [_row("a", JUNE), _row("b", JUNE + timedelta(minutes=5))]
    assert record(db, rows) == ["ok", "ok"]
    before = _dump(db)
    # recorded_at is not content: a later replay keeps the first recording.
    replay = [replace(r, recorded_at="2030-01-01T00:00:00+00:00") for r in rows]
    assert record(db, replay) == ["exists", "exists"]
    assert _dump(db) == before
    assert record(db, [rows[0], _row("c", JUNE)]) == ["exists", "ok"]
    assert [r for r in _dump(db) if r[0] != "c"] == before
    assert [r.id for r in since(db, JUNE)] == ["a", "c", "b"]


@pytest.mark.parametrize("change", [
    {"cost_minor": 4_500_001}, {"price_version": "acme/gpt-4o@2025-01-01"},
    {"model": "gpt-4o-mini"}, {"at": "2025-06-01T00:00:01+00:00"}, {"provisional": True},
    {"service_tier": "batch"}, {"currency": "EUR"}, {"usage_json": "{}"},
])
def test_a_conflicting_row_rolls_back_the_whole_batch(store: SQLiteStore,
                                                      change: dict[str, object]) -> None:
    db = store.connection
    record(db, [_row("a", JUNE)])
    before = _dump(db)
    batch = [_row("new", JUNE), replace(_row("a", JUNE), **change)]  # type: ignore[arg-type]
    with pytest.raises(RecordConflictError, match="'a'"):
        record(db, batch)
    assert _dump(db) == before  # "new" was not written either
    assert not db.in_transaction
    assert record(db, [_row("new", JUNE)]) == ["ok"]  # the store is still usable


def test_a_conflict_inside_one_batch_writes_nothing(store: SQLiteStore) -> None:
    db = store.connection
    with pytest.raises(RecordConflictError):
        record(db, [_row("x", JUNE), _row("x", JUNE, cost_minor=1)])
    assert _dump(db) == []
    assert record(db, [_row("x", JUNE), _row("x", JUNE)]) == ["ok", "exists"]


def test_since_is_the_half_open_window(store: SQLiteStore) -> None:
    db = store.connection
    instants = {
        "before": JUNE - timedelta(microseconds=1),
        "start": JUNE,
        "inside": JUNE + timedelta(days=3, microseconds=500_000),
        "just-before-end": JUNE + timedelta(days=30) - timedelta(microseconds=1),
        "end": JUNE + timedelta(days=30),
        "after": JUNE + timedelta(days=400),
    }
    record(db, [_row(rid, at) for rid, at in reversed(instants.items())])
    end = JUNE + timedelta(days=30)
    assert [r.id for r in since(db, JUNE, end)] == ["start", "inside", "just-before-end"]
    assert [r.id for r in since(db, JUNE)] == ["start", "inside", "just-before-end", "end",
                                               "after"]
    assert [r.id for r in since(db, JUNE - timedelta(days=1), end)] == [
        "before", "start", "inside", "just-before-end"]
    assert list(since(db, end, end)) == []


def test_since_accepts_an_instant_in_any_timezone(store: SQLiteStore) -> None:
    db = store.connection
    record(db, [_row("late-may", datetime(2025, 5, 31, 23, 30, tzinfo=UTC))])
    paris = timezone(timedelta(hours=2))
    start = datetime(2025, 6, 1, 1, 0, tzinfo=paris)  # = 2025-05-31T23:00Z
    assert [r.id for r in since(db, start)] == ["late-may"]

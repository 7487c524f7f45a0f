"""The ledger in a SQLite file (the default store).

WAL journal, ``synchronous=FULL`` by default (a batch acknowledged is on disk; ``"normal"``
trades the last commits before a power loss for speed), ``busy_timeout``, foreign keys.
Writers serialize on ``BEGIN IMMEDIATE``, so several processes may open the same file.
u128 values are stored as 39-digit zero-padded TEXT (SQLite's INTEGER is signed 64-bit), so
text order is numeric order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from tokenomy.store.ledger_sql import Row, SQLLedger

SYNCHRONOUS = ("full", "normal")
BUSY_TIMEOUT_MS = 60_000  # how long a writer waits for the file's write lock
_U128_TEXT = "{:039d}".format  # u128 as fixed-width text: text order is numeric order
_IN_CHUNK = 500  # ids per ``IN (…)`` (SQLite's parameter limit is 32,766)
_MARKS = ["", *(", ".join("?" * n) for n in range(1, _IN_CHUNK + 1))]


class SQLiteLedger(SQLLedger):
    """A :class:`~tokenomy.ledger.protocol.LedgerStore` on one SQLite connection."""

    dialect = "sqlite"
    driver_errors = (sqlite3.Error,)

    def __init__(self, connection: sqlite3.Connection, path: str,
                 clock: Callable[[], int]) -> None:
        super().__init__(clock)
        self._db = connection
        self.path = path
        self._encode = _U128_TEXT  # a bound builtin: no Python frame per value

    @classmethod
    def open(cls, path: str, clock: Callable[[], int], synchronous: str = "full",
             busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> SQLiteLedger:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, not {synchronous!r}")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                             timeout=busy_timeout_ms / 1000)
        try:
            db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            db.execute("PRAGMA foreign_keys=ON")
            store = cls(db, path, clock)
            store.migrate()
        except BaseException:
            db.close()
            raise
        return store

    @property
    def connection(self) -> sqlite3.Connection:
        return self._db

    def u128(self, value: int) -> object:
        return _U128_TEXT(value)

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._db.execute(sql, params).fetchall()

    def _run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self._db.executemany(sql, rows)

    def _select_ids(self, sql: str, column: str, ids: Collection[int],
                    lock: bool = False) -> list[Row]:
        # No row locks in SQLite: BEGIN IMMEDIATE already holds the database's write lock.
        if not ids:
            return []
        if len(ids) <= _IN_CHUNK:  # the common case: one query
            texts = [_U128_TEXT(i) for i in ids]
            marks = _MARKS[len(texts)]
            return self._db.execute(f"{sql} WHERE {column} IN ({marks})", texts).fetchall()
        keys = sorted(ids)
        rows: list[Row] = []
        for at in range(0, len(keys), _IN_CHUNK):
            chunk = [self.u128(i) for i in keys[at:at + _IN_CHUNK]]
            marks = ", ".join("?" * len(chunk))
            rows.extend(self._run(f"{sql} WHERE {column} IN ({marks})", chunk))
        return rows

    def _begin_write(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _lock_writer(self) -> None:
        """BEGIN IMMEDIATE already holds SQLite's one write lock."""

    def _begin_read(self) -> None:
        self._db.execute("BEGIN")  # deferred: one consistent snapshot of the WAL

    def _begin_migration(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        self._db.close()

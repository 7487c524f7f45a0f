"""The ledger in a SQLite file (the default store).

WAL journal, ``synchronous=FULL`` by default (a batch acknowledged is on disk; ``"normal"``
trades the last commits before a power loss for speed), ``busy_timeout``, foreign keys.
Writers serialize on ``BEGIN IMMEDIATE``, so several processes may open the same file.
u128 values are stored as 39-digit zero-padded TEXT (SQLite's INTEGER is signed 64-bit), so
text order is numeric order.

A long-running writer (the gateway) may move WAL checkpoints off its commits:
:meth:`SQLiteLedger.checkpoint_in_background` copies the WAL into the database from a thread
and connection of its own every :data:`CHECKPOINT_INTERVAL_S` (a checkpoint changes no data
and no durability: committed frames are already synced in the WAL), and leaves the committing
connection only a fallback at :data:`FALLBACK_CHECKPOINT_PAGES`, which also lets the WAL
restart from its beginning.

A writer on an event loop may also take the fsync off its commits: it commits with
``durable=False`` (``synchronous=NORMAL``: the WAL frames are written, not synced), then a
thread calls :meth:`SQLiteLedger.sync_wal` (one ``fdatasync`` of the WAL file), and the callers
are answered after that. The WAL is one sequence, so one sync makes every commit written before
it durable: what ``synchronous=FULL`` does at each commit, done once for a group
(``tokenomy.gateway.writer``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path

from tokenomy._invariant import invariant
from tokenomy.ledger.types import Account, Transfer
from tokenomy.store.ledger_sql import I64_LIMIT as _I64
from tokenomy.store.ledger_sql import (
    INSERT_TRANSFER,
    TRANSFER_COLUMNS,
    Row,
    SQLLedger,
    transfer_of,
)

SYNCHRONOUS = ("full", "normal")
CHECKPOINT_INTERVAL_S = 0.25  # background checkpoints: at most this far apart
FALLBACK_CHECKPOINT_PAGES = 10_000  # the committing connection checkpoints past this (40 MiB)
BUSY_TIMEOUT_MS = 60_000  # how long a writer waits for the file's write lock
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has only fsync
_U128_TEXT = "%039d".__mod__  # u128 as fixed-width text: text order is numeric order
_IN_CHUNK = 500  # ids per ``IN (…)`` (SQLite's parameter limit is 32,766)
_MARKS = ["", *(", ".join("?" * n) for n in range(1, _IN_CHUNK + 1))]
_NULLS = ", ".join(["NULL"] * 12)  # the transfer columns a retired id does not have
_ROWS_PER_INSERT = 32  # journal rows per INSERT statement: 416 parameters
_INSERT_TRANSFERS = (f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES "
                     + ", ".join([f"({', '.join('?' * 13)})"] * _ROWS_PER_INSERT))


@lru_cache(maxsize=64)
def _journal_and_failed(ids: int, retired: int) -> str:
    """One statement for a batch's lookups: the journal rows of ``ids`` ids (flag 0), then
    the retired ids among ``retired`` ids (flag 1)."""
    return (f"SELECT {TRANSFER_COLUMNS}, 0 FROM ledger_transfers WHERE id IN ({_MARKS[ids]}) "
            f"UNION ALL SELECT id, {_NULLS}, 1 FROM ledger_failed WHERE id IN "
            f"({_MARKS[retired]})")


class SQLiteLedger(SQLLedger):
    """A :class:`~tokenomy.ledger.protocol.LedgerStore` on one SQLite connection."""

    dialect = "sqlite"
    driver_errors = (sqlite3.Error,)

    def __init__(self, connection: sqlite3.Connection, path: str,
                 clock: Callable[[], int]) -> None:
        super().__init__(clock)
        self._db = connection
        self.path = path
        self.synchronous = "full"  # as opened; _begin_batch may relax one commit at a time
        self._relaxed = False
        self._encode = _U128_TEXT  # a bound builtin: no Python frame per value
        # Between write transactions this connection keeps what it last saw: the accounts,
        # the last timestamp and the next expiry. ``PRAGMA data_version`` changes when any
        # OTHER connection commits; then it is all read again, under the write lock.
        self._seen_version: int | None = None
        self._cached: dict[int, Account] = {}
        self._last = 0
        self._next_expiry = 0
        self._writing = False
        self._dirty: dict[int, Account] = {}
        self._new_last: int | None = None
        self._new_next: int | None = None
        self._checkpointer: _Checkpointer | None = None
        self.wal = False  # the journal is a WAL (not so for ":memory:")
        self._wal_path = f"{os.path.abspath(path)}-wal"
        self._wal_fd: int | None = None  # sync_wal's own descriptor of the WAL file
        self._wal_lock = threading.Lock()

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
            wal = db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
            db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            db.execute("PRAGMA foreign_keys=ON")
            store = cls(db, path, clock)
            store.synchronous, store.wal = synchronous, wal
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

    def _insert_transfers(self, rows: Sequence[Sequence[object]]) -> None:
        # A multi-row INSERT costs less per row than one statement step per row.
        grouped = len(rows) - len(rows) % _ROWS_PER_INSERT
        if grouped:
            self._db.executemany(_INSERT_TRANSFERS, [
                tuple(chain.from_iterable(rows[at:at + _ROWS_PER_INSERT]))
                for at in range(0, grouped, _ROWS_PER_INSERT)])
        if grouped < len(rows):
            self._db.executemany(INSERT_TRANSFER, rows[grouped:])

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

    def _begin_batch(self, durable: bool) -> None:
        # The WAL is one sequence: a relaxed commit reaches the disk with the next FULL one.
        if not durable and self.synchronous == "full":
            if not self._relaxed:  # changeable only outside a transaction
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._relaxed = True
            self._begin_immediate()
        else:
            self._begin_write()

    def _begin_write(self) -> None:
        if self._relaxed:  # every other write is as durable as the store was opened
            self._db.execute("PRAGMA synchronous=FULL")
            self._relaxed = False
        self._begin_immediate()

    def _begin_immediate(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._writing = True
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version:  # first use, or another process has written
            self._cached.clear()
            self._last, self._next_expiry = self._clock_state()
            self._seen_version = version

    def _clock_state(self) -> tuple[int, int]:
        """(last timestamp, next expiry) as the database has them: the newest stored row
        (this store does not rewrite ``ledger_meta`` on every batch) or the meta row."""
        meta = self._db.execute(
            "SELECT last_timestamp, next_expiry FROM ledger_meta WHERE id = 1").fetchone()
        newest = [self._db.execute(f"SELECT MAX(created_at) FROM {table}").fetchone()[0]
                  for table in ("ledger_transfers", "ledger_accounts")]
        return max([int(meta[0]), *(int(n) for n in newest if n is not None)]), int(meta[1])

    def _timestamp(self, count: int) -> tuple[int, int]:
        taken = max(count, 1)
        last = self._last if self._new_last is None else self._new_last  # a 2nd batch in one
        start = max(self.clock(), last + 1)  # transaction follows the 1st
        self._new_last = start + taken - 1
        invariant(self._new_last < _I64, "timestamps stay below 2^63 ns")
        return start, self._next_expiry

    def _set_next_expiry(self, value: int) -> None:
        super()._set_next_expiry(value)
        self._new_next = value

    def _accounts(self, ids: Collection[int], lock: bool = False) -> dict[int, Account]:
        if not self._writing:  # a read transaction reads the database
            return super()._accounts(ids, lock)
        cached, dirty = self._cached, self._dirty
        missing = [i for i in ids if i not in cached and i not in dirty]
        if missing:  # rows read under the write lock are the latest committed state
            cached.update(super()._accounts(missing, lock))
        # Written earlier in this transaction (expiry before the batch) wins over committed.
        found = {i: cached[i] for i in ids if i in cached}
        if dirty:
            found.update((i, dirty[i]) for i in ids if i in dirty)
        return found

    def _transfers_and_failed(self, ids: Collection[int], batch_ids: Collection[int],
                              ) -> tuple[dict[int, Transfer], set[int]]:
        if not 0 < len(ids) <= _IN_CHUNK:
            return super()._transfers_and_failed(ids, batch_ids)
        # One statement for both (a batch's usual case): the journal rows, then retired ids.
        keys = list(map(_U128_TEXT, ids))
        retired = keys if batch_ids is ids else list(map(_U128_TEXT, batch_ids))
        rows = self._db.execute(_journal_and_failed(len(keys), len(retired)),
                                [*keys, *retired]).fetchall()
        if not rows:  # a batch of new ids: the usual case
            return {}, set()
        transfers = {t.id: t for t in (transfer_of(r) for r in rows if not r[13])}
        return transfers, {int(r[0]) for r in rows if r[13]}

    def _note_accounts(self, accounts: dict[int, Account]) -> None:
        self._dirty.update(accounts)

    def _after_commit(self) -> None:
        if self._writing:
            self._cached.update(self._dirty)
            if self._new_last is not None:
                self._last = self._new_last
            if self._new_next is not None:
                self._next_expiry = self._new_next
        self._end_transaction()

    def _after_rollback(self) -> None:
        if self._writing:
            self._seen_version = None  # read everything again next time
        self._end_transaction()

    def _end_transaction(self) -> None:
        self._writing = False
        self._dirty.clear()
        self._new_last = self._new_next = None

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

    def sync_wal(self) -> None:
        """``fdatasync`` the WAL file: every commit written before the call is on disk when it
        returns, as if it had committed with ``synchronous=FULL``. Callable from any thread
        while others commit: it uses a descriptor of its own, not the connection. The WAL
        stays the same file while this connection is open (SQLite removes it only when the
        last connection closes), and a checkpoint syncs the WAL before copying it, so frames
        overwritten when the WAL restarts were on disk already."""
        invariant(self.wal, "a WAL to sync")
        with self._wal_lock:
            if self._wal_fd is None:
                self._wal_fd = os.open(self._wal_path, os.O_RDONLY | os.O_CLOEXEC)
            _datasync(self._wal_fd)

    def checkpoint_in_background(self, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        """Checkpoint from a thread of its own from now until :meth:`close` (a file only)."""
        invariant(self.path != ":memory:" and self._checkpointer is None,
                  "one background checkpointer, for a database file")
        checkpointer = _Checkpointer(self.path, interval_s)
        self._db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}")
        self._checkpointer = checkpointer
        checkpointer.start()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._wal_lock:
            if self._wal_fd is not None:
                os.close(self._wal_fd)
                self._wal_fd = None
        self._db.close()


class _Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection: it copies
    what it can without waiting for (or blocking) the writer or any reader."""

    def __init__(self, path: str, interval_s: float) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tokenomy-wal-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # busy or failing: the fallback still checkpoints
                logging.getLogger("tokenomy.store").warning("WAL checkpoint failed: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._db.close()

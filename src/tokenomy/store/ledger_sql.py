"""The ledger over SQL, written once for SQLite and PostgreSQL.

A batch runs in ONE write transaction: take the writer lock (SQLite ``BEGIN IMMEDIATE``;
PostgreSQL the ``ledger_meta`` row ``FOR UPDATE``) and with it the last timestamp; expire the
due pending transfers; load the :class:`~tokenomy.ledger.engine.Snapshot` the batch can touch
(account rows locked in sorted id order on PostgreSQL); run the pure engine; write its outcome
with ``executemany``; commit. The engine is the one :class:`~tokenomy.ledger.MemoryLedger`
runs, so every store gives the same results for the same inputs.

SQL is written with ``?`` parameters; a dialect subclass supplies the driver calls, its u128
encoding (``ledger_sqlite``: 39-digit zero-padded TEXT, ``ledger_postgres``: NUMERIC(39,0)) and
its ``id IN …`` form. Driver errors become :class:`~tokenomy.store.url.StoreError` here.

The module is a little over 500 lines for one reason: both dialects share every statement and
the transaction wrapper here, so that SQLite and PostgreSQL cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import suppress
from operator import attrgetter
from typing import Any

from tokenomy._invariant import invariant
from tokenomy.ledger.accounts import execute_accounts
from tokenomy.ledger.budgets import Budget
from tokenomy.ledger.engine import (
    BatchTooLargeError,
    Snapshot,
    TransferOutcome,
    execute_transfers,
    expire,
)
from tokenomy.ledger.invariants import check
from tokenomy.ledger.protocol import LIST_LIMIT_MAX
from tokenomy.ledger.types import (
    BATCH_MAX,
    U16_MAX,
    U32_MAX,
    U64_MAX,
    U128_MAX,
    Account,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from tokenomy.store.gateway_sql import GatewayTables
from tokenomy.store.migrations import MIGRATIONS
from tokenomy.store.report_sql import ReportTables
from tokenomy.store.url import StoreError

Row = tuple[Any, ...]
PAGE_ROWS = 10_000  # rows one verify() query reads
_I64 = 2**63
I64_LIMIT = _I64  # timestamps and expiries stay below it (BIGINT)
_POST_OR_VOID = int(TransferFlags.POST_PENDING_TRANSFER | TransferFlags.VOID_PENDING_TRANSFER)
_ID, _DEBIT_ACCOUNT_ID, _CREDIT_ACCOUNT_ID = (
    attrgetter("id"), attrgetter("debit_account_id"), attrgetter("credit_account_id"))

ACCOUNT_COLUMNS = ("id, ledger, code, flags, debits_pending, debits_posted, credits_pending, "
                   "credits_posted, user_data_128, user_data_64, user_data_32, created_at")
TRANSFER_COLUMNS = ("id, debit_account_id, credit_account_id, amount, pending_id, ledger, code, "
                    "flags, timeout, user_data_128, user_data_64, user_data_32, created_at")
BUDGET_COLUMNS = "name, account_id, ledger, amount, period, rollover, kind, owner"
INSERT_ACCOUNT = f"INSERT INTO ledger_accounts ({ACCOUNT_COLUMNS}) VALUES ({', '.join('?' * 12)})"
INSERT_TRANSFER = (f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) "
                   f"VALUES ({', '.join('?' * 13)})")
UPDATE_BALANCES = ("UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, "
                   "credits_pending = ?, credits_posted = ? WHERE id = ?")
UPSERT_PENDING = ("INSERT INTO ledger_pending (pending_id, status, expires_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (pending_id) DO UPDATE SET status = excluded.status, "
                  "expires_at = excluded.expires_at")
INSERT_FAILED = "INSERT INTO ledger_failed (id) VALUES (?) ON CONFLICT (id) DO NOTHING"
# Take ``count`` timestamps in one statement: the new last is max(last + 1, clock) + count - 1.
TAKE_TIMESTAMPS = ("UPDATE ledger_meta SET last_timestamp = {greatest}(last_timestamp + 1, ?) + ? "
                   "WHERE id = 1 RETURNING last_timestamp, next_expiry")
SET_NEXT_EXPIRY = "UPDATE ledger_meta SET next_expiry = ? WHERE id = 1"
NEXT_EXPIRY = ("SELECT COALESCE(MIN(expires_at), 0) FROM ledger_pending "
               "WHERE status = 'pending' AND expires_at > 0")
SELECT_DUE = ("SELECT pending_id FROM ledger_pending WHERE status = 'pending' "
              "AND expires_at > 0 AND expires_at <= ?")
UPSERT_BUDGET = (f"INSERT INTO ledger_budgets ({BUDGET_COLUMNS}) VALUES ({', '.join('?' * 8)}) "
                 "ON CONFLICT (name) DO UPDATE SET account_id = excluded.account_id, "
                 "ledger = excluded.ledger, amount = excluded.amount, "
                 "period = excluded.period, rollover = excluded.rollover, "
                 "kind = excluded.kind, owner = excluded.owner")


def i64(value: int) -> int:
    """A u64 as the signed 64-bit integer with the same bits (what BIGINT holds)."""
    return value - 2**64 if value >= _I64 else value


def u64(value: int) -> int:
    return value + 2**64 if value < 0 else value


def _in_range(what: str, value: object, high: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{what} {value!r} is outside 0..{high}")


def check_transfers(transfers: Sequence[Transfer]) -> None:
    """Bad input that is no result code: ValueError before the database is touched."""
    if len(transfers) > BATCH_MAX:
        raise BatchTooLargeError(f"at most {BATCH_MAX} transfers per batch, got {len(transfers)}")
    for i, t in enumerate(transfers):
        a, b, c, d, e, f = (t.id, t.debit_account_id, t.credit_account_id, t.amount,
                            t.pending_id, t.user_data_128)
        g, h, j, k, m = t.user_data_64, t.user_data_32, t.ledger, t.timeout, t.code
        # The common case in one test: exact ints, then each range as "no bit above it" (an
        # OR of ints is negative if any is, and x >> n == 0 iff 0 <= x < 2**n).
        if (type(a) is int and type(b) is int and type(c) is int and type(d) is int
                and type(e) is int and type(f) is int and type(g) is int and type(h) is int
                and type(j) is int and type(k) is int and type(m) is int
                and 0 <= int(t.flags) <= U16_MAX and (a | b | c | d | e | f) >> 128 == 0
                and g >> 64 == 0 and (h | j | k) >> 32 == 0 and m >> 16 == 0):
            continue  # the detailed checks name what is wrong
        for name in ("id", "debit_account_id", "credit_account_id", "amount", "pending_id",
                     "user_data_128"):
            _in_range(f"transfer {i}: {name}", getattr(t, name), U128_MAX)
        _in_range(f"transfer {i}: user_data_64", t.user_data_64, U64_MAX)
        for name in ("user_data_32", "ledger", "timeout"):
            _in_range(f"transfer {i}: {name}", getattr(t, name), U32_MAX)
        _in_range(f"transfer {i}: code", t.code, U16_MAX)
        _in_range(f"transfer {i}: flags", int(t.flags), U16_MAX)


def check_accounts(accounts: Sequence[Account]) -> None:
    if len(accounts) > BATCH_MAX:
        raise BatchTooLargeError(f"at most {BATCH_MAX} accounts per batch, got {len(accounts)}")
    for i, a in enumerate(accounts):
        for name in ("id", "debits_pending", "debits_posted", "credits_pending",
                     "credits_posted", "user_data_128"):
            _in_range(f"account {i}: {name}", getattr(a, name), U128_MAX)
        _in_range(f"account {i}: user_data_64", a.user_data_64, U64_MAX)
        _in_range(f"account {i}: user_data_32", a.user_data_32, U32_MAX)
        _in_range(f"account {i}: ledger", a.ledger, U32_MAX)
        _in_range(f"account {i}: code", a.code, U16_MAX)
        _in_range(f"account {i}: flags", int(a.flags), U16_MAX)


def account_of(r: Row) -> Account:
    return Account(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]),
                   int(r[5]), int(r[6]), int(r[7]), int(r[8]), u64(int(r[9])), int(r[10]),
                   int(r[11]))


def transfer_of(r: Row) -> Transfer:
    return Transfer(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[5]), int(r[6]),
                    int(r[7]), int(r[4]), int(r[8]), int(r[9]), u64(int(r[10])),
                    int(r[11]), int(r[12]))


def budget_of(r: Row) -> Budget:
    return Budget(str(r[0]), int(r[1]), int(r[2]), int(r[3]), str(r[4]), bool(r[5]), str(r[6]),
                  str(r[7]))


class SQLLedger(GatewayTables, ReportTables):
    """The :class:`~tokenomy.ledger.protocol.LedgerStore` over one database connection (and the
    gateway's keys and request records, :class:`~tokenomy.store.gateway_sql.GatewayTables`;
    the reports' reads and feedback, :class:`~tokenomy.store.report_sql.ReportTables`)."""

    dialect = ""
    greatest = "MAX"  # the two-argument maximum: SQLite MAX(), PostgreSQL GREATEST()
    driver_errors: tuple[type[Exception], ...] = ()

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock  # ns; timestamps are max(clock, last + 1), persisted
        self._lock = threading.Lock()
        self._encode: Callable[[int], object] = self.u128  # rebound by a dialect if faster

    def busy(self) -> bool:
        """A transaction is open on this store's connection, in some thread (a new one would
        wait for it)."""
        return self._lock.locked()

    # -- the dialect's part ------------------------------------------------------------
    def u128(self, value: int) -> object:
        raise NotImplementedError

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def _run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        raise NotImplementedError

    def _insert_transfers(self, rows: Sequence[Sequence[object]]) -> None:
        """Append these journal rows (in order; a dialect may send several per statement)."""
        self._run_many(INSERT_TRANSFER, rows)

    def _select_ids(self, sql: str, column: str, ids: Collection[int],
                    lock: bool = False) -> list[Row]:
        """Rows of ``sql`` (a SELECT … WHERE {ids}) whose ``column`` is one of ``ids``."""
        raise NotImplementedError

    def _begin_write(self) -> None:
        """Start the one write transaction (the writer lock is taken by _timestamp's UPDATE
        on PostgreSQL, by BEGIN IMMEDIATE on SQLite)."""
        raise NotImplementedError

    def _lock_writer(self) -> None:
        """Inside a write transaction: hold the writer lock without taking a timestamp."""
        raise NotImplementedError

    def _begin_read(self) -> None:
        raise NotImplementedError

    def _begin_batch(self, durable: bool) -> None:
        """Start a write transaction whose commit must reach the disk (``durable``) or may
        ride on the next durable one (a store that cannot relax ignores it)."""
        self._begin_write()

    def close(self) -> None:
        raise NotImplementedError

    def _begin_migration(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    # -- transactions --------------------------------------------------------------------
    def _transaction(self, begin: Callable[[], Any]) -> _Transaction:
        """One transaction, committed when the block ends, rolled back when it raises.
        A store object may be shared by threads: they take turns (one connection)."""
        return _Transaction(self, begin)

    # Hooks for a dialect that keeps state between transactions (SQLite's cache).
    def _after_commit(self) -> None:
        """The transaction committed."""

    def _after_rollback(self) -> None:
        """The transaction was rolled back (or its commit failed)."""

    def _note_accounts(self, accounts: dict[int, Account]) -> None:
        """These accounts' new state is written in the open transaction."""

    def _set_next_expiry(self, value: int) -> None:
        self._run(SET_NEXT_EXPIRY, (value,))

    def migrate(self) -> int:
        """Apply the migrations not yet applied, in one transaction; return the version."""
        with self._transaction(self._begin_migration):
            self._run("CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            done = {int(r[0]) for r in self._run("SELECT version FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.statements(self.dialect):
                    self._run(statement)
                self._run("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                          (migration.version, migration.name))
            rows = self._run("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0])

    def _timestamp(self, count: int) -> tuple[int, int]:
        """Take ``count`` strictly increasing timestamps (the writer lock is held after this
        statement until commit); return the first, and the earliest pending expiry."""
        taken = max(count, 1)
        rows = self._run(TAKE_TIMESTAMPS.format(greatest=self.greatest),
                         (self.clock(), taken - 1))
        last, next_expiry = int(rows[0][0]), int(rows[0][1])
        invariant(last < _I64, "timestamps stay below 2^63 ns")
        return last - taken + 1, next_expiry

    # -- rows ----------------------------------------------------------------------------
    def _account_row(self, a: Account) -> tuple[object, ...]:
        e = self._encode
        return (e(a.id), a.ledger, a.code, int(a.flags), e(a.debits_pending),
                e(a.debits_posted), e(a.credits_pending), e(a.credits_posted),
                e(a.user_data_128), i64(a.user_data_64), a.user_data_32, a.timestamp)

    def _transfer_rows(self, created: Sequence[Transfer]) -> list[tuple[object, ...]]:
        """The journal rows of ``created`` (a batch's hottest loop: one comprehension; most
        transfers have no pending id and no user_data_128, so their zero is encoded once)."""
        e = self._encode
        zero = e(0)
        return [(e(t.id), e(t.debit_account_id), e(t.credit_account_id), e(t.amount),
                 e(t.pending_id) if t.pending_id else zero, t.ledger, t.code, int(t.flags),
                 t.timeout, e(t.user_data_128) if t.user_data_128 else zero,
                 i64(t.user_data_64), t.user_data_32, t.timestamp) for t in created]

    def _accounts(self, ids: Collection[int], lock: bool = False) -> dict[int, Account]:
        rows = self._select_ids(f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts", "id", ids,
                                lock)
        return {a.id: a for a in map(account_of, rows)}

    def _transfers(self, ids: Collection[int]) -> dict[int, Transfer]:
        rows = self._select_ids(f"SELECT {TRANSFER_COLUMNS} FROM ledger_transfers", "id", ids)
        return {t.id: t for t in map(transfer_of, rows)}

    def _statuses(self, ids: Collection[int]) -> dict[int, tuple[PendingStatus, int]]:
        rows = self._select_ids("SELECT pending_id, status, expires_at FROM ledger_pending",
                                "pending_id", ids)
        return {int(r[0]): (PendingStatus(r[1]), int(r[2])) for r in rows}

    def _write(self, outcome: TransferOutcome) -> None:
        if outcome.created:
            self._insert_transfers(self._transfer_rows(outcome.created))
        if outcome.accounts:
            self._note_accounts(outcome.accounts)
            e = self._encode
            zero = e(0)  # most accounts have nothing pending
            self._run_many(UPDATE_BALANCES, [
                (e(a.debits_pending) if a.debits_pending else zero, e(a.debits_posted),
                 e(a.credits_pending) if a.credits_pending else zero, e(a.credits_posted),
                 e(a.id)) for a in outcome.accounts.values()])
        if outcome.pending:
            self._run_many(UPSERT_PENDING, [(self.u128(i), status.value, expires_at)
                                            for i, (status, expires_at)
                                            in outcome.pending.items()])
        if outcome.failed:
            self._run_many(INSERT_FAILED, [(self.u128(i),) for i in outcome.failed])

    # -- the protocol ------------------------------------------------------------------
    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        check_accounts(accounts)
        with self._transaction(self._begin_write):
            start, _ = self._timestamp(len(accounts))
            existing = self._accounts({a.id for a in accounts})
            results, created = execute_accounts(existing, accounts, start)
            if created:
                self._run_many(INSERT_ACCOUNT, [self._account_row(a) for a in created])
                self._note_accounts({a.id: a for a in created})
        return list(results)

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        check_transfers(transfers)
        with self._transaction(self._begin_write):
            return self._apply_transfers(transfers)

    def _apply_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        """Inside a write transaction: take timestamps, expire what is due, run the batch."""
        start, next_expiry = self._timestamp(len(transfers))
        if next_expiry and next_expiry <= start - 1:  # else nothing can be due
            _, next_expiry = self._expire_due(start - 1)
        outcome = execute_transfers(self._snapshot(transfers), transfers, start)
        self._write(outcome)
        if outcome.pending:
            deadlines = [expires_at for status, expires_at in outcome.pending.values()
                         if status is PendingStatus.PENDING and expires_at > 0]
            if deadlines and (next_expiry == 0 or min(deadlines) < next_expiry):
                self._set_next_expiry(min(deadlines))
        return list(outcome.results)

    def _snapshot(self, batch: Sequence[Transfer]) -> Snapshot:
        ids = set(map(_ID, batch))
        pending_ids = {t.pending_id for t in batch if t.flags & _POST_OR_VOID and t.pending_id}
        transfers, failed = self._transfers_and_failed(ids | pending_ids if pending_ids else ids,
                                                       ids)
        account_ids = {*map(_DEBIT_ACCOUNT_ID, batch), *map(_CREDIT_ACCOUNT_ID, batch)}
        for pending_id in pending_ids:
            p = transfers.get(pending_id)
            if p is not None:
                account_ids.update((p.debit_account_id, p.credit_account_id))
        account_ids.discard(0)
        accounts = self._accounts(account_ids, lock=True)
        return Snapshot(accounts, transfers, self._statuses(pending_ids) if pending_ids else {},
                        failed)

    def _transfers_and_failed(self, ids: Collection[int], batch_ids: Collection[int],
                              ) -> tuple[dict[int, Transfer], set[int]]:
        """The stored transfers among ``ids`` and the retired ids among ``batch_ids`` (a
        subset of ``ids``: the same object when the batch resolves no pending transfer)."""
        failed = {int(r[0]) for r in self._select_ids("SELECT id FROM ledger_failed", "id",
                                                      batch_ids)}
        return self._transfers(ids), failed

    def _expire_due(self, moment: int) -> tuple[int, int]:
        """Inside a write transaction: release the pending transfers due at ``moment``;
        record the earliest expiry left. Returns (released, earliest expiry left or 0)."""
        due_ids = [int(r[0]) for r in self._run(SELECT_DUE, (moment,))]
        if due_ids:
            self._expire(due_ids)
        next_expiry = int(self._run(NEXT_EXPIRY)[0][0])
        self._set_next_expiry(next_expiry)
        return len(due_ids), next_expiry

    def _expire(self, due_ids: list[int]) -> None:
        transfers = self._transfers(due_ids)
        invariant(len(transfers) == len(due_ids), "every pending status has its transfer")
        account_ids = {i for t in transfers.values()
                       for i in (t.debit_account_id, t.credit_account_id)}
        snapshot = Snapshot(self._accounts(account_ids, lock=True), transfers,
                            self._statuses(due_ids))
        self._write(expire(snapshot, [transfers[i] for i in due_ids]))

    def expire_pending(self, now: int | None = None) -> int:
        with self._transaction(self._begin_write):
            # The writer lock first, as every write takes it: expiry locks accounts, and one
            # lock order (writer lock, then ids) rules out deadlocks with concurrent batches.
            self._lock_writer()
            released, _ = self._expire_due(self.clock() if now is None else now)
            return released

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        with self._transaction(self._begin_read):
            found = self._accounts(_valid(ids))
        return [found[i] for i in ids if i in found]

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        with self._transaction(self._begin_read):
            found = self._transfers(_valid(ids))
        return [found[i] for i in ids if i in found]

    def list_accounts(self, ledger: int | None = None, after_id: int = 0,
                      limit: int = 1_000) -> list[Account]:
        count = max(0, min(limit, LIST_LIMIT_MAX))
        if after_id >= U128_MAX or count == 0:
            return []
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id > ?"
        params: list[object] = [self.u128(max(after_id, 0))]
        if ledger is not None:
            sql += " AND ledger = ?"
            params.append(ledger)
        with self._transaction(self._begin_read):
            rows = self._run(sql + " ORDER BY id LIMIT ?", (*params, count))
        return [account_of(r) for r in rows]

    def verify(self) -> list[str]:
        """Every account, the journal and the statuses, read in pages in one transaction."""
        with self._transaction(self._begin_read):
            accounts = list(self._pages(f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts", "id",
                                        self.u128(0), 0))
            journal = list(self._pages(f"SELECT {TRANSFER_COLUMNS} FROM ledger_transfers",
                                       "created_at", 0, 12))
            statuses = {int(r[0]): PendingStatus(r[1])
                        for r in self._run("SELECT pending_id, status FROM ledger_pending")}
        return check(map(account_of, accounts), map(transfer_of, journal), statuses)

    def _pages(self, select: str, column: str, after: object, key: int) -> Iterator[Row]:
        """Keyset pages of ``select`` in ``column`` order, from ``column > after``."""
        while True:
            rows = self._run(f"{select} WHERE {column} > ? ORDER BY {column} LIMIT ?",
                             (after, PAGE_ROWS))
            yield from rows
            if len(rows) < PAGE_ROWS:
                return
            after = rows[-1][key]

    def put_budget(self, budget: Budget) -> None:
        _in_range("budget account_id", budget.account_id, U128_MAX)
        _in_range("budget amount", budget.amount, U128_MAX)
        _in_range("budget ledger", budget.ledger, U32_MAX)
        row = (budget.name, self.u128(budget.account_id), budget.ledger,
               self.u128(budget.amount), budget.period, int(budget.rollover), budget.kind,
               budget.owner)
        with self._transaction(self._begin_write):
            self._run(UPSERT_BUDGET, row)

    def get_budget(self, name: str) -> Budget | None:
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {BUDGET_COLUMNS} FROM ledger_budgets WHERE name = ?",
                             (name,))
        return budget_of(rows[0]) if rows else None

    def list_budgets(self) -> list[Budget]:
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {BUDGET_COLUMNS} FROM ledger_budgets ORDER BY name")
        return [budget_of(r) for r in rows]


class _Transaction:
    """:meth:`SQLLedger._transaction` (a class: a generator context manager costs a few µs,
    a tenth of a one-transfer commit). Driver errors become :class:`StoreError`."""

    __slots__ = ("_begin", "_store")

    def __init__(self, store: SQLLedger, begin: Callable[[], Any]) -> None:
        self._store = store
        self._begin = begin

    def __enter__(self) -> Any:
        self._store._lock.acquire()
        try:
            return self._begin()
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)  # a driver error: StoreError
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        store = self._store
        try:
            if exc is not None:
                with suppress(*store.driver_errors):  # the first error is the one to see
                    store._rollback()
                store._after_rollback()
                if isinstance(exc, store.driver_errors):
                    store._after_rollback()
                    raise StoreError(f"{store.dialect} ledger: {exc}") from exc
                return  # not suppressed: the block's exception goes on
            try:
                store._commit()
                store._after_commit()
            except store.driver_errors as error:
                store._after_rollback()
                raise StoreError(f"{store.dialect} ledger: {error}") from error
        finally:
            store._lock.release()


def _valid(ids: Iterable[int]) -> set[int]:
    """The ids that can exist (others are simply not found)."""
    return {i for i in ids if isinstance(i, int) and 0 < i < U128_MAX}

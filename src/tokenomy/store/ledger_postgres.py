"""The ledger in PostgreSQL (``postgresql://…``): several gateway processes, one database.

psycopg 3, one connection per store object (autocommit off, statements prepared on first
use). A write transaction first locks the ``ledger_meta`` row (``FOR UPDATE``): that row holds
the last timestamp, so timestamps are strictly increasing across processes, and it is the
ledger's commit lock — batches apply one at a time, in timestamp order, as TigerBeetle's single
core does; then it locks every account row the batch can touch with
``SELECT … WHERE id = ANY(%s) ORDER BY id FOR UPDATE``. Every writer takes its locks in that
one order (meta row, then accounts by id), so concurrent batches never deadlock. u128 values
are NUMERIC(39,0); all other integers travel as int8.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from functools import lru_cache

import psycopg
from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper

from tokenomy.store.ledger_sql import Row, SQLLedger

MIGRATION_LOCK = 0x746F6B656E6F6D79  # pg_advisory_xact_lock key: "tokenomy"
CONNECT_TIMEOUT_S = 10


@lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """The shared SQL's ``?`` parameters in psycopg's ``%s`` form."""
    return sql.replace("?", "%s")


class PostgresLedger(SQLLedger):
    """A :class:`~tokenomy.ledger.protocol.LedgerStore` on one PostgreSQL connection."""

    dialect = "postgresql"
    greatest = "GREATEST"
    driver_errors = (psycopg.Error,)

    def __init__(self, connection: psycopg.Connection[Row], url: str,
                 clock: Callable[[], int]) -> None:
        super().__init__(clock)
        self._db = connection
        self.url = url

    @classmethod
    def open(cls, url: str, clock: Callable[[], int]) -> PostgresLedger:
        db = psycopg.connect(url, autocommit=False, prepare_threshold=0,
                             connect_timeout=CONNECT_TIMEOUT_S)
        try:
            db.adapters.register_dumper(int, Int8Dumper)
            db.adapters.register_dumper(int, Int8BinaryDumper)
            # Every hot query is a primary-key or index lookup. A plan cached while a table
            # was small (or analyzed empty) would scan it whole forever after: plan each call
            # with its parameters, and never prefer a sequential scan on this connection.
            db.execute("SET plan_cache_mode = force_custom_plan")
            db.execute("SET enable_seqscan = off")
            db.commit()
            store = cls(db, url, clock)
            store.migrate()
        except BaseException:
            db.close()
            raise
        return store

    @property
    def connection(self) -> psycopg.Connection[Row]:
        return self._db

    def u128(self, value: int) -> object:
        return Decimal(value)

    def _run(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        if params:
            cursor = self._db.execute(_pg(sql), params)
        else:
            cursor = self._db.execute(sql, prepare=False)  # DDL, scripts: sent as they are
        return cursor.fetchall() if cursor.description is not None else []

    def _run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)

    def _select_ids(self, sql: str, column: str, ids: Collection[int],
                    lock: bool = False) -> list[Row]:
        if not ids:
            return []
        keys = [self.u128(i) for i in sorted(ids)]
        tail = f" ORDER BY {column} FOR UPDATE" if lock else ""
        return self._run(f"{sql} WHERE {column} = ANY(?){tail}", (keys,))

    def _begin_write(self) -> None:
        """Nothing to send: the transaction starts with its first statement, and the
        timestamp UPDATE on ``ledger_meta`` is the writer lock."""

    def _begin_batch(self, durable: bool) -> None:
        self._begin_write()
        if not durable:  # this transaction's commit need not wait for its WAL flush
            self._run("SET LOCAL synchronous_commit TO off")

    def _lock_writer(self) -> None:
        self._run("SELECT last_timestamp FROM ledger_meta WHERE id = ? FOR UPDATE", (1,))

    def _begin_read(self) -> None:
        self._run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def _begin_migration(self) -> None:
        self._run("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def _commit(self) -> None:
        self._db.commit()

    def _rollback(self) -> None:
        self._db.rollback()

    def close(self) -> None:
        self._db.close()

"""Persistence: the embedded SQLite store (default) and, by URL, PostgreSQL.

In: a database URL from the settings. Out: an open :class:`~tokenomy.store.sqlite.SQLiteStore`
with its schema migrated, and (``open_ledger``) the ledger store for that URL —
:class:`~tokenomy.store.ledger_sqlite.SQLiteLedger` or
:class:`~tokenomy.store.ledger_postgres.PostgresLedger` (imported on use: psycopg loads only
for a ``postgresql://`` URL); ``open_gateway_store`` is that ledger with the gateway's
tables (keys, request records, idempotency keys). Each numbered migration runs once, inside
one transaction.
"""

from tokenomy.store.migrations import MIGRATIONS, Migration
from tokenomy.store.sqlite import SQLiteStore
from tokenomy.store.url import (
    StoreError,
    StoreURL,
    open_gateway_store,
    open_ledger,
    open_store,
    parse_url,
)

__all__ = [
    "MIGRATIONS",
    "Migration",
    "SQLiteStore",
    "StoreError",
    "StoreURL",
    "open_gateway_store",
    "open_ledger",
    "open_store",
    "parse_url",
]

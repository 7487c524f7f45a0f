"""Database URLs: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``postgresql://…``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from tokenomy.ledger.protocol import LedgerStore
    from tokenomy.store.ledger_sql import SQLLedger
    from tokenomy.store.sqlite import SQLiteStore


class StoreError(RuntimeError):
    """A store that cannot be opened or used."""


@dataclass(frozen=True, slots=True)
class StoreURL:
    scheme: str  # "sqlite" or "postgresql"
    target: str  # a file path for SQLite, the whole URL for PostgreSQL


def parse_url(url: str) -> StoreURL:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise StoreError(f"{url!r}: no database file named")
        return StoreURL("sqlite", path)
    if url == "sqlite://" or url == "sqlite:///:memory:":
        return StoreURL("sqlite", ":memory:")
    if url.startswith(("postgresql://", "postgres://")):
        return StoreURL("postgresql", url)
    raise StoreError(
        f"unsupported database URL {url!r}; use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def open_store(url: str) -> SQLiteStore:
    """Open (creating and migrating if needed) the store named by ``url``."""
    from tokenomy.store.sqlite import SQLiteStore

    parsed = parse_url(url)
    if parsed.scheme == "postgresql":
        raise StoreError(
            "usage records are stored only in SQLite (sqlite:///PATH) in this version; the "
            "ledger (open_ledger) takes postgresql:// URLs"
        )
    return SQLiteStore.open(parsed.target)


def open_ledger(url: str, clock: Callable[[], int], synchronous: str = "full") -> LedgerStore:
    """Open (creating and migrating if needed) the ledger in the database named by ``url``.

    ``clock`` gives nanoseconds; ``synchronous`` (SQLite only) is ``"full"`` (durable on
    acknowledgement) or ``"normal"`` (faster; the last commits may be lost on power loss).
    """
    parsed = parse_url(url)
    if parsed.scheme == "postgresql":
        from tokenomy.store.ledger_postgres import PostgresLedger

        return PostgresLedger.open(parsed.target, clock)
    from tokenomy.store.ledger_sqlite import SQLiteLedger

    return SQLiteLedger.open(parsed.target, clock, synchronous=synchronous)


def open_gateway_store(url: str, clock: Callable[[], int]) -> SQLLedger:
    """The ledger with the gateway's tables (keys, request records), durable on commit."""
    parsed = parse_url(url)
    if parsed.scheme == "postgresql":
        from tokenomy.store.ledger_postgres import PostgresLedger

        return PostgresLedger.open(parsed.target, clock)
    from tokenomy.store.ledger_sqlite import SQLiteLedger

    return SQLiteLedger.open(parsed.target, clock)

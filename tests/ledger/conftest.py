"""Ledger fixtures: the same tests run against every store.

``ledger`` is a fresh, empty ledger store for each test, parametrized over the stores in
``STORES``: ``memory``, ``sqlite`` (a file in the test's tmp dir) and ``postgresql`` (a new
database on the session's throwaway server, see ``pg_fixture``). ``clock`` is a deterministic
nanosecond clock the test can advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pg_fixture import cluster, stop_cluster
from tokenomy.ledger import MemoryLedger
from tokenomy.ledger.protocol import LedgerStore
from tokenomy.store import open_ledger


class Clock:
    """A nanosecond clock that moves only when told (starts at 1 s)."""

    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float | int) -> None:
        self.now += int(seconds * 1_000_000_000)


def _memory(clock: Clock, tmp_path: Path) -> Iterator[LedgerStore]:
    yield MemoryLedger(clock)  # type: ignore[misc]


def _sqlite(clock: Clock, tmp_path: Path) -> Iterator[LedgerStore]:
    store = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", clock)
    yield store
    store.close()


def _postgresql(clock: Clock, tmp_path: Path) -> Iterator[LedgerStore]:
    store = open_ledger(cluster().new_database(), clock)
    yield store
    store.close()


# name → factory(clock, tmp_path) yielding a store; stores register here.
STORES: dict[str, Callable[[Clock, Path], Iterator[LedgerStore]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


@pytest.fixture(scope="session", autouse=True)
def _postgres_server() -> Iterator[None]:
    """Stops the throwaway PostgreSQL server (if a test started it) when the session ends."""
    yield
    stop_cluster()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=sorted(STORES))
def ledger(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> Iterator[LedgerStore]:
    factory = STORES[request.param]
    yield from factory(clock, tmp_path)

"""Ledger fixtures: the same tests run against every store.

``ledger`` is a fresh, empty ledger store for each test, parametrized over the stores that
exist (``memory`` now; the SQLite and PostgreSQL stores add themselves in ``STORES``).
``clock`` is a deterministic nanosecond clock the test can advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokenomy.ledger import MemoryLedger
from tokenomy.ledger.protocol import LedgerStore


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


# name → factory(clock, tmp_path) yielding a store; stores register here.
STORES: dict[str, Callable[[Clock, Path], Iterator[LedgerStore]]] = {"memory": _memory}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=sorted(STORES))
def ledger(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> Iterator[LedgerStore]:
    factory = STORES[request.param]
    yield from factory(clock, tmp_path)

"""Group commit: many requests' chains in one transaction, each answered with its own results."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tokenomy.gateway.writer import LedgerWriter
from tokenomy.ledger.budgets import LEDGER_USD, set_budget
from tokenomy.ledger.charges import levels, reserve_transfers
from tokenomy.ledger.types import CreateTransferResult
from tokenomy.store import open_gateway_store

R = CreateTransferResult


def test_concurrent_reservations_share_commits_and_keep_their_own_results(
        tmp_path: Path) -> None:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'w.db'}", time.time_ns)
    set_budget(store, "org", 1_000, LEDGER_USD, at=time.time_ns())
    set_budget(store, "org/team", 500, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org/team")
    writer = LedgerWriter(store)
    writer.start()

    async def run() -> list[list[R]]:
        jobs = [writer.submit(reserve_transfers(chain, 100, f"r{i}")) for i in range(8)]
        return await asyncio.gather(*jobs)

    try:
        results = asyncio.run(run())
    finally:
        writer.stop()
    ok = [r for r in results if r == [R.OK, R.OK]]
    refused = [r for r in results if r != [R.OK, R.OK]]
    assert len(ok) == 5 and len(refused) == 3  # the team level holds 500: five of 100
    assert all(r[0] is R.EXCEEDS_CREDITS for r in refused)
    assert writer.batches <= 8
    assert store.verify() == []
    store.close()


def test_a_relaxed_batch_never_relaxes_the_writes_after_it(tmp_path: Path) -> None:
    """Reservations may commit without an fsync (the next capture's commit carries them to
    disk); every other write stays as durable as the store was opened (FULL = 2)."""
    store = open_gateway_store(f"sqlite:///{tmp_path / 'r.db'}", time.time_ns)
    set_budget(store, "org", 1_000, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org")
    level = store.connection.execute  # type: ignore[attr-defined]
    assert level("PRAGMA synchronous").fetchone()[0] == 2
    assert store.commit_batch(reserve_transfers(chain, 10, "a"), durable=False) == [R.OK]
    assert level("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, for that batch
    assert store.commit_batch(reserve_transfers(chain, 10, "b")) == [R.OK]
    assert level("PRAGMA synchronous").fetchone()[0] == 2
    store.commit_batch(reserve_transfers(chain, 10, "c"), durable=False)
    set_budget(store, "org2", 5, LEDGER_USD, at=time.time_ns())  # an ordinary write
    assert level("PRAGMA synchronous").fetchone()[0] == 2
    store.close()


def test_a_lone_request_commits_inline_and_gets_the_same_results(tmp_path: Path) -> None:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'i.db'}", time.time_ns)
    set_budget(store, "org", 150, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org")
    writer = LedgerWriter(store)
    writer.start()

    async def run() -> list[list[R]]:
        first = await writer.submit(reserve_transfers(chain, 100, "x"), alone=True)
        second = await writer.submit(reserve_transfers(chain, 100, "y"), alone=True)
        third = await writer.submit(reserve_transfers(chain, 50, "z"))  # via the thread
        return [first, second, third]

    try:
        assert asyncio.run(run()) == [[R.OK], [R.EXCEEDS_CREDITS], [R.OK]]
    finally:
        writer.stop()
    assert writer.inline == 2 and writer.batches == 1
    store.close()

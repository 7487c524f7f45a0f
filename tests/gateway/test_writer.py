"""Group commit: many requests' chains in one transaction, each answered with its own results."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import cast

from hypothesis import given
from hypothesis import strategies as st

from tokenomy.gateway.writer import BATCH_TRANSFERS_MAX, Job, LedgerWriter, batches
from tokenomy.ledger.budgets import LEDGER_USD, set_budget
from tokenomy.ledger.charges import levels, reserve_transfers
from tokenomy.ledger.types import CreateTransferResult, Transfer
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


def test_on_the_loop_one_turn_s_submissions_commit_together(tmp_path: Path) -> None:
    """``on_loop``: what is submitted during one turn of the event loop is one transaction,
    each caller answered with its own results, a batch cut at the transfer limit."""
    store = open_gateway_store(f"sqlite:///{tmp_path / 'l.db'}", time.time_ns)
    set_budget(store, "org", 1_000, LEDGER_USD, at=time.time_ns())
    set_budget(store, "org/team", 500, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org/team")
    writer = LedgerWriter(store, on_loop=True)
    writer.start()

    async def run() -> list[list[R]]:
        jobs = [writer.submit(reserve_transfers(chain, 100, f"r{i}")) for i in range(8)]
        return await asyncio.gather(*jobs)

    results = asyncio.run(run())
    writer.stop()
    assert results[:5] == [[R.OK, R.OK]] * 5  # in order: the team level holds five of 100
    assert all(r[0] is R.EXCEEDS_CREDITS for r in results[5:])
    assert writer.batches == 1 and writer.inline == 0
    assert store.verify() == []
    store.close()


def test_on_the_loop_a_store_error_reaches_every_caller_of_its_batch(tmp_path: Path) -> None:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'e.db'}", time.time_ns)
    set_budget(store, "org", 1_000, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org")
    writer = LedgerWriter(store, on_loop=True)
    store.close()  # every statement now fails

    async def run() -> list[BaseException | list[R]]:
        jobs = [writer.submit(reserve_transfers(chain, 10, f"e{i}")) for i in range(3)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    outcomes = asyncio.run(run())
    assert len(outcomes) == 3 and all(isinstance(o, Exception) for o in outcomes)
    assert writer.batches == 0


@given(sizes=st.lists(st.integers(min_value=0, max_value=BATCH_TRANSFERS_MAX), max_size=40))
def test_batches_keep_order_and_never_pass_the_limit(sizes: list[int]) -> None:
    jobs = [Job([cast(Transfer, None)] * n) for n in sizes]
    cut = batches(jobs)
    assert [j for batch in cut for j in batch] == jobs  # every job once, in order
    assert all(batch and sum(len(j.transfers) for j in batch) <= BATCH_TRANSFERS_MAX
               for batch in cut)
    for before, after in itertools.pairwise(cut):  # a cut only where the next would not fit
        assert (sum(len(j.transfers) for j in before) + len(after[0].transfers)
                > BATCH_TRANSFERS_MAX)


def test_on_the_loop_a_busy_store_is_waited_for_by_a_thread_not_the_loop(
        tmp_path: Path) -> None:
    """While another thread is in a transaction on the store (a long report, say), the loop's
    batches go to a worker thread: the loop goes on turning, and the commits land after."""
    store = open_gateway_store(f"sqlite:///{tmp_path / 'b.db'}", time.time_ns)
    set_budget(store, "org", 1_000, LEDGER_USD, at=time.time_ns())
    chain = levels(store, "org")
    writer = LedgerWriter(store, on_loop=True)
    holding, release = threading.Event(), threading.Event()

    def long_read() -> None:
        with store._transaction(store._begin_read):  # type: ignore[attr-defined]
            holding.set()
            release.wait(10)

    async def run() -> tuple[list[list[R]], int]:
        reader = asyncio.get_running_loop().run_in_executor(None, long_read)
        await asyncio.get_running_loop().run_in_executor(None, holding.wait)
        jobs = asyncio.gather(*(writer.submit(reserve_transfers(chain, 10, f"b{i}"), alone=i == 0)
                                for i in range(3)))
        ticks = 0
        while ticks < 20:  # the loop turns while the store is held
            await asyncio.sleep(0.005)
            ticks += 1
        assert not jobs.done()
        release.set()
        results = await jobs
        await reader
        return results, ticks

    results, ticks = asyncio.run(run())
    writer.stop()
    assert results == [[R.OK]] * 3 and ticks == 20
    assert writer.handed_off >= 1 and writer.inline == 0
    assert store.verify() == []
    store.close()

"""Group commit: many requests' chains in one transaction, each answered with its own results."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.gateway.writer import BATCH_TRANSFERS_MAX, Job, LedgerWriter, batches
from tokenomy.ledger.budgets import LEDGER_USD, Budget, set_budget
from tokenomy.ledger.charges import levels, reserve_transfers
from tokenomy.ledger.types import CreateTransferResult, Transfer
from tokenomy.store import open_gateway_store
from tokenomy.store.ledger_sqlite import SQLiteLedger

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


# -- the syncer: on the loop, durable jobs are answered after a sync in a thread of its own --


class Gate:
    """The store's WAL sync, held until released: each call waits for one ``release``."""

    def __init__(self, store: SQLiteLedger) -> None:
        self.store = store
        self.started = threading.Semaphore(0)
        self.go = threading.Semaphore(0)
        self.calls = 0
        self.fail: Exception | None = None

    def __call__(self) -> None:
        self.calls += 1
        self.started.release()
        assert self.go.acquire(timeout=10), "a sync was never released"
        if self.fail is not None:
            raise self.fail
        self.store.sync_wal()

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.acquire, True, 10)


def _store(tmp_path: Path, name: str) -> tuple[SQLiteLedger, list[Budget]]:
    store = open_gateway_store(f"sqlite:///{tmp_path / name}", time.time_ns)
    assert isinstance(store, SQLiteLedger) and store.wal
    set_budget(store, "org", 10_000, LEDGER_USD, at=time.time_ns())
    return store, levels(store, "org")


def test_a_durable_job_is_answered_after_its_sync_while_the_loop_goes_on(
        tmp_path: Path) -> None:
    store, chain = _store(tmp_path, "s.db")
    gate = Gate(store)
    writer = LedgerWriter(store, on_loop=True, sync=gate)

    async def run() -> None:
        capture = asyncio.ensure_future(writer.submit(reserve_transfers(chain, 10, "a"),
                                                      alone=True))
        await gate.wait_started()
        # Committed (other requests see it) but not answered: the sync is in flight.
        assert store.lookup_accounts([chain[0].account_id])[0].debits_pending == 10
        for _ in range(5):  # the loop serves meanwhile, reservations included
            await asyncio.sleep(0)
        assert not capture.done()
        held = await writer.submit(reserve_transfers(chain, 10, "b"), durable=False,
                                   alone=True)
        assert held == [R.OK] and not capture.done()
        gate.go.release()
        assert await capture == [R.OK]

    asyncio.run(run())
    writer.stop()
    assert gate.calls == writer.syncs == 1 and writer.inline == 2
    store.close()


def test_commits_made_during_a_sync_wait_for_the_next_one(tmp_path: Path) -> None:
    """A sync covers the commits written before it began: one that lands while it runs is
    answered after the next. Commits waiting together share that next sync."""
    store, chain = _store(tmp_path, "g.db")
    gate = Gate(store)
    writer = LedgerWriter(store, on_loop=True, sync=gate)

    async def run() -> None:
        first = asyncio.ensure_future(writer.submit(reserve_transfers(chain, 1, "a"),
                                                    alone=True))
        await gate.wait_started()
        later = [asyncio.ensure_future(writer.submit(reserve_transfers(chain, 1, f"b{i}"),
                                                     alone=i == 0)) for i in range(3)]
        for _ in range(5):
            await asyncio.sleep(0)  # all three commit: inline, then the next turn's batch
        assert writer.batches == 3 and gate.calls == 1
        gate.go.release()
        assert await first == [R.OK]
        await gate.wait_started()  # the second sync: for the three
        assert not any(t.done() for t in later)
        gate.go.release()
        assert await asyncio.gather(*later) == [[R.OK]] * 3

    asyncio.run(run())
    writer.stop()
    assert gate.calls == writer.syncs == 2
    store.close()


def test_a_failed_sync_reaches_its_callers_and_the_next_one_is_tried(tmp_path: Path) -> None:
    store, chain = _store(tmp_path, "f.db")
    gate = Gate(store)
    writer = LedgerWriter(store, on_loop=True, sync=gate)

    async def run() -> None:
        gate.fail = OSError(5, "Input/output error")
        gate.go.release()
        with pytest.raises(OSError, match="Input/output"):
            await writer.submit(reserve_transfers(chain, 1, "a"), alone=True)
        gate.fail = None
        gate.go.release()
        assert await writer.submit(reserve_transfers(chain, 1, "b"), alone=True) == [R.OK]

    asyncio.run(run())
    writer.stop()
    assert gate.calls == 2
    # committed either way: the caller was told its write may not be on disk, not that it
    # did not happen
    assert store.lookup_accounts([chain[0].account_id])[0].debits_pending == 2
    store.close()


def test_a_quiet_request_commits_and_syncs_inline(tmp_path: Path) -> None:
    """Nothing else in flight: no hand-off to the syncer, the commit itself is durable."""
    store, chain = _store(tmp_path, "q.db")
    gate = Gate(store)
    writer = LedgerWriter(store, on_loop=True, sync=gate)

    async def run() -> list[R]:
        return await writer.submit(reserve_transfers(chain, 1, "q"), alone=True, quiet=True)

    assert asyncio.run(run()) == [R.OK]
    writer.stop()
    assert gate.calls == writer.syncs == 0 and writer.inline == 1
    store.close()


def test_stop_syncs_what_is_owed_and_synced_waits_for_it(tmp_path: Path) -> None:
    store, chain = _store(tmp_path, "o.db")
    gate = Gate(store)
    writer = LedgerWriter(store, on_loop=True, sync=gate)
    outcome: dict[str, object] = {}

    async def run() -> None:
        job = asyncio.ensure_future(writer.submit(reserve_transfers(chain, 1, "a"), alone=True))
        await gate.wait_started()
        replay = asyncio.ensure_future(writer.synced())  # a replay waits for the sync owed
        later = asyncio.ensure_future(writer.submit(reserve_transfers(chain, 1, "b"),
                                                    alone=True))
        for _ in range(3):
            await asyncio.sleep(0)
        assert not (replay.done() or job.done() or later.done())
        gate.go.release()  # the sync in flight ends inside stop() …
        gate.go.release()  # … which then syncs what it did not cover
        writer.stop()  # on the loop's thread, as the app's shutdown calls it
        outcome["job"], outcome["later"] = await job, await later
        await replay
        assert await asyncio.wait_for(writer.synced(), 1) is None  # nothing owed: at once

    asyncio.run(run())
    assert outcome == {"job": [R.OK], "later": [R.OK]}
    assert gate.calls == writer.syncs == 2
    store.close()


class Recorder:
    """The store as the writer sees it, noting each commit; and its WAL sync, noting each."""

    def __init__(self, store: SQLiteLedger) -> None:
        self.store = store
        self.events: list[tuple[str, int, object]] = []  # (what, order, detail)
        self._order = itertools.count()
        self._lock = threading.Lock()

    def note(self, what: str, detail: object = None) -> int:
        with self._lock:
            at = next(self._order)
            self.events.append((what, at, detail))
            return at

    def commit_batch(self, transfers: Sequence[Transfer], records: Sequence[object] = (),
                     done: Sequence[tuple[str, str, int, str, str]] = (),
                     durable: bool = True) -> list[R]:
        results = self.store.commit_batch(transfers, (), done, durable=durable)
        self.note("commit", (frozenset(t.id for t in transfers), durable))
        return results

    def busy(self) -> bool:
        return self.store.busy()

    def sync(self) -> None:
        self.note("sync-start")
        time.sleep(0.0005)
        self.store.sync_wal()
        self.note("sync-end")


steps = st.lists(st.one_of(
    st.tuples(st.just("submit"), st.booleans(), st.booleans(), st.booleans()),  # durable,
    st.tuples(st.just("turn")), st.tuples(st.just("pause"))), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None)
@given(plan=steps)
def test_no_durable_job_is_answered_before_a_sync_that_followed_its_commit(
        plan: list[tuple[object, ...]]) -> None:
    """Whatever the interleaving: a durable job whose commit did not sync (one ``quiet`` and
    inline does) is answered only after a sync that began after its commit ended; every job is
    answered once, with its own result."""
    with tempfile.TemporaryDirectory() as name:
        store, chain = _store(Path(name), "p.db")
        recorder = Recorder(store)
        writer = LedgerWriter(cast(Any, recorder), on_loop=True, sync=recorder.sync)
        jobs: list[tuple[int, bool]] = []  # (transfer id, durable)

        async def one(index: int, durable: bool, alone: bool, quiet: bool) -> None:
            transfers = reserve_transfers(chain, 1, f"p{index}")
            jobs.append((transfers[0].id, durable))
            result = await writer.submit(transfers, durable=durable, alone=alone,
                                         quiet=quiet and alone)
            recorder.note("answer", (transfers[0].id, result))

        async def run() -> None:
            tasks = []
            for index, step in enumerate(plan):
                if step[0] == "submit":
                    _, durable, alone, quiet = step
                    tasks.append(asyncio.ensure_future(
                        one(index, bool(durable), bool(alone), bool(quiet))))
                elif step[0] == "turn":
                    await asyncio.sleep(0)
                else:
                    await asyncio.sleep(0.001)
            await asyncio.gather(*tasks)

        asyncio.run(run())
        writer.stop()
        commits = {tid: (at, flag) for what, at, detail in recorder.events if what == "commit"
                   for ids, flag in [cast(tuple[frozenset[int], bool], detail)] for tid in ids}
        answers = [(at, cast(tuple[int, list[R]], d)) for w, at, d in recorder.events
                   if w == "answer"]
        syncs = [(s, e) for (w, s, _), (w2, e, _) in itertools.pairwise(
            [ev for ev in recorder.events if ev[0] in ("sync-start", "sync-end")])
            if w == "sync-start" and w2 == "sync-end"]
        assert sorted(d[0] for _, d in answers) == sorted(j[0] for j in jobs)  # each once
        assert all(d[1] == [R.OK] for _, d in answers)
        for tid, durable in jobs:
            committed, durable_commit = commits[tid]
            answered = next(at for at, d in answers if d[0] == tid)
            assert committed < answered
            if durable and not durable_commit:  # not synced by its commit itself (quiet)
                assert any(committed < start and end < answered for start, end in syncs), (
                    f"job {tid} answered without a sync after its commit")
        assert store.verify() == []
        store.close()

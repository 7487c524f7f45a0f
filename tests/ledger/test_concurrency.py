"""64 clients reserve against ONE budget at once: no overspend, no deadlock, nothing lost.

Each client has its own store connection (a thread each; for SQLite also 8 processes × 8
threads on one file) and runs rounds of: reserve (a pending debit of the budget), then post
it whole, post half, void it, or leave it pending. The budget has
``debits_must_not_exceed_credits`` and fewer credits than the clients ask for, so many
reservations must fail with ``exceeds_credits`` — and that is the only failure allowed.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from pg_fixture import cluster
from tokenomy.ledger import Account, AccountFlags, Transfer, TransferFlags
from tokenomy.store import open_ledger

CLIENTS = 64
ROUNDS = 4
AMOUNT = 10
CAPACITY = 1_000  # < CLIENTS × (10 + 5 + 0 + 10): the budget runs out
FUNDING, BUDGET, SINK = 1, 2, 3
JOIN_SECONDS_MAX = 120  # a client still running then is stuck (a deadlock)
F = TransferFlags

Outcome = tuple[str, int, str]  # (what, amount it moved or holds, result)


def _setup(url: str) -> None:
    store = open_ledger(url, time.time_ns)
    try:
        budget = Account(BUDGET, 1, 2, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
        assert store.create_accounts([Account(FUNDING, 1, 1), budget, Account(SINK, 1, 3)]
                                     ) == ["ok"] * 3
        assert store.create_transfers([Transfer(1, FUNDING, BUDGET, CAPACITY, ledger=1,
                                                code=1)]) == ["ok"]
    finally:
        store.close()


def _client(url: str, client: int, start: threading.Barrier | None = None) -> list[Outcome]:
    """One client's rounds; each outcome says what the budget should now show for it."""
    store = open_ledger(url, time.time_ns)
    outcomes: list[Outcome] = []
    try:
        if start is not None:
            start.wait()
        for round_ in range(ROUNDS):
            reserve_id = 1_000_000 + client * 100 + round_ * 2
            reserved = store.create_transfers([Transfer(
                reserve_id, BUDGET, SINK, AMOUNT, ledger=1, code=2, flags=F.PENDING)])[0]
            if reserved != "ok":
                outcomes.append(("refused", 0, reserved))
                continue
            action = round_ % 4
            if action == 3:
                outcomes.append(("held", AMOUNT, "ok"))
                continue
            flag = F.VOID_PENDING_TRANSFER if action == 2 else F.POST_PENDING_TRANSFER
            amount = (AMOUNT, AMOUNT // 2, 0)[action]
            resolved = store.create_transfers([Transfer(
                reserve_id + 1, amount=amount, pending_id=reserve_id, flags=flag)])[0]
            outcomes.append(("posted" if action < 2 else "voided", amount, resolved))
    finally:
        store.close()
    return outcomes


def _threads(url: str, clients: list[int], barrier: bool = True) -> list[Outcome]:
    start = threading.Barrier(len(clients)) if barrier else None
    results: dict[int, list[Outcome]] = {}
    errors: list[BaseException] = []

    def run(client: int) -> None:
        try:
            results[client] = _client(url, client, start)
        except BaseException as exc:  # reported below: only result codes are allowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS_MAX)
    assert not any(t.is_alive() for t in threads), "a client is stuck (deadlock?)"
    assert errors == []
    return [o for c in clients for o in results[c]]


def _processes(url: str) -> list[Outcome]:
    """8 processes × 8 client threads, all on the same SQLite file."""
    context = multiprocessing.get_context("fork")
    groups = [list(range(p, CLIENTS, 8)) for p in range(8)]
    with context.Pool(8) as pool:
        per_process = pool.starmap(_threads, [(url, g, False) for g in groups],
                                   chunksize=1)
    return [o for outcomes in per_process for o in outcomes]


def _check(url: str, outcomes: list[Outcome]) -> None:
    assert len(outcomes) == CLIENTS * ROUNDS  # every result accounted for
    results = Counter(result for _, _, result in outcomes)
    assert set(results) <= {"ok", "exceeds_credits"}, results
    assert results["exceeds_credits"] > 0  # the budget did run out
    kinds = Counter(kind for kind, _, _ in outcomes)
    store = open_ledger(url, time.time_ns)
    try:
        budget = store.lookup_accounts([BUDGET])[0]
        held = sum(amount for kind, amount, _ in outcomes if kind == "held")
        posted = sum(amount for kind, amount, _ in outcomes if kind == "posted")
        assert budget.debits_pending == held
        assert budget.debits_posted == posted
        assert budget.credits_posted == CAPACITY
        assert budget.debits_pending + budget.debits_posted <= budget.credits_posted  # 0 over
        granted = CLIENTS * ROUNDS - kinds["refused"]
        reservation_ids = [1_000_000 + c * 100 + r * 2 for c in range(CLIENTS)
                           for r in range(ROUNDS)]
        assert len(store.lookup_transfers(reservation_ids)) == granted
        assert store.verify() == []
    finally:
        store.close()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_64_threads_never_overspend_one_budget(store: str, tmp_path: Path) -> None:
    url = (f"sqlite:///{tmp_path / 'budget.db'}" if store == "sqlite"
           else cluster().new_database())
    _setup(url)
    _check(url, _threads(url, list(range(CLIENTS))))


def test_64_clients_in_8_processes_never_overspend_one_sqlite_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'budget.db'}"
    _setup(url)
    _check(url, _processes(url))


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_one_store_object_shared_by_threads_takes_turns(store: str, tmp_path: Path) -> None:
    url = (f"sqlite:///{tmp_path / 'shared.db'}" if store == "sqlite"
           else cluster().new_database())
    _setup(url)
    shared = open_ledger(url, time.time_ns)
    results: list[str] = []

    def run(client: int) -> None:
        for n in range(20):
            results.extend(shared.create_transfers([Transfer(
                10_000 + client * 100 + n, FUNDING, SINK, 1, ledger=1, code=1)]))

    threads = [threading.Thread(target=run, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS_MAX)
    try:
        assert results == ["ok"] * 160
        assert shared.lookup_accounts([SINK])[0].credits_posted == 160
        assert shared.verify() == []
    finally:
        shared.close()

"""Every ledger store behaves as the in-memory one, and the durable ones keep what they said.

The differential test replays one seeded stream of batches (pendings with timeouts, posts,
voids, linked chains, balancing, replays, retired ids, expiry) into the store under test and
into a :class:`MemoryLedger`: every result, account and transfer must be the same.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from conftest import Clock
from pg_fixture import cluster
from tokenomy.ledger import (
    AMOUNT_MAX,
    BATCH_MAX,
    U128_MAX,
    Account,
    AccountFlags,
    CreateTransferResult,
    MemoryLedger,
    Transfer,
    TransferFlags,
)
from tokenomy.ledger.budgets import Budget
from tokenomy.ledger.protocol import LedgerStore
from tokenomy.store import MIGRATIONS, StoreError, open_ledger, open_store
from tokenomy.store.ledger_postgres import PostgresLedger
from tokenomy.store.ledger_sqlite import SQLiteLedger

R = CreateTransferResult
F = TransferFlags
DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CMNED = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
BIG = 2**127 + 12345  # above SQLite's INTEGER and any 64-bit type


def _accounts() -> list[Account]:
    return [
        Account(1, 1, 10),  # funding: no limit
        Account(2, 1, 20, DMNEC, user_data_64=2**64 - 1, user_data_128=U128_MAX),
        Account(3, 1, 20, DMNEC, user_data_32=2**32 - 1),
        Account(BIG, 1, 30),
        Account(5, 1, 40, CMNED),
        Account(6, 2, 10),
        Account(7, 2, 10),
    ]


def _random_batch(rng: random.Random, sent: list[Transfer], next_id: int) -> list[Transfer]:
    ids_on_1 = [1, 2, 3, BIG, 5]
    batch: list[Transfer] = []
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        pendings = [t for t in sent if t.flags & F.PENDING]
        if roll < 0.12 and sent:  # a replay, sometimes with another amount
            old = rng.choice(sent)
            batch.append(replace(old, amount=old.amount + rng.choice((0, 0, 1)), timestamp=0))
            continue
        if roll < 0.35 and pendings:
            p = rng.choice(pendings)
            flag = rng.choice((F.POST_PENDING_TRANSFER, F.VOID_PENDING_TRANSFER))
            amount = rng.choice((0, AMOUNT_MAX, p.amount, max(1, p.amount // 2), p.amount + 1))
            batch.append(Transfer(next_id, amount=amount, pending_id=p.id, flags=flag))
        else:
            dr, cr = rng.sample(ids_on_1, 2)
            if rng.random() < 0.1:
                dr, cr = 6, 7
            flags = rng.choice((F.NONE, F.NONE, F.PENDING, F.PENDING, F.BALANCING_DEBIT))
            timeout = rng.choice((0, 1, 3)) if flags & F.PENDING else 0
            batch.append(Transfer(next_id, dr, cr, rng.randint(1, 400), ledger=1 if dr != 6
                                  else 2, code=7, flags=flags, timeout=timeout,
                                  user_data_64=rng.choice((0, 2**64 - 1)),
                                  user_data_128=rng.choice((0, U128_MAX - 1))))
        if rng.random() < 0.25:  # link it to the next one
            batch[-1] = replace(batch[-1], flags=batch[-1].flags | F.LINKED)
        next_id += 1
    return batch


def test_every_store_matches_the_memory_ledger(ledger: LedgerStore, clock: Clock) -> None:
    rng = random.Random(20_25)
    reference = MemoryLedger(clock)
    assert ledger.create_accounts(_accounts()) == reference.create_accounts(_accounts())
    grants = [Transfer(900 + i, 1, a, 2_000, ledger=1, code=1) for i, a in enumerate((2, 3))]
    grants.append(Transfer(902, 5, 1, 3_000, ledger=1, code=1))
    assert ledger.create_transfers(grants) == reference.create_transfers(grants)
    sent: list[Transfer] = []
    for step in range(60):
        batch = _random_batch(rng, sent, 1_000 + step * 10)
        assert ledger.create_transfers(batch) == reference.create_transfers(batch), step
        sent.extend(batch)
        clock.advance(rng.choice((0, 0, 0.5, 1, 2)))
        if step % 7 == 0:
            assert ledger.expire_pending() == reference.expire_pending()
    ids = sorted({t.id for t in sent} | {900, 901, 902, 4_242})
    assert ledger.lookup_transfers(ids) == reference.lookup_transfers(ids)
    assert ledger.list_accounts() == reference.list_accounts()
    assert ledger.lookup_accounts([BIG, 2, 99, 0, -1]) == reference.lookup_accounts([BIG, 2, 99])
    assert ledger.verify() == [] == reference.verify()


@pytest.mark.parametrize("size", [31, 32, 33, 97, 600])
def test_large_batches_match_the_memory_ledger(ledger: LedgerStore, clock: Clock,
                                               size: int) -> None:
    """Batches around the SQLite store's multi-row INSERT (32 journal rows a statement) and
    above its one-statement lookup (500 ids): the same results and journal as in memory."""
    rng = random.Random(size)
    reference = MemoryLedger(clock)
    assert ledger.create_accounts(_accounts()) == reference.create_accounts(_accounts())
    grants = [Transfer(900 + i, 1, a, 10**6, ledger=1, code=1) for i, a in enumerate((2, 3))]
    assert ledger.create_transfers(grants) == reference.create_transfers(grants)
    sent: list[Transfer] = []
    next_id = 1_000
    for step in range(3):
        batch: list[Transfer] = []
        while len(batch) < size:
            part = _random_batch(rng, sent + batch, next_id)
            next_id += len(part)
            batch.extend(t for t in part if t.amount <= U128_MAX)  # no input errors here
        batch = batch[:size]
        assert ledger.create_transfers(batch) == reference.create_transfers(batch), step
        sent.extend(batch)
        clock.advance(1)
    ids = sorted({t.id for t in sent})
    assert ledger.lookup_transfers(ids) == reference.lookup_transfers(ids)
    assert ledger.list_accounts() == reference.list_accounts()
    assert ledger.verify() == [] == reference.verify()


def test_accounts_list_in_id_order_across_the_whole_u128_range(ledger: LedgerStore) -> None:
    ids = [U128_MAX - 1, 9, 10, 2**64, 2**63, 100, BIG]
    assert ledger.create_accounts([Account(i, 1 + i % 2, 1) for i in ids]) == ["ok"] * 7
    assert [a.id for a in ledger.list_accounts()] == sorted(ids)
    first = ledger.list_accounts(limit=3)
    rest = ledger.list_accounts(after_id=first[-1].id, limit=100)
    assert [a.id for a in first + rest] == sorted(ids)
    assert [a.id for a in ledger.list_accounts(ledger=1)] == sorted(i for i in ids if i % 2 == 0)
    assert ledger.list_accounts(after_id=U128_MAX - 1) == []
    assert ledger.list_accounts(limit=0) == []


def test_full_u128_balances_round_trip(ledger: LedgerStore) -> None:
    assert ledger.create_accounts([Account(1, 1, 1), Account(2, 1, 1)]) == ["ok", "ok"]
    amount = U128_MAX - 1
    assert ledger.create_transfers([Transfer(1, 1, 2, amount, ledger=1, code=1)]) == ["ok"]
    assert ledger.create_transfers([Transfer(2, 1, 2, 2, ledger=1, code=1)]) == [
        "overflows_debits_posted"]
    dr, cr = ledger.lookup_accounts([1, 2])
    assert dr.debits_posted == amount == cr.credits_posted
    assert ledger.verify() == []


@pytest.mark.parametrize("bad", [
    Transfer(-1, 1, 2, 5, ledger=1, code=1),
    Transfer(U128_MAX + 1, 1, 2, 5, ledger=1, code=1),
    Transfer(1, 1, 2, U128_MAX + 1, ledger=1, code=1),
    Transfer(1, 1, 2, -5, ledger=1, code=1),
    Transfer(1, 1, 2, 5, ledger=1, code=1, user_data_64=2**64),
    Transfer(1, 1, 2, 5, ledger=2**32, code=1),
])
def test_input_that_is_no_result_code_is_refused_and_changes_nothing(
        bad: Transfer, ledger: LedgerStore) -> None:
    if isinstance(ledger, MemoryLedger):
        pytest.skip("the in-memory ledger takes any Python int")
    assert ledger.create_accounts([Account(1, 1, 1), Account(2, 1, 1)]) == ["ok", "ok"]
    with pytest.raises(ValueError):
        ledger.create_transfers([Transfer(7, 1, 2, 5, ledger=1, code=1), bad])
    with pytest.raises(ValueError):
        ledger.create_transfers([Transfer(8, 1, 2, 1, ledger=1, code=1)] * (BATCH_MAX + 1))
    assert ledger.lookup_transfers([7, 8]) == []
    assert ledger.verify() == []


def test_budgets_are_upserted_by_name(ledger: LedgerStore) -> None:
    acme = Budget("acme", BIG, 1, U128_MAX - 5, period="monthly", kind="org", owner="cfo")
    ledger.put_budget(acme)
    ledger.put_budget(Budget("acme/research", 3, 1, 500, rollover=True))
    assert ledger.get_budget("acme") == acme
    ledger.put_budget(replace(acme, amount=7, owner="ceo"))
    assert ledger.get_budget("acme") == replace(acme, amount=7, owner="ceo")
    assert [b.name for b in ledger.list_budgets()] == ["acme", "acme/research"]
    assert ledger.get_budget("acme/research") == Budget("acme/research", 3, 1, 500,
                                                        rollover=True)
    assert ledger.get_budget("nobody") is None


def test_timestamps_increase_across_store_objects_even_when_the_clock_steps_back(
        ledger: LedgerStore, clock: Clock, tmp_path: Path) -> None:
    if isinstance(ledger, MemoryLedger):
        pytest.skip("one object, nothing persisted")
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if isinstance(ledger, SQLiteLedger)
           else ledger.url if isinstance(ledger, PostgresLedger) else "")
    assert ledger.create_accounts([Account(1, 1, 1), Account(2, 1, 1)]) == ["ok", "ok"]
    assert ledger.create_transfers([Transfer(1, 1, 2, 5, ledger=1, code=1)]) == ["ok"]
    early = Clock()
    early.now = clock.now - 10**9
    other = open_ledger(url, early)
    try:
        assert other.create_transfers([Transfer(2, 1, 2, 5, ledger=1, code=1)]) == ["ok"]
    finally:
        other.close()
    first, second = ledger.lookup_transfers([1, 2])
    assert second.timestamp > first.timestamp
    assert ledger.verify() == []


def _fill(store: LedgerStore, clock: Clock) -> None:
    assert store.create_accounts([Account(1, 1, 1), Account(2, 1, 1, DMNEC)]) == ["ok", "ok"]
    assert store.create_transfers([
        Transfer(1, 1, 2, 100, ledger=1, code=1),
        Transfer(2, 2, 1, 60, ledger=1, code=1, flags=F.PENDING, timeout=5),
        Transfer(3, 2, 1, 90, ledger=1, code=1),  # exceeds_credits: id 3 is retired
    ]) == ["ok", "ok", "exceeds_credits"]
    store.put_budget(Budget("team", 2, 1, 100))


def test_sqlite_file_keeps_everything_across_reopen(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    store = open_ledger(url, clock)
    _fill(store, clock)
    before = (store.list_accounts(), store.lookup_transfers([1, 2, 3]))
    store.close()
    clock.advance(6)  # pending 2 is now due
    reopened = open_ledger(url, clock)
    try:
        assert (reopened.list_accounts(), reopened.lookup_transfers([1, 2, 3])) == before
        assert reopened.get_budget("team") == Budget("team", 2, 1, 100)
        assert reopened.create_transfers([
            Transfer(3, 2, 1, 90, ledger=1, code=1),
            Transfer(4, pending_id=2, flags=F.POST_PENDING_TRANSFER),
        ]) == ["id_already_failed", "pending_transfer_expired"]
        assert reopened.lookup_accounts([2])[0].debits_pending == 0  # expired first
        assert reopened.verify() == []
    finally:
        reopened.close()
    schema = open_store(url)  # the general store opens the ledger's file too
    try:
        assert schema.schema_version() == MIGRATIONS[-1].version
    finally:
        schema.close()


def _journal_edits(store: LedgerStore) -> list[str]:
    return ["UPDATE ledger_transfers SET amount = amount",
            "DELETE FROM ledger_transfers"] + (
        ["TRUNCATE ledger_transfers CASCADE"] if isinstance(store, PostgresLedger) else [])


def test_the_journal_refuses_update_and_delete(ledger: LedgerStore, clock: Clock) -> None:
    if isinstance(ledger, MemoryLedger):
        pytest.skip("no SQL")
    _fill(ledger, clock)
    for statement in _journal_edits(ledger):
        if isinstance(ledger, SQLiteLedger):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                ledger.connection.execute(statement)
        elif isinstance(ledger, PostgresLedger):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                ledger.connection.execute(statement)
            ledger.connection.rollback()
    assert len(ledger.lookup_transfers([1, 2])) == 2
    assert ledger.verify() == []


def test_migrations_run_once_and_reopen_is_idempotent(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    general = open_store(url)  # the general store first: it runs the ledger's migrations too
    general.close()
    for _ in range(2):
        store = open_ledger(url, clock)
        assert isinstance(store, SQLiteLedger)
        assert store.migrate() == MIGRATIONS[-1].version
        store.close()


def test_postgres_migrations_run_once(clock: Clock) -> None:
    pg = open_ledger(cluster().new_database(), clock)
    try:
        assert isinstance(pg, PostgresLedger)
        assert pg.migrate() == MIGRATIONS[-1].version
    finally:
        pg.close()


def test_open_ledger_refuses_unknown_urls_and_options(tmp_path: Path, clock: Clock) -> None:
    with pytest.raises(StoreError):
        open_ledger("mysql://x/y", clock)
    with pytest.raises(ValueError):
        open_ledger(f"sqlite:///{tmp_path / 'x.db'}", clock, synchronous="off")

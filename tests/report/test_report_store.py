"""The report reads and feedback writes of the store, on SQLite and PostgreSQL alike:
records over ``[since, until)`` across keyset pages, open reservations per account, feedback
idempotent per (request, outcome), and the facts a report derives from them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tokenomy.ledger.budgets import budget_account_id, parse_major, set_budget
from tokenomy.ledger.charges import reserve
from tokenomy.pricing import load_book
from tokenomy.pricing.stu import build_table
from tokenomy.report.facts import Attributor
from tokenomy.store import open_gateway_store
from tokenomy.store.gateway_sql import RequestRecord
from tokenomy.store.ledger_sql import SQLLedger
from tokenomy.store.report_sql import FeedbackError, UnknownRequestError


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLLedger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'report.db'}"
    else:
        from pg_fixture import cluster

        url = cluster().new_database()
    opened = open_gateway_store(url, time.time_ns)
    yield opened
    opened.close()


def _record(rid: str, started_at: int, budget: str = "t/alice", outcome: str = "ok",
            cost: int = 1_000, idem: str = "") -> RequestRecord:
    usage = '{"tokens": {"input": 100, "output": 20}}'
    return RequestRecord(rid, "key_1", budget, "chat", "sim-small", "sim", False, 200, outcome,
                         usage, False, cost, cost, cost, "USD", "simulator/sim-small@x", False,
                         "180", 10, started_at, started_at + 5, idem)


def test_requests_between_reads_the_half_open_window_across_pages(
        store: SQLLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenomy.store.report_sql.PAGE_ROWS", 3)
    records = [_record(f"r{i:02d}", 1_000 + i // 2) for i in range(12)]  # equal instants
    store.commit_batch([], records)
    got = store.requests_between(1_001, 1_005)
    assert [r.id for r in got] == [f"r{i:02d}" for i in range(2, 10)]
    assert got[0] == records[2]


def test_feedback_is_stored_once_per_request_and_outcome(store: SQLLedger) -> None:
    store.commit_batch([], [_record("req_a", 5)])
    assert store.record_feedback("req_a", "useless", 10)[0] is True
    created, first = store.record_feedback("req_a", "useless", 99)
    assert not created and first.at == 10
    assert store.record_feedback("req_a", "useful", 11)[0] is True
    assert store.feedback_for(["req_a", "req_b"]) == {"req_a": ("useful", "useless")}
    with pytest.raises(UnknownRequestError):
        store.record_feedback("req_b", "useful", 12)
    with pytest.raises(FeedbackError):
        store.record_feedback("req_a", "great", 12)


def test_open_reservations_per_budget_account(store: SQLLedger) -> None:
    now = time.time_ns()
    set_budget(store, "t", parse_major("10", 1), kind="team", at=now)
    set_budget(store, "t/alice", parse_major("5", 1), kind="user", owner="alice", at=now)
    assert reserve(store, "t/alice", 300, "r1").ok and reserve(store, "t/alice", 200, "r2").ok
    held = store.open_reservations()
    alice, team = held[budget_account_id("t/alice")], held[budget_account_id("t")]
    assert (alice.count, alice.amount) == (2, 500) == (team.count, team.amount)


def test_facts_attribute_team_origin_and_retries(store: SQLLedger) -> None:
    now = time.time_ns()
    set_budget(store, "t", parse_major("10", 1), kind="team", at=now)
    book = load_book({})
    records = [_record("req_x", now), _record("req_x-2", now + 1),
               _record("req_y", now + 2, idem="k"), _record("req_z", now + 3, idem="k")]
    facts = Attributor(book, build_table(book, datetime.now(UTC)), store.list_budgets(),
                       {"key_1": "alice-key"}).facts(records)
    assert [f.retried for f in facts] == [True, False, True, False]
    assert {(f.team, f.origin, f.provider, f.key) for f in facts} == {
        ("t", "US", "simulator", "alice-key")}
    for f in facts:
        assert sum(s.cost_nano for s in f.slices) == f.cost_nano == 1_000
        assert sum(s.stu for s in f.slices) == f.stu

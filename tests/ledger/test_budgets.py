"""Budgets over every ledger store. The hierarchy most tests use (USD):

    acme                   1,000   (org)
    acme/research            300   (team)
    acme/research/alice      500   (user: more than her team has; the team caps her)

A charge reserves on all three levels at once; capture posts ≤ the reservation and releases
the rest; release voids. Amounts are in nano-dollars (``D(1)`` = one dollar).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenomy.ledger import MemoryLedger
from tokenomy.ledger.budget_report import report, show
from tokenomy.ledger.budgets import (
    CODE_BUDGET,
    CODE_FUNDING,
    CODE_GRANT,
    CODE_SPEND,
    CODE_SWEEP,
    LEDGER_USD,
    LEDGER_USDC,
    Budget,
    BudgetConflictError,
    BudgetError,
    BudgetNotFoundError,
    derive_id,
    funding_account_id,
    parse_major,
    period_start,
    renew,
    set_budget,
    spend_account_id,
)
from tokenomy.ledger.charges import capture, levels, release, reserve
from tokenomy.ledger.protocol import LedgerStore
from tokenomy.ledger.types import U128_MAX, Account, AccountFlags, CreateTransferResult

R = CreateTransferResult
NS = 1_000_000_000


def D(dollars: int) -> int:
    return dollars * NS


def at(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * NS


JAN = at("2026-01-15T10:00:00")
FEB = at("2026-02-01T00:00:00")
FEB_LATER = at("2026-02-20T00:00:00")


def _acme(ledger: LedgerStore) -> None:
    set_budget(ledger, "acme", D(1000), kind="org", at=JAN)
    set_budget(ledger, "acme/research", D(300), kind="team", at=JAN)
    set_budget(ledger, "acme/research/alice", D(500), kind="user", owner="alice", at=JAN)


def _state(ledger: LedgerStore) -> list[Account]:
    return ledger.list_accounts(limit=10_000)


def _account(ledger: LedgerStore, name: str) -> Account:
    b = ledger.get_budget(name)
    assert b is not None
    (account,) = ledger.lookup_accounts([b.account_id])
    return account


# -- set ---------------------------------------------------------------------------------------


def test_set_creates_accounts_and_grants_once(ledger: LedgerStore) -> None:
    _acme(ledger)
    alice = _account(ledger, "acme/research/alice")
    assert alice.code == CODE_BUDGET and alice.ledger == LEDGER_USD
    assert alice.flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    assert alice.credits_posted == D(500) and alice.available_credit == D(500)
    (funding,) = ledger.lookup_accounts([funding_account_id(LEDGER_USD)])
    assert funding.code == CODE_FUNDING and funding.debits_posted == D(1800)
    (spend,) = ledger.lookup_accounts([spend_account_id(LEDGER_USD)])
    assert spend.code == CODE_SPEND and spend.credits_posted == 0
    grant_id = derive_id("grant", "acme/research/alice", "once")
    (grant,) = ledger.lookup_transfers([grant_id])
    assert grant.code == CODE_GRANT and grant.amount == D(500)
    before = _state(ledger)
    _acme(ledger)  # the same again: nothing changes
    assert _state(ledger) == before
    assert ledger.get_budget("acme/research/alice") == Budget(
        "acme/research/alice", alice.id, LEDGER_USD, D(500), kind="user", owner="alice")
    assert ledger.verify() == []


def test_parent_must_exist_and_nothing_changes(ledger: LedgerStore) -> None:
    with pytest.raises(BudgetNotFoundError, match="parent budget 'acme'"):
        set_budget(ledger, "acme/research", D(10), at=JAN)
    assert _state(ledger) == [] and ledger.list_budgets() == []


@pytest.mark.parametrize(("change", "message"), [
    ({"ledger": LEDGER_USDC}, "asset is fixed"),
    ({"period": "monthly"}, "period is fixed"),
    ({"amount": D(2000)}, "cannot change"),
    ({"amount": -1}, "amount must be"),
    ({"amount": True}, "amount must be"),
    ({"ledger": 9}, "ledger must be"),
    ({"period": "weekly"}, "period must be"),
    ({"kind": "cat"}, "kind must be"),
])
def test_conflicting_or_bad_set_changes_nothing(ledger: LedgerStore, change: dict[str, object],
                                                message: str) -> None:
    _acme(ledger)
    before, budgets = _state(ledger), ledger.list_budgets()
    args: dict[str, object] = {"amount": D(1000), "ledger": LEDGER_USD, "period": "none",
                               "kind": "org", **change}
    with pytest.raises(BudgetError, match=message):
        set_budget(ledger, "acme", at=JAN, **args)  # type: ignore[arg-type]
    assert _state(ledger) == before and ledger.list_budgets() == budgets


def test_child_must_hold_the_parents_asset(ledger: LedgerStore) -> None:
    _acme(ledger)
    with pytest.raises(BudgetConflictError, match="same asset"):
        set_budget(ledger, "acme/usdc", 5, ledger=LEDGER_USDC, at=JAN)


@pytest.mark.parametrize("name", ["", "/acme", "acme/", "a//b", "a b", "-x",
                                  "/".join("abcdefghi"), "x" * 201])
def test_bad_names(ledger: LedgerStore, name: str) -> None:
    with pytest.raises(BudgetError):
        set_budget(ledger, name, 1, at=JAN)
    assert ledger.list_budgets() == []


def test_derived_ids_are_stable_and_distinct() -> None:
    assert derive_id("budget", "acme") == derive_id("budget", "acme")
    assert derive_id("ab", "c") != derive_id("a", "bc")  # parts are length-prefixed
    assert 0 < derive_id("x") < U128_MAX


def test_parse_major_is_exact() -> None:
    assert parse_major("100.00", LEDGER_USD) == 100 * NS
    assert parse_major("0.000000001", LEDGER_USD) == 1
    assert parse_major("1.5", LEDGER_USDC) == 1_500_000
    for bad in ("0.0000001", "-1", "abc", "NaN", 1.5, True, None):
        with pytest.raises(BudgetError):
            parse_major(bad, LEDGER_USDC)


# -- reserve, capture, release -----------------------------------------------------------------


def test_reserve_fails_at_the_exhausted_level_and_changes_nothing(ledger: LedgerStore) -> None:
    _acme(ledger)
    assert [b.name for b in levels(ledger, "acme/research/alice")] == [
        "acme/research/alice", "acme/research", "acme"]
    before = _state(ledger)
    hold = reserve(ledger, "acme/research/alice", D(400), "req-1")
    assert not hold.ok and hold.result is R.EXCEEDS_CREDITS
    assert hold.level == "acme/research" and hold.available == D(300)
    assert _state(ledger) == before
    ok = reserve(ledger, "acme/research/alice", D(200), "req-2", timeout_s=60)
    assert ok.ok and ok.result is R.OK
    for name in ("acme/research/alice", "acme/research", "acme"):
        assert _account(ledger, name).debits_pending == D(200)
    third = reserve(ledger, "acme/research/alice", D(150), "req-3")
    assert third.level == "acme/research" and third.available == D(100)
    assert ledger.verify() == []


def test_capture_less_than_reserved_releases_the_rest_everywhere(ledger: LedgerStore) -> None:
    _acme(ledger)
    assert reserve(ledger, "acme/research/alice", D(200), "r").ok
    assert reserve(ledger, "acme/research/alice", D(200), "r").result is R.EXISTS  # replay
    done = capture(ledger, "acme/research/alice", "r", D(120))
    assert done.ok and done.result is R.OK
    for name, granted in (("acme/research/alice", 500), ("acme/research", 300),
                          ("acme", 1000)):
        a = _account(ledger, name)
        assert (a.debits_pending, a.debits_posted) == (0, D(120))
        assert a.available_credit == D(granted - 120)
    (spend,) = ledger.lookup_accounts([spend_account_id(LEDGER_USD)])
    assert spend.credits_posted == D(360)  # 3 levels × 120
    assert capture(ledger, "acme/research/alice", "r", D(120)).result is R.EXISTS
    before = _state(ledger)
    late = release(ledger, "acme/research/alice", "r")
    assert late.result is R.PENDING_TRANSFER_ALREADY_POSTED and late.level == (
        "acme/research/alice")
    assert _state(ledger) == before
    assert ledger.verify() == []


def test_capture_more_than_reserved_changes_nothing(ledger: LedgerStore) -> None:
    _acme(ledger)
    reserve(ledger, "acme/research", D(50), "r")
    before = _state(ledger)
    over = capture(ledger, "acme/research", "r", D(51))
    assert over.result is R.EXCEEDS_PENDING_TRANSFER_AMOUNT and over.level == "acme/research"
    assert _state(ledger) == before


def test_release_voids_every_level(ledger: LedgerStore) -> None:
    _acme(ledger)
    before = _state(ledger)
    reserve(ledger, "acme/research/alice", D(100), "r")
    assert release(ledger, "acme/research/alice", "r").ok
    after = {a.id: a for a in _state(ledger)}
    for a in before:
        assert after[a.id].debits_pending == 0 and after[a.id].debits_posted == a.debits_posted
    assert capture(ledger, "acme/research/alice", "r", 1).result is (
        R.PENDING_TRANSFER_ALREADY_VOIDED)
    assert release(ledger, "acme/research/alice", "nope").result is R.PENDING_TRANSFER_NOT_FOUND


def test_reservation_expires_after_its_timeout(ledger: LedgerStore, clock: object) -> None:
    _acme(ledger)
    reserve(ledger, "acme/research", D(100), "r", timeout_s=30)
    clock.advance(31)  # type: ignore[attr-defined]
    assert capture(ledger, "acme/research", "r", 1).result is R.PENDING_TRANSFER_EXPIRED
    assert _account(ledger, "acme/research").debits_pending == 0


def test_bad_requests(ledger: LedgerStore) -> None:
    _acme(ledger)
    with pytest.raises(BudgetNotFoundError):
        reserve(ledger, "acme/nobody", 1, "r")
    for kwargs in ({"amount": 0}, {"amount": -5}, {"request_id": ""}, {"timeout_s": -1}):
        args: dict[str, object] = {"amount": 1, "request_id": "r", "timeout_s": 0, **kwargs}
        with pytest.raises(BudgetError):
            reserve(ledger, "acme", **args)  # type: ignore[arg-type]


# -- renew -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rollover", [False, True])
def test_renew(ledger: LedgerStore, rollover: bool) -> None:
    set_budget(ledger, "team", D(100), period="monthly", rollover=rollover, at=JAN)
    assert renew(ledger, JAN) == []  # this period is granted already
    reserve(ledger, "team", D(30), "a")
    capture(ledger, "team", "a", D(30))
    reserve(ledger, "team", D(10), "b")  # still open at the new period: it stays reserved
    (done,) = renew(ledger, FEB)
    assert done.name == "team" and done.period_start == "2026-02-01"
    assert done.granted == D(100) and done.swept == (0 if rollover else D(60))
    assert renew(ledger, FEB_LATER) == []  # once per period
    line = show(ledger, "team", FEB)
    assert line.granted == D(200) and line.reserved == D(10)
    assert line.remaining == (D(160) if rollover else D(100))
    assert line.spent == (D(30) if rollover else D(90))  # the sweep counts as spent
    sweep = ledger.lookup_transfers([derive_id("sweep", "team", "2026-02-01")])
    assert [t.code for t in sweep] == ([] if rollover else [CODE_SWEEP])
    assert ledger.verify() == []


def test_amount_change_applies_next_period(ledger: LedgerStore) -> None:
    set_budget(ledger, "team", D(100), period="monthly", at=JAN)
    set_budget(ledger, "team", D(250), period="monthly", at=JAN)
    assert show(ledger, "team", JAN).granted == D(100)
    renew(ledger, FEB)
    assert show(ledger, "team", FEB).granted == D(350)


def test_period_start() -> None:
    moment = at("2026-07-19T13:14:15")
    assert period_start("daily", moment) == datetime(2026, 7, 19, tzinfo=UTC)
    assert period_start("monthly", moment) == datetime(2026, 7, 1, tzinfo=UTC)
    assert period_start("yearly", moment) == datetime(2026, 1, 1, tzinfo=UTC)
    assert period_start("none", moment) is None


# -- report ------------------------------------------------------------------------------------


def test_report_equals_the_accounts(ledger: LedgerStore) -> None:
    _acme(ledger)
    set_budget(ledger, "acme/research/bob", D(200), period="yearly", kind="user", owner="bob",
               at=JAN)
    reserve(ledger, "acme/research/alice", D(40), "a1")
    capture(ledger, "acme/research/alice", "a1", D(25))
    reserve(ledger, "acme/research/bob", D(70), "b1")
    lines = report(ledger, JAN)
    assert [x.budget.name for x in lines] == ["acme", "acme/research", "acme/research/alice",
                                              "acme/research/bob"]
    for line in lines:
        a = _account(ledger, line.budget.name)
        assert (line.granted, line.spent, line.reserved) == (
            a.credits_posted, a.debits_posted, a.debits_pending)
        assert line.remaining == a.credits_posted - a.debits_posted - a.debits_pending
    bob = lines[3].to_json()
    assert bob == {"name": "acme/research/bob", "kind": "user", "owner": "bob", "asset": "USD",
                   "ledger": 1, "period": "yearly", "rollover": False, "amount": "200",
                   "granted": "200", "spent": "0", "reserved": "70", "remaining": "130",
                   "used_pct": "35", "period_start": "2026-01-01T00:00:00+00:00",
                   "account_id": str(lines[3].budget.account_id)}
    research = lines[1].to_json()
    assert (research["spent"], research["reserved"], research["used_pct"]) == ("25", "70",
                                                                               "31.67")


# -- property: no level is ever overspent ------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["reserve", "capture", "release"]),
                          st.sampled_from(["acme", "acme/research", "acme/research/alice"]),
                          st.integers(0, 5), st.integers(0, 400)), max_size=30))
def test_random_charges_never_overspend(ops: list[tuple[str, str, int, int]]) -> None:
    clock = iter(range(NS, 10**6 * NS, NS))
    ledger = MemoryLedger(lambda: next(clock))
    _acme(ledger)
    for action, name, request, dollars in ops:
        rid = f"{name}#{request}"
        if action == "reserve" and dollars:
            reserve(ledger, name, D(dollars), rid)
        elif action == "capture":
            capture(ledger, name, rid, D(dollars))
        elif action == "release":
            release(ledger, name, rid)
        for line in report(ledger, JAN):
            assert 0 <= line.remaining <= line.granted
        assert ledger.verify() == []

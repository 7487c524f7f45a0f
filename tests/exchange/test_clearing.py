"""Clearing into the ledger: holds, fills, margin, settlement, expiry, replay — on real stores.

Members 1…5 deposit $100,000 each; producers get credits minted. A contract of TKF is 1M
frontier output tokens quoted in USD per 1M tokens with a tick of $0.01 (10,000,000 nano-USD),
so a price of 1500 ticks is $15.00 and one contract at that price costs $15.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pg_fixture import cluster
from tokenomy.exchange import Cancel, EndOfDay, NewOrder, OrderType, Replace, Side, TimeInForce
from tokenomy.exchange.accounts import (
    CREDIT_LEDGERS,
    cash_account,
    clearing_account,
    credit_account,
    delivery_account,
    escrow_account,
    margin_account,
)
from tokenomy.exchange.clearing import ClearingReject, settlement_price
from tokenomy.exchange.contracts import Instrument, bundled_specs, instruments
from tokenomy.ledger.budgets import LEDGER_USD
from tokenomy.store import open_ledger
from tokenomy.store.exchange_clearing import (
    ClearedBook,
    deposit,
    issue_credits,
    member_balances,
)
from tokenomy.store.ledger_sql import SQLLedger
from tokenomy.store.ledger_sqlite import SQLiteLedger

USD = 10**9  # nano-dollars in a dollar
TICK = 10**7  # $0.01 in nano-dollars: TKF's tick value per contract
REFERENCE = 1500  # $15.00
MEMBERS = range(1, 6)
DEPOSIT = 100_000 * USD
CREDITS = 1_000 * 10**6  # 1,000 contracts' worth of frontier output tokens
LISTED = {i.symbol: i for i in instruments(bundled_specs(), date(2026, 11, 2))}
SPOT, FUTURE = LISTED["TKF-SPOT"], LISTED["TKF-X26"]
CALL, PUT = LISTED["TKF-X26-C-1500"], LISTED["TKF-X26-P-1500"]
GRADE = "FRONTIER-OUT"


def clock() -> int:
    return 1_700_000_000_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLLedger]:
    opened = SQLiteLedger.open(str(tmp_path / "clearing.db"), clock)
    fund(opened)
    yield opened
    opened.close()


def fund(store: SQLLedger) -> None:
    for owner in MEMBERS:
        assert deposit(store, owner, LEDGER_USD, DEPOSIT, "initial").value == "ok"
        assert issue_credits(store, owner, GRADE, CREDITS, "initial").value == "ok"


def balance(store: SQLLedger, account_id: int) -> tuple[int, int]:
    """(posted credits − posted debits, debits pending)."""
    [a] = store.lookup_accounts([account_id])
    return a.credits_posted - a.debits_posted, a.debits_pending


def cash(store: SQLLedger, owner: int) -> tuple[int, int]:
    return balance(store, cash_account(owner, LEDGER_USD))


def credits(store: SQLLedger, owner: int) -> tuple[int, int]:
    return balance(store, credit_account(owner, GRADE))


def order(owner: int, coid: int, side: Side, price: int, quantity: int,
          **kwargs: object) -> NewOrder:
    return NewOrder(owner, coid, side, price, quantity, **kwargs)  # type: ignore[arg-type]


def wealth(store: SQLLedger) -> int:
    """Members' cash and margin plus the clearing house: what deposits brought in."""
    ids = [cash_account(o, LEDGER_USD) for o in MEMBERS] + [
        margin_account(o, LEDGER_USD) for o in MEMBERS] + [clearing_account(LEDGER_USD)]
    return sum(a.credits_posted - a.debits_posted for a in store.lookup_accounts(ids))


# -- spot -------------------------------------------------------------------------------------


def test_a_spot_trade_moves_cash_and_delivers_credits(store: SQLLedger) -> None:
    book = ClearedBook.open(store, SPOT, REFERENCE)
    assert not book.submit(order(2, 1, Side.SELL, 1500, 3)).rejected
    assert credits(store, 2) == (CREDITS, 3 * 10**6)  # 3M tokens held for the ask
    out = book.submit(order(1, 1, Side.BUY, 1510, 2))
    assert not out.rejected and out.transfers > 0
    assert cash(store, 1) == (DEPOSIT - 2 * 1500 * TICK, 0)  # $30 at the maker's $15.00
    assert cash(store, 2) == (DEPOSIT + 2 * 1500 * TICK, 0)
    assert credits(store, 1) == (CREDITS + 2 * 10**6, 0)
    assert credits(store, 2) == (CREDITS - 2 * 10**6, 10**6)  # one contract still offered
    assert store.verify() == []


def test_insufficient_buying_power_is_rejected_and_changes_nothing(store: SQLLedger) -> None:
    book = ClearedBook.open(store, SPOT, REFERENCE)
    before, journaled = cash(store, 1), book.journaled
    # 7,000 contracts at $15.00 is $105,000: more than the $100,000 deposited.
    out = book.submit(order(1, 1, Side.BUY, 1500, 7_000))
    assert out.rejected is ClearingReject.INSUFFICIENT_BUYING_POWER
    assert cash(store, 1) == before and book.journaled == journaled and len(book.book) == 0
    assert not book.submit(order(1, 1, Side.BUY, 1500, 6_000)).rejected  # affordable


def test_credits_must_cover_a_spot_sell(store: SQLLedger) -> None:
    book = ClearedBook.open(store, SPOT, REFERENCE)
    out = book.submit(order(3, 1, Side.SELL, 1500, 1_001))  # 1,001M tokens; holds 1,000M
    assert out.rejected is ClearingReject.INSUFFICIENT_BUYING_POWER


@pytest.mark.parametrize("price, ok", [(1350, True), (1349, False), (1650, True),
                                       (1651, False)])
def test_limit_prices_outside_the_daily_band_are_rejected(store: SQLLedger, price: int,
                                                          ok: bool) -> None:
    book = ClearedBook.open(store, FUTURE, REFERENCE)  # TKF's band: 10 % of $15.00
    out = book.submit(order(1, 1, Side.BUY, price, 1))
    assert (out.rejected is None) is ok
    if not ok:
        assert out.rejected is ClearingReject.PRICE_OUTSIDE_BAND and book.journaled == 1


def test_the_position_limit_counts_open_orders(store: SQLLedger) -> None:
    book = ClearedBook.open(store, FUTURE, REFERENCE)
    limit = FUTURE.spec.position_limit
    deposit(store, 1, LEDGER_USD, 10**9 * USD, "more")
    assert not book.submit(order(1, 1, Side.BUY, 1400, limit - 10)).rejected
    assert book.submit(order(1, 2, Side.BUY, 1400, 11)).rejected is ClearingReject.POSITION_LIMIT
    assert not book.submit(order(1, 3, Side.BUY, 1400, 10)).rejected
    assert not book.submit(order(1, 4, Side.SELL, 1600, 1)).rejected  # the other way is fine


def test_cancel_and_replace_move_the_hold(store: SQLLedger) -> None:
    book = ClearedBook.open(store, SPOT, REFERENCE)
    accepted = book.submit(order(1, 1, Side.BUY, 1500, 10)).events[0]
    assert cash(store, 1)[1] == 10 * 1500 * TICK
    assert not book.submit(Replace(1, accepted.order_id, 1520, 12)).rejected  # type: ignore[union-attr]
    assert cash(store, 1)[1] == 12 * 1520 * TICK
    assert not book.submit(Replace(1, accepted.order_id, 1500, 4)).rejected  # type: ignore[union-attr]
    assert cash(store, 1)[1] == 4 * 1500 * TICK
    # A replace beyond the buying power is refused; the order and its hold stay as they were.
    out = book.submit(Replace(1, accepted.order_id, 1500, 6_700))  # type: ignore[union-attr]
    assert out.rejected is ClearingReject.INSUFFICIENT_BUYING_POWER
    assert cash(store, 1)[1] == 4 * 1500 * TICK
    assert not book.submit(Cancel(1, accepted.order_id)).rejected  # type: ignore[union-attr]
    assert cash(store, 1) == (DEPOSIT, 0)
    assert store.verify() == []


def test_a_book_rejection_releases_the_hold(store: SQLLedger) -> None:
    book = ClearedBook.open(store, SPOT, REFERENCE)
    book.submit(order(2, 1, Side.SELL, 1500, 1))
    out = book.submit(order(1, 1, Side.BUY, 1500, 1, post_only=True))  # would take
    assert out.rejected is not None and cash(store, 1) == (DEPOSIT, 0)
    out = book.submit(order(1, 2, Side.BUY, 1500, 5, time_in_force=TimeInForce.FOK))
    assert out.rejected is not None and cash(store, 1) == (DEPOSIT, 0)
    # The resend of an order changes nothing, in the book or the ledger.
    first = book.submit(order(1, 3, Side.BUY, 1500, 1))
    again = book.submit(order(1, 3, Side.BUY, 1500, 1))
    assert again.events == first.events and again.transfers == 0
    assert cash(store, 1) == (DEPOSIT - 1500 * TICK, 0)


def test_a_market_order_holds_at_its_band_limit(store: SQLLedger) -> None:
    book = ClearedBook.open(store, SPOT, REFERENCE)
    book.submit(order(2, 1, Side.SELL, 1500, 2))
    out = book.submit(order(1, 1, Side.BUY, 0, 5, order_type=OrderType.MARKET,
                            time_in_force=TimeInForce.IOC))
    assert not out.rejected
    assert cash(store, 1) == (DEPOSIT - 2 * 1500 * TICK, 0)  # the rest cancelled, released


# -- futures ----------------------------------------------------------------------------------


def futures_day(store: SQLLedger) -> ClearedBook:
    """Member 1 long 5 and member 3 long 2 from 2 (short 7) at $15.00 / $15.20."""
    book = ClearedBook.open(store, FUTURE, REFERENCE)
    book.submit(order(2, 1, Side.SELL, 1500, 5))
    book.submit(order(1, 1, Side.BUY, 1500, 5))
    book.submit(order(2, 2, Side.SELL, 1520, 2))
    book.submit(order(3, 1, Side.BUY, 1520, 2))
    return book


def test_futures_post_margin_and_positions_net_to_zero(store: SQLLedger) -> None:
    book = futures_day(store)
    margin = book.clearing.terms.margin
    assert margin == 225 * TICK  # 1.5 × the 10 % band of $15.00 = $2.25 per contract
    nets = {o: p.net for o, p in book.clearing.positions.items() if p.net}
    assert nets == {1: 5, 2: -7, 3: 2}
    assert book.clearing.open_interest() == 7
    assert balance(store, margin_account(2, LEDGER_USD))[0] == 7 * margin
    assert cash(store, 2) == (DEPOSIT - 7 * margin, 0)
    # Physical: the short's credits wait in the delivery account.
    assert credits(store, 2) == (CREDITS - 7 * 10**6, 0)
    assert balance(store, delivery_account(CREDIT_LEDGERS[GRADE]))[0] == 7 * 10**6
    # Closing a position releases its margin.
    book.submit(order(1, 2, Side.SELL, 1510, 5))
    book.submit(order(2, 3, Side.BUY, 1510, 5))
    assert book.clearing.positions[1].net == 0 and book.clearing.positions[2].net == -2
    assert balance(store, margin_account(1, LEDGER_USD))[0] == 0
    assert store.verify() == []


def test_variation_margin_sums_to_zero_and_follows_the_settlement(store: SQLLedger) -> None:
    book = futures_day(store)
    total = wealth(store)
    book.settle(1530)
    vm = {o: p.variation for o, p in book.clearing.positions.items()}
    assert sum(vm.values()) == 0
    assert vm[1] == 5 * 30 * TICK and vm[3] == 2 * 10 * TICK and vm[2] == -(150 + 20) * TICK
    assert balance(store, clearing_account(LEDGER_USD))[0] == 0
    assert wealth(store) == total
    book.settle(1490)  # the next day: marked from 1530
    assert book.clearing.positions[1].variation == 5 * (30 - 40) * TICK
    assert sum(p.variation for p in book.clearing.positions.values()) == 0
    # Member 2 gained: its margin holds the requirement, the gain went to cash.
    margin = book.clearing.terms.margin
    assert balance(store, margin_account(2, LEDGER_USD))[0] == 7 * margin
    assert book.clearing.margin_call(2) == 0
    assert store.verify() == []


def test_physical_expiry_delivers_credits_against_payment(store: SQLLedger) -> None:
    book = futures_day(store)
    book.settle(1530)
    book.submit(order(4, 1, Side.BUY, 1400, 3))  # a resting order: released at expiry
    total = wealth(store)
    book.expire(1550)  # the index on the last trading day
    c = book.clearing
    assert all(p.net == 0 for p in c.positions.values()) and c.open_interest() == 0
    assert credits(store, 1)[0] == CREDITS + 5 * 10**6  # delivered
    assert credits(store, 3)[0] == CREDITS + 2 * 10**6
    assert balance(store, delivery_account(CREDIT_LEDGERS[GRADE]))[0] == 0
    # Everyone paid what they traded at: longs $15.00 and $15.20, the short received both.
    assert cash(store, 1) == (DEPOSIT - 5 * 1500 * TICK, 0)
    assert cash(store, 3) == (DEPOSIT - 2 * 1520 * TICK, 0)
    assert cash(store, 2) == (DEPOSIT + (5 * 1500 + 2 * 1520) * TICK, 0)
    assert cash(store, 4) == (DEPOSIT, 0)
    assert balance(store, clearing_account(LEDGER_USD))[0] == 0
    assert wealth(store) == total
    for owner in MEMBERS:
        assert balance(store, margin_account(owner, LEDGER_USD))[0] == 0
    assert book.submit(order(1, 9, Side.BUY, 1500, 1)).rejected is ClearingReject.EXPIRED
    assert store.verify() == []


def test_options_pay_the_premium_and_the_payoff(store: SQLLedger) -> None:
    call = ClearedBook.open(store, CALL, REFERENCE)
    call.submit(order(2, 1, Side.SELL, 110, 4))  # $1.10 premium per contract
    call.submit(order(1, 1, Side.BUY, 120, 4))
    margin = call.clearing.terms.margin
    assert cash(store, 1) == (DEPOSIT - 4 * 110 * TICK, 0)
    assert cash(store, 2) == (DEPOSIT + 4 * 110 * TICK - 4 * margin, 0)
    call.expire(1580)  # the future settled at $15.80: the 15.00 call pays $0.80
    assert cash(store, 1) == (DEPOSIT + 4 * (80 - 110) * TICK, 0)
    assert cash(store, 2) == (DEPOSIT + 4 * (110 - 80) * TICK, 0)
    put = ClearedBook.open(store, PUT, REFERENCE)
    put.submit(order(3, 1, Side.SELL, 50, 1))
    put.submit(order(4, 1, Side.BUY, 50, 1))
    put.expire(1580)  # out of the money: the writer keeps the premium
    assert cash(store, 3) == (DEPOSIT + 50 * TICK, 0)
    assert store.verify() == []


def test_replay_rebuilds_positions_and_holds(store: SQLLedger) -> None:
    book = futures_day(store)
    book.submit(order(4, 1, Side.BUY, 1450, 3))
    book.settle(1510)
    reopened = ClearedBook.open(store, FUTURE, 9_999)  # the journal's reference wins
    assert reopened.clearing.positions == book.clearing.positions
    assert reopened.clearing.settlement == 1510 and reopened.journaled == book.journaled
    assert reopened.book.resting() == book.book.resting()
    # It carries on: the resting order's hold is known, so a cancel releases it.
    rest = reopened.book.resting()[0]
    assert not reopened.submit(Cancel(4, rest.order_id)).rejected
    assert cash(store, 4) == (DEPOSIT, 0)
    assert store.verify() == []


def test_member_balances_read_back(store: SQLLedger) -> None:
    futures_day(store)
    got = member_balances(store, 2)
    assert got["cash"][LEDGER_USD][0] == cash(store, 2)[0]
    assert got["credits"][GRADE] == credits(store, 2)
    assert member_balances(store, 99)["cash"][LEDGER_USD] == (0, 0)


# -- the settlement price ---------------------------------------------------------------------


@pytest.mark.parametrize("window, bid, ask, last, prior, expected", [
    ([(100, 1), (102, 1)], 0, 0, 102, 90, (101, "vwap")),
    ([(100, 1), (101, 1)], 0, 0, 101, 90, (100, "vwap")),  # half-way: nearer the prior
    ([(100, 1), (101, 1)], 0, 0, 101, 120, (101, "vwap")),
    ([(100, 3), (110, 1)], 0, 0, 110, 90, (102, "vwap")),  # 102.5 → prior below: 102
    ([], 105, 108, 100, 90, (105, "last_trade")),  # clamped up to the bid
    ([], 95, 99, 100, 90, (99, "last_trade")),  # clamped down to the ask
    ([], 0, 0, 100, 90, (100, "last_trade")),
    ([], 95, 99, 0, 90, (90, "prior")),
])
def test_the_settlement_price_follows_the_tiers(window: list[tuple[int, int]], bid: int,
                                                ask: int, last: int, prior: int,
                                                expected: tuple[int, str]) -> None:
    assert settlement_price(window, bid, ask, last, prior) == expected


@given(st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 1_000)), min_size=1,
                max_size=20), st.integers(1, 10_000))
def test_the_vwap_tier_stays_within_the_traded_prices(window: list[tuple[int, int]],
                                                      prior: int) -> None:
    price, tier = settlement_price(window, 0, 0, window[-1][0], prior)
    assert tier == "vwap"
    assert min(p for p, _ in window) <= price <= max(p for p, _ in window)


# -- every fill, every invariant --------------------------------------------------------------


def random_commands(rng: random.Random, count: int) -> list[object]:
    out: list[object] = []
    for step in range(1, count + 1):
        owner, roll = rng.randint(1, 5), rng.random()
        if roll < 0.6:
            tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC,
                              TimeInForce.DAY))
            out.append(order(owner, step, rng.choice((Side.BUY, Side.SELL)),
                             rng.randint(1480, 1520), rng.randint(1, 30), time_in_force=tif))
        elif roll < 0.75:
            out.append(Replace(owner, rng.randint(1, step), rng.randint(1480, 1520),
                               rng.randint(1, 40)))
        elif roll < 0.9:
            out.append(Cancel(owner, rng.randint(1, step)))
        elif roll < 0.95:
            out.append(("settle", rng.randint(1480, 1520)))
        else:
            out.append(EndOfDay())
    return out


def check_after(store: SQLLedger, book: ClearedBook, total: int) -> None:
    c = book.clearing
    assert store.verify() == []  # the ledger's invariants after every command
    assert sum(p.net for p in c.positions.values()) == 0  # long open interest = short
    assert wealth(store) == total  # nothing made or lost
    for owner in MEMBERS:  # the cash held is exactly what the resting orders need
        need = sum(leg.amount for r in book.book.resting() if r.owner == owner
                   for leg in c.legs(owner, r.side, r.price, r.leaves)
                   if leg.account == cash_account(owner, LEDGER_USD))
        assert cash(store, owner)[1] == need
    assert book.book.check() == []


def run_stream(store: SQLLedger, instrument: Instrument, seed: int, count: int) -> None:
    book = ClearedBook.open(store, instrument, REFERENCE)
    total = wealth(store)
    for command in random_commands(random.Random(seed), count):
        if isinstance(command, tuple):
            book.settle(command[1])
        else:
            book.submit(command)  # type: ignore[arg-type]
        check_after(store, book, total)
    assert store.verify() == []
    assert balance(store, escrow_account(LEDGER_USD))[0] == 0  # holds are only pending
    reopened = ClearedBook.open(store, instrument, REFERENCE)
    assert reopened.clearing.positions == book.clearing.positions
    book.expire(1500)
    assert book.clearing.open_interest() == 0
    check_after(store, book, total)
    for owner in MEMBERS:
        assert cash(store, owner)[1] == 0 and credits(store, owner)[1] == 0
    assert store.verify() == []


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["TKF-SPOT", "TKF-X26", "TKF-X26-C-1500"]))
def test_random_streams_keep_every_invariant(tmp_path_factory: pytest.TempPathFactory,
                                             seed: int, symbol: str) -> None:
    path = tmp_path_factory.mktemp("stream") / "clearing.db"
    store = SQLiteLedger.open(str(path), clock)
    try:
        fund(store)
        run_stream(store, LISTED[symbol], seed, 150)
    finally:
        store.close()


def test_clearing_on_postgres() -> None:
    opened = open_ledger(cluster().new_database(), clock)
    assert isinstance(opened, SQLLedger)
    try:
        fund(opened)
        run_stream(opened, FUTURE, 7, 120)
    finally:
        opened.close()

"""The order book: every order type and TIF, priority, STP, idempotency, limits — then random
command streams checked for the exchange invariants and against the naive reference book."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenomy.exchange import (
    ID_MAX,
    Accepted,
    Book,
    BookLimits,
    Cancel,
    Cancelled,
    CancelReason,
    Command,
    EndOfDay,
    Event,
    Expired,
    Fill,
    Level,
    MassCancel,
    NewOrder,
    OrderType,
    Rejected,
    RejectReason,
    Replace,
    Replaced,
    RestingOrder,
    SelfTradePrevention,
    Side,
    Tick,
    TimeInForce,
)
from tokenomy.exchange.book import GTD_SLACK

from .reference_book import ReferenceBook

BUY, SELL = Side.BUY, Side.SELL
TIF = TimeInForce
STP = SelfTradePrevention
R = RejectReason
MARKET = OrderType.MARKET


def run(book: Book, *commands: Command) -> list[Event]:
    """Apply the commands; all their events; the book's invariants hold after each."""
    events: list[Event] = []
    for command in commands:
        events.extend(book.apply(command))
        assert book.check() == []
    return events


def kinds(events: Sequence[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def fills(events: Sequence[Event]) -> list[tuple[int, int, int, int]]:
    """(price, quantity, maker order id, taker order id) of each fill."""
    return [(e.trade.price, e.trade.quantity, e.trade.maker_order_id, e.trade.taker_order_id)
            for e in events if isinstance(e, Fill)]


def reason(events: Sequence[Event]) -> RejectReason:
    (event,) = events
    assert isinstance(event, Rejected)
    return event.reason


def book_with(*commands: Command, limits: BookLimits | None = None) -> Book:
    book = Book(limits) if limits else Book()
    run(book, *commands)
    return book


def unchanged(book: Book, command: Command) -> RejectReason:
    """Apply a command expected to be rejected; the reason. The book must not change (but for
    its time: a command's ``now``, once past the time check, advances it even if rejected)."""
    def state() -> tuple[object, ...]:
        depth = book.depth(10)
        return book.resting(), depth.bids, depth.asks, book.trades(), len(book)

    before = state()
    r = reason(book.apply(command))
    assert state() == before
    return r


# -- limit orders, priority, prices ---------------------------------------------------------------

def test_price_time_priority_and_trades_at_the_makers_price() -> None:
    book = book_with(NewOrder(1, 1, SELL, 101, 5), NewOrder(2, 1, SELL, 100, 5),
                     NewOrder(3, 1, SELL, 100, 5))
    events = run(book, NewOrder(4, 1, BUY, 102, 12))
    assert kinds(events) == ["Accepted", "Fill", "Fill", "Fill"]
    # best price first (order 2 before 3 at 100: arrival), then 101; all at the maker's price
    assert fills(events) == [(100, 5, 2, 4), (100, 5, 3, 4), (101, 2, 1, 4)]
    last = events[-1]
    assert isinstance(last, Fill) and (last.maker_leaves, last.taker_leaves) == (3, 0)
    assert book.top_of_book().ask == Level(101, 3, 1) and book.top_of_book().bid is None


def test_gtc_remainder_rests_at_its_limit() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 2))
    run(book, NewOrder(2, 1, BUY, 101, 5))
    assert book.top_of_book().bid == Level(101, 3, 1)
    assert book.top_of_book().ask is None
    resting = book.order(2)
    assert resting is not None and (resting.quantity, resting.leaves) == (5, 3)


def test_sequence_numbers_and_order_ids_count_up_without_gaps() -> None:
    book = Book()
    events = run(book, NewOrder(1, 1, BUY, 10, 1), NewOrder(1, 1, BUY, 10, 2),
                 NewOrder(1, 2, BUY, 11, 1), Cancel(1, 99))
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.order_id for e in events if isinstance(e, Accepted)] == [1, 2]
    assert book.seq == 4


def test_depth_aggregates_levels_best_first() -> None:
    book = book_with(NewOrder(1, 1, BUY, 99, 2), NewOrder(1, 2, BUY, 99, 3),
                     NewOrder(1, 3, BUY, 98, 1), NewOrder(2, 1, SELL, 101, 4),
                     NewOrder(2, 2, SELL, 103, 1))
    depth = book.depth(1)
    assert depth.bids == (Level(99, 5, 2),) and depth.asks == (Level(101, 4, 1),)
    depth = book.depth(5)
    assert depth.bids == (Level(99, 5, 2), Level(98, 1, 1))
    assert depth.asks == (Level(101, 4, 1), Level(103, 1, 1))
    assert depth.seq == book.seq
    with pytest.raises(ValueError):
        book.depth(0)


def test_trade_list_keeps_the_latest() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 10), limits=BookLimits(trades_kept_max=2))
    for i in range(3):
        run(book, NewOrder(2, i + 1, BUY, 100, 1, now=i))
    assert [t.trade_id for t in book.trades()] == [2, 3]
    assert [t.trade_id for t in book.trades(1)] == [3]
    assert book.trades(0) == ()
    assert book.trades()[-1].now == 2


# -- time in force --------------------------------------------------------------------------------

def test_ioc_fills_what_it_can_and_never_rests() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 3))
    events = run(book, NewOrder(2, 1, BUY, 100, 5, time_in_force=TIF.IOC))
    assert kinds(events) == ["Accepted", "Fill", "Cancelled"]
    assert events[-1] == Cancelled(4, 2, 2, 2, CancelReason.IOC_REMAINDER)
    assert len(book) == 0
    events = run(book, NewOrder(2, 2, BUY, 100, 5, time_in_force=TIF.IOC))
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert len(book) == 0


def test_fok_fills_in_full_or_is_rejected_without_a_trade() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 3), NewOrder(1, 2, SELL, 101, 3))
    assert unchanged(book, NewOrder(2, 1, BUY, 101, 7, time_in_force=TIF.FOK)) \
        == R.FOK_NOT_FILLABLE
    assert unchanged(book, NewOrder(2, 2, BUY, 100, 4, time_in_force=TIF.FOK)) \
        == R.FOK_NOT_FILLABLE
    events = run(book, NewOrder(2, 3, BUY, 101, 6, time_in_force=TIF.FOK))
    assert fills(events) == [(100, 3, 1, 3), (101, 3, 2, 3)]
    assert len(book) == 0


def test_fok_counts_only_what_self_trade_prevention_lets_it_fill() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 3), NewOrder(2, 1, SELL, 100, 3),
                     NewOrder(1, 2, SELL, 100, 3))
    # cancel-newest stops at owner 1's own order: only 0 ahead of it
    assert unchanged(book, NewOrder(1, 3, BUY, 100, 3, time_in_force=TIF.FOK)) \
        == R.FOK_NOT_FILLABLE
    # cancel-oldest skips (and cancels) its own orders: 3 from owner 2
    events = run(book, NewOrder(1, 4, BUY, 100, 3, time_in_force=TIF.FOK,
                                stp=STP.CANCEL_OLDEST))
    assert kinds(events) == ["Accepted", "Cancelled", "Fill"]
    assert fills(events) == [(100, 3, 2, 4)]
    assert [o.order_id for o in book.resting()] == [3]


def test_gtd_expires_when_time_reaches_it() -> None:
    book = book_with(NewOrder(1, 1, BUY, 100, 5, time_in_force=TIF.GTD, expire_at=10, now=1),
                     NewOrder(1, 2, BUY, 99, 5, time_in_force=TIF.GTD, expire_at=8, now=1))
    assert run(book, Tick(now=7)) == []
    events = run(book, NewOrder(2, 1, SELL, 100, 1, now=10))
    # both due: by expiry time, before the new order acts (so it finds no bid and rests)
    assert events[:2] == [Expired(3, 2, 1, 5), Expired(4, 1, 1, 5)]
    assert kinds(events[2:]) == ["Accepted"]
    assert book.top_of_book().bid is None


def test_gtd_needs_a_future_expiry_and_others_none() -> None:
    book = Book()
    assert unchanged(book, NewOrder(1, 1, BUY, 100, 5, time_in_force=TIF.GTD, expire_at=5,
                                    now=5)) == R.INVALID_EXPIRE_AT
    assert unchanged(book, NewOrder(1, 2, BUY, 100, 5, expire_at=9, now=5)) \
        == R.INVALID_EXPIRE_AT


def test_day_orders_expire_at_end_of_day_and_gtc_stays() -> None:
    book = book_with(NewOrder(1, 1, BUY, 100, 5, time_in_force=TIF.DAY),
                     NewOrder(1, 2, BUY, 99, 5), NewOrder(2, 1, SELL, 105, 1,
                                                           time_in_force=TIF.DAY))
    events = run(book, EndOfDay(now=50))
    assert events == [Expired(4, 1, 1, 5), Expired(5, 3, 2, 1)]
    assert [o.order_id for o in book.resting()] == [2]
    assert book.now == 50


# -- post-only and market orders ------------------------------------------------------------------

def test_post_only_rests_or_is_rejected_and_never_takes() -> None:
    book = book_with(NewOrder(1, 1, SELL, 101, 5))
    assert unchanged(book, NewOrder(2, 1, BUY, 101, 1, post_only=True)) \
        == R.POST_ONLY_WOULD_TAKE
    assert kinds(run(book, NewOrder(2, 2, BUY, 100, 1, post_only=True))) == ["Accepted"]
    # its move across the spread is rejected too; a move that does not cross is fine
    assert unchanged(book, Replace(2, 2, 101, 1)) == R.POST_ONLY_WOULD_TAKE
    assert kinds(run(book, Replace(2, 2, 99, 1))) == ["Replaced"]
    assert unchanged(book, NewOrder(2, 3, BUY, 100, 1, post_only=True,
                                    time_in_force=TIF.IOC)) == R.INVALID_POST_ONLY


def test_market_order_trades_within_its_band_and_never_rests() -> None:
    limits = BookLimits(market_band_ticks=2)
    book = book_with(NewOrder(1, 1, SELL, 100, 1), NewOrder(1, 2, SELL, 102, 1),
                     NewOrder(1, 3, SELL, 103, 1), limits=limits)
    events = run(book, NewOrder(2, 1, BUY, 0, 5, MARKET, TIF.IOC))
    accepted = events[0]
    assert isinstance(accepted, Accepted) and accepted.price == 102  # best ask 100 + 2
    assert fills(events) == [(100, 1, 1, 4), (102, 1, 2, 4)]
    assert events[-1] == Cancelled(7, 4, 2, 3, CancelReason.IOC_REMAINDER)
    assert len(book) == 1


def test_market_order_with_a_reference_price() -> None:
    book = book_with(NewOrder(1, 1, BUY, 95, 1), NewOrder(1, 2, BUY, 90, 1),
                     limits=BookLimits(market_band_ticks=5))
    events = run(book, NewOrder(2, 1, SELL, 0, 2, MARKET, TIF.IOC, reference_price=100))
    assert fills(events) == [(95, 1, 1, 3)]  # the band is 95..: 90 is out of it
    assert kinds(events)[-1] == "Cancelled"


def test_market_order_checks() -> None:
    book = Book()
    assert unchanged(book, NewOrder(1, 1, BUY, 0, 1, MARKET, TIF.IOC)) == R.NO_REFERENCE_PRICE
    assert unchanged(book, NewOrder(1, 2, BUY, 5, 1, MARKET, TIF.IOC)) == R.PRICE_NOT_ALLOWED
    assert unchanged(book, NewOrder(1, 3, BUY, 0, 1, MARKET)) == R.INVALID_TIME_IN_FORCE
    assert unchanged(book, NewOrder(1, 4, BUY, 5, 1, reference_price=5)) \
        == R.INVALID_REFERENCE_PRICE
    run(book, NewOrder(2, 1, SELL, 10, 2))
    events = run(book, NewOrder(1, 5, BUY, 0, 3, MARKET, TIF.FOK))
    assert kinds(events) == ["Rejected"]
    assert kinds(run(book, NewOrder(1, 6, BUY, 0, 2, MARKET, TIF.FOK))) == ["Accepted", "Fill"]


def test_market_sell_band_stops_at_price_one() -> None:
    book = book_with(NewOrder(1, 1, BUY, 2, 1), limits=BookLimits(market_band_ticks=100))
    accepted = run(book, NewOrder(2, 1, SELL, 0, 1, MARKET, TIF.IOC))[0]
    assert isinstance(accepted, Accepted) and accepted.price == 1


# -- cancel, replace, mass cancel -----------------------------------------------------------------

def test_cancel_and_unknown_or_foreign_orders() -> None:
    book = book_with(NewOrder(1, 1, BUY, 100, 5))
    assert unchanged(book, Cancel(2, 1)) == R.UNKNOWN_ORDER  # not the owner's
    assert unchanged(book, Cancel(1, 7)) == R.UNKNOWN_ORDER
    assert run(book, Cancel(1, 1)) == [Cancelled(4, 1, 1, 5, CancelReason.REQUESTED)]
    assert unchanged(book, Cancel(1, 1)) == R.UNKNOWN_ORDER
    assert len(book) == 0 and book.depth(5).bids == ()


def test_replace_down_at_the_same_price_keeps_priority() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 5), NewOrder(2, 1, SELL, 100, 5))
    assert run(book, Replace(1, 1, 100, 3)) == [Replaced(3, 1, 1, 100, 3, 3, True)]
    events = run(book, NewOrder(3, 1, BUY, 100, 3))
    assert fills(events) == [(100, 3, 1, 3)]


@pytest.mark.parametrize(("second_price", "replace"), [
    (100, Replace(1, 1, 100, 6)),  # more quantity at the same price
    (101, Replace(1, 1, 101, 5)),  # another price (behind the order already there)
])
def test_replace_up_or_to_another_price_loses_priority(second_price: int,
                                                       replace: Replace) -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 5), NewOrder(2, 1, SELL, second_price, 5))
    replaced = run(book, replace)
    assert isinstance(replaced[0], Replaced) and not replaced[0].kept_priority
    events = run(book, NewOrder(3, 1, BUY, 101, 1))
    assert fills(events)[0][2] == 2  # owner 2's order goes first now


def test_replace_keeps_what_was_filled() -> None:
    book = book_with(NewOrder(1, 1, SELL, 100, 10), NewOrder(2, 1, BUY, 100, 4))
    assert run(book, Replace(1, 1, 100, 8)) == [Replaced(4, 1, 1, 100, 8, 4, True)]
    assert run(book, Replace(1, 1, 102, 20)) == [Replaced(5, 1, 1, 102, 20, 16, False)]
    assert run(book, Replace(1, 1, 102, 4)) \
        == [Cancelled(6, 1, 1, 16, CancelReason.REPLACED_BELOW_FILLED)]
    assert len(book) == 0


def test_replace_across_the_spread_trades_as_taker() -> None:
    book = book_with(NewOrder(1, 1, SELL, 101, 2), NewOrder(2, 1, BUY, 99, 5))
    events = run(book, Replace(2, 2, 101, 5))
    assert kinds(events) == ["Replaced", "Fill"]
    assert fills(events) == [(101, 2, 1, 2)]
    assert book.top_of_book().bid == Level(101, 3, 1)


def test_replace_checks() -> None:
    book = book_with(NewOrder(1, 1, SELL, 101, 2), limits=BookLimits(price_max=200,
                                                                    quantity_max=10))
    assert unchanged(book, Replace(1, 1, 201, 2)) == R.PRICE_OUT_OF_RANGE
    assert unchanged(book, Replace(1, 1, 100, 11)) == R.QUANTITY_OUT_OF_RANGE
    assert unchanged(book, Replace(1, 1, 100, 0)) == R.QUANTITY_OUT_OF_RANGE
    assert unchanged(book, Replace(2, 1, 100, 1)) == R.UNKNOWN_ORDER


def test_mass_cancel_by_owner_and_side() -> None:
    book = book_with(NewOrder(1, 1, BUY, 99, 1), NewOrder(1, 2, SELL, 101, 1),
                     NewOrder(2, 1, BUY, 98, 1), NewOrder(1, 3, BUY, 97, 1))
    events = run(book, MassCancel(1, BUY))
    assert [(e.order_id, e.reason) for e in events if isinstance(e, Cancelled)] \
        == [(1, CancelReason.MASS_CANCEL), (4, CancelReason.MASS_CANCEL)]
    assert [e.order_id for e in run(book, MassCancel(1)) if isinstance(e, Cancelled)] == [2]
    assert run(book, MassCancel(1)) == []
    assert [o.owner for o in book.resting()] == [2]
    assert unchanged(book, MassCancel(0)) == R.INVALID_ID


# -- self-trade prevention ------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "expected", "left"), [
    (STP.CANCEL_NEWEST, [("Cancelled", 4)], [2, 3]),
    (STP.CANCEL_OLDEST, [("Cancelled", 2), ("Fill", 3)], []),
    (STP.CANCEL_BOTH, [("Cancelled", 2), ("Cancelled", 4)], [3]),
])
def test_self_trade_prevention(mode: SelfTradePrevention, expected: list[tuple[str, int]],
                               left: list[int]) -> None:
    book = book_with(NewOrder(2, 1, SELL, 100, 1), NewOrder(1, 1, SELL, 100, 2),
                     NewOrder(2, 2, SELL, 101, 2))
    events = run(book, NewOrder(1, 2, BUY, 101, 3, stp=mode))
    assert kinds(events[:2]) == ["Accepted", "Fill"]  # owner 2's first order trades first
    rest = [(type(e).__name__, e.trade.maker_order_id if isinstance(e, Fill) else e.order_id)
            for e in events[2:]]
    assert rest == expected
    assert [o.order_id for o in book.resting()] == left
    assert all(e.trade.maker_owner != e.trade.taker_owner for e in events if isinstance(e, Fill))
    assert all(e.reason is CancelReason.SELF_TRADE for e in events if isinstance(e, Cancelled))


def test_self_trade_prevention_on_a_move() -> None:
    book = book_with(NewOrder(1, 1, SELL, 101, 2), NewOrder(1, 2, BUY, 99, 2))
    events = run(book, Replace(1, 2, 101, 2))
    assert kinds(events) == ["Replaced", "Cancelled"]
    assert [o.order_id for o in book.resting()] == [1]


# -- client order ids -----------------------------------------------------------------------------

def test_resend_returns_the_first_outcome_and_no_second_order() -> None:
    book = book_with(NewOrder(2, 1, SELL, 100, 2))
    first = book.apply(NewOrder(1, 7, BUY, 100, 5, now=1))
    again = book.apply(NewOrder(1, 7, BUY, 100, 5, now=9))
    assert again == first and kinds(first) == ["Accepted", "Fill"]
    assert len(book) == 1 and book.seq == 3 and book.now == 1
    assert unchanged(book, NewOrder(1, 7, BUY, 100, 6)) == R.CLIENT_ORDER_ID_CONFLICT
    # another owner may use the same client id
    assert kinds(run(book, NewOrder(3, 7, BUY, 100, 6, now=2))) == ["Accepted"]


def test_a_rejection_is_the_first_outcome_too() -> None:
    book = Book()
    first = book.apply(NewOrder(1, 1, BUY, 100, 0))
    assert reason(first) == R.QUANTITY_OUT_OF_RANGE
    assert book.apply(NewOrder(1, 1, BUY, 100, 0)) == first


def test_client_ids_are_bounded_and_forgotten_at_end_of_day_once_closed() -> None:
    book = book_with(NewOrder(1, 1, BUY, 100, 1, time_in_force=TIF.IOC),
                     NewOrder(1, 2, BUY, 100, 1), limits=BookLimits(client_ids_max=2))
    assert unchanged(book, NewOrder(1, 3, BUY, 100, 1)) == R.CLIENT_IDS_FULL
    run(book, EndOfDay())
    # id 1 (closed) is forgotten and may be reused; id 2 still rests and still dedupes
    assert kinds(run(book, NewOrder(1, 1, BUY, 99, 1))) == ["Accepted"]
    assert reason(book.apply(NewOrder(1, 2, BUY, 98, 1))) == R.CLIENT_ORDER_ID_CONFLICT


def test_invalid_ids() -> None:
    book = Book()
    assert unchanged(book, NewOrder(0, 1, BUY, 100, 1)) == R.INVALID_ID
    assert unchanged(book, NewOrder(1, ID_MAX + 1, BUY, 100, 1)) == R.INVALID_ID


# -- limits and time ------------------------------------------------------------------------------

def test_limits_reject_with_reasons_that_change_nothing() -> None:
    limits = BookLimits(price_max=1_000, quantity_max=50, resting_orders_max=3,
                        owner_orders_max=2)
    book = book_with(NewOrder(1, 1, BUY, 10, 1), NewOrder(1, 2, BUY, 11, 1),
                     NewOrder(2, 1, BUY, 12, 1), limits=limits)
    assert unchanged(book, NewOrder(3, 1, BUY, 1_001, 1)) == R.PRICE_OUT_OF_RANGE
    assert unchanged(book, NewOrder(3, 2, BUY, 0, 1)) == R.PRICE_OUT_OF_RANGE
    assert unchanged(book, NewOrder(3, 3, BUY, 10, 51)) == R.QUANTITY_OUT_OF_RANGE
    assert unchanged(book, NewOrder(3, 4, BUY, 10, -1)) == R.QUANTITY_OUT_OF_RANGE
    assert unchanged(book, NewOrder(3, 5, SELL, 100, 1)) == R.BOOK_FULL
    # an IOC never rests, so a full book does not stop it
    assert kinds(run(book, NewOrder(3, 6, SELL, 12, 1, time_in_force=TIF.IOC))) \
        == ["Accepted", "Fill"]
    assert unchanged(book, NewOrder(1, 3, SELL, 100, 1)) == R.OWNER_FULL
    with pytest.raises(ValueError):
        BookLimits(price_max=0)


def test_time_never_goes_backwards() -> None:
    book = book_with(NewOrder(1, 1, BUY, 100, 1, now=10))
    for command in (NewOrder(1, 2, BUY, 100, 1, now=9), Cancel(1, 1, now=9),
                    Replace(1, 1, 99, 1, now=9), MassCancel(1, now=9), EndOfDay(now=9),
                    Tick(now=9)):
        assert unchanged(book, command) == R.TIME_WENT_BACKWARDS
    assert book.now == 10


def test_gtd_entries_of_gone_orders_do_not_pile_up() -> None:
    book = Book()
    for i in range(1, 3 * GTD_SLACK):
        accepted = book.apply(NewOrder(1, i, BUY, 100, 1, time_in_force=TIF.GTD,
                                       expire_at=10**9))
        book.apply(Cancel(1, accepted[0].order_id))
    run(book, NewOrder(2, 1, BUY, 99, 1, time_in_force=TIF.GTD, expire_at=50))
    assert len(book._gtd) <= GTD_SLACK + 2  # rebuilt from the live GTD orders
    seq = book.seq
    assert run(book, Tick(now=50)) == [Expired(seq + 1, 3 * GTD_SLACK, 2, 1)]


def test_the_checker_sees_a_broken_book() -> None:
    book = book_with(NewOrder(1, 1, BUY, 100, 5), NewOrder(1, 2, SELL, 101, 5))
    level = book._bids.levels[100]
    level.quantity += 1
    assert any("quantity" in problem for problem in book.check())
    level.quantity -= 1
    book._asks.levels[-101].price = 100
    assert book.check() != []


# -- random command streams -----------------------------------------------------------------------

LIMITS = BookLimits(price_max=110, quantity_max=20, resting_orders_max=9, owner_orders_max=4,
                    market_band_ticks=3, client_ids_max=30, trades_kept_max=6,
                    depth_levels_max=50)
owners = st.integers(1, 3)


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int = 8
           ) -> st.SearchStrategy[Any]:
    """``common`` ``odds`` times as often as ``rare``."""
    return weighted([common] * odds + [rare])


def weighted(choices: list[st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of ``choices``, each as often as it is listed (``one_of`` ignores repeats)."""
    return st.sampled_from(choices).flatmap(lambda chosen: chosen)


prices = mostly(st.integers(96, 106), st.sampled_from([0, 1, 110, 111]))
quantities = mostly(st.integers(1, 8), st.sampled_from([0, 20, 21]))
tifs = st.sampled_from([TIF.GTC] * 7 + [TIF.GTD, TIF.DAY, TIF.IOC, TIF.FOK])
new_ops = st.tuples(
    st.just("new"), owners, st.integers(1, 40), st.sampled_from([BUY, SELL]), prices, quantities,
    st.sampled_from([OrderType.LIMIT] * 6 + [MARKET]), tifs, mostly(st.integers(1, 6),
                                                                     st.integers(-1, 0), 4),
    st.sampled_from([False] * 4 + [True]), st.sampled_from(list(STP)),
    st.sampled_from([0, 0, 0, 100, 120]))
mine = st.integers(0, 9).map(bool)  # a cancel or replace by the order's owner, 9 times in 10
replaces = st.tuples(st.just("replace"), st.integers(0, 1_000), mine, prices, quantities)
ops = weighted([
    *[new_ops] * 12, *[replaces] * 8,
    st.tuples(st.just("resend"), st.integers(0, 1_000)),
    st.tuples(st.just("cancel"), st.integers(0, 1_000), mine),
    st.tuples(st.just("cancel"), st.integers(0, 1_000), mine),
    st.tuples(st.just("tick")),
    st.tuples(st.just("mass"), owners, st.sampled_from([None, BUY, SELL])),
    st.tuples(st.just("eod")),
])
steps = st.sampled_from([0] * 8 + [1] * 6 + [2, 5, -1])  # time mostly forward
streams = st.lists(st.tuples(ops, steps), min_size=30, max_size=150)


Op = tuple[Any, ...]
Stream = list[tuple[Op, int]]


def command_for(op: Op, now: int, resting: Callable[[], tuple[RestingOrder, ...]],
                sent: list[NewOrder]) -> Command:
    """The command an abstract op stands for, given the book's resting orders (a live order
    for cancels and replaces, mostly by its owner)."""
    kind = op[0]
    if kind == "new":
        _, owner, coid, side, price, qty, otype, tif, expiry, post, stp, ref = op
        price = skew(price, side)
        if otype is MARKET:
            price, tif = price if price > 106 else 0, TIF.IOC if tif is TIF.GTC else tif
        expire_at = now + expiry if tif is TIF.GTD else (9 if expiry < 0 else 0)
        ref = ref if otype is MARKET or expiry < 0 else 0  # a limit with a reference: rarely
        order = NewOrder(owner, coid, side, price, qty, otype, tif, expire_at, post, stp, ref,
                         now)
        sent.append(order)
        return order
    if kind == "resend":
        if not sent:
            return Tick(now)
        first = sent[op[1] % len(sent)]
        return NewOrder(first.owner, first.client_order_id, first.side, first.price,
                        first.quantity, first.order_type, first.time_in_force,
                        first.expire_at, first.post_only, first.stp, first.reference_price, now)
    if kind in ("cancel", "replace"):
        orders = resting()
        if orders:
            target = orders[op[1] % len(orders)]
            order_id, owner = target.order_id, target.owner if op[2] else 1 + target.owner % 3
            side = target.side
        else:
            order_id, owner, side = op[1] % 5, 1, BUY
        if kind == "cancel":
            return Cancel(owner, order_id, now)
        return Replace(owner, order_id, skew(op[3], side), op[4], now)
    if kind == "mass":
        return MassCancel(op[1], op[2], now)
    return EndOfDay(now) if kind == "eod" else Tick(now)


def skew(price: int, side: Side) -> int:
    """Buy a little lower and sell a little higher, so that orders rest as often as cross."""
    if 96 <= price <= 106:
        return price - 2 if side is BUY else price + 2
    return price


def commands(stream: Stream, resting: Callable[[], tuple[RestingOrder, ...]]
             ) -> Iterator[Command]:
    """The stream's commands, each made from the book's state when it is asked for. A step
    of −1 sends one command a tick back in time (rejected), without moving the clock back."""
    sent: list[NewOrder] = []
    now = 0
    for op, step in stream:
        now += max(step, 0)
        yield command_for(op, now + min(step, 0), resting, sent)


class OrderTally:
    """Per order, what the events say: its total quantity, filled, closed and its price."""

    def __init__(self) -> None:
        self.quantity: dict[int, int] = {}
        self.filled: dict[int, int] = {}
        self.closed: dict[int, int] = {}
        self.price: dict[int, int] = {}
        self.side: dict[int, Side] = {}
        self.post_only: set[int] = set()
        self.immediate: set[int] = set()  # IOC, FOK or market

    def accept(self, event: Accepted, command: NewOrder) -> None:
        oid = event.order_id
        self.quantity[oid], self.filled[oid], self.closed[oid] = event.quantity, 0, 0
        self.price[oid], self.side[oid] = event.price, event.side
        if command.post_only:
            self.post_only.add(oid)
        if command.time_in_force in (TIF.IOC, TIF.FOK):
            self.immediate.add(oid)


def check_stream_invariants(commands: list[Command], results: list[tuple[Event, ...]],
                            book: Book) -> None:
    """Sequence numbers, no self-trade, maker's price within the taker's limit, post-only
    never takes, FOK all or nothing, IOC never rests, quantity conserved per order."""
    tally = OrderTally()
    last_seq = 0
    seen: list[tuple[Event, ...]] = []
    for command, events in zip(commands, results, strict=True):
        if events and events[0].seq <= last_seq:  # a resend: the first outcome, unchanged
            assert isinstance(command, NewOrder)  # (after any expiries of its first time)
            assert any(first[len(first) - len(events):] == events for first in seen)
            continue
        seen.append(events)
        assert [e.seq for e in events] == list(range(last_seq + 1, last_seq + 1 + len(events)))
        last_seq = events[-1].seq if events else last_seq
        for e in events:
            if isinstance(e, Accepted):
                assert isinstance(command, NewOrder)
                tally.accept(e, command)
            elif isinstance(e, Fill):
                t = e.trade
                assert t.maker_owner != t.taker_owner  # no self-trade
                assert t.price == tally.price[t.maker_order_id]  # the maker's price
                taker_limit = tally.price[t.taker_order_id]
                assert t.price <= taker_limit if t.taker_side is BUY else t.price >= taker_limit
                assert t.taker_order_id not in tally.post_only  # never takes
                for oid, leaves in ((t.maker_order_id, e.maker_leaves),
                                    (t.taker_order_id, e.taker_leaves)):
                    tally.filled[oid] += t.quantity
                    assert leaves == tally.quantity[oid] - tally.filled[oid]
            elif isinstance(e, Replaced):
                tally.quantity[e.order_id], tally.price[e.order_id] = \
                    e.quantity, e.price
                assert e.leaves == e.quantity - tally.filled[e.order_id]
            elif isinstance(e, (Cancelled, Expired)):
                tally.closed[e.order_id] += e.quantity
        if isinstance(command, NewOrder) and command.time_in_force is TIF.FOK:
            accepted = [e.order_id for e in events if isinstance(e, Accepted)]
            taken = sum(e.trade.quantity for e in events if isinstance(e, Fill))
            assert taken == (command.quantity if accepted else 0)  # all or nothing
            assert not any(isinstance(e, Cancelled) and e.order_id in accepted for e in events)
    resting = {o.order_id: o for o in book.resting()}
    for oid, quantity in tally.quantity.items():
        filled, closed = tally.filled[oid], tally.closed[oid]
        if oid in resting:
            assert oid not in tally.immediate  # IOC/FOK never rest
            assert resting[oid].quantity == quantity and resting[oid].leaves == quantity - filled
            assert closed == 0
        else:
            assert filled + closed == quantity, oid  # quantity conserved


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams)
def test_random_streams_keep_the_invariants_and_replay_identically(stream: Stream) -> None:
    book = Book(LIMITS)
    applied: list[Command] = []
    results: list[tuple[Event, ...]] = []
    for command in commands(stream, book.resting):
        applied.append(command)
        results.append(book.apply(command))
        assert book.check() == []  # includes: never crossed at rest
        if isinstance(command, NewOrder) and command.time_in_force in (TIF.IOC, TIF.FOK):
            assert all(book.order(e.order_id) is None  # IOC and FOK never rest
                       for e in results[-1] if isinstance(e, Accepted))
    check_stream_invariants(applied, results, book)
    replay = Book(LIMITS)
    assert [replay.apply(c) for c in applied] == results  # replay determinism
    assert replay.resting() == book.resting() and replay.depth(50) == book.depth(50)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams)
def test_random_streams_match_the_reference_book(stream: Stream) -> None:
    book, reference = Book(LIMITS), ReferenceBook(LIMITS)
    for command in commands(stream, reference.resting_orders):
        ours, theirs = book.apply(command), reference.apply(command)
        assert [(type(e), e) for e in ours] == [(type(e), e) for e in theirs], command
        assert book.depth(50) == reference.depth(50)
        assert book.top_of_book() == reference.top_of_book()
        assert book.trades() == reference.trades() and book.trades(2) == reference.trades(2)
    assert book.resting() == reference.resting_orders()


def test_public_all_is_sorted() -> None:
    """As tests/test_architecture.py checks other packages: ruff's RUF022 order (CONSTANTS,
    Classes, functions; each alphabetical)."""
    import tokenomy.exchange

    names = list(tokenomy.exchange.__all__)
    assert names == sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper()
                                                 else 2, n))
    assert all(hasattr(tokenomy.exchange, name) for name in names)

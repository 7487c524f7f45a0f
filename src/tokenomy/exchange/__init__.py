"""The exchange: order books and matching (pure: no clock, randomness or I/O).

In: commands for one instrument's :class:`Book` — :class:`NewOrder`, :class:`Cancel`,
:class:`Replace`, :class:`MassCancel`, :class:`EndOfDay`, :class:`Tick` — each with the
caller's ``now``. Out: sequence-numbered events (:class:`Accepted`, :class:`Rejected` with a
:class:`RejectReason`, :class:`Fill` carrying a :class:`Trade`, :class:`Cancelled`,
:class:`Replaced`, :class:`Expired`), and market data on request: L1 :class:`TopOfBook`,
L2 :class:`Depth`, L3 :class:`RestingOrder` and the trade list. Prices are integer ticks and
quantities positive integers; the same command stream always gives the same events.

Beside the book: :mod:`~tokenomy.exchange.contracts` (grades, CME-style contract specs and the
instruments they list), :mod:`~tokenomy.exchange.index` (the token price index per grade) and
:mod:`~tokenomy.exchange.black76` (option prices, greeks, implied volatility),
:mod:`~tokenomy.exchange.option_quotes` (an option book's Black-76 value at its future's price)
and :mod:`~tokenomy.exchange.simulate` (a seeded market day of producers, consumers and
hedgers on in-memory books).
"""

from tokenomy.exchange.book import DEFAULT_LIMITS, Book, BookLimits
from tokenomy.exchange.market_data import Depth, Level, RestingOrder, TopOfBook
from tokenomy.exchange.orders import (
    ID_MAX,
    Accepted,
    Cancel,
    Cancelled,
    CancelReason,
    Command,
    EndOfDay,
    Event,
    Expired,
    Fill,
    MassCancel,
    NewOrder,
    OrderType,
    Rejected,
    RejectReason,
    Replace,
    Replaced,
    SelfTradePrevention,
    Side,
    Tick,
    TimeInForce,
    Trade,
)

__all__ = [
    "DEFAULT_LIMITS",
    "ID_MAX",
    "Accepted",
    "Book",
    "BookLimits",
    "Cancel",
    "CancelReason",
    "Cancelled",
    "Command",
    "Depth",
    "EndOfDay",
    "Event",
    "Expired",
    "Fill",
    "Level",
    "MassCancel",
    "NewOrder",
    "OrderType",
    "RejectReason",
    "Rejected",
    "Replace",
    "Replaced",
    "RestingOrder",
    "SelfTradePrevention",
    "Side",
    "Tick",
    "TimeInForce",
    "TopOfBook",
    "Trade",
]

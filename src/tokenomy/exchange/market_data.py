"""Market data records: L1 (best bid and ask), L2 (depth by price level), L3 (resting orders).

The book builds them on request (``Book.top_of_book``, ``Book.depth``, ``Book.resting``); the
trade list is ``Book.trades``. Prices are ticks, quantities are contracts, as in the book.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.exchange.orders import SelfTradePrevention, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class Level:
    """One price level: the total quantity resting there and in how many orders."""

    price: int
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """L1: the best bid and the best ask (``None`` for an empty side)."""

    bid: Level | None
    ask: Level | None
    seq: int  # the book's last sequence number when this was taken


@dataclass(frozen=True, slots=True)
class Depth:
    """L2: the best ``len(bids)``/``len(asks)`` levels of each side, best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """L3: one resting order as it stands (``leaves`` = quantity − filled)."""

    order_id: int
    owner: int
    client_order_id: int
    side: Side
    price: int
    quantity: int
    leaves: int
    time_in_force: TimeInForce
    expire_at: int
    post_only: bool
    stp: SelfTradePrevention

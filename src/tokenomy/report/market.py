"""The market panel: token price index per grade, order book depth, recent trades, futures curve.

In: the store (the exchange journal: every book with a journaled command is replayed through
:class:`~tokenomy.store.exchange_journal.JournaledBook`), the price book and the instant ``at``.
Out: one JSON-ready :class:`MarketSnapshot` (prices as decimal strings in each contract's
quotation, USD per 1,000,000 tokens). No market data gives empty lists, never an error.

* **index**: :func:`tokenomy.exchange.index.compute_index` per grade over the grade's spot
  trades (:func:`~tokenomy.store.exchange_index.grade_trades`: VWAP when the volume suffices,
  else the median list price).
* **futures curve**: per grade, each listed future in month order with its last trade price,
  else the mid of its best bid and ask, else no price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenomy.exchange.book import Book
from tokenomy.exchange.contracts import Instrument, InstrumentKind, bundled_specs, instruments
from tokenomy.exchange.index import GRADES, NoIndexValueError, compute_index
from tokenomy.pricing import PriceBook
from tokenomy.store.exchange_index import grade_trades
from tokenomy.store.exchange_journal import JournaledBook
from tokenomy.store.ledger_sql import SQLLedger

DEPTH_LEVELS = 10
RECENT_TRADES = 20
BOOKS_MAX = 200  # books one snapshot replays


def _price(ticks: int, tick: Decimal) -> str:
    return f"{ticks * tick:f}"


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    at: datetime
    index: list[dict[str, Any]] = field(default_factory=list)
    books: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "index": self.index, "books": self.books,
                "trades": self.trades, "curve": self.curve,
                "unit": "USD per 1,000,000 tokens"}


def _book_json(inst: Instrument, book: Book) -> dict[str, Any]:
    tick = inst.spec.tick
    depth = book.depth(DEPTH_LEVELS)

    def levels(side: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"price": _price(lv.price, tick), "quantity": lv.quantity, "orders": lv.orders}
                for lv in side]

    return {"symbol": inst.symbol, "kind": inst.kind.value, "grade": inst.spec.grade.name,
            "bids": levels(depth.bids), "asks": levels(depth.asks)}


def _mark(inst: Instrument, book: Book | None) -> tuple[str | None, str]:
    """(price, source) of a future: last trade, else the mid, else none."""
    if book is None:
        return None, "none"
    tick = inst.spec.tick
    last = book.trades(1)
    if last:
        return _price(last[0].price, tick), "last_trade"
    top = book.top_of_book()
    if top.bid is not None and top.ask is not None:
        return f"{Decimal(top.bid.price + top.ask.price) * tick / 2:f}", "mid"
    return None, "none"


def snapshot(store: SQLLedger, prices: PriceBook, at: datetime) -> MarketSnapshot:
    """The market as of ``at`` from every journaled book that is listed on ``at``'s day."""
    listed = {i.symbol: i for i in instruments(bundled_specs(), at.date())}
    books: dict[str, Book] = {}
    for name in store.journaled_books()[:BOOKS_MAX]:
        if name in listed:
            books[name] = JournaledBook.open(store, name).book
    out = MarketSnapshot(at)
    trades_by_grade = grade_trades(store, at)  # spot, USD, in 1M-token contracts
    for symbol, book in books.items():
        inst = listed[symbol]
        out.books.append(_book_json(inst, book))
        for t in book.trades(RECENT_TRADES):
            out.trades.append({"symbol": symbol, "trade_id": t.trade_id,
                               "price": _price(t.price, inst.spec.tick), "quantity": t.quantity,
                               "taker_side": t.taker_side.value,
                               "at": datetime.fromtimestamp(t.now // 10**9, UTC).isoformat(),
                               "at_ns": t.now})
    out.trades.sort(key=lambda t: (-t["at_ns"], t["symbol"], -t["trade_id"]))
    del out.trades[RECENT_TRADES:]
    for grade in GRADES:
        try:
            value = compute_index(grade, at, prices, trades_by_grade.get(grade.name, ()))
        except NoIndexValueError:
            out.index.append({"grade": grade.name, "value": None, "method": "none"})
            continue
        out.index.append({"grade": grade.name, "value": str(value.value),
                          "method": value.method.value, "volume": value.volume,
                          "inputs": value.inputs})
    for inst in listed.values():
        if inst.kind is InstrumentKind.FUTURE:
            price, source = _mark(inst, books.get(inst.symbol))
            out.curve.append({"grade": inst.spec.grade.name, "symbol": inst.symbol,
                              "month": inst.month.isoformat() if inst.month else None,
                              "price": price, "source": source})
    return out


__all__ = ["MarketSnapshot", "snapshot"]

"""``/api/exchange/...``: order entry and market data over journaled books.

In: orders and cancels as JSON, prices as decimal strings in the contract's quotation
(``"15.01"`` USD per 1,000,000 tokens). Each is converted at once to a command in integer
ticks (the instrument's spec tick) and applied through the symbol's
:class:`~tokenomy.store.exchange_journal.JournaledBook` — journaled in the store before it
applies. Out: ``{"events": [...]}``, every event as JSON with prices back as decimal strings;
a ``Rejected`` event answers 422 with the events and the reason. Market data: L1 + L2 per
symbol and the latest trades.

Bad input — malformed JSON, a missing or mistyped field, a quantity ≤ 0, an id outside
1..ID_MAX, an off-tick price — is a 400 ``{"error": {"type", "message"}}`` and journals
nothing; an unknown (not listed today) symbol is a 404.

Books open lazily (replaying their journal) per symbol, are cached on ``app.state`` and take
turns behind one ``asyncio.Lock`` each; store work runs in a thread. ``now`` is the wall clock
in nanoseconds (never below the book's last ``now``), so ``expire_at`` (GTD) is nanoseconds
since the epoch too. One process writes a book: a second writer's batch fails on the
journal's key (503, the cached book is dropped and reopened on the next request).

Every book is a :class:`~tokenomy.store.exchange_clearing.ClearedBook`: an order is checked
(daily band, position limit) and its buying power held in the ledger before it is journaled,
and fills move money and credits in the same transaction; a refusal is a 422 naming the
reason. A book opened for the first time takes the grade's index value as its reference.
Positions, deposits, credits and settlement: :mod:`tokenomy.gateway.exchange_clearing_routes`.

Not done: authentication (``owner`` is whatever the caller says).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from tokenomy.exchange import (
    ID_MAX,
    Book,
    Cancel,
    Command,
    Event,
    Level,
    NewOrder,
    OrderType,
    Rejected,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)
from tokenomy.exchange.contracts import Instrument, bundled_specs, instruments
from tokenomy.exchange.index import ListPrices, compute_index, parse_grade
from tokenomy.gateway.errors import error_body
from tokenomy.store import StoreError
from tokenomy.store.exchange_clearing import ClearedBook

T = TypeVar("T")

LEVELS_DEFAULT = 10
LEVELS_MAX = 100  # L2 levels per side one request may ask for
TRADES_DEFAULT = 100
TRADES_MAX = 1_000  # the book keeps this many (BookLimits.trades_kept_max)
PRICE_CHARS_MAX = 32
_PRICE = re.compile(r"[0-9]+(\.[0-9]+)?")
_INT = re.compile(r"[0-9]{1,19}")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: StrictStr
    owner: StrictInt
    client_order_id: StrictInt
    side: Literal["buy", "sell"]
    price: StrictStr | None = None  # required for a limit order; none for a market order
    quantity: StrictInt
    type: Literal["limit", "market"] = "limit"
    time_in_force: Literal["gtc", "ioc", "fok", "day", "gtd"] = "gtc"
    post_only: StrictBool = False
    expire_at: StrictInt = 0  # GTD only: nanoseconds since the epoch
    stp: Literal["cancel_newest", "cancel_oldest", "cancel_both"] = "cancel_newest"


class BadInput(ValueError):
    """Input the routes refuse (400), with the error ``type`` of the JSON body."""

    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass
class _Exchange:
    """The process's open books (by symbol), their locks and today's instrument list."""

    prices: ListPrices
    books: dict[str, ClearedBook] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    listed_on: date | None = None
    listed: dict[str, Instrument] = field(default_factory=dict)

    def instruments(self) -> dict[str, Instrument]:
        today = date.today()  # the clock, read here at the edge
        if self.listed_on != today:
            self.listed = {i.symbol: i for i in instruments(bundled_specs(), today)}
            self.listed_on = today
        return self.listed

    def instrument(self, symbol: str) -> Instrument:
        found = self.instruments().get(symbol)
        if found is None:
            raise BadInput("unknown_symbol", f"no instrument {symbol!r} is listed today", 404)
        return found

    def lock(self, symbol: str) -> asyncio.Lock:
        return self.locks.setdefault(symbol, asyncio.Lock())

    async def book(self, request: Request, symbol: str) -> ClearedBook:
        """The symbol's cleared book (opened and replayed on first use); hold :meth:`lock`."""
        book = self.books.get(symbol)
        if book is None or book.broken:
            instrument = self.instrument(symbol)
            book = await asyncio.to_thread(ClearedBook.open, request.app.state.ledger,
                                           instrument, self.reference(instrument))
            self.books[symbol] = book
        return book

    def reference(self, instrument: Instrument) -> int:
        """The grade's index value now, in the instrument's ticks: a new book's reference."""
        spec = instrument.spec
        value = compute_index(parse_grade(spec.grade.name), datetime.now(UTC),
                              self.prices).value
        return max(int((value / spec.tick).to_integral_value()), 1)


def _exchange(request: Request) -> _Exchange:
    found: _Exchange = request.app.state.exchange  # set by exchange_router's caller
    return found


# -- wire conversions ---------------------------------------------------------------------


def to_ticks(price: str, tick: Decimal) -> int:
    """``price`` (a decimal string in the quotation) as a whole number of ``tick`` s."""
    if len(price) > PRICE_CHARS_MAX or not _PRICE.fullmatch(price):
        raise BadInput("invalid_price", f"price must be a decimal string like \"15.01\", "
                                        f"not {price[:PRICE_CHARS_MAX]!r}")
    try:
        ticks = Decimal(price) / tick
    except InvalidOperation:
        raise BadInput("invalid_price", f"price {price!r} is not a decimal") from None
    if ticks != ticks.to_integral_value():
        raise BadInput("off_tick", f"price {price} is not a multiple of the tick {tick:f}")
    return int(ticks)


def from_ticks(ticks: int, tick: Decimal) -> str:
    return f"{ticks * tick:f}"


def _level_json(level: Level | None, tick: Decimal) -> dict[str, Any] | None:
    if level is None:
        return None
    return {"price": from_ticks(level.price, tick), "quantity": level.quantity,
            "orders": level.orders}


def _trade_json(trade: Trade, tick: Decimal) -> dict[str, Any]:
    out: dict[str, Any] = trade._asdict()
    out["price"] = from_ticks(trade.price, tick)
    out["taker_side"] = trade.taker_side.value
    return out


def event_json(event: Event, tick: Decimal) -> dict[str, Any]:
    """The event as JSON: ``type`` first, prices as decimal strings, enums by value."""
    out: dict[str, Any] = {"type": type(event).__name__.lower()}
    for key, value in event._asdict().items():
        if isinstance(value, Trade):
            value = _trade_json(value, tick)
        elif key == "price":
            value = from_ticks(value, tick)
        elif isinstance(value, StrEnum):
            value = value.value
        out[key] = value
    return out


def _id(value: int, name: str) -> int:
    if not 0 < value <= ID_MAX:
        raise BadInput("invalid_request", f"{name} must be 1..{ID_MAX}, not {value}")
    return value


def _query_int(text: str, name: str, maximum: int) -> int:
    if not _INT.fullmatch(text) or not 0 < int(text) <= maximum:
        raise BadInput("invalid_request", f"{name} must be an integer 1..{maximum}, "
                                          f"not {text[:40]!r}")
    return int(text)


def parse_order(body: Any, exchange: _Exchange) -> tuple[NewOrder, Decimal, str]:
    """The body as a :class:`NewOrder` (``now`` = 0), its tick and its symbol."""
    try:
        order = OrderIn.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                             for e in exc.errors())
        raise BadInput("invalid_request", problems) from None
    instrument = exchange.instrument(order.symbol)
    tick = instrument.spec.tick
    if order.quantity <= 0:
        raise BadInput("invalid_request", f"quantity must be positive, not {order.quantity}")
    if order.expire_at < 0:
        raise BadInput("invalid_request", f"expire_at must be ≥ 0, not {order.expire_at}")
    kind = OrderType(order.type)
    if kind is OrderType.LIMIT and order.price is None:
        raise BadInput("invalid_request", "price: required for a limit order")
    if kind is OrderType.MARKET and order.price is not None:
        raise BadInput("invalid_request", "price: a market order has none (its band decides)")
    price = 0 if order.price is None else to_ticks(order.price, tick)
    if kind is OrderType.LIMIT and price <= 0:
        raise BadInput("invalid_price", f"a limit price must be positive, not {order.price}")
    command = NewOrder(_id(order.owner, "owner"), _id(order.client_order_id, "client_order_id"),
                       Side(order.side), price, order.quantity, kind,
                       TimeInForce(order.time_in_force), order.expire_at, order.post_only,
                       SelfTradePrevention(order.stp))
    return command, tick, instrument.symbol


# -- routes -------------------------------------------------------------------------------


def _bad(exc: BadInput) -> JSONResponse:
    return JSONResponse(error_body(exc.kind, str(exc)), status_code=exc.status)


async def _read(request: Request, symbol: str, read: Callable[[Book], T]) -> T | JSONResponse:
    """``read(book)`` under the symbol's lock (the book opened, or replayed, if need be)."""
    exchange = _exchange(request)
    async with exchange.lock(symbol):
        try:
            journaled = await exchange.book(request, symbol)
        except StoreError as exc:
            return JSONResponse(error_body("store_unavailable", str(exc)), status_code=503)
        return read(journaled.book)


async def _apply(request: Request, symbol: str, tick: Decimal,
                 make: Callable[[int], Command]) -> dict[str, Any] | JSONResponse:
    """Apply ``make(now)`` to the symbol's book, under its lock; the events (422 if rejected)."""
    exchange = _exchange(request)
    async with exchange.lock(symbol):
        try:
            book = await exchange.book(request, symbol)
            now = max(time.time_ns(), book.book.now)
            outcome = await asyncio.to_thread(book.submit, make(now))
        except StoreError as exc:
            exchange.books.pop(symbol, None)  # reopen (replay) on the next request
            return JSONResponse(error_body("store_unavailable", str(exc)), status_code=503)
    body: dict[str, Any] = {"events": [event_json(e, tick) for e in outcome.events]}
    if outcome.reject is not None:
        body.update(error_body(outcome.reject.value, f"clearing refused the order on "
                                                     f"{symbol}: {outcome.reject}"))
        return JSONResponse(body, status_code=422)
    rejected = next((e for e in outcome.events if isinstance(e, Rejected)), None)
    if rejected is not None:
        body.update(error_body(rejected.reason.value,
                               f"the {symbol} book rejected the command: {rejected.reason}"))
        return JSONResponse(body, status_code=422)
    return body


def exchange_state(prices: ListPrices) -> _Exchange:
    """What the routes keep on ``app.state.exchange``: books, locks, today's instruments."""
    return _Exchange(prices)


def exchange_router() -> APIRouter:
    """Routes over cleared books in ``app.state.ledger`` (opened in the app's lifespan)."""
    router = APIRouter(prefix="/api/exchange", tags=["exchange"])

    @router.get("/instruments")
    async def list_instruments(request: Request) -> dict[str, Any]:
        """The bundled instruments listed today."""
        listed = _exchange(request).instruments()
        return {"instruments": [i.to_json() for i in listed.values()]}

    @router.post("/orders", response_model=None)
    async def new_order(request: Request,
                        body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """Enter an order: its events (`accepted`, `fill`…); a rejection is a 422."""
        try:
            order, tick, symbol = parse_order(body, _exchange(request))
        except BadInput as exc:
            return _bad(exc)
        return await _apply(request, symbol, tick,
                            lambda now: replace(order, now=now))

    @router.delete("/orders/{symbol}/{order_id}", response_model=None)
    async def cancel_order(request: Request, symbol: str, order_id: str,
                           owner: str = "") -> dict[str, Any] | JSONResponse:
        """Cancel a resting order of `owner`."""
        try:
            tick = _exchange(request).instrument(symbol).spec.tick
            wanted = _query_int(order_id, "order_id", ID_MAX)
            who = _query_int(owner, "owner", ID_MAX)
        except BadInput as exc:
            return _bad(exc)
        return await _apply(request, symbol, tick, lambda now: Cancel(who, wanted, now))

    @router.get("/book/{symbol}", response_model=None)
    async def book(request: Request, symbol: str,
                   levels: str = str(LEVELS_DEFAULT)) -> dict[str, Any] | JSONResponse:
        """L1 (best bid and ask) and L2 (the best `levels` price levels per side)."""
        exchange = _exchange(request)
        try:
            tick = exchange.instrument(symbol).spec.tick
            count = _query_int(levels, "levels", LEVELS_MAX)
        except BadInput as exc:
            return _bad(exc)
        read = await _read(request, symbol, lambda b: (b.top_of_book(), b.depth(count)))
        if isinstance(read, JSONResponse):
            return read
        top, depth = read
        return {"symbol": symbol, "seq": depth.seq,
                "bid": _level_json(top.bid, tick), "ask": _level_json(top.ask, tick),
                "bids": [_level_json(lv, tick) for lv in depth.bids],
                "asks": [_level_json(lv, tick) for lv in depth.asks]}

    @router.get("/trades", response_model=None)
    async def trades(request: Request, symbol: str = "",
                     limit: str = str(TRADES_DEFAULT)) -> dict[str, Any] | JSONResponse:
        """The latest `limit` trades of `symbol`, oldest first."""
        exchange = _exchange(request)
        try:
            tick = exchange.instrument(symbol).spec.tick
            count = _query_int(limit, "limit", TRADES_MAX)
        except BadInput as exc:
            return _bad(exc)
        latest = await _read(request, symbol, lambda b: b.trades(count))
        if isinstance(latest, JSONResponse):
            return latest
        return {"symbol": symbol, "trades": [_trade_json(t, tick) for t in latest]}

    return router


__all__ = ["BadInput", "OrderIn", "event_json", "exchange_router", "exchange_state", "from_ticks",
           "to_ticks"]

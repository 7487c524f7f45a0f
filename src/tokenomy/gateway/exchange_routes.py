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

Every applied command is also published, as L2 ``book`` and ``trade`` messages, to the
process's :mod:`~tokenomy.gateway.market_feed` (the websocket in
:mod:`~tokenomy.gateway.exchange_stream`). An option's book carries the Black-76 model value
(:mod:`~tokenomy.exchange.option_quotes`).

Not done: EndOfDay over HTTP, and authentication (``owner`` is whatever the caller says).
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
from starlette.requests import HTTPConnection

from tokenomy.exchange import (
    ID_MAX,
    Book,
    Cancel,
    Command,
    Depth,
    Event,
    Fill,
    Level,
    MassCancel,
    NewOrder,
    OrderType,
    Rejected,
    Replace,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)
from tokenomy.exchange.contracts import Instrument, bundled_specs, instruments
from tokenomy.exchange.index import ListPrices, compute_index, parse_grade
from tokenomy.exchange.option_quotes import quote_option
from tokenomy.gateway.errors import error_body
from tokenomy.gateway.market_feed import Message, market_feed
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


class ReplaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: StrictInt
    price: StrictStr
    quantity: StrictInt


class MassCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: StrictStr
    owner: StrictInt
    side: Literal["buy", "sell"] | None = None


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

    async def book(self, request: HTTPConnection, symbol: str) -> ClearedBook:
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


def _exchange(request: HTTPConnection) -> _Exchange:
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


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], body: Any) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                             for e in exc.errors())
        raise BadInput("invalid_request", problems) from None


def _limit_price(text: str, tick: Decimal) -> int:
    price = to_ticks(text, tick)
    if price <= 0:
        raise BadInput("invalid_price", f"a limit price must be positive, not {text}")
    return price


def _quantity(value: int) -> int:
    if value <= 0:
        raise BadInput("invalid_request", f"quantity must be positive, not {value}")
    return value


def parse_replace(body: Any, order_id: str) -> tuple[int, int, str, int]:
    """(order id, owner, price text, quantity) of a replace; the price is checked on its tick."""
    change = _validate(ReplaceIn, body)
    wanted = _query_int(order_id, "order_id", ID_MAX)
    return wanted, _id(change.owner, "owner"), change.price, _quantity(change.quantity)


def parse_order(body: Any, exchange: _Exchange) -> tuple[NewOrder, Decimal, str]:
    """The body as a :class:`NewOrder` (``now`` = 0), its tick and its symbol."""
    order = _validate(OrderIn, body)
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
    price = 0 if order.price is None else _limit_price(order.price, tick)
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
    """Apply ``make(now)`` to the symbol's book, under its lock, and publish the book and its
    trades to the feed; the events (422 if rejected)."""
    exchange = _exchange(request)
    async with exchange.lock(symbol):
        try:
            book = await exchange.book(request, symbol)
            now, prev_seq = max(time.time_ns(), book.book.now), book.book.seq
            outcome = await asyncio.to_thread(book.submit, make(now))
        except StoreError as exc:
            exchange.books.pop(symbol, None)  # reopen (replay) on the next request
            return JSONResponse(error_body("store_unavailable", str(exc)), status_code=503)
        feed = market_feed(request.app.state)
        if feed.watching(symbol) and outcome.events:  # under the lock: the book's order
            feed.publish(symbol, feed_messages(symbol, tick, book.book, outcome.events,
                                               prev_seq))
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


STREAM_LEVELS = 10  # L2 levels per side in the feed's book messages


def book_json(symbol: str, tick: Decimal, depth: Depth) -> dict[str, Any]:
    """L1 (the first level of each side) and L2 of ``depth``, with its sequence number."""
    return {"symbol": symbol, "seq": depth.seq,
            "bid": _level_json(depth.bids[0] if depth.bids else None, tick),
            "ask": _level_json(depth.asks[0] if depth.asks else None, tick),
            "bids": [_level_json(lv, tick) for lv in depth.bids],
            "asks": [_level_json(lv, tick) for lv in depth.asks]}


def feed_messages(symbol: str, tick: Decimal, book: Book, events: tuple[Event, ...],
                  prev_seq: int) -> list[Message]:
    """A command's messages: one ``trade`` per fill, then the ``book`` as it now stands, whose
    ``prev_seq`` is the book's ``seq`` before the command (a client that saw another missed
    something)."""
    messages: list[Message] = [
        {"type": "trade", "symbol": symbol, "seq": e.seq, **_trade_json(e.trade, tick)}
        for e in events if isinstance(e, Fill)]
    messages.append({"type": "book", **book_json(symbol, tick, book.depth(STREAM_LEVELS)),
                     "prev_seq": prev_seq})
    return messages


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

    @router.post("/orders/{symbol}/{order_id}/replace", response_model=None)
    async def replace_order(request: Request, symbol: str, order_id: str,
                            body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """Change a resting order's price and total quantity: `{"owner", "price", "quantity"}`.
        It keeps its time priority only at the same price with no more quantity."""
        try:
            tick = _exchange(request).instrument(symbol).spec.tick
            wanted, who, price_text, quantity = parse_replace(body, order_id)
            price = _limit_price(price_text, tick)
        except BadInput as exc:
            return _bad(exc)
        return await _apply(request, symbol, tick,
                            lambda now: Replace(who, wanted, price, quantity, now))

    @router.post("/mass-cancel", response_model=None)
    async def mass_cancel(request: Request,
                          body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """Cancel every resting order of `owner` in `symbol` (one `side` only, if given)."""
        try:
            wanted = _validate(MassCancelIn, body)
            tick = _exchange(request).instrument(wanted.symbol).spec.tick
            who = _id(wanted.owner, "owner")
        except BadInput as exc:
            return _bad(exc)
        side = None if wanted.side is None else Side(wanted.side)
        return await _apply(request, wanted.symbol, tick,
                            lambda now: MassCancel(who, side, now))

    @router.get("/book/{symbol}", response_model=None)
    async def book(request: Request, symbol: str,
                   levels: str = str(LEVELS_DEFAULT)) -> dict[str, Any] | JSONResponse:
        """L1 (best bid and ask) and L2 (the best `levels` price levels per side); an option's
        book adds `model`: its Black-76 value and greeks at the underlying future's price, and
        the volatility its best bid and ask imply (exchange/option_quotes.py)."""
        exchange = _exchange(request)
        try:
            instrument = exchange.instrument(symbol)
            count = _query_int(levels, "levels", LEVELS_MAX)
        except BadInput as exc:
            return _bad(exc)
        depth = await _read(request, symbol, lambda b: b.depth(count))
        if isinstance(depth, JSONResponse):
            return depth
        body = book_json(symbol, instrument.spec.tick, depth)
        if instrument.underlying is None:
            return body
        future = await _read(request, instrument.underlying, lambda b: (b.depth(1), b.trades(1)))
        if isinstance(future, JSONResponse):
            return future
        body["model"] = quote_option(instrument, date.today(), depth, *future).to_json()
        return body

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


__all__ = ["STREAM_LEVELS", "BadInput", "MassCancelIn", "OrderIn", "ReplaceIn", "book_json",
           "event_json", "exchange_router", "exchange_state", "feed_messages", "from_ticks",
           "to_ticks"]

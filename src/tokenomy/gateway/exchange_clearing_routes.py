"""``/api/exchange/...`` for clearing: positions, deposits, credits, settlement and expiry.

In: JSON bodies (money as decimal strings in the currency's major units, token credits as
integers). Out: JSON with money as decimal strings. Bad input is a 400 ``{"error": …}`` that
changes nothing; the ledger refusing a withdrawal beyond the cash is a 422.

- ``GET /api/exchange/positions?owner=N``: every instrument the owner holds or has orders in
  (net contracts, margin posted, variation margin, any margin call), and the owner's cash,
  margin and token credits.
- ``POST /api/exchange/deposits`` ``{"owner", "currency", "amount", "id"}``: cash in (a
  negative amount takes it out), idempotent on ``id``.
- ``POST /api/exchange/credits`` ``{"owner", "grade", "tokens", "id"}``: mint token credits of
  a grade for a producer, idempotent on ``id``.
- ``POST /api/exchange/settlements`` ``{"symbol", "price"?}``: the daily settlement of a
  future — at ``price``, or by CME's tiers (the closing window's VWAP, else the last trade
  clamped into the bid and ask, else the prior settlement) — with variation margin.
- ``POST /api/exchange/expiries`` ``{"symbol", "price"?}``: final settlement, by default at
  the grade's index (futures) or the underlying's last settlement (options).

These are operator routes (no authentication yet, like the order routes).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from tokenomy.exchange import ID_MAX
from tokenomy.exchange.accounts import CASH_LEDGERS, CREDIT_LEDGERS
from tokenomy.exchange.clearing import settlement_price
from tokenomy.exchange.contracts import InstrumentKind
from tokenomy.gateway.errors import error_body
from tokenomy.gateway.exchange_routes import (
    BadInput,
    _exchange,
    _query_int,
    _validate,
    from_ticks,
    to_ticks,
)
from tokenomy.ledger.budgets import BudgetError, asset_of, format_major, ledger_of, parse_major
from tokenomy.store import StoreError
from tokenomy.store.exchange_clearing import (
    ClearedBook,
    deposit,
    issue_credits,
    member_balances,
)

SETTLEMENT_WINDOW_NS = 5 * 60 * 10**9  # the closing window: the last five minutes of trades
ID_CHARS_MAX = 200
SYMBOLS_MAX = 1_000  # books read for one positions request


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: StrictInt
    currency: StrictStr = "USD"
    amount: StrictStr
    id: StrictStr


class CreditsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: StrictInt
    grade: StrictStr
    tokens: StrictInt
    id: StrictStr


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: StrictStr
    price: StrictStr | None = None


def _owner(value: int) -> int:
    if not 0 < value <= ID_MAX:
        raise BadInput("invalid_request", f"owner must be 1..{ID_MAX}, not {value}")
    return value


def _key(value: str) -> str:
    if not 0 < len(value) <= ID_CHARS_MAX:
        raise BadInput("invalid_request", f"id must be 1..{ID_CHARS_MAX} characters")
    return value


def _bad(exc: BadInput) -> JSONResponse:
    return JSONResponse(error_body(exc.kind, str(exc)), status_code=exc.status)


def _position_json(book: ClearedBook, owner: int) -> dict[str, Any] | None:
    clearing, tick = book.clearing, book.instrument.spec.tick
    position = clearing.positions.get(owner)
    if position is None or not (position.net or position.orders or position.variation):
        return None
    asset = asset_of(clearing.terms.cash_ledger)
    return {"symbol": book.name, "kind": book.instrument.kind.value, "net": position.net,
            "open_orders": len(position.orders),
            "settlement_price": from_ticks(clearing.settlement, tick) if clearing.settlement
            else None,
            "last_trade": from_ticks(clearing.last_trade, tick) if clearing.last_trade else None,
            "margin_posted": format_major(position.posted, clearing.terms.cash_ledger),
            "variation_margin": format_major(position.variation, clearing.terms.cash_ledger),
            "margin_call": format_major(clearing.margin_call(owner),
                                        clearing.terms.cash_ledger),
            "currency": asset.code, "expired": clearing.expired}


def _balances_json(balances: dict[str, dict[Any, tuple[int, ...]]]) -> dict[str, Any]:
    cash = [{"currency": asset_of(lg).code, "balance": format_major(posted, lg),
             "held": format_major(held, lg), "available": format_major(posted - held, lg)}
            for lg, (posted, held) in balances["cash"].items()]
    margin = [{"currency": asset_of(lg).code, "balance": format_major(value[0], lg)}
              for lg, value in balances["margin"].items()]
    credits = [{"grade": grade, "tokens": posted, "held": held, "available": posted - held}
               for grade, (posted, held) in balances["credits"].items()]
    return {"cash": cash, "margin": margin, "credits": credits}


def clearing_router() -> APIRouter:
    router = APIRouter(prefix="/api/exchange", tags=["exchange"])

    @router.get("/positions", response_model=None)
    async def positions(request: Request, owner: str = "") -> dict[str, Any] | JSONResponse:
        """The owner's positions in every journaled instrument, and its balances."""
        exchange = _exchange(request)
        try:
            who = _query_int(owner, "owner", ID_MAX)
            symbols = await asyncio.to_thread(request.app.state.ledger.journaled_books)
            found: list[dict[str, Any]] = []
            for symbol in symbols[:SYMBOLS_MAX]:
                if symbol not in exchange.instruments():
                    continue  # delisted since: its positions were settled at expiry
                async with exchange.lock(symbol):
                    book = await exchange.book(request, symbol)
                    row = _position_json(book, who)
                if row is not None:
                    found.append(row)
            balances = await asyncio.to_thread(member_balances, request.app.state.ledger, who)
        except BadInput as exc:
            return _bad(exc)
        except StoreError as exc:
            return JSONResponse(error_body("store_unavailable", str(exc)), status_code=503)
        return {"owner": who, "positions": found, **_balances_json(balances)}

    @router.post("/deposits", response_model=None)
    async def deposits(request: Request,
                       body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """Cash in (or out, with a negative amount) for a member; idempotent on `id`."""
        try:
            d = _validate(DepositIn, body)
            ledger = ledger_of(d.currency)
            if ledger not in CASH_LEDGERS:
                raise BadInput("invalid_request", f"currency {d.currency!r} is not traded")
            negative = d.amount.startswith("-")
            minor = parse_major(d.amount[1:] if negative else d.amount, ledger)
            if minor == 0:
                raise BadInput("invalid_request", "amount must not be zero")
            result = await asyncio.to_thread(deposit, request.app.state.ledger,
                                             _owner(d.owner), ledger,
                                             -minor if negative else minor, _key(d.id))
        except BudgetError as exc:
            return _bad(BadInput("invalid_request", str(exc)))
        except BadInput as exc:
            return _bad(exc)
        if result.value not in ("ok", "exists"):
            return JSONResponse(error_body(result.value, f"the ledger refused it: {result}"),
                                status_code=422)
        return {"result": result.value, "owner": d.owner, "currency": d.currency.upper(),
                "amount": d.amount}

    @router.post("/credits", response_model=None)
    async def credits(request: Request,
                      body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """Mint token credits of a grade for a producer; idempotent on `id`."""
        try:
            c = _validate(CreditsIn, body)
            grade = c.grade.upper()
            if grade not in CREDIT_LEDGERS:
                raise BadInput("invalid_request", f"unknown grade {c.grade!r} (known: "
                                                  f"{', '.join(CREDIT_LEDGERS)})")
            if c.tokens <= 0:
                raise BadInput("invalid_request", f"tokens must be positive, not {c.tokens}")
            result = await asyncio.to_thread(issue_credits, request.app.state.ledger,
                                             _owner(c.owner), grade, c.tokens, _key(c.id))
        except BadInput as exc:
            return _bad(exc)
        if result.value not in ("ok", "exists"):
            return JSONResponse(error_body(result.value, f"the ledger refused it: {result}"),
                                status_code=422)
        return {"result": result.value, "owner": c.owner, "grade": grade, "tokens": c.tokens}

    @router.post("/settlements", response_model=None)
    async def settlements(request: Request,
                          body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """The daily settlement of a future (variation margin for every position)."""
        return await _settle(request, body, final=False)

    @router.post("/expiries", response_model=None)
    async def expiries(request: Request,
                       body: Annotated[Any, Body()] = None) -> dict[str, Any] | JSONResponse:
        """Final settlement: delivery or cash for futures, the payoff for options."""
        return await _settle(request, body, final=True)

    return router


async def _settle(request: Request, body: Any, final: bool) -> dict[str, Any] | JSONResponse:
    exchange = _exchange(request)
    try:
        s = _validate(SettleIn, body)
        instrument = exchange.instrument(s.symbol)
        tick = instrument.spec.tick
        if not final and instrument.kind is not InstrumentKind.FUTURE:
            raise BadInput("invalid_request", f"{s.symbol} is not a future: only futures "
                                              "settle daily")
        if instrument.kind is InstrumentKind.SPOT:
            raise BadInput("invalid_request", "spot does not expire")
        price = None if s.price is None else to_ticks(s.price, tick)
        if price is not None and price <= 0:
            raise BadInput("invalid_price", "a settlement price must be positive")
        tier = "given"
        if price is None and final and instrument.kind is InstrumentKind.OPTION:
            underlying = exchange.instrument(str(instrument.underlying))
            async with exchange.lock(underlying.symbol):
                future = await exchange.book(request, underlying.symbol)
                price, tier = future.clearing.settlement, "underlying_settlement"
            if not price:
                price, tier = exchange.reference(underlying), "index"
        async with exchange.lock(s.symbol):
            book = await exchange.book(request, s.symbol)
            if price is None and final:
                price, tier = exchange.reference(instrument), "index"
            elif price is None:
                price, tier = _daily_price(book, time.time_ns())
            moved = await asyncio.to_thread(book.expire if final else book.settle, price,
                                            time.time_ns())
    except BadInput as exc:
        return _bad(exc)
    except StoreError as exc:  # a broken book is reopened (replayed) on the next request
        return JSONResponse(error_body("store_unavailable", str(exc)), status_code=503)
    return {"symbol": s.symbol, "price": from_ticks(price, tick), "method": tier,
            "transfers": moved, "open_interest": book.clearing.open_interest()}


def _daily_price(book: ClearedBook, now: int) -> tuple[int, str]:
    window = [(t.price, t.quantity) for t in book.book.trades()
              if t.now > now - SETTLEMENT_WINDOW_NS]
    top = book.book.top_of_book()
    clearing = book.clearing
    return settlement_price(window, top.bid.price if top.bid else 0,
                            top.ask.price if top.ask else 0, clearing.last_trade,
                            clearing.settlement or clearing.reference)


__all__ = ["clearing_router"]

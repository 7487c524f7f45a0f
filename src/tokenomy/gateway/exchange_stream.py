"""``/api/exchange/stream``: the exchange's market data over a websocket.

Connect to ``/api/exchange/stream?symbols=TKF-SPOT,TKF-Z26`` (at most :data:`SYMBOLS_MAX`
symbols, each listed today). The server sends, as JSON text messages:

1. one ``{"type": "snapshot", "symbol", "seq", "bid", "ask", "bids", "asks"}`` per symbol —
   L1 and L2 (:data:`~tokenomy.gateway.exchange_routes.STREAM_LEVELS` levels a side), taken
   under the book's lock at the moment the subscription starts;
2. then, after every command applied to one of those books (by this process): one
   ``{"type": "trade", "symbol", "seq", "trade_id", "price", "quantity", "taker_side", …}``
   per fill, then ``{"type": "book", "symbol", "seq", "prev_seq", "bid", "ask", "bids",
   "asks"}``.

Gap detection: per symbol, each ``book`` message's ``prev_seq`` equals the ``seq`` of the
snapshot or ``book`` message before it; otherwise messages were lost (reconnect for a new
snapshot). Prices are decimal strings, as in the REST routes.

Limits: a client whose queue holds :data:`~tokenomy.gateway.market_feed.QUEUE_MAX` (1,000)
unsent messages is dropped with close code
:data:`~tokenomy.gateway.market_feed.SLOW_CLIENT_CLOSE_CODE` (4008); a process serves
:data:`~tokenomy.gateway.market_feed.SUBSCRIPTIONS_MAX` clients (more are refused with 1013).
Bad ``symbols`` — none, too many, or one not listed — get one
``{"type": "error", "error": {"type", "message"}}`` message and close code 1008. What the
client sends is read and ignored.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, suppress
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from tokenomy.gateway.errors import error_body
from tokenomy.gateway.exchange_routes import (
    STREAM_LEVELS,
    BadInput,
    _exchange,
    book_json,
)
from tokenomy.gateway.market_feed import (
    SLOW_CLIENT_CLOSE_CODE,
    FeedFull,
    Subscription,
    market_feed,
)
from tokenomy.store import StoreError

SYMBOLS_MAX = 20  # symbols one connection may subscribe to
SYMBOLS_CHARS_MAX = 1_000
CLOSE_TIMEOUT_S = 5.0  # how long closing a (slow) client's socket may take
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011


def parse_symbols(text: str, listed: frozenset[str]) -> tuple[str, ...]:
    """The distinct symbols of ``A,B``, in order; each must be listed."""
    if len(text) > SYMBOLS_CHARS_MAX:
        raise BadInput("invalid_request", f"symbols: at most {SYMBOLS_CHARS_MAX} characters")
    symbols = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not symbols:
        raise BadInput("invalid_request", "symbols: give one or more, e.g. ?symbols=TKF-SPOT")
    if len(symbols) > SYMBOLS_MAX:
        raise BadInput("invalid_request", f"symbols: at most {SYMBOLS_MAX}, not {len(symbols)}")
    unknown = [s for s in symbols if s not in listed]
    if unknown:
        raise BadInput("unknown_symbol", f"not listed today: {', '.join(unknown)[:200]}", 404)
    return symbols


async def _refuse(websocket: WebSocket, kind: str, message: str, code: int) -> None:
    await websocket.send_json(error_body(kind, message) | {"type": "error"})
    await websocket.close(code)


async def _subscribe(websocket: WebSocket, symbols: tuple[str, ...],
                     ) -> tuple[Subscription, list[dict[str, Any]]]:
    """Snapshots of every book and the subscription, taken together under the books' locks
    (in sorted order; a command takes one lock), so no message is missed or repeated."""
    exchange = _exchange(websocket)
    snapshots: list[dict[str, Any]] = []
    async with AsyncExitStack() as stack:
        for symbol in sorted(symbols):
            await stack.enter_async_context(exchange.lock(symbol))
        for symbol in symbols:
            tick = exchange.instrument(symbol).spec.tick
            book = await exchange.book(websocket, symbol)
            snapshots.append({"type": "snapshot",
                              **book_json(symbol, tick, book.book.depth(STREAM_LEVELS))})
        return market_feed(websocket.app.state).subscribe(symbols), snapshots


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    while True:
        await websocket.send_json(await sub.queue.get())


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _serve(websocket: WebSocket, sub: Subscription) -> None:
    tasks = {asyncio.create_task(_pump(websocket, sub)),
             asyncio.create_task(_drain(websocket)),
             asyncio.create_task(sub.closed.wait())}
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError, WebSocketDisconnect, OSError, RuntimeError):
            await task  # collect each outcome: a client gone mid-send is not an error
    if sub.overflowed:
        with suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
            await asyncio.wait_for(websocket.close(
                SLOW_CLIENT_CLOSE_CODE, f"slow client: over {sub.queue_max} messages queued"),
                CLOSE_TIMEOUT_S)


def exchange_stream_router() -> APIRouter:
    router = APIRouter(prefix="/api/exchange", tags=["exchange"])

    @router.websocket("/stream")
    async def stream(websocket: WebSocket, symbols: str = "") -> None:
        """Snapshot, then book and trade messages of the given symbols (module docstring)."""
        await websocket.accept()
        try:
            wanted = parse_symbols(symbols, frozenset(_exchange(websocket).instruments()))
            sub, snapshots = await _subscribe(websocket, wanted)
        except BadInput as exc:
            return await _refuse(websocket, exc.kind, str(exc), POLICY_VIOLATION)
        except FeedFull as exc:
            return await _refuse(websocket, "feed_full", str(exc), TRY_AGAIN_LATER)
        except StoreError as exc:
            return await _refuse(websocket, "store_unavailable", str(exc), INTERNAL_ERROR)
        feed = market_feed(websocket.app.state)
        try:
            for snapshot in snapshots:
                await websocket.send_json(snapshot)
            await _serve(websocket, sub)
        except (WebSocketDisconnect, OSError):
            pass  # the client left
        finally:
            feed.unsubscribe(sub)

    return router


__all__ = ["SYMBOLS_MAX", "exchange_stream_router", "parse_symbols"]

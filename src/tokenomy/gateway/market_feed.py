"""The market-data feed: a small in-process pub/sub of the exchange's book and trade messages.

In: ``publish(symbol, messages)`` from the one place commands are applied (the exchange
routes' ``_apply``, under the symbol's lock, so messages of one book are published in the
order its commands applied). Out: each :class:`Subscription` of that symbol gets the messages
in its own bounded queue, which a websocket handler drains.

A subscription holds at most ``queue_max`` messages (:data:`QUEUE_MAX` by default). A
publish that finds it full does not wait and does not drop a message silently: the
subscription is marked ``overflowed``, removed from the feed and its ``closed`` event set — the
handler then closes the client's socket with :data:`SLOW_CLIENT_CLOSE_CODE`. A client that
reconnects gets a fresh snapshot; sequence numbers let it see what it missed.

The feed lives on ``app.state.market_feed`` (created on first use) and sees only the commands
this process applies: with several workers, subscribe to the worker that writes the book (one
process writes a book; see :mod:`tokenomy.gateway.exchange_routes`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tokenomy._invariant import invariant

QUEUE_MAX = 1_000  # messages waiting for one client before it is dropped as too slow
SUBSCRIPTIONS_MAX = 1_000  # websocket clients per process
SLOW_CLIENT_CLOSE_CODE = 4008  # the close code of a client whose queue overflowed

Message = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """One client's symbols and its bounded queue of messages (mutable, owned by the feed)."""

    symbols: frozenset[str]
    queue_max: int
    queue: asyncio.Queue[Message] = field(init=False)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_max)


class FeedFull(RuntimeError):
    """Too many subscriptions already (the handler refuses the client)."""


@dataclass(eq=False)
class MarketFeed:
    """The subscriptions by symbol. Every method is synchronous: call it from the event loop."""

    queue_max: int = QUEUE_MAX
    subscriptions_max: int = SUBSCRIPTIONS_MAX
    _by_symbol: dict[str, set[Subscription]] = field(default_factory=dict)
    _count: int = 0

    def __post_init__(self) -> None:
        invariant(self.queue_max >= 1, "a subscription queue holds at least one message")

    def subscribe(self, symbols: Iterable[str]) -> Subscription:
        if self._count >= self.subscriptions_max:
            raise FeedFull(f"the feed serves {self.subscriptions_max} clients already")
        sub = Subscription(frozenset(symbols), self.queue_max)
        for symbol in sub.symbols:
            self._by_symbol.setdefault(symbol, set()).add(sub)
        self._count += 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove ``sub`` (again is a no-op)."""
        removed = False
        for symbol in sub.symbols:
            subs = self._by_symbol.get(symbol)
            if subs is not None and sub in subs:
                subs.discard(sub)
                removed = True
                if not subs:
                    del self._by_symbol[symbol]
        self._count -= removed
        sub.closed.set()

    def watching(self, symbol: str) -> bool:
        """Someone subscribes to ``symbol`` (build its messages only then)."""
        return symbol in self._by_symbol

    def publish(self, symbol: str, messages: list[Message]) -> int:
        """Queue ``messages`` for every subscription of ``symbol``; the ones dropped as slow."""
        dropped = 0
        for sub in tuple(self._by_symbol.get(symbol, ())):
            if sub.queue.maxsize - sub.queue.qsize() < len(messages):
                sub.overflowed = True
                self.unsubscribe(sub)
                dropped += 1
                continue
            for message in messages:
                sub.queue.put_nowait(message)
        return dropped

    def __len__(self) -> int:
        return self._count


def market_feed(state: Any) -> MarketFeed:
    """The app's feed (``state`` is ``app.state``), created on first use."""
    found: MarketFeed | None = getattr(state, "market_feed", None)
    if found is None:  # no await since the read: no other task can race this
        found = MarketFeed()
        state.market_feed = found
    return found


__all__ = ["QUEUE_MAX", "SLOW_CLIENT_CLOSE_CODE", "SUBSCRIPTIONS_MAX", "FeedFull", "MarketFeed",
           "Message", "Subscription", "market_feed"]

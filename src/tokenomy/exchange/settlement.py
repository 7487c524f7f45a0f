"""Settlement: the clearing's own commands and the daily settlement price.

:class:`Settle` (a future's daily settlement at a price), :class:`Expire` (final settlement)
and :class:`Open` (a cleared book's reference price at listing) are journaled beside the
book's commands (:mod:`tokenomy.store.exchange_journal`) and applied by
:class:`~tokenomy.exchange.clearing.Clearing`. :func:`settlement_price` is CME's tiered rule
for the daily price. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokenomy._invariant import invariant


@dataclass(frozen=True, slots=True)
class Settle:
    """The daily settlement at ``price`` (ticks): variation margin for every position."""

    price: int
    now: int = 0


@dataclass(frozen=True, slots=True)
class Expire:
    """Final settlement at ``price`` (ticks: the index, or the underlying's final price)."""

    price: int
    now: int = 0


@dataclass(frozen=True, slots=True)
class Open:
    """A cleared book's first command: the reference price (ticks) it was listed at."""

    reference: int
    now: int = 0


ClearingCommand = Settle | Expire | Open


def settlement_price(window: Sequence[tuple[int, int]], bid: int, ask: int, last_trade: int,
                     prior: int) -> tuple[int, str]:
    """The daily settlement price (ticks) and the tier that set it, CME's way:

    1. ``vwap``: the volume-weighted price of the closing window's trades (price, quantity),
       rounded to a tick; exactly half-way, the tick nearer the prior settlement;
    2. ``last_trade``: with no trade in the window, the last trade clamped into the current
       bid and ask (0: no such side);
    3. ``prior``: with neither, the prior settlement."""
    volume = sum(q for _, q in window)
    if volume:
        total = sum(p * q for p, q in window)
        low, rest = divmod(total, volume)
        if 2 * rest > volume or (2 * rest == volume and prior > low):
            low += 1
        return low, "vwap"
    if last_trade:
        price = last_trade
        if bid and price < bid:
            price = bid
        if ask and price > ask:
            price = ask
        return price, "last_trade"
    invariant(prior > 0, "no trade, no quote and no prior settlement to settle at")
    return prior, "prior"


__all__ = ["ClearingCommand", "Expire", "Open", "Settle", "settlement_price"]

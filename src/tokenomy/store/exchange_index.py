"""The trades the token price index reads: executed spot trades per grade, from the journals.

In: a store and an instant ``until``. Out: per grade name, the :class:`IndexTrade` s of the
grade's USD spot books (``TKF-SPOT`` …) executed at or before ``until``, replayed from the
exchange journal — USD per 1M tokens, and volume in contracts of 1M tokens (a contract of
10M tokens counts 10), as the methodology states (docs/token-price-index.md). Futures and
options are not the spot price of a token and are left out; a USDC contract is left out
rather than converted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenomy.exchange import BookLimits
from tokenomy.exchange.contracts import QUOTE_TOKENS, bundled_specs
from tokenomy.exchange.index import IndexTrade
from tokenomy.store.exchange_journal import JournaledBook
from tokenomy.store.ledger_sql import SQLLedger

TRADES_KEPT_MAX = 1_000_000  # trades one replay keeps for the index
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def grade_trades(store: SQLLedger, until: datetime) -> dict[str, list[IndexTrade]]:
    """Spot trades per grade up to ``until`` (see the module docstring)."""
    journaled = set(store.journaled_books())
    out: dict[str, list[IndexTrade]] = {}
    limits = BookLimits(trades_kept_max=TRADES_KEPT_MAX)
    for spec in bundled_specs():
        symbol = f"{spec.symbol}-SPOT"
        if spec.currency.code != "USD" or symbol not in journaled:
            continue
        scale, found = spec.unit_tokens // QUOTE_TOKENS, out.setdefault(spec.grade.name, [])
        for trade in JournaledBook.open(store, symbol, limits).book.trades():
            at = EPOCH + timedelta(microseconds=trade.now // 1_000)
            if at <= until:
                found.append(IndexTrade(trade.price * spec.tick, trade.quantity * scale, at))
    return out


__all__ = ["grade_trades"]

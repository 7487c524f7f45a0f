"""The token price index: one published value per grade (quality tier × token class).

In: a grade (``FRONTIER-OUT``…), the instant ``at``, a price book (anything with
``entries_at(at)`` returning entries with ``model``, ``quality``, ``rates``, ``currency``),
executed trades of the grade's contracts as plain :class:`IndexTrade` records, and the previous
published :class:`IndexValue`. Out: an :class:`IndexValue` in USD per 1M tokens, a ``Decimal``
rounded half-even to :attr:`IndexRules.precision` places, with its method, inputs and window.

The input hierarchy (docs/token-price-index.md): (1) the VWAP of trades in the window when their
volume reaches :attr:`IndexRules.volume_min`; (2) otherwise the median list price of the
grade's constituent models; (3) otherwise the previous value, flagged stale. Pure: the clock is
never read; ``at`` is always passed in. The price book is duck-typed (:class:`ListPrices`) so
this module does not import ``tokenomy.pricing`` (the exchange layer may not).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from tokenomy._invariant import invariant
from tokenomy.money import Asset, Rounding, quantize

TIERS = ("frontier", "standard", "economy")
CLASSES = {"IN": "input", "OUT": "output"}  # grade suffix → price-book rate class
HISTORY_POINTS_MAX = 10_000
TRADES_MAX = 1_000_000

# Wide enough that VWAP and median arithmetic on any price we hold is exact before rounding.
_CONTEXT = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.DivisionByZero])


class IndexInputError(ValueError):
    """Bad input to the index: an unknown grade, a malformed trade, an impossible range."""


class NoIndexValueError(IndexInputError):
    """No trades, no constituent prices and no previous value: nothing can be published."""


@dataclass(frozen=True, slots=True)
class Grade:
    """A deliverable grade: a quality tier and a token class."""

    tier: str  # 'frontier' | 'standard' | 'economy'
    token_class: str  # 'IN' | 'OUT'

    def __post_init__(self) -> None:
        invariant(self.tier in TIERS, f"unknown tier {self.tier!r}")
        invariant(self.token_class in CLASSES, f"unknown token class {self.token_class!r}")

    @property
    def name(self) -> str:
        return f"{self.tier.upper()}-{self.token_class}"

    @property
    def rate_class(self) -> str:
        return CLASSES[self.token_class]


GRADES = tuple(Grade(tier, cls) for tier in TIERS for cls in ("OUT", "IN"))


def parse_grade(name: str) -> Grade:
    """``"frontier-out"`` → ``Grade('frontier', 'OUT')``; :class:`IndexInputError` if unknown."""
    for grade in GRADES:
        if grade.name == name.strip().upper():
            return grade
    known = ", ".join(g.name for g in GRADES)
    raise IndexInputError(f"unknown grade {name!r} (known: {known})")


@dataclass(frozen=True, slots=True)
class IndexRules:
    """The stated parameters of the methodology, with their published defaults."""

    window: timedelta = timedelta(days=1)  # trades in (at - window, at] count
    volume_min: int = 100  # contracts (1M tokens each) of volume for the trade tier
    currency: str = "USD"  # list prices in another currency are skipped, never converted
    precision: int = 4  # decimal places of USD per 1M tokens
    rounding: Rounding = Rounding.HALF_EVEN


DEFAULT_RULES = IndexRules()


@dataclass(frozen=True, slots=True)
class IndexTrade:
    """One executed trade of a contract of the grade: USD per 1M tokens × contracts."""

    price: Decimal
    quantity: int
    at: datetime


class ListEntry(Protocol):
    """What the index reads from a price-book entry (``tokenomy.pricing.PriceEntry``)."""

    @property
    def model(self) -> str: ...
    @property
    def quality(self) -> str: ...
    @property
    def rates(self) -> Mapping[str, Decimal]: ...
    @property
    def currency(self) -> Asset: ...


class ListPrices(Protocol):
    """A price book: the entries in force at an instant (``tokenomy.pricing.PriceBook``)."""

    def entries_at(self, at: datetime) -> Sequence[ListEntry]: ...


class Method(StrEnum):
    TRADES = "trades"  # VWAP of executed trades in the window
    LIST_PRICES = "list_prices"  # median list price of the constituents
    STALE = "stale"  # the previous published value carried forward


@dataclass(frozen=True, slots=True)
class Constituent:
    model: str
    rate: Decimal  # USD per 1M tokens of the grade's class, as listed


@dataclass(frozen=True, slots=True)
class IndexValue:
    """One published value and how it was made."""

    grade: Grade
    at: datetime
    value: Decimal  # USD per 1M tokens, rounded to the rules' precision
    method: Method
    inputs: int  # trades used, constituents used, or 0 when stale
    window_start: datetime  # exclusive
    window_end: datetime  # inclusive (= at)
    volume: int = 0  # contracts traded in the window (also when below the minimum)
    constituents: tuple[Constituent, ...] = field(default=())
    stale_since: datetime | None = None  # when stale: the `at` of the value carried forward

    @property
    def stale(self) -> bool:
        return self.method is Method.STALE

    def to_json(self) -> dict[str, Any]:
        return {
            "grade": self.grade.name,
            "at": self.at.isoformat(),
            "value": str(self.value),
            "unit": "USD per 1M tokens",
            "method": self.method.value,
            "inputs": self.inputs,
            "volume": self.volume,
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "stale": self.stale,
            "stale_since": None if self.stale_since is None else self.stale_since.isoformat(),
            "constituents": [{"model": c.model, "rate": str(c.rate)} for c in self.constituents],
        }


def round_index(value: Decimal, rules: IndexRules = DEFAULT_RULES) -> Decimal:
    """``value`` rounded to ``rules.precision`` places with ``rules.rounding`` (half-even)."""
    minor = quantize(value, rules.precision, rules.rounding)
    return Decimal(minor).scaleb(-rules.precision)


def vwap(trades: Iterable[IndexTrade]) -> Decimal:
    """Σ price × quantity / Σ quantity, unrounded; :class:`IndexInputError` when empty."""
    notional, volume = Decimal(0), 0
    for trade in trades:
        notional = _CONTEXT.add(notional, _CONTEXT.multiply(trade.price, trade.quantity))
        volume += trade.quantity
    if volume == 0:
        raise IndexInputError("vwap of no volume")
    return _CONTEXT.divide(notional, Decimal(volume))


def median(values: Iterable[Decimal]) -> Decimal:
    """The middle value; for an even count, the mean of the two middle values. Unrounded."""
    ordered = sorted(values)
    if not ordered:
        raise IndexInputError("median of no values")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return _CONTEXT.divide(_CONTEXT.add(ordered[middle - 1], ordered[middle]), Decimal(2))


def constituents(book: ListPrices, grade: Grade, at: datetime,
                 rules: IndexRules = DEFAULT_RULES) -> tuple[Constituent, ...]:
    """Models of the grade's tier priced at ``at`` in the rules' currency, by model name."""
    found = [
        Constituent(entry.model, entry.rates[grade.rate_class])
        for entry in book.entries_at(at)
        if entry.quality == grade.tier
        and entry.currency.code == rules.currency
        and grade.rate_class in entry.rates
    ]
    return tuple(sorted(found, key=lambda c: c.model))


def _checked(trades: Iterable[IndexTrade]) -> list[IndexTrade]:
    out: list[IndexTrade] = []
    for trade in trades:
        invariant(len(out) < TRADES_MAX, f"more than {TRADES_MAX} trades in one computation")
        if not isinstance(trade.price, Decimal) or not trade.price.is_finite() or trade.price <= 0:
            raise IndexInputError(f"trade price must be a positive Decimal, got {trade.price!r}")
        if isinstance(trade.quantity, bool) or not isinstance(trade.quantity, int) \
                or trade.quantity <= 0:
            raise IndexInputError(f"trade quantity must be a positive int, got {trade.quantity!r}")
        out.append(trade)
    return out


def compute_index(
    grade: Grade,
    at: datetime,
    book: ListPrices,
    trades: Iterable[IndexTrade] = (),
    previous: IndexValue | None = None,
    rules: IndexRules = DEFAULT_RULES,
) -> IndexValue:
    """The value of ``grade`` at ``at`` by the first tier of the hierarchy that has inputs."""
    start = at - rules.window
    window = [t for t in _checked(trades) if start < t.at <= at]
    volume = sum(t.quantity for t in window)
    if window and volume >= rules.volume_min:
        return IndexValue(grade, at, round_index(vwap(window), rules), Method.TRADES,
                          len(window), start, at, volume)
    members = constituents(book, grade, at, rules)
    if members:
        value = round_index(median(c.rate for c in members), rules)
        return IndexValue(grade, at, value, Method.LIST_PRICES, len(members), start, at,
                          volume, members)
    if previous is not None:
        invariant(previous.grade == grade, "the previous value is of another grade")
        return IndexValue(grade, at, previous.value, Method.STALE, 0, start, at, volume,
                          stale_since=previous.stale_since or previous.at)
    raise NoIndexValueError(f"{grade.name} at {at.isoformat()}: no trades, no constituent "
                            "prices and no previous value")


@dataclass(frozen=True, slots=True)
class Months:
    """A calendar step of ``count`` months (day of month clamped to the month's length)."""

    count: int = 1


MONTHLY = Months(1)


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    next_first = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=moment.tzinfo)
    last_day = (next_first - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def steps(start: datetime, end: datetime, step: timedelta | Months) -> list[datetime]:
    """``start``, ``start + step``, … up to and including ``end``; at most HISTORY_POINTS_MAX."""
    if end < start:
        raise IndexInputError("history end is before its start")
    if (step.count if isinstance(step, Months) else step.total_seconds()) <= 0:
        raise IndexInputError("history step must be positive")
    out: list[datetime] = []
    moment = start
    while moment <= end:
        if len(out) >= HISTORY_POINTS_MAX:
            raise IndexInputError(f"history has more than {HISTORY_POINTS_MAX} points")
        out.append(moment)
        moment = (_add_months(start, step.count * len(out)) if isinstance(step, Months)
                  else start + step * len(out))
    return out


def index_history(
    book: ListPrices,
    grade: Grade,
    start: datetime,
    end: datetime,
    step: timedelta | Months = MONTHLY,
    trades: Sequence[IndexTrade] = (),
    rules: IndexRules = DEFAULT_RULES,
) -> list[IndexValue]:
    """The index at each step from the book's dated prices (and ``trades``, when given).

    Each point gets the previous point as its fallback. Points before the first value that can
    be computed at all are left out (there is nothing to carry forward yet).
    """
    history: list[IndexValue] = []
    for moment in steps(start, end, step):
        try:
            point = compute_index(grade, moment, book, trades,
                                  history[-1] if history else None, rules)
        except NoIndexValueError:
            continue
        history.append(point)
    return history

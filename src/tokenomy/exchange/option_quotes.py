"""Option books quoted against the model: the Black-76 value beside an option's L1/L2 (pure).

In: an option :class:`~tokenomy.exchange.contracts.Instrument`, the trading day, the option
book's depth, and the underlying future's depth and latest trades (ticks, as the books keep
them). Out: an :class:`OptionQuote` — the future's price used and where it came from, the
model's price and greeks, and the volatility the best bid and the best ask imply.

The future's price F, in this order of preference:

1. ``mid``: (best bid + best ask) / 2 of the future's book, when both sides are there;
2. ``last_trade``: the future's latest trade;
3. ``reference``: the option series' ``reference_price`` in the contract spec.

Model inputs (stated, not estimated — there is no volatility surface yet):
:data:`DEFAULT_VOLATILITY` 0.60 per √year (token prices have moved by tens of percent within
months) and :data:`DEFAULT_RATE` 0.04 a year, continuously compounded. Time to expiry is the
calendar days to the last trading day over 365, at least one day (an option is still worth
its last day's trading). Every number on the wire is a decimal string rounded half-even to
:data:`DECIMALS` places; an implied volatility is ``null`` when the price lies outside
Black-76's no-arbitrage bounds (or needs σ outside the model's range).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tokenomy._invariant import invariant
from tokenomy.exchange.black76 import (
    DAYS_PER_YEAR,
    Greeks,
    ImpliedVolatilityError,
    OptionKind,
    greeks,
    implied_volatility,
)
from tokenomy.exchange.contracts import Instrument, InstrumentKind
from tokenomy.exchange.market_data import Depth
from tokenomy.exchange.orders import Trade
from tokenomy.money import Rounding, quantize

DEFAULT_VOLATILITY = Decimal("0.60")  # per √year
DEFAULT_RATE = Decimal("0.04")  # per year, continuously compounded
DAYS_MIN = 1  # time to expiry is never below one day
DECIMALS = 6  # places on the wire, rounded half-even
_GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho")


class FutureSource(StrEnum):
    MID = "mid"
    LAST_TRADE = "last_trade"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """The model's view of one option: inputs, value and greeks, and the book's implied vols."""

    kind: OptionKind
    future: Decimal
    future_source: FutureSource
    strike: Decimal
    years: Decimal
    volatility: Decimal
    rate: Decimal
    greeks: Greeks
    bid_implied_volatility: Decimal | None
    ask_implied_volatility: Decimal | None

    def to_json(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {
            "option_type": self.kind.value, "future": _text(self.future),
            "future_source": self.future_source.value, "strike": _text(self.strike),
            "years": _text(self.years), "volatility": _text(self.volatility),
            "rate": _text(self.rate)}
        out.update({name: _text(getattr(self.greeks, name)) for name in _GREEKS})
        out["bid_implied_volatility"] = _maybe(self.bid_implied_volatility)
        out["ask_implied_volatility"] = _maybe(self.ask_implied_volatility)
        return out


def _text(value: Decimal) -> str:
    return f"{Decimal(quantize(value, DECIMALS, Rounding.HALF_EVEN)).scaleb(-DECIMALS):f}"


def _maybe(value: Decimal | None) -> str | None:
    return None if value is None else _text(value)


def future_price(instrument: Instrument, future: Depth,
                 last_trades: tuple[Trade, ...]) -> tuple[Decimal, FutureSource]:
    """F for ``instrument`` (an option): the future's mid, else its last trade, else the
    spec's reference price."""
    spec = instrument.spec
    invariant(spec.options is not None, f"{instrument.symbol}: its contract lists no options")
    assert spec.options is not None  # for the type checker; the invariant said it
    if future.bids and future.asks:
        return (future.bids[0].price + future.asks[0].price) * spec.tick / 2, FutureSource.MID
    if last_trades:
        return last_trades[-1].price * spec.tick, FutureSource.LAST_TRADE
    return spec.options.reference_price, FutureSource.REFERENCE


def years_to_expiry(today: date, last_trading_day: date) -> Decimal:
    """Calendar days from ``today`` to the last trading day over 365, at least one day."""
    return Decimal(max((last_trading_day - today).days, DAYS_MIN)) / DAYS_PER_YEAR


def _implied(kind: OptionKind, price: Decimal, future: Decimal, strike: Decimal,
             years: Decimal, rate: Decimal) -> Decimal | None:
    try:
        return implied_volatility(kind, price=price, future=future, strike=strike, rate=rate,
                                  years=years)
    except ImpliedVolatilityError:
        return None


def quote_option(instrument: Instrument, today: date, book: Depth, future: Depth,
                 last_trades: tuple[Trade, ...], *, volatility: Decimal = DEFAULT_VOLATILITY,
                 rate: Decimal = DEFAULT_RATE) -> OptionQuote:
    """The model's quote of ``instrument`` (an option) on ``today``: see the module docstring."""
    invariant(instrument.kind is InstrumentKind.OPTION, f"{instrument.symbol} is no option")
    kind, strike, last_day = instrument.option_type, instrument.strike, instrument.last_trading_day
    assert kind is not None and strike is not None and last_day is not None  # an option has them
    forward, source = future_price(instrument, future, last_trades)
    years = years_to_expiry(today, last_day)
    model = greeks(kind, future=forward, strike=strike, rate=rate, years=years,
                   volatility=volatility)
    tick = instrument.spec.tick
    bid = None if not book.bids else _implied(kind, book.bids[0].price * tick, forward, strike,
                                              years, rate)
    ask = None if not book.asks else _implied(kind, book.asks[0].price * tick, forward, strike,
                                              years, rate)
    return OptionQuote(kind, forward, source, strike, years, volatility, rate, model, bid, ask)


__all__ = ["DEFAULT_RATE", "DEFAULT_VOLATILITY", "FutureSource", "OptionQuote", "future_price",
           "quote_option", "years_to_expiry"]

"""Option books quoted against Black-76: where F comes from, the model value, implied vols."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy._invariant import InvariantError
from tokenomy.exchange import Depth, Level, Side, Trade
from tokenomy.exchange.black76 import OptionKind, greeks, no_arbitrage_bounds, price
from tokenomy.exchange.contracts import Instrument, InstrumentKind, bundled_specs, instruments
from tokenomy.exchange.option_quotes import (
    DEFAULT_RATE,
    DEFAULT_VOLATILITY,
    FutureSource,
    quote_option,
    years_to_expiry,
)

TODAY = date(2026, 11, 2)
EMPTY = Depth((), (), 0)


def _listed() -> tuple[Instrument, ...]:
    return instruments(bundled_specs(), TODAY)


def _option(kind: OptionKind, strike: str, contract: str = "TKF") -> Instrument:
    return next(i for i in _listed() if i.kind is InstrumentKind.OPTION
                and i.spec.symbol == contract and i.option_type is kind
                and i.strike == Decimal(strike))


def _depth(bid: int | None, ask: int | None) -> Depth:
    return Depth(() if bid is None else (Level(bid, 1, 1),),
                 () if ask is None else (Level(ask, 1, 1),), 1)


def _trade(ticks: int) -> Trade:
    return Trade(1, ticks, 1, Side.BUY, 1, 1, 2, 2, 0)


def test_future_price_prefers_mid_then_last_trade_then_reference() -> None:
    call = _option(OptionKind.CALL, "15")
    mid = quote_option(call, TODAY, EMPTY, _depth(1490, 1511), (_trade(1400),))
    assert (mid.future, mid.future_source) == (Decimal("15.005"), FutureSource.MID)
    one_sided = quote_option(call, TODAY, EMPTY, _depth(1490, None), (_trade(1400),))
    assert (one_sided.future, one_sided.future_source) == (Decimal("14.00"),
                                                           FutureSource.LAST_TRADE)
    nothing = quote_option(call, TODAY, EMPTY, _depth(None, 1511), ())
    assert (nothing.future, nothing.future_source) == (Decimal("15.00"), FutureSource.REFERENCE)


def test_model_is_black76_at_the_stated_inputs_and_parity_holds() -> None:
    call, put = _option(OptionKind.CALL, "16"), _option(OptionKind.PUT, "16")
    assert call.last_trading_day is not None
    c = quote_option(call, TODAY, EMPTY, EMPTY, ())
    p = quote_option(put, TODAY, EMPTY, EMPTY, ())
    years = Decimal((call.last_trading_day - TODAY).days) / 365
    assert (c.years, c.volatility, c.rate) == (years, DEFAULT_VOLATILITY, DEFAULT_RATE)
    assert c.greeks == greeks(OptionKind.CALL, future=Decimal(15), strike=Decimal(16),
                              rate=DEFAULT_RATE, years=years, volatility=DEFAULT_VOLATILITY)
    discount = (-DEFAULT_RATE * years).exp()
    assert abs(c.greeks.price - p.greeks.price - discount * (15 - 16)) < Decimal("1e-25")
    assert 0 < c.greeks.delta < 1 and -1 < p.greeks.delta < 0
    wire = c.to_json()
    assert wire["future"] == "15.000000" and wire["future_source"] == "reference"
    assert wire["price"] == f"{c.greeks.price.quantize(Decimal('0.000001')):f}"
    assert wire["bid_implied_volatility"] is None and wire["ask_implied_volatility"] is None


def test_book_at_the_model_price_implies_the_model_volatility() -> None:
    call = _option(OptionKind.CALL, "15")
    model = quote_option(call, TODAY, EMPTY, EMPTY, ()).greeks.price  # ≈ 1.0…
    bid_ticks = int(model / call.spec.tick)  # the tick at or below the model price
    quoted = quote_option(call, TODAY, _depth(bid_ticks, bid_ticks + 1), EMPTY, ())
    assert quoted.bid_implied_volatility is not None
    assert quoted.ask_implied_volatility is not None
    assert quoted.bid_implied_volatility <= DEFAULT_VOLATILITY <= quoted.ask_implied_volatility
    assert quoted.ask_implied_volatility - quoted.bid_implied_volatility < Decimal("0.01")


def test_a_price_outside_the_bounds_implies_nothing() -> None:
    call = _option(OptionKind.CALL, "10")  # deep in the money: worth at least ~5 at F = 15
    quoted = quote_option(call, TODAY, _depth(100, 1_600), EMPTY, ())  # bid 1.00, ask 16.00
    assert quoted.bid_implied_volatility is None and quoted.ask_implied_volatility is None


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(list(OptionKind)), strike=st.sampled_from(["12", "15", "18"]),
       fraction=st.decimals(min_value=Decimal("0.02"), max_value=Decimal("0.98"), places=2))
def test_implied_volatility_reprices_the_bid(kind: OptionKind, strike: str,
                                             fraction: Decimal) -> None:
    option = _option(kind, strike)
    quote = quote_option(option, TODAY, EMPTY, EMPTY, ())
    low, high = no_arbitrage_bounds(kind, future=quote.future, strike=quote.strike,
                                    rate=quote.rate, years=quote.years)
    ticks = int((low + (high - low) * fraction) / option.spec.tick)
    bid = ticks * option.spec.tick
    quoted = quote_option(option, TODAY, _depth(ticks, None), EMPTY, ())
    if not low < bid < high:
        assert quoted.bid_implied_volatility is None
        return
    sigma = quoted.bid_implied_volatility
    if sigma is None:  # within the bounds, but σ would leave the model's range
        return
    again = price(kind, future=quote.future, strike=quote.strike, rate=quote.rate,
                  years=quote.years, volatility=sigma)
    assert abs(again - bid) < Decimal("1e-20")


def test_years_to_expiry_is_at_least_one_day() -> None:
    assert years_to_expiry(date(2026, 1, 1), date(2027, 1, 1)) == 1
    assert years_to_expiry(TODAY, TODAY) == Decimal(1) / 365
    assert years_to_expiry(TODAY, date(2026, 11, 1)) == Decimal(1) / 365


def test_a_future_is_no_option() -> None:
    future = next(i for i in _listed() if i.kind is InstrumentKind.FUTURE)
    with pytest.raises(InvariantError):
        quote_option(future, TODAY, EMPTY, EMPTY, ())

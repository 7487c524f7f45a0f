"""Market commands: ``market option-price`` (Black-76 price and greeks, or implied volatility)
and ``market instruments`` (the instruments listed from the bundled contract specs on a day);
trading over HTTP in :mod:`~tokenomy.cli.market_trade`, the simulated market day in
:mod:`~tokenomy.cli.market_simulate`.

Every number is read from the command-line text with ``Decimal`` (never through a float) and
printed rounded half-even to :data:`DECIMALS` places; with ``--json`` as decimal strings.
"""

from __future__ import annotations

from datetime import date
from decimal import Context, Decimal, DivisionByZero, InvalidOperation
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli import market_clearing, market_simulate, market_trade
from tokenomy.cli._common import JsonFlag, fail, print_json
from tokenomy.exchange.black76 import (
    PRECISION,
    Greeks,
    OptionError,
    OptionKind,
    greeks,
    implied_volatility,
)
from tokenomy.exchange.contracts import (
    ContractError,
    InstrumentKind,
    bundled_specs,
    instruments,
)
from tokenomy.money import MoneyError, Rounding, parse_decimal, quantize

DECIMALS = 6  # places printed, rounded half-even
_RATIO = Context(prec=PRECISION, traps=[InvalidOperation, DivisionByZero])
GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho")
_UNITS = {
    "price": "per unit of the future",
    "delta": "per 1.00 move of F",
    "gamma": "per 1.00 move of F, squared",
    "vega": "per 1.00 of volatility",
    "theta": "per year of time passing",
    "rho": "per 1.00 of rate",
}


def register(app: typer.Typer) -> None:
    market_app = typer.Typer(help="The exchange: instruments, option pricing, trading and "
                             "clearing over HTTP, and a simulated market day.",
                             no_args_is_help=True)
    market_app.command("option-price")(option_price)
    market_app.command("instruments")(list_instruments)
    market_trade.register(market_app)
    market_clearing.register(market_app)
    market_simulate.register(market_app)
    app.add_typer(market_app, name="market")


def _number(flag: str, text: str) -> Any:
    return typer.Option(flag, metavar="DECIMAL", help=text)


def option_price(
    kind: Annotated[OptionKind, typer.Option("--type", help="call or put.")],
    future: Annotated[str, _number("--future", "The future's price F, e.g. 20.")],
    strike: Annotated[str, _number("--strike", "The strike K, e.g. 20.")],
    rate: Annotated[str, _number("--rate", "Rate per year, continuously compounded: 0.09.")],
    years: Annotated[str, _number("--years", "Years to expiry: 0.25, or a ratio like 4/12.")],
    vol: Annotated[str | None, _number("--vol", "Volatility per √year: 0.25 for 25 %.")] = None,
    implied_from: Annotated[str | None, _number(
        "--implied-from", "An option price: print the volatility it implies instead.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Black-76 price and greeks of a European option on a future, or its implied vol."""
    if (vol is None) == (implied_from is None):
        fail("give exactly one of --vol and --implied-from")
    market = {"future": _decimal("--future", future), "strike": _decimal("--strike", strike),
              "rate": _decimal("--rate", rate), "years": _years(years)}
    try:
        if implied_from is not None:
            sigma = implied_volatility(kind, price=_decimal("--implied-from", implied_from),
                                       **market)
        else:
            result = greeks(kind, volatility=_decimal("--vol", vol or ""), **market)
    except OptionError as exc:
        fail(str(exc))
    if implied_from is not None:
        _print_implied(sigma, as_json)
    else:
        _print_greeks(result, as_json)


def _print_implied(sigma: Decimal, as_json: bool) -> None:
    if as_json:
        print_json({"implied_vol": _text(sigma)})
    else:
        typer.echo(f"implied volatility {_text(sigma)} per √year")


def _print_greeks(result: Greeks, as_json: bool) -> None:
    values = {name: _text(getattr(result, name)) for name in GREEKS}
    if as_json:
        print_json(values)
        return
    also = {"vega": f"{_text(result.vega_per_percent)} per 1 % vol",
            "theta": f"{_text(result.theta_per_day)} per day",
            "rho": f"{_text(result.rho_per_percent)} per 1 % rate"}
    table = Table("", "value", "unit", "also")
    for name in GREEKS:
        table.add_row(name, values[name], _UNITS[name], also.get(name, ""))
    Console().print(table)


_COLUMNS = ("symbol", "kind", "grade", "month", "last_trading_day", "strike", "unit_tokens",
            "currency", "tick", "tick_value", "settlement")


def list_instruments(
    symbol: Annotated[str | None, typer.Option(
        "--symbol", help="Only this contract, e.g. TKF.")] = None,
    kind: Annotated[InstrumentKind | None, typer.Option(
        "--kind", help="Only spot, future or option.")] = None,
    on: Annotated[str | None, typer.Option(
        "--on", metavar="YYYY-MM-DD", help="The trading day (default: today).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The instruments listed on a day: spot, monthly futures and options on them."""
    day = date.today() if on is None else _day(on)
    try:
        specs = bundled_specs()
        listed = instruments(specs, day)
    except ContractError as exc:
        fail(str(exc))
    if symbol is not None:
        known = [s.symbol for s in specs]
        if symbol.upper() not in known:
            fail(f"--symbol: unknown contract {symbol!r}; known: {', '.join(known)}")
        listed = tuple(i for i in listed if i.spec.symbol == symbol.upper())
    rows = [i.to_json() for i in listed if kind is None or i.kind is kind]
    if as_json:
        print_json({"on": day.isoformat(), "instruments": rows})
        return
    _print_instruments(day, rows)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--on: not a date YYYY-MM-DD: {text!r}")


def _print_instruments(day: date, rows: list[dict[str, str | None]]) -> None:
    table = Table(title=f"Instruments listed on {day.isoformat()} (prices per 1M tokens)")
    for column in _COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*(row[c] or "" for c in _COLUMNS))
    Console().print(table)


def _text(value: Decimal) -> str:
    """``value`` rounded half-even to :data:`DECIMALS` places, as a plain decimal string."""
    return f"{Decimal(quantize(value, DECIMALS, Rounding.HALF_EVEN)).scaleb(-DECIMALS):f}"


def _decimal(option: str, text: str) -> Decimal:
    try:
        return parse_decimal(text)
    except MoneyError as exc:
        fail(f"{option}: {exc}")


def _years(text: str) -> Decimal:
    """A decimal, or a ratio ``A/B`` of two decimals divided at the model's precision."""
    if "/" not in text:
        return _decimal("--years", text)
    numerator, _, denominator = text.partition("/")
    top, bottom = _decimal("--years", numerator), _decimal("--years", denominator)
    if bottom == 0:
        fail(f"--years: division by zero in {text!r}")
    return _RATIO.divide(top, bottom)


__all__ = ["register"]

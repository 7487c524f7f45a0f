"""Token grades, contract specifications and the instruments listed from them (pure).

In: TOML text of grades and contract specs (the bundled ones ship in ``contracts/*.toml``,
format in ``contracts/README.md``) and a date passed in by the caller. Out: frozen
:class:`Grade`, :class:`ContractSpec` and :class:`Instrument` values, or a
:class:`ContractError` listing *every* problem found, each with its file and field
(``contracts/specs.toml: TKF.tick: …``). Nothing is half-loaded.

Instruments of a spec on a date: the spot (``TKF-SPOT``), one future per listed month
(``TKF-Z26``: CME month code and 2-digit year) and, where the spec has ``options``, European
calls and puts on each future on a strike grid (``TKF-Z26-C-1500``: the strike in ticks of the
future's price, so 1500 at a tick of 0.01 is 15.00 per 1M tokens). Business days are Monday to
Friday: there is no holiday calendar.

    ContractError (ValueError)   bad grades/specs text or a bad reference price; lists all

(Over 500 lines on purpose: the data types, their calendar and their parser are one concept,
the contract catalog; split the parser out if it grows.)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from tokenomy._invariant import invariant
from tokenomy.exchange.black76 import OptionKind
from tokenomy.money import Asset, UnknownAssetError, asset

QUOTE_TOKENS = 1_000_000  # prices are quoted per this many tokens
MONTH_CODES = "FGHJKMNQUVXZ"  # CME codes of January … December
TIERS = ("frontier", "standard", "economy")  # the price book's `quality` values
CURRENCIES = ("USD", "USDC")
MODELS_MAX = 1_000  # certified models per tier
CONTRACTS_MAX = 100  # specs per file
LISTED_MONTHS_MAX = 24
STRIKES_EACH_SIDE_MAX = 50
CREDIT_VALIDITY_DAYS_MAX = 3_650
_SYMBOL = re.compile(r"[A-Z]{2,6}")
_TIER_KEYS = frozenset({"name", "quality", "credit_validity_days", "modality", "models"})
_SPEC_KEYS = frozenset({
    "symbol", "name", "grade", "unit_tokens", "currency", "tick", "tick_value", "listed_months",
    "month_codes", "last_trading_day", "settlement", "position_limit",
    "daily_price_band_percent", "options",
})
_OPTION_KEYS = frozenset({"strike_interval", "strikes_each_side", "reference_price"})


class ContractError(ValueError):
    """Grades or specs with problems; ``problems`` holds each one, with its place."""

    type = "invalid_contract_spec"

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        shown = "; ".join(problems[:10]) + (f"; … {len(problems) - 10} more"
                                             if len(problems) > 10 else "")
        super().__init__(f"{source}: {shown}")
        self.source = source
        self.problems = tuple(problems)


class TokenClass(StrEnum):
    IN = "IN"
    OUT = "OUT"


class Settlement(StrEnum):
    PHYSICAL = "physical"  # delivery of token credits of the grade
    CASH = "cash"  # to the grade's token price index


class InstrumentKind(StrEnum):
    SPOT = "spot"
    FUTURE = "future"
    OPTION = "option"


class TradingRule(StrEnum):
    BEFORE_LAST_BUSINESS_DAY = "before_last_business_day"  # N business days before it
    THIRD_WEDNESDAY = "third_wednesday"


@dataclass(frozen=True, slots=True)
class Grade:
    """A quality certification: the models whose credits are deliverable, and the terms."""

    name: str  # "FRONTIER-OUT"
    tier: str  # "FRONTIER"
    quality: str  # the price book's quality: "frontier"
    token_class: TokenClass
    models: tuple[str, ...]
    credit_validity_days: int
    modality: str

    def certifies(self, model: str) -> bool:
        return model in self.models


@dataclass(frozen=True, slots=True)
class LastTradingRule:
    rule: TradingRule
    business_days: int = 0  # only for BEFORE_LAST_BUSINESS_DAY

    def day(self, year: int, month: int) -> date:
        """The last trading day of the contract month ``year``-``month`` (weekends only)."""
        if self.rule is TradingRule.THIRD_WEDNESDAY:
            first = date(year, month, 1)
            return first + timedelta(days=(2 - first.weekday()) % 7 + 14)
        day = _last_business_day(year, month)
        for _ in range(self.business_days):
            day = _previous_business_day(day)
        return day

    def describe(self) -> str:
        if self.rule is TradingRule.THIRD_WEDNESDAY:
            return "the third Wednesday of the contract month"
        return (f"{self.business_days} business days before the last business day of the "
                "contract month (Mon-Fri; no holiday calendar)")


@dataclass(frozen=True, slots=True)
class OptionSeries:
    """European options on each listed future, on a grid around a reference price."""

    strike_interval: Decimal
    strikes_each_side: int
    reference_price: Decimal  # the grid's centre unless the caller passes a price


@dataclass(frozen=True, slots=True)
class ContractSpec:
    symbol: str  # "TKF"
    name: str
    grade: Grade
    unit_tokens: int  # tokens per contract
    currency: Asset
    tick: Decimal  # price step, in currency per QUOTE_TOKENS tokens
    tick_value: Decimal  # currency per contract per tick = tick × unit_tokens / QUOTE_TOKENS
    listed_months: int
    month_codes: str  # the cycle months listed from, e.g. "HMUZ"; all twelve by default
    last_trading: LastTradingRule
    settlement: Settlement
    position_limit: int  # contracts, net, per account
    daily_price_band_percent: Decimal  # of the prior settlement price, each side
    options: OptionSeries | None

    @property
    def price_quotation(self) -> str:
        return f"{self.currency.code} per {QUOTE_TOKENS:,} tokens"


@dataclass(frozen=True, slots=True)
class Instrument:
    kind: InstrumentKind
    symbol: str  # "TKF-SPOT", "TKF-Z26", "TKF-Z26-C-1500"
    spec: ContractSpec
    month: date | None = None  # first day of the contract month (futures, options)
    last_trading_day: date | None = None
    strike: Decimal | None = None
    option_type: OptionKind | None = None
    underlying: str | None = None  # the future's symbol (options)

    def to_json(self) -> dict[str, str | None]:
        """Key fields, every value a string (or null where it does not apply)."""
        spec = self.spec
        return {
            "symbol": self.symbol, "kind": self.kind.value, "contract": spec.symbol,
            "grade": spec.grade.name, "unit_tokens": str(spec.unit_tokens),
            "currency": spec.currency.code, "quotation": spec.price_quotation,
            "tick": f"{spec.tick:f}", "tick_value": f"{spec.tick_value:f}",
            "settlement": spec.settlement.value,
            "month": self.month.strftime("%Y-%m") if self.month else None,
            "last_trading_day": _iso(self.last_trading_day),
            "underlying": self.underlying,
            "option_type": self.option_type.value if self.option_type else None,
            "strike": f"{self.strike:f}" if self.strike is not None else None,
        }


# ---------------------------------------------------------------- calendar


def month_code(month: int) -> str:
    invariant(1 <= month <= 12, f"month must be 1..12, got {month}")
    return MONTH_CODES[month - 1]


def future_symbol(contract: str, year: int, month: int) -> str:
    return f"{contract}-{month_code(month)}{year % 100:02d}"


def _last_business_day(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    day = following - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _previous_business_day(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def listed_months(spec: ContractSpec, on: date) -> tuple[date, ...]:
    """The first days of the contract months trading on ``on``: the next ``listed_months``
    months of the spec's cycle whose last trading day is ``on`` or later."""
    months: list[date] = []
    year, month = on.year, on.month
    for _ in range(12 * (spec.listed_months + 1)):  # bounded: enough for any cycle
        if len(months) == spec.listed_months:
            break
        if month_code(month) in spec.month_codes and spec.last_trading.day(year, month) >= on:
            months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    invariant(len(months) == spec.listed_months, f"{spec.symbol}: too few months found")
    return tuple(months)


# ---------------------------------------------------------------- instruments


def strike_grid(series: OptionSeries, tick: Decimal,
                reference: Decimal | None = None) -> tuple[Decimal, ...]:
    """Strikes at ``strike_interval`` around ``reference`` (rounded half-even to the grid),
    ``strikes_each_side`` below and above; strikes at or below zero are left out."""
    centre_price = series.reference_price if reference is None else reference
    steps = (centre_price / series.strike_interval).to_integral_value(ROUND_HALF_EVEN)
    strikes = []
    for k in range(-series.strikes_each_side, series.strikes_each_side + 1):
        strike = (steps + k) * series.strike_interval
        if strike > 0:
            strikes.append(strike)
    invariant(all(s % tick == 0 for s in strikes), "strikes are on the tick grid")
    return tuple(strikes)


def option_symbol(future: str, kind: OptionKind, strike: Decimal, tick: Decimal) -> str:
    ticks = strike / tick
    invariant(ticks == ticks.to_integral_value(), f"strike {strike} off the tick {tick}")
    letter = "C" if kind is OptionKind.CALL else "P"
    return f"{future}-{letter}-{int(ticks)}"


def instruments(specs: Sequence[ContractSpec], on: date, *,
                reference_prices: Mapping[str, Decimal] | None = None) -> tuple[Instrument, ...]:
    """Every instrument listed on ``on``: per spec, the spot, the futures in month order and,
    per future, its calls then puts by strike. ``reference_prices`` (by contract symbol, in
    the quotation) re-centres a spec's strike grid; a bad one raises :class:`ContractError`."""
    prices = dict(reference_prices or {})
    problems = [f"{symbol}: must be a positive decimal, got {price!r}"
                for symbol, price in prices.items()
                if not isinstance(price, Decimal) or not price.is_finite() or price <= 0]
    if problems:
        raise ContractError("reference_prices", problems)
    listed: list[Instrument] = []
    for spec in specs:
        listed.extend(_instruments_of(spec, on, prices.get(spec.symbol)))
    return tuple(listed)


def _instruments_of(spec: ContractSpec, on: date,
                    reference: Decimal | None) -> Iterator[Instrument]:
    yield Instrument(InstrumentKind.SPOT, f"{spec.symbol}-SPOT", spec)
    for month in listed_months(spec, on):
        symbol = future_symbol(spec.symbol, month.year, month.month)
        last = spec.last_trading.day(month.year, month.month)
        yield Instrument(InstrumentKind.FUTURE, symbol, spec, month, last)
        if spec.options is None:
            continue
        strikes = strike_grid(spec.options, spec.tick, reference)
        for kind in (OptionKind.CALL, OptionKind.PUT):
            for strike in strikes:
                yield Instrument(InstrumentKind.OPTION,
                                 option_symbol(symbol, kind, strike, spec.tick), spec, month,
                                 last, strike, kind, symbol)


# ---------------------------------------------------------------- parsing


class _Problems(list[str]):
    def at(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _load(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(source, [f"not valid TOML: {exc}"]) from None


def _unknown(table: Mapping[str, Any], allowed: frozenset[str], where: str,
             problems: _Problems) -> None:
    for key in table:
        if key not in allowed:
            problems.at(f"{where}.{key}", "unknown key (see contracts/README.md)")


def _decimal(value: Any, where: str, problems: _Problems) -> Decimal | None:
    """A positive, finite decimal from a *string*; floats are refused (they are not exact)."""
    if not isinstance(value, str):
        problems.at(where, f"must be a decimal string like \"0.01\", got {value!r}")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        problems.at(where, f"not a decimal number: {value!r}")
        return None
    if not number.is_finite() or number <= 0:
        problems.at(where, f"must be a finite, positive number, got {value!r}")
        return None
    return number


def _count(value: Any, where: str, maximum: int, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        problems.at(where, f"must be an integer 1..{maximum}, got {value!r}")
        return None
    return value


def _text(value: Any, where: str, problems: _Problems) -> str:
    if not isinstance(value, str) or not value:
        problems.at(where, "required string")
        return ""
    return value


def _tables(data: Mapping[str, Any], key: str, maximum: int, source: str) -> list[Any]:
    tables = data.get(key, [])
    if not isinstance(tables, list) or len(tables) > maximum:
        raise ContractError(source, [f"`{key}` must be an array of at most {maximum} tables"])
    return tables


def parse_grades(text: str, source: str) -> tuple[Grade, ...]:
    """The grades of ``text``: each ``[[tier]]`` as its ``-IN`` and ``-OUT`` grade."""
    data = _load(text, source)
    problems = _Problems()
    _unknown(data, frozenset({"tier"}), "file", problems)
    grades: list[Grade] = []
    owner: dict[str, str] = {}
    for i, tier in enumerate(_tables(data, "tier", len(TIERS) * 4, source)):
        where = f"tier[{i}]"
        if not isinstance(tier, Mapping):
            problems.at(where, "must be a table")
            continue
        _unknown(tier, _TIER_KEYS, where, problems)
        name = _text(tier.get("name"), f"{where}.name", problems)
        if name and not name.isupper():
            problems.at(f"{where}.name", f"must be upper-case, got {name!r}")
        where = name or where
        quality = tier.get("quality")
        if quality not in TIERS:
            problems.at(f"{where}.quality", f"must be one of {', '.join(TIERS)}")
        days = _count(tier.get("credit_validity_days"), f"{where}.credit_validity_days",
                      CREDIT_VALIDITY_DAYS_MAX, problems)
        modality = _text(tier.get("modality"), f"{where}.modality", problems)
        models = tier.get("models")
        if (not isinstance(models, list) or not models or len(models) > MODELS_MAX
                or not all(isinstance(m, str) and m for m in models)):
            problems.at(f"{where}.models", f"must list 1..{MODELS_MAX} model ids")
            models = []
        for model in models:
            if owner.setdefault(model, where) != where:
                problems.at(f"{where}.models", f"{model!r} is also certified by {owner[model]}")
        for token_class in TokenClass:
            grades.append(Grade(f"{name}-{token_class}", name, str(quality), token_class,
                                tuple(models), days or 0, modality))
    names = [g.name for g in grades]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.at(dup, "declared twice")
    if problems:
        raise ContractError(source, problems)
    return tuple(grades)


def _trading_rule(raw: Any, where: str, problems: _Problems) -> LastTradingRule | None:
    if not isinstance(raw, Mapping):
        problems.at(where, "must be a table like { rule = \"third_wednesday\" }")
        return None
    _unknown(raw, frozenset({"rule", "business_days"}), where, problems)
    try:
        rule = TradingRule(str(raw.get("rule")))
    except ValueError:
        problems.at(f"{where}.rule", f"must be one of {', '.join(TradingRule)}")
        return None
    if rule is TradingRule.THIRD_WEDNESDAY:
        if "business_days" in raw:
            problems.at(f"{where}.business_days", "not used by the third_wednesday rule")
        return LastTradingRule(rule)
    days = raw.get("business_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 10:
        problems.at(f"{where}.business_days", f"must be an integer 0..10, got {days!r}")
        return None
    return LastTradingRule(rule, days)


def _option_series(raw: Any, tick: Decimal | None, where: str,
                   problems: _Problems) -> OptionSeries | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.at(where, "must be a table")
        return None
    _unknown(raw, _OPTION_KEYS, where, problems)
    interval = _decimal(raw.get("strike_interval"), f"{where}.strike_interval", problems)
    each_side = _count(raw.get("strikes_each_side"), f"{where}.strikes_each_side",
                       STRIKES_EACH_SIDE_MAX, problems)
    reference = _decimal(raw.get("reference_price"), f"{where}.reference_price", problems)
    if interval is None or each_side is None or reference is None:
        return None
    if tick is not None and interval % tick != 0:
        problems.at(f"{where}.strike_interval", f"{interval} is not a multiple of the tick "
                                                f"{tick}")
        return None
    return OptionSeries(interval, each_side, reference)


def _money_terms(raw: Mapping[str, Any], where: str,
                 problems: _Problems) -> tuple[Asset | None, Decimal | None, Decimal | None]:
    """Currency, tick and tick value; the stated tick value must equal the computed one and
    be a whole number of the currency's minor units."""
    code = raw.get("currency")
    currency = None
    if code not in CURRENCIES:
        problems.at(f"{where}.currency", f"must be one of {', '.join(CURRENCIES)}")
    else:
        try:
            currency = asset(str(code))
        except UnknownAssetError as exc:
            problems.at(f"{where}.currency", str(exc))
    tick = _decimal(raw.get("tick"), f"{where}.tick", problems)
    stated = _decimal(raw.get("tick_value"), f"{where}.tick_value", problems)
    unit = raw.get("unit_tokens")
    if tick is None or stated is None or currency is None or not isinstance(unit, int):
        return currency, tick, None
    computed = tick * unit / QUOTE_TOKENS
    if computed != stated:
        problems.at(f"{where}.tick_value", f"{stated:f} ≠ tick × unit_tokens / {QUOTE_TOKENS:,} "
                                           f"= {computed.normalize():f}")
        return currency, tick, None
    if stated.scaleb(currency.scale) % 1 != 0:
        problems.at(f"{where}.tick", f"tick value {stated:f} is finer than one minor unit of "
                                     f"{currency.code}")
        return currency, tick, None
    return currency, tick, stated


def _spec(raw: Mapping[str, Any], where: str, grades: Mapping[str, Grade],
          problems: _Problems) -> ContractSpec | None:
    symbol = _text(raw.get("symbol"), f"{where}.symbol", problems)
    if symbol and not _SYMBOL.fullmatch(symbol):
        problems.at(f"{where}.symbol", f"must be 2-6 upper-case letters, got {symbol!r}")
    where = symbol or where
    _unknown(raw, _SPEC_KEYS, where, problems)
    name = _text(raw.get("name"), f"{where}.name", problems)
    grade = grades.get(str(raw.get("grade")))
    if grade is None:
        problems.at(f"{where}.grade", f"unknown grade {raw.get('grade')!r}; known: "
                                      f"{', '.join(sorted(grades))}")
    unit = _count(raw.get("unit_tokens"), f"{where}.unit_tokens", 10**12, problems)
    currency, tick, tick_value = _money_terms(raw, where, problems)
    months = _count(raw.get("listed_months"), f"{where}.listed_months", LISTED_MONTHS_MAX,
                    problems)
    codes = raw.get("month_codes", list(MONTH_CODES))
    if (not isinstance(codes, list) or not codes
            or not all(isinstance(c, str) and len(c) == 1 and c in MONTH_CODES for c in codes)):
        problems.at(f"{where}.month_codes", f"must list CME month codes of {MONTH_CODES}")
        codes = list(MONTH_CODES)
    rule = _trading_rule(raw.get("last_trading_day"), f"{where}.last_trading_day", problems)
    try:
        settlement = Settlement(str(raw.get("settlement")))
    except ValueError:
        problems.at(f"{where}.settlement", f"must be one of {', '.join(Settlement)}")
        settlement = None
    limit = _count(raw.get("position_limit"), f"{where}.position_limit", 10**9, problems)
    band = _decimal(raw.get("daily_price_band_percent"), f"{where}.daily_price_band_percent",
                    problems)
    if band is not None and band > 100:
        problems.at(f"{where}.daily_price_band_percent", f"must be at most 100, got {band}")
    options = _option_series(raw.get("options"), tick, f"{where}.options", problems)
    if (grade is None or unit is None or currency is None or tick is None or tick_value is None
            or months is None or rule is None or settlement is None or limit is None
            or band is None or problems):
        return None
    return ContractSpec(symbol, name, grade, unit, currency, tick, tick_value, months,
                        "".join(c for c in MONTH_CODES if c in codes), rule, settlement, limit,
                        band, options)


def parse_specs(text: str, source: str, grades: Mapping[str, Grade]) -> tuple[ContractSpec, ...]:
    """The ``[[contract]]`` specs of ``text``, each naming one of ``grades`` (by name)."""
    data = _load(text, source)
    problems = _Problems()
    _unknown(data, frozenset({"contract"}), "file", problems)
    specs: list[ContractSpec] = []
    for i, raw in enumerate(_tables(data, "contract", CONTRACTS_MAX, source)):
        if not isinstance(raw, Mapping):
            problems.at(f"contract[{i}]", "must be a table")
            continue
        spec = _spec(raw, f"contract[{i}]", grades, problems)
        if spec is not None:
            specs.append(spec)
    symbols = [s.symbol for s in specs]
    for dup in sorted({s for s in symbols if symbols.count(s) > 1}):
        problems.at(dup, "declared twice")
    if problems:
        raise ContractError(source, problems)
    return tuple(specs)


def _bundled_text(name: str) -> str:
    return resources.files("tokenomy.exchange").joinpath("contracts", name).read_text(
        encoding="utf-8")


@cache
def bundled_grades() -> Mapping[str, Grade]:
    """The grades shipped in ``contracts/grades.toml``, by name (read once)."""
    grades = parse_grades(_bundled_text("grades.toml"), "contracts/grades.toml")
    return MappingProxyType({g.name: g for g in grades})


@cache
def bundled_specs() -> tuple[ContractSpec, ...]:
    """The contract specs shipped in ``contracts/specs.toml`` (read once)."""
    return parse_specs(_bundled_text("specs.toml"), "contracts/specs.toml", bundled_grades())


__all__ = [
    "CONTRACTS_MAX",
    "CURRENCIES",
    "LISTED_MONTHS_MAX",
    "MONTH_CODES",
    "QUOTE_TOKENS",
    "STRIKES_EACH_SIDE_MAX",
    "TIERS",
    "ContractError",
    "ContractSpec",
    "Grade",
    "Instrument",
    "InstrumentKind",
    "LastTradingRule",
    "OptionSeries",
    "Settlement",
    "TokenClass",
    "TradingRule",
    "bundled_grades",
    "bundled_specs",
    "future_symbol",
    "instruments",
    "listed_months",
    "month_code",
    "option_symbol",
    "parse_grades",
    "parse_specs",
    "strike_grid",
]

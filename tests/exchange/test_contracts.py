"""Grades, contract specs and the instruments listed from them (tokenomy.exchange.contracts)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from tokenomy.cli import market
from tokenomy.exchange.black76 import OptionKind
from tokenomy.exchange.contracts import (
    MONTH_CODES,
    QUOTE_TOKENS,
    ContractError,
    InstrumentKind,
    LastTradingRule,
    OptionSeries,
    Settlement,
    TokenClass,
    TradingRule,
    bundled_grades,
    bundled_specs,
    future_symbol,
    instruments,
    listed_months,
    month_code,
    parse_grades,
    parse_specs,
    strike_grid,
)
from tokenomy.pricing.catalog import bundled_entries

SPECS = {s.symbol: s for s in bundled_specs()}
TWO_BEFORE = LastTradingRule(TradingRule.BEFORE_LAST_BUSINESS_DAY, 2)
THIRD_WEDNESDAY = LastTradingRule(TradingRule.THIRD_WEDNESDAY)

GOOD_SPEC = """
[[contract]]
symbol = "TKX"
name = "Test"
grade = "FRONTIER-OUT"
unit_tokens = 1_000_000
currency = "USD"
tick = "0.01"
tick_value = "0.01"
listed_months = 2
last_trading_day = { rule = "third_wednesday" }
settlement = "cash"
position_limit = 100
daily_price_band_percent = "10"
"""


# ---------------------------------------------------------------- bundled data


def test_bundled_grades_split_each_tier_by_token_class() -> None:
    grades = bundled_grades()
    assert sorted(grades) == ["ECONOMY-IN", "ECONOMY-OUT", "FRONTIER-IN", "FRONTIER-OUT",
                              "STANDARD-IN", "STANDARD-OUT"]
    frontier = grades["FRONTIER-OUT"]
    assert frontier.token_class is TokenClass.OUT and frontier.quality == "frontier"
    assert frontier.certifies("claude-opus-4-7") and not frontier.certifies("gpt-4o-mini")
    assert grades["FRONTIER-IN"].models == frontier.models


def test_certified_models_are_in_the_price_book_at_the_grade_quality() -> None:
    quality = {e.model: e.quality for e in bundled_entries()}
    for grade in bundled_grades().values():
        for model in grade.models:
            assert quality.get(model) == grade.quality, (grade.name, model)


def test_bundled_specs_parse() -> None:
    assert list(SPECS) == ["TKF", "TKS", "TKE", "TKFI", "TKFC"]
    tkf = SPECS["TKF"]
    assert tkf.grade.name == "FRONTIER-OUT" and tkf.unit_tokens == 1_000_000
    assert tkf.tick == Decimal("0.01") and tkf.currency.code == "USD"
    assert tkf.settlement is Settlement.PHYSICAL and tkf.last_trading == TWO_BEFORE
    assert tkf.price_quotation == "USD per 1,000,000 tokens"
    tkfc = SPECS["TKFC"]
    assert tkfc.currency.code == "USDC" and tkfc.settlement is Settlement.CASH
    assert tkfc.month_codes == "HMUZ" and tkfc.last_trading == THIRD_WEDNESDAY


@pytest.mark.parametrize("spec", bundled_specs(), ids=lambda s: s.symbol)
def test_tick_value_is_tick_times_unit(spec: object) -> None:
    from tokenomy.exchange.contracts import ContractSpec

    assert isinstance(spec, ContractSpec)
    assert spec.tick_value == spec.tick * spec.unit_tokens / QUOTE_TOKENS


# ---------------------------------------------------------------- calendar


def test_month_codes() -> None:
    assert [month_code(m) for m in range(1, 13)] == list("FGHJKMNQUVXZ") == list(MONTH_CODES)
    assert future_symbol("TKF", 2026, 12) == "TKF-Z26"
    assert future_symbol("TKF", 2030, 1) == "TKF-F30"


@pytest.mark.parametrize(("year", "month", "expected"), [
    (2026, 6, date(2026, 6, 26)),  # ends Tue 30: Fri 26
    (2026, 5, date(2026, 5, 27)),  # ends Sun 31: last business day Fri 29, then Wed 27
    (2026, 2, date(2026, 2, 25)),  # ends Sat 28: Fri 27, then Wed 25
    (2026, 8, date(2026, 8, 27)),  # ends Mon 31: back over the weekend, Thu 27
    (2026, 12, date(2026, 12, 29)),  # ends Thu 31: Tue 29, across the year's end untouched
])
def test_two_business_days_before_the_last_business_day(year: int, month: int,
                                                        expected: date) -> None:
    assert TWO_BEFORE.day(year, month) == expected


@pytest.mark.parametrize(("year", "month", "expected"), [
    (2026, 7, date(2026, 7, 15)),  # the month starts on a Wednesday
    (2026, 12, date(2026, 12, 16)),
    (2027, 3, date(2027, 3, 17)),
])
def test_third_wednesday(year: int, month: int, expected: date) -> None:
    assert THIRD_WEDNESDAY.day(year, month) == expected
    assert expected.weekday() == 2


def test_a_month_trades_through_its_last_trading_day() -> None:
    tkf = SPECS["TKF"]
    assert listed_months(tkf, date(2026, 5, 27))[0] == date(2026, 5, 1)
    assert listed_months(tkf, date(2026, 5, 28))[0] == date(2026, 6, 1)
    assert listed_months(SPECS["TKFC"], date(2026, 12, 17)) == (
        date(2027, 3, 1), date(2027, 6, 1), date(2027, 9, 1), date(2027, 12, 1))


# ---------------------------------------------------------------- instruments


def test_instruments_on_a_fixed_date() -> None:
    listed = instruments([SPECS["TKF"]], date(2026, 5, 28))
    spot, *futures = [i for i in listed if i.kind is not InstrumentKind.OPTION]
    assert spot.symbol == "TKF-SPOT" and spot.month is None
    assert [f.symbol for f in futures] == ["TKF-M26", "TKF-N26", "TKF-Q26", "TKF-U26",
                                           "TKF-V26", "TKF-X26"]
    assert futures[0].last_trading_day == date(2026, 6, 26)
    options = [i for i in listed if i.underlying == "TKF-M26"]
    assert len(options) == 22  # 11 strikes, calls then puts
    assert options[0].symbol == "TKF-M26-C-1000" and options[0].strike == Decimal("10.00")
    assert options[-1].symbol == "TKF-M26-P-2000" and options[-1].option_type is OptionKind.PUT
    assert {o.last_trading_day for o in options} == {date(2026, 6, 26)}
    assert len(listed) == 1 + 6 + 6 * 22


def test_a_spec_without_options_lists_spot_and_futures() -> None:
    listed = instruments([SPECS["TKFI"]], date(2026, 5, 28))
    assert [i.symbol for i in listed] == ["TKFI-SPOT", "TKFI-M26", "TKFI-N26", "TKFI-Q26"]


def test_strike_symbol_is_in_ticks() -> None:
    listed = instruments([SPECS["TKFC"]], date(2026, 5, 28))
    option = next(i for i in listed if i.symbol == "TKFC-M26-C-3000")
    assert option.strike == Decimal("15.00")  # 3000 ticks of 0.005
    assert option.to_json()["strike"] == "15.00"


def test_strike_grid() -> None:
    series = OptionSeries(Decimal("1.00"), 5, Decimal("15.00"))
    tick = Decimal("0.01")
    assert strike_grid(series, tick) == tuple(Decimal(n) for n in range(10, 21))
    assert strike_grid(series, tick, Decimal("14.50"))[5] == 14  # half-even centre
    assert strike_grid(series, tick, Decimal("2.30")) == tuple(Decimal(n) for n in range(1, 8))


def test_reference_prices_recentre_the_grid_and_are_checked() -> None:
    listed = instruments([SPECS["TKF"]], date(2026, 5, 28),
                         reference_prices={"TKF": Decimal("30")})
    assert "TKF-M26-C-3500" in {i.symbol for i in listed}
    with pytest.raises(ContractError, match="TKF: must be a positive decimal"):
        instruments([SPECS["TKF"]], date(2026, 5, 28), reference_prices={"TKF": Decimal(0)})


def test_instrument_json_is_strings() -> None:
    future = instruments([SPECS["TKE"]], date(2026, 5, 28))[1]
    row = future.to_json()
    assert row["symbol"] == "TKE-M26" and row["unit_tokens"] == "10000000"
    assert row["tick"] == "0.001" and row["tick_value"] == "0.01"
    assert all(v is None or isinstance(v, str) for v in row.values())


# ---------------------------------------------------------------- validation


def _problems(text: str) -> str:
    with pytest.raises(ContractError) as caught:
        parse_specs(text, "test.toml", bundled_grades())
    assert str(caught.value).startswith("test.toml: ")
    return str(caught.value)


def test_a_good_spec_parses() -> None:
    (spec,) = parse_specs(GOOD_SPEC, "test.toml", bundled_grades())
    assert spec.symbol == "TKX" and spec.options is None


def test_float_money_is_refused() -> None:
    message = _problems(GOOD_SPEC.replace('tick = "0.01"', "tick = 0.01"))
    assert "TKX.tick: must be a decimal string" in message


def test_unknown_grade_is_named() -> None:
    message = _problems(GOOD_SPEC.replace('"FRONTIER-OUT"', '"PLATINUM-OUT"'))
    assert "TKX.grade: unknown grade 'PLATINUM-OUT'" in message


def test_inconsistent_tick_value_is_named() -> None:
    message = _problems(GOOD_SPEC.replace('tick_value = "0.01"', 'tick_value = "0.10"'))
    assert "TKX.tick_value: 0.10 ≠ tick × unit_tokens" in message


def test_zero_tick_and_sub_minor_unit_tick_are_refused() -> None:
    assert "TKX.tick: must be a finite, positive number" in _problems(
        GOOD_SPEC.replace('tick = "0.01"', 'tick = "0"'))
    tiny = GOOD_SPEC.replace('currency = "USD"', 'currency = "USDC"').replace(
        'tick = "0.01"', 'tick = "0.0000001"').replace('tick_value = "0.01"',
                                                      'tick_value = "0.0000001"')
    assert "TKX.tick: tick value 0.0000001 is finer than one minor unit of USDC" in _problems(
        tiny)


def test_every_problem_is_reported_at_once() -> None:
    broken = (GOOD_SPEC.replace('tick = "0.01"', "tick = 0.01")
              .replace('"FRONTIER-OUT"', '"NOPE"')
              .replace('settlement = "cash"', 'settlement = "barter"')
              .replace('currency = "USD"', 'currency = "EUR"')
              + 'colour = "red"\noptions = { strike_interval = "0.015", strikes_each_side = 2, '
                'reference_price = 1.5 }\n')
    message = _problems(broken)
    for field in ("TKX.tick", "TKX.grade", "TKX.settlement", "TKX.currency", "TKX.colour",
                  "TKX.options.reference_price"):
        assert f"{field}: " in message, field


def test_strike_interval_off_the_tick_is_refused() -> None:
    text = GOOD_SPEC + ('options = { strike_interval = "0.015", strikes_each_side = 2, '
                        'reference_price = "1.50" }\n')
    assert "TKX.options.strike_interval: 0.015 is not a multiple of the tick" in _problems(text)


def test_duplicate_symbols_and_bad_toml() -> None:
    assert "TKX: declared twice" in _problems(GOOD_SPEC + GOOD_SPEC)
    assert "not valid TOML" in _problems("[[contract]\n")


def test_grade_validation_names_file_and_field() -> None:
    text = """
[[tier]]
name = "GOLD"
quality = "shiny"
credit_validity_days = 0
modality = "text"
models = ["a"]

[[tier]]
name = "SILVER"
quality = "standard"
credit_validity_days = 30
modality = "text"
models = ["a"]
"""
    with pytest.raises(ContractError) as caught:
        parse_grades(text, "grades.toml")
    message = str(caught.value)
    assert message.startswith("grades.toml: ")
    assert "GOLD.quality: must be one of frontier, standard, economy" in message
    assert "GOLD.credit_validity_days: must be an integer" in message
    assert "SILVER.models: 'a' is also certified by GOLD" in message


# ---------------------------------------------------------------- CLI


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    market.register(app)
    return app


def test_cli_lists_instruments_as_json(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["market", "instruments", "--symbol", "TKF",
                                      "--kind", "future", "--on", "2026-05-28", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["on"] == "2026-05-28"
    assert [r["symbol"] for r in data["instruments"]][:2] == ["TKF-M26", "TKF-N26"]
    assert data["instruments"][0]["last_trading_day"] == "2026-06-26"


def test_cli_table(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["market", "instruments", "--symbol", "tkfi",
                                      "--on", "2026-05-28"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "TKFI-SPOT" in result.stdout and "TKFI-Q26" in result.stdout


@pytest.mark.parametrize(("args", "said"), [
    (["--symbol", "XYZ"], "unknown contract 'XYZ'"),
    (["--on", "2026-02-30"], "--on: not a date"),
    (["--kind", "swap"], "swap"),
])
def test_cli_bad_input_exits_2(app: typer.Typer, args: list[str], said: str) -> None:
    result = CliRunner().invoke(app, ["market", "instruments", *args])
    assert result.exit_code == 2
    assert said in result.stderr and not result.stdout


def test_option_price_still_works(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["market", "option-price", "--type", "call", "--future",
                                      "20", "--strike", "20", "--rate", "0.09", "--years",
                                      "4/12", "--vol", "0.25", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["price"].startswith("1.1166")

"""The token price index: arithmetic, the input hierarchy, constituents, history and the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from tokenomy.cli import index as index_cli
from tokenomy.exchange.index import (
    DEFAULT_RULES,
    GRADES,
    MONTHLY,
    Constituent,
    Grade,
    IndexInputError,
    IndexRules,
    IndexTrade,
    Method,
    Months,
    NoIndexValueError,
    compute_index,
    constituents,
    index_history,
    median,
    parse_grade,
    round_index,
    steps,
    vwap,
)
from tokenomy.money import CNY, USD, Asset
from tokenomy.pricing import PriceBook, load_book

D = Decimal
AT = datetime(2026, 5, 1, tzinfo=UTC)
STANDARD_OUT = parse_grade("STANDARD-OUT")


@dataclass(frozen=True, slots=True)
class Entry:
    model: str
    quality: str
    rates: Mapping[str, Decimal]
    currency: Asset = USD
    valid_from: datetime = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FakeBook:
    """Dated entries; the latest entry of each model starting at or before ``at`` is in force."""

    entries: tuple[Entry, ...]

    def entries_at(self, at: datetime) -> Sequence[Entry]:
        latest: dict[str, Entry] = {}
        for entry in sorted(self.entries, key=lambda e: e.valid_from):
            if entry.valid_from <= at:
                latest[entry.model] = entry
        return list(latest.values())


def std(model: str, output: str, currency: Asset = USD, **kw: datetime) -> Entry:
    return Entry(model, "standard", {"input": D(output) / 4, "output": D(output)}, currency, **kw)


THREE = FakeBook((std("a", "2"), std("b", "10"), std("c", "3"),
                  Entry("f", "frontier", {"input": D(5), "output": D(25)})))
EMPTY = FakeBook(())


def trade(price: str, quantity: int, hours_ago: int = 1) -> IndexTrade:
    return IndexTrade(D(price), quantity, AT - timedelta(hours=hours_ago))


@pytest.fixture(scope="module")
def bundled() -> PriceBook:
    return load_book({})


# -- arithmetic -------------------------------------------------------------------------------


def test_vwap_weights_price_by_quantity() -> None:
    # (10 × 100 + 12 × 300) / 400 = 4600 / 400 = 11.5
    assert vwap([trade("10", 100), trade("12", 300)]) == D("11.5")


def test_median_of_odd_and_even_counts() -> None:
    assert median([D(3), D(1), D(100)]) == D(3)  # the outlier 100 does not move it
    assert median([D(1), D(2), D(4), D(100)]) == D(3)  # (2 + 4) / 2


def test_empty_inputs_are_errors() -> None:
    with pytest.raises(IndexInputError):
        vwap([])
    with pytest.raises(IndexInputError):
        median([])


def test_rounding_is_half_even_at_four_places() -> None:
    assert round_index(D("1.00005")) == D("1.0000")
    assert round_index(D("1.00015")) == D("1.0002")
    assert round_index(D("2")) == D("2.0000")
    assert round_index(D("1.23456"), IndexRules(precision=2)) == D("1.23")
    # (1 × 1 + 2 × 2) / 3 = 1.6666… → 1.6667
    value = compute_index(STANDARD_OUT, AT, EMPTY, [trade("1", 1), trade("2", 2)],
                          rules=IndexRules(volume_min=3))
    assert value.value == D("1.6667")
    assert str(value.value) == "1.6667"


# -- the hierarchy ----------------------------------------------------------------------------


def test_enough_traded_volume_wins_over_list_prices() -> None:
    value = compute_index(STANDARD_OUT, AT, THREE, [trade("10", 40), trade("12", 60)])
    assert (value.method, value.value, value.inputs, value.volume) == \
        (Method.TRADES, D("11.2000"), 2, 100)  # (400 + 720) / 100
    assert value.window_start == AT - timedelta(days=1)
    assert value.window_end == AT
    assert value.constituents == ()


def test_too_little_volume_falls_back_to_median_list_price() -> None:
    value = compute_index(STANDARD_OUT, AT, THREE, [trade("10", 99)])
    assert (value.method, value.value, value.inputs, value.volume) == \
        (Method.LIST_PRICES, D("3.0000"), 3, 99)  # median of 2, 3, 10
    assert [c.model for c in value.constituents] == ["a", "b", "c"]


def test_trades_outside_the_window_do_not_count() -> None:
    old = [trade("50", 1_000, hours_ago=24), trade("50", 1_000, hours_ago=48)]
    future = [IndexTrade(D(50), 1_000, AT + timedelta(seconds=1))]
    assert compute_index(STANDARD_OUT, AT, THREE, old + future).method is Method.LIST_PRICES
    edge = [IndexTrade(D(50), 1_000, AT)]  # the window is (at - 1 day, at]
    assert compute_index(STANDARD_OUT, AT, THREE, edge).method is Method.TRADES


def test_nothing_at_all_carries_the_previous_value_as_stale() -> None:
    previous = compute_index(STANDARD_OUT, AT, THREE)
    later = AT + timedelta(days=1)
    stale = compute_index(STANDARD_OUT, later, EMPTY, [trade("99", 1)], previous)
    assert (stale.method, stale.value, stale.inputs, stale.stale) == \
        (Method.STALE, D("3.0000"), 0, True)
    assert stale.stale_since == AT
    again = compute_index(STANDARD_OUT, later + timedelta(days=1), EMPTY, previous=stale)
    assert again.stale_since == AT  # still the original publication


def test_nothing_and_no_previous_is_an_error() -> None:
    with pytest.raises(NoIndexValueError):
        compute_index(STANDARD_OUT, AT, EMPTY)


@pytest.mark.parametrize("bad", [IndexTrade(D(0), 1, AT), IndexTrade(D(1), 0, AT),
                                 IndexTrade(D("NaN"), 1, AT)])
def test_malformed_trades_are_rejected(bad: IndexTrade) -> None:
    with pytest.raises(IndexInputError):
        compute_index(STANDARD_OUT, AT, THREE, [bad])


# -- grades and constituents ------------------------------------------------------------------


def test_grades_parse_case_insensitively_and_unknown_ones_fail() -> None:
    assert [g.name for g in GRADES] == ["FRONTIER-OUT", "FRONTIER-IN", "STANDARD-OUT",
                                        "STANDARD-IN", "ECONOMY-OUT", "ECONOMY-IN"]
    assert parse_grade("economy-in").rate_class == "input"
    with pytest.raises(IndexInputError, match="unknown grade"):
        parse_grade("MEDIUM-OUT")


def test_the_class_picks_the_input_or_output_rate() -> None:
    assert constituents(THREE, parse_grade("FRONTIER-IN"), AT) == (Constituent("f", D(5)),)
    assert constituents(THREE, parse_grade("FRONTIER-OUT"), AT) == (Constituent("f", D(25)),)


def test_models_priced_in_another_currency_are_skipped() -> None:
    book = FakeBook((std("a", "2"), std("yuan", "1", CNY)))
    assert [c.model for c in constituents(book, STANDARD_OUT, AT)] == ["a"]
    only_cny = FakeBook((std("yuan", "1", CNY),))
    assert constituents(only_cny, STANDARD_OUT, AT) == ()
    assert [c.model for c in constituents(only_cny, STANDARD_OUT, AT,
                                          IndexRules(currency="CNY"))] == ["yuan"]


@pytest.mark.parametrize("grade", GRADES, ids=lambda g: g.name)
def test_every_grade_has_constituents_in_the_bundled_book(bundled: PriceBook,
                                                          grade: Grade) -> None:
    chosen = parse_grade(grade.name)
    members = constituents(bundled, chosen, AT)
    assert members
    value = compute_index(chosen, AT, bundled)
    assert value.method is Method.LIST_PRICES
    assert value.inputs == len(members)
    assert value.value == round_index(median(c.rate for c in members), DEFAULT_RULES)


# -- history ----------------------------------------------------------------------------------


def test_history_follows_a_dated_price_change() -> None:
    book = FakeBook((std("a", "2"),
                     std("a", "4", valid_from=datetime(2025, 3, 15, tzinfo=UTC))))
    points = index_history(book, STANDARD_OUT, datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2025, 5, 1, tzinfo=UTC), MONTHLY)
    assert [(p.at.month, p.value) for p in points] == \
        [(1, D("2.0000")), (2, D("2.0000")), (3, D("2.0000")), (4, D("4.0000")),
         (5, D("4.0000"))]


def test_bundled_history_sees_deepseek_chat_reprice(bundled: PriceBook) -> None:
    # deepseek-chat (standard): output 0.28 from 2024-12-26, 1.10 from 2025-02-08.
    points = index_history(bundled, STANDARD_OUT, datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2025, 3, 1, tzinfo=UTC), MONTHLY)
    rates = [{c.model: c.rate for c in p.constituents}["deepseek-chat"] for p in points]
    assert rates == [D("0.28"), D("0.28"), D("1.10")]
    assert len({p.value for p in index_history(
        bundled, STANDARD_OUT, datetime(2024, 1, 1, tzinfo=UTC), AT, MONTHLY)}) > 1


def test_history_starts_at_the_first_publishable_point_then_goes_stale() -> None:
    book = FakeBook((std("a", "2", valid_from=datetime(2025, 2, 10, tzinfo=UTC)),))
    points = index_history(book, STANDARD_OUT, datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2025, 3, 1, tzinfo=UTC), MONTHLY)
    assert [p.at.month for p in points] == [3]
    trades = [IndexTrade(D(7), 500, datetime(2025, 1, 1, tzinfo=UTC))]
    points = index_history(EMPTY, STANDARD_OUT, datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2025, 1, 3, tzinfo=UTC), timedelta(days=1), trades)
    assert [(p.method, p.value) for p in points] == \
        [(Method.TRADES, D("7.0000")), (Method.STALE, D("7.0000")), (Method.STALE, D("7.0000"))]


def test_steps_clamp_month_ends_and_reject_bad_ranges() -> None:
    start = datetime(2025, 1, 31, tzinfo=UTC)
    assert [s.date().isoformat() for s in steps(start, datetime(2025, 4, 30, tzinfo=UTC),
                                                 Months(1))] == \
        ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"]
    with pytest.raises(IndexInputError):
        steps(start, start - timedelta(days=1), MONTHLY)
    with pytest.raises(IndexInputError):
        steps(start, start, timedelta(0))
    with pytest.raises(IndexInputError):
        steps(start, start + timedelta(days=20_000), timedelta(hours=1))


# -- CLI --------------------------------------------------------------------------------------


@pytest.fixture()
def app() -> typer.Typer:
    built = typer.Typer()
    index_cli.register(built)

    @built.callback()
    def main() -> None:
        """Test app."""

    return built


def test_cli_show_json(app: typer.Typer, bundled: PriceBook) -> None:
    result = CliRunner().invoke(app, ["index", "show", "standard-out", "--at", "2026-05-01",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = compute_index(STANDARD_OUT, AT, bundled)
    assert data["grade"] == "STANDARD-OUT"
    assert data["value"] == str(expected.value)
    assert data["method"] == "list_prices"
    assert data["inputs"] == len(data["constituents"]) == expected.inputs
    assert data["at"] == "2026-05-01T00:00:00+00:00"


def test_cli_show_text_and_history(app: typer.Typer) -> None:
    text = CliRunner().invoke(app, ["index", "show", "ECONOMY-IN", "--at", "2026-05-01"])
    assert text.exit_code == 0, text.output
    assert "ECONOMY-IN" in text.stdout and "list_prices" in text.stdout
    result = CliRunner().invoke(app, ["index", "show", "STANDARD-OUT", "--at", "2025-03-15",
                                      "--history", "--json"])
    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)
    assert [p["at"][:10] for p in points][:2] == ["2024-01-01", "2024-02-01"]
    assert points[-1]["at"][:10] == "2025-03-01"
    assert len(points) == 15


def test_cli_unknown_grade_exits_2(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["index", "show", "GOLD-OUT"])
    assert result.exit_code == 2
    assert "unknown grade" in result.stderr
    assert result.stdout == ""
    bad_at = CliRunner().invoke(app, ["index", "show", "ECONOMY-IN", "--at", "yesterday"])
    assert bad_at.exit_code == 2

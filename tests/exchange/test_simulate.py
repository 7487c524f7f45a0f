"""The simulated market day: deterministic per seed, invariants held, prices where they must be.

Producers only sell and consumers only buy the spot; producers sell and hedgers buy the
future. So every spot trade lies between the lowest producer floor (cost + 10 %) and the
highest consumer value (160 % of the reference), every future trade at or below the highest
hedger limit (120 % of the reference).
"""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokenomy._invariant import InvariantError
from tokenomy.cli import app
from tokenomy.cli.market_simulate import factory_cost
from tokenomy.exchange.book import Book
from tokenomy.exchange.contracts import bundled_specs
from tokenomy.exchange.simulate import SimMarket, SimulationConfig, SimulationResult, simulate

TKF = SimMarket("TKF", "TKF-SPOT", "TKF-Z26", Decimal("0.01"), Decimal("6.50"), Decimal("15.00"))
TKE = SimMarket("TKE", "TKE-SPOT", "TKE-Z26", Decimal("0.001"), Decimal("0.25"), Decimal("0.60"))


def _run(seed: int, steps: int = 120, markets: tuple[SimMarket, ...] = (TKF, TKE),
         ) -> SimulationResult:
    return simulate(markets, SimulationConfig(steps=steps, sample_every=10), random.Random(seed))


def test_same_seed_same_day_other_seed_other_day() -> None:
    first, again, other = _run(7), _run(7), _run(8)
    assert first == again and first.to_json() == again.to_json()
    assert first.to_json() != other.to_json()
    assert first.symbols == ("TKF-SPOT", "TKF-Z26", "TKE-SPOT", "TKE-Z26")
    assert [p.step for p in first.path] == list(range(10, 121, 10))
    assert all(s.volume > 0 for s in first.stats)  # a price was discovered everywhere


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 80))
def test_every_trade_is_within_the_traders_limits(seed: int, steps: int) -> None:
    result = _run(seed, steps)
    config = SimulationConfig()
    for market, spot, future in ((TKF, *result.stats[:2]), (TKE, *result.stats[2:])):
        floor = market.cost * (100 + config.margin_percent_min) / 100
        for stats, high in ((spot, market.reference * config.value_percent_max / 100),
                            (future, market.reference
                             * (100 + config.hedge_premium_percent_max) / 100)):
            if stats.volume == 0:
                assert stats.trades == 0 and stats.vwap is None
                continue
            assert stats.low is not None and stats.high is not None and stats.vwap is not None
            assert floor - market.tick <= stats.low <= stats.high <= high
            for price in (stats.open, stats.close):
                assert price is not None and stats.low <= price <= stats.high
            assert stats.low <= stats.vwap <= stats.high and stats.trades <= stats.volume
            if stats.bid is not None and stats.ask is not None:
                assert stats.bid < stats.ask  # never crossed at the close


def test_a_higher_cost_raises_the_price() -> None:
    dear = SimMarket("TKF", "TKF-SPOT", "TKF-Z26", Decimal("0.01"), Decimal("11.00"),
                     Decimal("15.00"))
    for seed in range(3):
        cheap_vwap = _run(seed, 200, (TKF,)).stats[0].vwap
        dear_vwap = _run(seed, 200, (dear,)).stats[0].vwap
        assert cheap_vwap is not None and dear_vwap is not None and dear_vwap > cheap_vwap


def test_a_broken_book_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Book, "check", lambda self: ["crossed at rest: 2 >= 1"])
    with pytest.raises(InvariantError, match="crossed"):
        _run(1, 5)


TKE_SPEC = next(s for s in bundled_specs() if s.symbol == "TKE")


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["market", "simulate", *args])


def test_cli_json_is_deterministic_and_costs_apply() -> None:
    args = ("--seed", "3", "--steps", "60", "--every", "20", "--grade", "TKE", "--json")
    first, again = _cli(*args), _cli(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == again.stdout
    body = json.loads(first.stdout)
    # the producers' cost is the factory model's: one H200 serving llama-3.1-8b in the US
    assert body["seed"] == 3 and body["markets"][0]["cost"] == f"{factory_cost(TKE_SPEC):f}"
    assert Decimal("0.05") < factory_cost(TKE_SPEC) < Decimal("0.15")  # type: ignore[operator]
    assert [p["step"] for p in body["path"]] == [20, 40, 60]
    assert body["symbols"][0] == "TKE-SPOT" and body["symbols"][1].startswith("TKE-")
    dear = json.loads(_cli(*args, "--cost", "TKE=0.45").stdout)
    assert dear["markets"][0]["cost"] == "0.45"
    assert Decimal(dear["stats"][0]["vwap"]) > Decimal(body["stats"][0]["vwap"])
    table = _cli("--seed", "3", "--steps", "60", "--grade", "TKE")
    assert "Price discovery" in table.stdout and "TKE-SPOT" in table.stdout


@pytest.mark.parametrize("args, message", [
    (("--grade", "NOPE"), "unknown contract"),
    (("--cost", "TKF=abc"), "--cost"),
    (("--cost", "TKF=-1"), "--cost"),
    (("--cost", "TKF"), "--cost"),
    (("--grade", "TKF", "--cost", "TKS=1"), "not simulated"),
    (("--steps", "0"), "--steps"),
    (("--seed", "-1"), "--seed"),
])
def test_cli_bad_args_exit_2(args: tuple[str, ...], message: str) -> None:
    result = _cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr

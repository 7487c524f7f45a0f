"""Cost per million tokens: hand-worked fixtures, then properties."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy.factory import Capex, CostInputs, FactoryError, capital_recovery_factor, cost_per_mtok


def inputs(**changes: D) -> CostInputs:
    values = {"hardware_usd_per_hour": D("1.41"), "power_kw": D("1.275"), "pue": D("1.2"),
              "usd_per_kwh": D("0.028"), "tokens_per_s": D("1000"), "utilization": D("0.5")}
    values.update(changes)
    return CostInputs(**values)


def test_the_formula_by_hand() -> None:
    """(1.41 + 1.275 x 1.2 x 0.028) $/h / (1000 tok/s x 3600 x 0.5) x 1e6
    = (1.41 + 0.04284) / 1.8 = 0.8071333… $/M; energy share 0.04284 / 1.45284."""
    b = cost_per_mtok(inputs())
    assert b.hardware_usd_per_mtok == D("1.41") / D("1.8")
    assert b.energy_usd_per_mtok == D("0.04284") / D("1.8")
    assert b.usd_per_mtok.quantize(D("0.000001")) == D("0.807133")
    assert b.energy_share.quantize(D("0.0001")) == D("0.0295")
    assert b.other_usd_per_mtok == 0
    # 1000 tok/s x 0.5 over 1275 W x 1.2 at the facility meter
    assert b.tokens_per_joule == D("500") / D("1530")


def test_inferencemax_b200_row_through_the_cost_model() -> None:
    """InferenceX: $/M = TCO / (tput x 3600 / 1e6), TCO all-in: our model with no separate
    power bill and full utilization gives their 0.122 for 4,431 tok/s on B200 at $1.95/h."""
    b = cost_per_mtok(CostInputs(D("1.95"), D(0), D(1), D(0), D(4431), D(1)))
    assert b.usd_per_mtok.quantize(D("0.001")) == D("0.122")
    assert b.hardware_share == 1


def test_capex_straight_line_and_with_cost_of_capital() -> None:
    # $49,406 over 4 years of 8,760 h: the InferenceX hyperscaler $1.41/h for H200
    assert Capex(D(49406), D(4)).usd_per_hour().quantize(D("0.01")) == D("1.41")
    # CRF(8 %, 4 y) = 0.08 x 1.08^4 / (1.08^4 - 1) = 0.301921
    assert capital_recovery_factor(D("0.08"), D(4)).quantize(D("0.000001")) == D("0.301921")
    assert Capex(D(49406), D(4), D("0.08")).usd_per_hour() > Capex(D(49406), D(4)).usd_per_hour()


@pytest.mark.parametrize("field, value, message", [
    ("pue", D("0.9"), "PUE"), ("utilization", D(0), "utilization"),
    ("utilization", D("1.1"), "utilization"), ("tokens_per_s", D(0), "tokens per second"),
    ("usd_per_kwh", D("-0.01"), "electricity price"), ("power_kw", D(-1), "power"),
])
def test_bad_inputs_are_typed_errors(field: str, value: D, message: str) -> None:
    with pytest.raises(FactoryError, match=message):
        inputs(**{field: value})


def test_a_float_never_gets_in() -> None:
    from tokenomy.factory._num import dec

    with pytest.raises(FactoryError, match="decimal string"):
        dec(0.1, "--pue")  # type: ignore[arg-type]


money = st.decimals(min_value=D("0.001"), max_value=D("100"), places=3)
share = st.decimals(min_value=D("0.01"), max_value=D("1"), places=2)


@given(hw=money, kw=money, pue=st.decimals(min_value=1, max_value=3, places=2), low=money,
       high=money, tps=money, u=share, other=money)
def test_cost_is_monotone_in_power_price_and_shares_sum_to_one(
        hw: D, kw: D, pue: D, low: D, high: D, tps: D, u: D, other: D) -> None:
    low, high = min(low, high), max(low, high)
    a = cost_per_mtok(CostInputs(hw, kw, pue, low, tps, u, other))
    b = cost_per_mtok(CostInputs(hw, kw, pue, high, tps, u, other))
    assert a.usd_per_mtok <= b.usd_per_mtok
    assert a.energy_share <= b.energy_share
    for x in (a, b):
        assert abs(x.hardware_share + x.energy_share + x.other_share - 1) < D("1e-20")
        assert all(0 <= s <= 1 for s in (x.hardware_share, x.energy_share, x.other_share))


@given(hw=money, tps=money, u1=share, u2=share)
def test_cost_falls_as_utilization_rises(hw: D, tps: D, u1: D, u2: D) -> None:
    lo, hi = min(u1, u2), max(u1, u2)
    at = {u: cost_per_mtok(CostInputs(hw, D(1), D("1.2"), D("0.08"), tps, u)).usd_per_mtok
          for u in (lo, hi)}
    assert at[hi] <= at[lo]

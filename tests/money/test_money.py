from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy.money import USD, USDC, Amount, MoneyError, Rounding, asset, parse_decimal, quantize
from tokenomy.money.amount import format_minor


def test_usd_is_held_in_nano_dollars() -> None:
    # DeepSeek's cached input: $0.028 per million tokens = 0.028 nano-dollars... per token
    # is not whole, but a million tokens are exactly 28,000,000 nano-USD.
    assert Amount.parse("0.028", USD, Rounding.HALF_EVEN).minor == 28_000_000
    assert USD.scale == 9 and USDC.scale == 6


def test_quantize_uses_the_mode_it_is_given() -> None:
    half = Decimal("0.0000000025")
    assert quantize(half, 9, Rounding.HALF_EVEN) == 2
    assert quantize(half, 9, Rounding.HALF_UP) == 3
    assert quantize(half, 9, Rounding.UP) == 3
    assert quantize(half, 9, Rounding.DOWN) == 2
    assert quantize(-half, 9, Rounding.FLOOR) == -3


def test_quantize_refuses_floats() -> None:
    with pytest.raises(TypeError):
        quantize(0.1, 9, Rounding.HALF_EVEN)  # type: ignore[arg-type]


def test_parse_refuses_floats_and_garbage() -> None:
    with pytest.raises(MoneyError):
        parse_decimal(0.1)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        parse_decimal("1.2.3")
    with pytest.raises(MoneyError):
        parse_decimal("NaN")


def test_assets_do_not_mix() -> None:
    with pytest.raises(MoneyError):
        Amount(1, USD) + Amount(1, USDC)


def test_unknown_asset_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="USD"):
        asset("DOGE")


@given(st.integers(min_value=-(10**20), max_value=10**20), st.integers(0, 12))
def test_format_then_parse_round_trips(minor: int, scale: int) -> None:
    text = format_minor(minor, scale)
    assert quantize(parse_decimal(text), scale, Rounding.HALF_EVEN) == minor


@given(st.decimals(allow_nan=False, allow_infinity=False, places=12,
                   min_value=Decimal("-1e9"), max_value=Decimal("1e9")))
def test_rounding_modes_bracket_the_exact_value(value: Decimal) -> None:
    lo = quantize(value, 9, Rounding.FLOOR)
    hi = quantize(value, 9, Rounding.CEILING)
    even = quantize(value, 9, Rounding.HALF_EVEN)
    assert lo <= even <= hi and hi - lo <= 1
    assert Decimal(lo).scaleb(-9) <= value <= Decimal(hi).scaleb(-9)

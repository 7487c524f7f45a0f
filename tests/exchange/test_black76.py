"""Black-76 in Decimal: Φ against mpmath, the Hull / MathWorks vector, parity, greeks against
finite differences, monotonicity, bounds, implied volatility, and ``market option-price``.

The reference values were computed once with mpmath 1.3 (not a dependency of the project),
at 60 digits for the Φ table and 80 for the greeks:

    mp.ncdf(x)                                   for the Φ table
    d1 = (log(F/K) + s*s*T/2) / (s*sqrt(T)); d2 = d1 - s*sqrt(T)
    call = exp(-r*T) * (F*ncdf(d1) - K*ncdf(d2)) and its mp.diff derivatives
    with F = 20, K = 20, r = 0.09, s = 0.25, T = mpf("0.3333333333333333333333333333333333")
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal, localcontext
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokenomy.cli import market
from tokenomy.exchange.black76 import (
    IMPLIED_ITERATIONS_MAX,
    PRECISION,
    VOLATILITY_MAX,
    Greeks,
    ImpliedVolatilityError,
    OptionError,
    OptionKind,
    greeks,
    implied_volatility,
    no_arbitrage_bounds,
    normal_cdf,
    normal_pdf,
    price,
)

D = Decimal
CALL, PUT = OptionKind.CALL, OptionKind.PUT
THIRD = D("0.3333333333333333333333333333333333")  # 4/12 at 34 digits, as the CLI divides it
HULL = {"future": D(20), "strike": D(20), "rate": D("0.09"), "years": THIRD}

PHI_MPMATH = [
    ("-37", "5.72557122252457682268319254827320165643278624e-300"),
    ("-20", "2.75362411860623369507562278085746533280749773e-89"),
    ("-10", "7.61985302416052606597334325159930836350403328e-24"),
    ("-5.5", "1.89895624658877193838512740335801863163574891e-8"),
    ("-5", "2.86651571879193911673752332874645353854423014e-7"),
    ("-4.999", "2.88142014146413161300424424874322775206707653e-7"),
    ("-3", "0.00134989803163009452665181476759497737782936816"),
    ("-1.5", "0.0668072012688580660044940409798860795228951857"),
    ("-0.5", "0.308537538725986896362295389391662260116397824"),
    ("-1e-20", "0.499999999999999999996010577195985673220600539"),
    ("0", "0.5"),
    ("0.3", "0.617911422188952637306528963121417648051241467"),
    ("1", "0.841344746068542948585232545632037922477912967"),
    ("2.5", "0.993790334674223864833021895425807778872102253"),
    ("5", "0.999999713348428120806088326247667125354646146"),
    ("5.001", "0.999999714831436776823396192916599768661376736"),
    ("7", "0.999999999998720187456114164995616376309219167"),
    ("12", "0.999999999999999999999999999999998223517887922"),
]

# mpmath, 40 digits: the Hull / MathWorks blkprice vector (call = put since F = K).
HULL_CALL = {
    "price": "1.116641456558943478153398490094962539919",
    "delta": "0.513138803188227675420099138231971231697",
    "gamma": "0.1337645026613456116400022240194431754853",
    "vega": "4.458816755378187054666740800648105403628",
    "theta": "-1.571558552176515232466221936134493064973",
    "rho": "-0.3722138188529811593844661633649874760849",
}
HULL_PUT = {**HULL_CALL, "delta": "-0.4573067303602805015124292137272231047011"}
FIELDS = ("price", "delta", "gamma", "vega", "theta", "rho")

# Ordinary markets for the property tests (the model's limits are tested separately).
prices = st.decimals(min_value=D("0.5"), max_value=D(2000), places=4)
rates = st.decimals(min_value=D("-0.2"), max_value=D("0.2"), places=4)
terms = st.decimals(min_value=D("0.02"), max_value=D(10), places=4)
vols = st.decimals(min_value=D("0.02"), max_value=D(3), places=4)
kinds = st.sampled_from(OptionKind)
PROPERTY = settings(max_examples=150, deadline=None)


@pytest.fixture(autouse=True)
def _exact_test_arithmetic() -> Iterator[None]:
    """The tests' own sums run at 60 digits, so they never round the 34-digit results. (The
    model runs in its own context whatever the caller's: see the test just below.)"""
    with localcontext() as ctx:
        ctx.prec = 60
        yield


def test_results_do_not_depend_on_the_callers_context() -> None:
    expected = greeks(CALL, **HULL, volatility=D("0.25"))
    with localcontext() as ctx:
        ctx.prec = 3
        assert greeks(CALL, **HULL, volatility=D("0.25")) == expected


def _relative(value: Decimal, reference: Decimal) -> Decimal:
    return abs(value - reference) / abs(reference)


def _discount(rate: Decimal, years: Decimal) -> Decimal:
    return (-rate * years).exp()


# -- Φ -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "reference"), PHI_MPMATH)
def test_normal_cdf_agrees_with_mpmath_to_the_34th_digit(x: str, reference: str) -> None:
    assert _relative(normal_cdf(D(x)), D(reference)) < D("1e-33")


def test_normal_cdf_agrees_with_math_erfc_across_the_range() -> None:
    """An independent double-precision check at 361 points from −37 to 8 (x = k/8 is exact)."""
    for k in range(-296, 65):
        x = k / 8
        expected = 0.5 * math.erfc(-x / math.sqrt(2))
        got = float(normal_cdf(D(k) / 8))
        assert math.isclose(got, expected, rel_tol=1e-12), x


@given(st.decimals(min_value=-40, max_value=40, places=6))
def test_normal_cdf_is_symmetric(x: Decimal) -> None:
    assert abs(normal_cdf(x) + normal_cdf(-x) - 1) <= D("2e-34")


def test_normal_cdf_extremes_and_pdf() -> None:
    assert str(normal_cdf(D(-2000)))[:12] == "2.1680707880"  # e^(−2,000,000) keeps going
    assert normal_cdf(D(-3000)) == 0  # below Decimal's smallest exponent, 10^−999,999
    assert normal_cdf(D(3000)) == 1
    assert normal_cdf(D(0)) == D("0.5")
    assert str(normal_pdf(D(0))) == "0.3989422804014326779399460599343819"
    assert len(normal_cdf(D("0.3")).as_tuple().digits) == PRECISION


# -- the reference vector ----------------------------------------------------------------------


def test_hull_vector_call_equals_put_1_1166() -> None:
    """F = 20, K = 20, r = 9 %, T = 4 months, σ = 25 % (Hull; MathWorks blkprice): 1.1166."""
    call = price(CALL, **HULL, volatility=D("0.25"))
    put = price(PUT, **HULL, volatility=D("0.25"))
    assert call == put
    assert round(call, 4) == D("1.1166")


@pytest.mark.parametrize(("kind", "reference"), [(CALL, HULL_CALL), (PUT, HULL_PUT)])
def test_hull_vector_greeks_agree_with_mpmath(kind: OptionKind,
                                              reference: dict[str, str]) -> None:
    result = greeks(kind, **HULL, volatility=D("0.25"))
    for field in FIELDS:
        assert _relative(getattr(result, field), D(reference[field])) < D("1e-32"), field


def test_second_vector_and_per_day_units() -> None:
    """F = 48.03, K = 50, r = 3 %, T = 0.1423, σ = 20 % → C = 0.6914, P = 2.6530."""
    market_ = {"future": D("48.03"), "strike": D(50), "rate": D("0.03"), "years": D("0.1423")}
    call = greeks(CALL, **market_, volatility=D("0.2"))
    put = greeks(PUT, **market_, volatility=D("0.2"))
    assert round(call.price, 4) == D("0.6914")
    assert round(put.price, 4) == D("2.6530")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        assert call.theta_per_day == call.theta / 365
        assert call.vega_per_percent == call.vega / 100
        assert put.rho_per_percent == put.rho / 100


# -- properties --------------------------------------------------------------------------------


@PROPERTY
@given(prices, prices, rates, terms, vols)
def test_put_call_parity(future: Decimal, strike: Decimal, rate: Decimal, years: Decimal,
                         vol: Decimal) -> None:
    """C − P = e^(−rT)·(F − K)."""
    args = {"future": future, "strike": strike, "rate": rate, "years": years,
            "volatility": vol}
    gap = price(CALL, **args) - price(PUT, **args)
    assert abs(gap - _discount(rate, years) * (future - strike)) <= D("1e-30") * (
        future + strike)


@PROPERTY
@given(kinds, prices, prices, rates, terms, vols)
def test_bounds(kind: OptionKind, future: Decimal, strike: Decimal, rate: Decimal,
                years: Decimal, vol: Decimal) -> None:
    """max(df·(F − K), 0) ≤ C ≤ df·F, and the mirror image for a put."""
    low, high = no_arbitrage_bounds(kind, future=future, strike=strike, rate=rate, years=years)
    value = price(kind, future=future, strike=strike, rate=rate, years=years, volatility=vol)
    assert 0 <= low <= value <= high
    discount = _discount(rate, years)
    cap = future if kind is CALL else strike
    assert abs(high - discount * cap) <= D("1e-30") * cap


@PROPERTY
@given(prices, prices, prices, rates, terms, vols, vols)
def test_monotonicity(f1: Decimal, f2: Decimal, strike: Decimal, rate: Decimal,
                      years: Decimal, v1: Decimal, v2: Decimal) -> None:
    """The call rises with F and falls with K; both kinds rise with σ."""
    low_f, high_f = sorted((f1, f2))
    low_v, high_v = sorted((v1, v2))
    base = {"rate": rate, "years": years}
    assert price(CALL, future=low_f, strike=strike, volatility=v1, **base) <= price(
        CALL, future=high_f, strike=strike, volatility=v1, **base)
    assert price(CALL, future=strike, strike=low_f, volatility=v1, **base) >= price(
        CALL, future=strike, strike=high_f, volatility=v1, **base)
    for kind in OptionKind:
        assert price(kind, future=f1, strike=strike, volatility=low_v, **base) <= price(
            kind, future=f1, strike=strike, volatility=high_v, **base)


@PROPERTY
@given(kinds, prices, prices, rates, terms, vols)
def test_greeks_match_finite_differences(kind: OptionKind, future: Decimal, strike: Decimal,
                                         rate: Decimal, years: Decimal, vol: Decimal) -> None:
    """Central differences with a step of 10⁻¹² (10⁻⁹ for gamma, differencing delta)."""
    args: dict[str, Decimal] = {"future": future, "strike": strike, "rate": rate,
                                "years": years, "volatility": vol}
    exact = greeks(kind, **args)

    def slope(name: str, of: str, step: Decimal) -> Decimal:
        up = getattr(greeks(kind, **{**args, name: args[name] + step}), of)
        down = getattr(greeks(kind, **{**args, name: args[name] - step}), of)
        result: Decimal = (up - down) / (2 * step)
        return result

    def close(difference: Decimal, exact_value: Decimal) -> bool:
        return abs(difference - exact_value) <= D("1e-12") * abs(exact_value) + D("1e-18")

    step = D("1e-12")
    assert close(slope("future", "price", step), exact.delta)
    assert close(slope("future", "delta", step), exact.gamma)
    assert close(slope("volatility", "price", step), exact.vega)
    assert close(-slope("years", "price", step), exact.theta)
    assert close(slope("rate", "price", step), exact.rho)


# -- implied volatility ------------------------------------------------------------------------


def test_implied_volatility_of_the_hull_vector() -> None:
    for kind in OptionKind:
        exact = price(kind, **HULL, volatility=D("0.25"))
        assert abs(implied_volatility(kind, price=exact, **HULL) - D("0.25")) < D("1e-30")
    rounded = implied_volatility(CALL, price=D("1.1166"), **HULL)
    assert round(rounded, 6) == D("0.249991")


@PROPERTY
@given(kinds, prices, prices, rates, terms, vols)
def test_implied_volatility_round_trips(kind: OptionKind, future: Decimal, strike: Decimal,
                                        rate: Decimal, years: Decimal, vol: Decimal) -> None:
    """σ → price → σ′: σ′ reproduces the price, and equals σ wherever vega makes σ readable."""
    market_ = {"future": future, "strike": strike, "rate": rate, "years": years}
    exact = greeks(kind, **market_, volatility=vol)
    low, high = no_arbitrage_bounds(kind, **market_)
    scale = future + strike
    try:
        found = implied_volatility(kind, price=exact.price, **market_)
    except ImpliedVolatilityError:  # only when the price rounds to a bound at 34 digits
        assert exact.price in (low, high)
        return
    again = price(kind, **market_, volatility=found)
    # σ′ is found to 1e-24, so the price reproduces to vega × 1e-24 (or to 34 digits)
    assert abs(again - exact.price) <= max(D("1e-30") * scale, exact.vega * D("1e-23"))
    if exact.vega > D("1e-6") * scale:
        assert abs(found - vol) <= D("1e-20")


@pytest.mark.parametrize(("kind", "quote", "message"), [
    (CALL, "0", "no-arbitrage bounds"),
    (CALL, "-1", "no-arbitrage bounds"),
    (CALL, "19.5", "no-arbitrage bounds"),  # above df·F = 19.409
    (PUT, "19.409", "no-arbitrage bounds"),  # above df·K
    (CALL, "19.4", "above 10"),  # inside the bounds, but σ > VOLATILITY_MAX
])
def test_implied_volatility_rejects_prices_outside_the_bounds(
        kind: OptionKind, quote: str, message: str) -> None:
    with pytest.raises(ImpliedVolatilityError, match=message):
        implied_volatility(kind, price=D(quote), **HULL)


def test_implied_volatility_below_the_floor() -> None:
    """At the money, 10⁻¹² is worth less than σ = 10⁻⁹ (≈ 4.5·10⁻⁹): below VOLATILITY_MIN."""
    with pytest.raises(ImpliedVolatilityError, match=r"below 0\.000000001$"):
        implied_volatility(CALL, price=D("1e-12"), **HULL)


def test_implied_volatility_limits_are_stated() -> None:
    assert IMPLIED_ITERATIONS_MAX == 200
    assert VOLATILITY_MAX == 10


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "bad", "message"), [
    ("future", D(0), "future must be > 0"),
    ("future", D(-20), "future must be > 0"),
    ("strike", D(0), "strike must be > 0"),
    ("years", D(0), "years must be > 0"),
    ("years", D(-1), "years must be > 0"),
    ("volatility", D(0), "volatility must be > 0"),
    ("volatility", D("-0.25"), "volatility must be > 0"),
    ("volatility", D(11), "volatility must be between"),
    ("years", D(101), "years must be between"),
    ("rate", D("1.5"), "rate must be between"),
    ("future", D("NaN"), "must be a finite number"),
    ("strike", D("Infinity"), "must be a finite number"),
    ("future", 20.0, "must be a Decimal, not float"),
    ("rate", 0, "must be a Decimal, not int"),
])
def test_bad_input_is_a_typed_error(field: str, bad: Any, message: str) -> None:
    args: dict[str, Any] = {**HULL, "volatility": D("0.25"), field: bad}
    with pytest.raises(OptionError, match=message):
        greeks(CALL, **args)


def test_kind_must_be_an_option_kind() -> None:
    with pytest.raises(OptionError, match="kind must be"):
        greeks("call", **HULL, volatility=D("0.25"))  # type: ignore[arg-type]


def test_greeks_are_immutable() -> None:
    result = greeks(CALL, **HULL, volatility=D("0.25"))
    assert isinstance(result, Greeks)
    with pytest.raises(AttributeError):
        result.price = D(0)  # type: ignore[misc]


@pytest.mark.parametrize("kind", list(OptionKind))
def test_extreme_but_allowed_inputs_stay_within_bounds(kind: OptionKind) -> None:
    for future, strike, vol, years in [("1e-18", "1e18", "1e-9", "1e-9"),
                                       ("1e18", "1e-18", "10", "100"),
                                       ("1", "1.000000001", "1e-9", "100"),
                                       ("7", "7", "10", "1e-9")]:
        market_ = {"future": D(future), "strike": D(strike), "rate": D(-1), "years": D(years)}
        low, high = no_arbitrage_bounds(kind, **market_)
        result = greeks(kind, **market_, volatility=D(vol))
        assert low <= result.price <= high
        assert result.gamma >= 0
        assert result.vega >= 0


# -- the CLI -----------------------------------------------------------------------------------


def _invoke(*args: str) -> Any:
    app = typer.Typer()
    market.register(app)
    return CliRunner().invoke(app, ["market", "option-price", *args])


HULL_ARGS = ("--future", "20", "--strike", "20", "--rate", "0.09", "--years", "4/12")


def _no_float(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction is on the wire: {text}")


def test_cli_json_prints_decimal_strings_rounded_half_even_to_6_places() -> None:
    result = _invoke("--type", "call", *HULL_ARGS, "--vol", "0.25", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout, parse_float=_no_float) == {
        "price": "1.116641", "delta": "0.513139", "gamma": "0.133765", "vega": "4.458817",
        "theta": "-1.571559", "rho": "-0.372214"}


def test_cli_years_as_a_ratio_is_the_34_digit_quotient() -> None:
    by_ratio = _invoke("--type", "put", *HULL_ARGS, "--vol", "0.25", "--json")
    by_digits = _invoke("--type", "put", *HULL_ARGS[:-1], str(THIRD), "--vol", "0.25", "--json")
    assert by_ratio.stdout == by_digits.stdout
    assert json.loads(by_ratio.stdout)["delta"] == "-0.457307"


def test_cli_table() -> None:
    result = _invoke("--type", "call", *HULL_ARGS, "--vol", "0.25")
    assert result.exit_code == 0, result.stderr
    for text in ("price", "1.116641", "theta", "-1.571559", "-0.004306 per day",
                 "0.044588 per 1 % vol"):
        assert text in result.stdout


def test_cli_implied_volatility() -> None:
    as_json = _invoke("--type", "call", *HULL_ARGS, "--implied-from", "1.1166", "--json")
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout, parse_float=_no_float) == {"implied_vol": "0.249991"}
    plain = _invoke("--type", "put", *HULL_ARGS, "--implied-from", "1.116641456558943")
    assert plain.stdout == "implied volatility 0.250000 per √year\n"


@pytest.mark.parametrize(("args", "message"), [
    (("--type", "call", *HULL_ARGS), "exactly one of --vol and --implied-from"),
    (("--type", "call", *HULL_ARGS, "--vol", "0.2", "--implied-from", "1"), "exactly one"),
    (("--type", "call", *HULL_ARGS, "--vol", "0.2.5"), "--vol: not a decimal number"),
    (("--type", "call", *HULL_ARGS, "--vol", "nan"), "--vol: not a finite number"),
    (("--type", "call", *HULL_ARGS, "--vol", "-0.25"), "volatility must be > 0"),
    (("--type", "call", *HULL_ARGS[:-2], "--years", "0", "--vol", "0.25"), "years must be > 0"),
    (("--type", "call", *HULL_ARGS[:-2], "--years", "4/0", "--vol", "0.25"), "division by zero"),
    (("--type", "call", *HULL_ARGS[:-2], "--years", "a/12", "--vol", "0.25"), "--years"),
    (("--type", "call", "--future", "-20", *HULL_ARGS[2:], "--vol", "0.25"), "future must be"),
    (("--type", "call", *HULL_ARGS, "--implied-from", "25"), "no-arbitrage bounds"),
])
def test_cli_bad_input_exits_2_with_a_message_on_stderr(args: tuple[str, ...],
                                                        message: str) -> None:
    result = _invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_cli_unknown_type_is_a_usage_error() -> None:
    result = _invoke("--type", "straddle", *HULL_ARGS, "--vol", "0.25")
    assert result.exit_code == 2
    assert "--type" in result.stderr

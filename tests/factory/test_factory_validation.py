"""Validation fixtures: InferenceX's published formula outputs, the H200 measurements."""

from __future__ import annotations

from decimal import Decimal as D

from tokenomy.factory.validation import (
    h200_checks,
    inferencemax_checks,
    joules_per_token,
    median_abs,
    tok_s_per_mw,
    usd_per_mtok,
)


def test_inferencemax_formulas_by_hand() -> None:
    """Llama 3.3 70B FP8 on B200: 4,431 tok/s/GPU, $1.95/GPU-h, 2.17 kW all-in."""
    assert usd_per_mtok(D("1.95"), D(4431)).quantize(D("0.001")) == D("0.122")
    # the published 2,042,128 tok/s/MW is 4,431.42 tok/s, shown rounded as 4,431
    assert round(D(2042128) * D("2.17") / 1000) == 4431
    assert abs(tok_s_per_mw(D(4431), D("2.17")) - 2042128) < tok_s_per_mw(D("0.5"), D("2.17"))
    assert joules_per_token(D("2.17"), D(4431)).quantize(D("0.01")) == D("0.49")
    assert joules_per_token(D("2.17"), D(25320)).quantize(D("0.001")) == D("0.086")
    assert (tok_s_per_mw(D(25320), D("2.17")) / 10**6).quantize(D("0.01")) == D("11.67")


def test_which_published_points_reproduce() -> None:
    """Exact (within the published rounding): the 76 tok/s/user Llama row's $/M and tok/s/MW,
    and gpt-oss's tok/s/MW. The other $/M points are chart tooltips that differ by 0.3-2.8 %
    from the formula with today's GPU_SPECS (another snapshot of the TCO constants)."""
    checks = {(c.label, c.quantity): c for c in inferencemax_checks()}
    reproduced = sorted(k for k, c in checks.items() if c.reproduces)
    assert reproduced == [
        ("Llama 3.3 70B, B200, FP8, 1k/1k, 76 tok/s/user", "tok_s_per_mw"),
        ("Llama 3.3 70B, B200, FP8, 1k/1k, 76 tok/s/user", "usd_per_mtok"),
        ("gpt-oss 120B, B200, FP4, 72 tok/s/user", "tok_s_per_mw"),
    ]
    assert len(checks) == 8
    assert all(abs(c.relative_error) < D("0.03") for c in checks.values())


def test_the_model_against_h200_measurements() -> None:
    checks = h200_checks()
    assert len(checks) == 16
    # the roofline is an upper bound: no measured row beats it
    assert all(c.measured_tokens_per_s < c.ideal_tokens_per_s for c in checks)
    assert all(c.ideal_tokens_per_joule > c.measured_tokens_per_joule for c in checks)
    # with the measured duration, the energy model lands within ~26 % (median)
    assert median_abs([c.at_time_error for c in checks]) < D("0.30")
    dense_eager = [c for c in checks if "eager" in c.stack and "llama" in c.model]
    assert max(abs(c.at_time_error) for c in dense_eager) < D("0.35")


def test_median_abs() -> None:
    assert median_abs([D(-3), D(1), D(2)]) == 2
    assert median_abs([D(-4), D(1), D(2), D(3)]) == D("2.5")
    assert median_abs([]) == 0

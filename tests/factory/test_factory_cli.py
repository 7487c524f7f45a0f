"""The factory's commands through the real CLI (a subprocess)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

Cli = Callable[..., Any]


def run_json(cli: Cli, *args: str) -> Any:
    done = cli(["factory", *args, "--json"])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_quote_json_with_bundled_data(cli: Cli) -> None:
    out = run_json(cli, "quote", "--gpu", "H200", "--model", "llama-3.1-8b",
                   "--region", "cn-west")
    assert set(out) >= {"cost_usd_per_mtok", "hardware_share", "energy_share",
                        "tokens_per_joule", "assumptions"}
    assert all(isinstance(out[k], str) for k in ("cost_usd_per_mtok", "hardware_share"))
    assert D(out["hardware_share"]) + D(out["energy_share"]) + D(out["other_share"]) \
        == pytest.approx(D(1), abs=D("0.001"))
    a = out["assumptions"]
    assert (a["gpu"], a["model"], a["region"], a["usd_per_kwh"], a["pue"]) == \
        ("H200", "llama-3.1-8b", "cn-west", "0.028", "1.2")
    us = run_json(cli, "quote", "--gpu", "H200", "--model", "llama-3.1-8b", "--region", "us")
    assert D(us["cost_usd_per_mtok"]) > D(out["cost_usd_per_mtok"])


def test_quote_from_direct_assumptions_is_exact(cli: Cli) -> None:
    """(2 + 1 x 1.5 x 0.1) / (1000 x 3600 x 0.5 / 1e6) = 2.15 / 1.8 = 1.19444…"""
    out = run_json(cli, "quote", "--tokens-per-s", "1000", "--gpu-usd-per-hour", "2",
                   "--power-kw", "1", "--pue", "1.5", "--usd-per-kwh", "0.1",
                   "--utilization", "0.5")
    assert out["cost_usd_per_mtok"] == "1.19444"
    assert out["energy_share"] == "0.06977"  # 0.15 / 2.15
    assert out["tokens_per_joule"] == "0.3333"  # 500 tok/s over 1,500 W


@pytest.mark.parametrize("args, message", [
    (["--model", "llama-3.1-8b"], "give --gpu or --gpu-usd-per-hour"),
    (["--gpu", "A100", "--model", "llama-3.1-8b"], "unknown GPU 'A100'"),
    (["--gpu", "H200", "--model", "llama-3.1-8b", "--pue", "0.1.2"], "--pue"),
    (["--gpu", "H200", "--model", "llama-3.1-8b", "--utilization", "0"], "utilization"),
    (["--gpu", "H200"], "--tokens-per-s"),
])
def test_quote_errors_exit_2(cli: Cli, args: list[str], message: str) -> None:
    done = cli(["factory", "quote", *args])
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_quote_text_names_every_assumption(cli: Cli) -> None:
    done = cli(["factory", "quote", "--gpu", "H200", "--model", "deepseek-v3",
                "--precision", "fp8", "--batch", "512"])
    assert done.returncode == 0, done.stderr
    for word in ("cost per million output tokens", "gpus_per_replica", "8", "capex_usd",
                 "sources:", "InferenceX"):
        assert word in done.stdout


def test_scenarios(cli: Cli) -> None:
    scenarios = {s["key"]: s for s in run_json(cli, "scenarios")}
    assert list(scenarios) == ["electricity", "dense-vs-moe", "price-gap"]
    regions = {r["region"]: D(r["cost_usd_per_mtok"]) for r in scenarios["electricity"]["rows"]}
    assert regions["cn-west"] < regions["us"] < regions["eu"]
    moe = scenarios["dense-vs-moe"]["rows"]
    assert all(D(moe[i]["cost_usd_per_mtok"]) > D(moe[i + 1]["cost_usd_per_mtok"])
               for i in range(0, len(moe), 2))  # the MoE is cheaper at every batch
    assert "not explained by electricity" in scenarios["price-gap"]["finding"]
    text = cli(["factory", "scenarios"])
    assert text.returncode == 0 and "assumptions (every row)" in text.stdout


def test_validate(cli: Cli) -> None:
    out = run_json(cli, "validate")
    assert out["summary"]["inferencemax_reproduced"] == "3/8"
    assert out["summary"]["h200_rows_above_roofline"] == "0"
    assert len(out["h200"]) == 16


@pytest.mark.parametrize("noun, key, expected", [
    ("gpus", "gpu", {"H100", "H200", "B200", "GB200", "MI300X", "MI325X", "MI355X"}),
    ("models", "model", {"llama-3.1-8b", "llama-3.1-70b", "deepseek-v3", "qwen3-30b-a3b",
                         "mixtral-8x7b"}),
    ("regions", "region", {"us", "eu", "cn-west"}),
])
def test_listings_carry_sources(cli: Cli, noun: str, key: str, expected: set[str]) -> None:
    rows = run_json(cli, noun)
    assert expected <= {r[key] for r in rows}
    assert all(r["source"] for r in rows)

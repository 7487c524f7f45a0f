"""Scenarios: the model run over the questions people ask, every assumption printed.

In: the bundled data. Out: :class:`Scenario` tables — China vs US electricity, dense vs MoE at
equal total parameters, and whether production cost explains the price gap between DeepSeek
and a frontier model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib import resources

from tokenomy.factory import catalog
from tokenomy.factory._num import significant, text
from tokenomy.factory.errors import DataError
from tokenomy.factory.quote import Quote, QuoteRequest, quote

COMMON = QuoteRequest(gpu="H200")


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    assumptions: dict[str, str]  # what every row shares
    finding: str

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "title": self.title, "rows": list(self.rows),
                "assumptions": self.assumptions, "finding": self.finding}


def _shared(q: QuoteRequest, varying: set[str]) -> dict[str, str]:
    """The assumptions every row of a scenario shares (from its first quote)."""
    return {k: v for k, v in quote(q).assumptions.items() if k not in varying}


def _pct(value: Decimal) -> str:
    return f"{text(value * 100, 1)} %"


def electricity() -> Scenario:
    base = replace(COMMON, model="llama-3.1-70b")
    rows = []
    for key in ("cn-west", "us-ppa", "us", "cn-east", "eu"):
        q = quote(replace(base, region=key))
        b = q.breakdown
        rows.append({"region": key, "usd_per_kwh": q.assumptions["usd_per_kwh"],
                     "pue": q.assumptions["pue"], "cost_usd_per_mtok": significant(b.usd_per_mtok),
                     "energy_share": _pct(b.energy_share),
                     "tokens_per_joule": significant(b.tokens_per_joule, 3)})
    low, high = Decimal(rows[0]["cost_usd_per_mtok"]), Decimal(rows[-1]["cost_usd_per_mtok"])
    us = next(Decimal(r["cost_usd_per_mtok"]) for r in rows if r["region"] == "us")
    finding = (f"Western China's power makes a token {_pct(1 - low / us)} cheaper than the US "
               f"average and {_pct(1 - low / high)} cheaper than the EU: electricity is a "
               "minor share; hardware and utilization dominate.")
    return Scenario("electricity", "China vs US (and EU) electricity: Llama 3.1 70B on H200",
                    tuple(rows[0]), tuple(rows),
                    _shared(base, {"region", "usd_per_kwh", "pue"}), finding)


def dense_vs_moe() -> Scenario:
    rows = []
    pair = ("qwen3-32b", "qwen3-30b-a3b")
    for batch in (1, 16, 64, 256):
        for name in pair:
            q = quote(replace(COMMON, model=name, batch=batch))
            shape = catalog.model(name)
            billions = Decimal(10) ** 9
            rows.append({"model": name,
                         "total_b": significant(shape.total_params / billions, 3),
                         "active_b": significant(shape.active_params / billions, 3),
                         "batch": str(batch), "tokens_per_s": q.assumptions["tokens_per_s"],
                         "bound": q.assumptions["bound"],
                         "cost_usd_per_mtok": significant(q.breakdown.usd_per_mtok),
                         "tokens_per_joule": significant(q.breakdown.tokens_per_joule, 3)})
    at = {(r["model"], r["batch"]): Decimal(r["cost_usd_per_mtok"]) for r in rows}
    finding = ("At equal total parameters the MoE reads fewer bytes per step while few experts "
               f"are touched: {significant(at[pair[0], '1'] / at[pair[1], '1'], 3)}x cheaper at "
               f"batch 1, {significant(at[pair[0], '256'] / at[pair[1], '256'], 3)}x at batch "
               "256, where U(B) has saturated: every expert is read at every step.")
    return Scenario("dense-vs-moe", "Dense vs MoE at ~31B total parameters, H200 bf16",
                    tuple(rows[0]), tuple(rows),
                    _shared(replace(COMMON, model=pair[0]),
                            {"model", "batch", "tokens_per_s", "bound", "gpus_per_replica",
                             "roofline_tokens_per_s_per_replica"}), finding)


def _list_price(key: str) -> tuple[Decimal, str]:
    folder = resources.files("tokenomy.factory").joinpath("data")
    try:
        entry = tomllib.loads(folder.joinpath("list_prices.toml").read_text("utf-8"))["price"][key]
        return Decimal(str(entry["usd_per_mtok"])), f"{entry['label']} ({entry['source']})"
    except (KeyError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"data/list_prices.toml: {exc}") from None


def _gap_row(label: str, q: Quote, price: Decimal) -> dict[str, str]:
    cost = q.breakdown.usd_per_mtok
    return {"case": label, "region": q.assumptions.get("region", ""),
            "gpus": q.assumptions["gpus_per_replica"], "batch": q.assumptions["batch"],
            "cost_usd_per_mtok": significant(cost), "list_usd_per_mtok": str(price),
            "list_over_cost": significant(price / cost, 3)}


def price_gap() -> Scenario:
    ds_price, ds_source = _list_price("deepseek-v3")
    fr_price, fr_source = _list_price("frontier")
    deepseek = replace(COMMON, model="deepseek-v3", precision="fp8", batch=512)
    frontier = replace(COMMON, model="llama-3.1-405b", precision="fp8", batch=64)
    cases = [
        ("DeepSeek-V3, western China", quote(replace(deepseek, region="cn-west")), ds_price),
        ("DeepSeek-V3, US", quote(replace(deepseek, region="us")), ds_price),
        ("dense 405B stand-in for a frontier model, US",
         quote(replace(frontier, region="us")), fr_price),
    ]
    rows = [_gap_row(*case) for case in cases]
    cost_ratio = Decimal(rows[2]["cost_usd_per_mtok"]) / Decimal(rows[0]["cost_usd_per_mtok"])
    power_ratio = Decimal(rows[1]["cost_usd_per_mtok"]) / Decimal(rows[0]["cost_usd_per_mtok"])
    finding = (f"List prices differ {significant(fr_price / ds_price, 3)}x; modelled production "
               f"cost differs {significant(cost_ratio, 3)}x (architecture: 37B active MoE vs a "
               f"405B dense stand-in), of which cheap power explains only "
               f"{significant(power_ratio, 3)}x. The rest is margin, or frontier models are "
               "larger than the stand-in: the price gap is not explained by electricity.")
    assumptions = {"deepseek_price": ds_source, "frontier_price": fr_source,
                   "frontier_shape": "llama-3.1-405b, a public dense model of frontier scale; "
                   "frontier shapes are not published", "context": str(COMMON.context),
                   "precision": "fp8", "gpu": "H200", "utilization": str(COMMON.utilization),
                   "efficiency": str(COMMON.efficiency), "hardware": "capex, 4 years, 0 %"}
    return Scenario("price-gap", "DeepSeek vs frontier prices: explained by production cost?",
                    tuple(rows[0]), tuple(rows), assumptions, finding)


def all_scenarios() -> list[Scenario]:
    return [electricity(), dense_vs_moe(), price_gap()]

"""A quote: the cost per million output tokens of one (GPU, model, region), every assumption
named. Any assumption can be given directly instead of looked up.

In: :class:`QuoteRequest` (names from the bundled data and/or explicit numbers). Out:
:class:`Quote`, a :class:`CostBreakdown` plus the assumptions it used and their sources.

Defaults: hardware = the GPU's all-in capex over 4 years at 0 % cost of capital; power = the
GPU's IT kW; region ``us``; utilization 0.7; tokens/s = the roofline bound at batch 64,
context 1024, bf16, times an efficiency of 0.65 (vLLM reaches ~65 % of the ideal for
Llama 3.1 8B on H100: ML.ENERGY's 0.12 J/token vs ~0.08 ideal, factory.md section 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tokenomy.factory import catalog
from tokenomy.factory._num import fraction, positive, significant
from tokenomy.factory.cost import Capex, CostBreakdown, CostInputs, cost_per_mtok
from tokenomy.factory.errors import FactoryError
from tokenomy.factory.roofline import Hardware, decode_step, gpus_needed

DEFAULT_REGION = "us"
DEFAULT_UTILIZATION = Decimal("0.7")
DEFAULT_EFFICIENCY = Decimal("0.65")
DEFAULT_LIFE_YEARS = Decimal(4)
DEFAULT_BATCH = 64
DEFAULT_CONTEXT = 1024
HARDWARE_BASES = ("capex", "rental", "on-demand", "tco-hyperscaler", "tco-neocloud")


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    gpu: str | None = None
    model: str | None = None
    region: str | None = None
    precision: str = "bf16"
    batch: int = DEFAULT_BATCH
    context: int = DEFAULT_CONTEXT
    gpus: int | None = None  # per replica; None: the fewest that hold weights and KV
    efficiency: Decimal = DEFAULT_EFFICIENCY
    hardware_basis: str = "capex"
    life_years: Decimal = DEFAULT_LIFE_YEARS
    cost_of_capital: Decimal = Decimal(0)
    utilization: Decimal = DEFAULT_UTILIZATION
    tokens_per_s: Decimal | None = None
    gpu_usd_per_hour: Decimal | None = None
    power_kw: Decimal | None = None
    pue: Decimal | None = None
    usd_per_kwh: Decimal | None = None
    other_usd_per_hour: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Quote:
    breakdown: CostBreakdown
    assumptions: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        b = self.breakdown
        return {
            "cost_usd_per_mtok": significant(b.usd_per_mtok, 6),
            "hardware_usd_per_mtok": significant(b.hardware_usd_per_mtok, 6),
            "energy_usd_per_mtok": significant(b.energy_usd_per_mtok, 6),
            "other_usd_per_mtok": significant(b.other_usd_per_mtok, 6),
            "hardware_share": significant(b.hardware_share, 4),
            "energy_share": significant(b.energy_share, 4),
            "other_share": significant(b.other_share, 4),
            "tokens_per_joule": significant(b.tokens_per_joule, 4),
            "assumptions": dict(self.assumptions),
            "sources": dict(self.sources),
        }


def _hardware_usd_per_hour(r: QuoteRequest, gpu: catalog.GpuSpec | None,
                           notes: dict[str, str]) -> Decimal:
    if r.gpu_usd_per_hour is not None:
        notes["hardware"] = "given (--gpu-usd-per-hour)"
        return r.gpu_usd_per_hour
    if gpu is None:
        raise FactoryError("give --gpu or --gpu-usd-per-hour")
    if r.hardware_basis not in HARDWARE_BASES:
        raise FactoryError(f"hardware basis must be one of {', '.join(HARDWARE_BASES)}")
    notes["hardware"] = r.hardware_basis
    if r.hardware_basis == "capex":
        notes["capex_usd"] = str(gpu.capex_usd)
        notes["life_years"] = str(r.life_years)
        notes["cost_of_capital"] = str(r.cost_of_capital)
        return Capex(gpu.capex_usd, r.life_years, r.cost_of_capital).usd_per_hour()
    if r.hardware_basis == "on-demand":
        if gpu.on_demand_usd_h is None:
            raise FactoryError(f"no on-demand price for {gpu.key} in the bundled data")
        return gpu.on_demand_usd_h
    return {"rental": gpu.rental_3y_usd_h, "tco-hyperscaler": gpu.tco_hyperscaler_usd_h,
            "tco-neocloud": gpu.tco_neocloud_usd_h}[r.hardware_basis]


def _tokens_per_s(r: QuoteRequest, gpu: catalog.GpuSpec | None,
                  notes: dict[str, str]) -> Decimal:
    if r.tokens_per_s is not None:
        notes["tokens_per_s_basis"] = "given (--tokens-per-s)"
        return r.tokens_per_s
    if gpu is None or r.model is None:
        raise FactoryError("give --gpu and --model (for the roofline), or --tokens-per-s")
    shape = catalog.model(r.model)
    fraction(r.efficiency, "efficiency")
    gpus = r.gpus or gpus_needed(shape, gpu, r.precision, r.batch, r.context)
    step = decode_step(shape, Hardware(gpu, r.precision, gpus), r.batch, r.context)
    notes.update({
        "tokens_per_s_basis": "roofline bound x efficiency, per GPU", "precision": r.precision,
        "batch": str(r.batch), "context": str(r.context), "gpus_per_replica": str(gpus),
        "efficiency": str(r.efficiency), "bound": step.bound,
        "roofline_tokens_per_s_per_replica": significant(step.tokens_per_s, 6),
    })
    return step.tokens_per_s * r.efficiency / gpus


def quote(r: QuoteRequest) -> Quote:
    """The cost per million output tokens of ``r`` (see the module docstring)."""
    notes: dict[str, str] = {}
    sources: dict[str, str] = {}
    gpu = catalog.gpu(r.gpu) if r.gpu else None
    place = catalog.region(r.region or DEFAULT_REGION)
    if gpu is not None:
        notes["gpu"] = gpu.key
        sources["gpu"] = gpu.source
    if r.model is not None:
        shape = catalog.model(r.model)
        notes["model"] = shape.name
        sources["model"] = shape.source
    hardware = _hardware_usd_per_hour(r, gpu, notes)
    tokens = positive(_tokens_per_s(r, gpu, notes), "tokens per second")
    if r.power_kw is None and gpu is None:
        raise FactoryError("give --gpu or --power-kw")
    power = r.power_kw if r.power_kw is not None else gpu.it_kw  # type: ignore[union-attr]
    pue = r.pue if r.pue is not None else place.pue.value
    price = r.usd_per_kwh if r.usd_per_kwh is not None else place.usd_per_kwh
    if r.usd_per_kwh is None or r.pue is None:
        notes["region"] = place.key
        sources["region"] = place.source
    if r.pue is None:
        sources["pue"] = f"{place.pue.key}: {place.pue.source}"
    inputs = CostInputs(hardware, power, pue, price, tokens, r.utilization, r.other_usd_per_hour)
    notes.update({
        "gpu_usd_per_hour": significant(hardware, 6), "power_kw": str(power), "pue": str(pue),
        "usd_per_kwh": str(price), "tokens_per_s": significant(tokens, 6),
        "utilization": str(r.utilization), "other_usd_per_hour": str(r.other_usd_per_hour),
    })
    return Quote(cost_per_mtok(inputs), notes, sources)

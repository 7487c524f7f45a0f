"""The bundled data: GPUs, electricity by region, PUE profiles and model shapes.

In: the TOML files under ``tokenomy/factory/data/`` (read once). Out: frozen records, each
carrying the ``source`` its numbers come from. A bad file is a :class:`DataError` naming it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from tokenomy.factory._num import dec
from tokenomy.factory.errors import DataError, FactoryError, UnknownNameError
from tokenomy.factory.models import ModelShape

PRECISIONS = {"bf16": 2, "fp8": 1}  # bytes per weight (and per KV element)


@dataclass(frozen=True, slots=True)
class EnergyCoefficients:
    """A GPU's power model: P = static + e_byte x bytes/s + e_flop x FLOP/s (capped at TDP)."""

    static_w: Decimal
    pj_per_byte: Decimal
    pj_per_flop: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class GpuSpec:
    key: str
    name: str
    tdp_w: Decimal
    memory_gb: Decimal
    bandwidth_tb_s: Decimal
    bf16_tflops: Decimal
    fp8_tflops: Decimal
    it_kw: Decimal
    all_in_kw: Decimal
    tco_hyperscaler_usd_h: Decimal
    tco_neocloud_usd_h: Decimal
    rental_3y_usd_h: Decimal
    capex_usd: Decimal
    source: str
    on_demand_usd_h: Decimal | None = None
    measured_bandwidth_tb_s: Decimal | None = None
    measured_bf16_tflops: Decimal | None = None
    energy: EnergyCoefficients | None = None

    def tflops(self, precision: str) -> Decimal:
        return self.fp8_tflops if precision == "fp8" else self.bf16_tflops

    def energy_model(self) -> EnergyCoefficients:
        """The GPU's own coefficients, or the H200 priors with static power scaled by TDP."""
        if self.energy is not None:
            return self.energy
        prior = gpu("H200").energy
        if prior is None:
            raise DataError("the H200 entry lacks its energy priors")
        return EnergyCoefficients(prior.static_w * self.tdp_w / Decimal(700), prior.pj_per_byte,
                                  prior.pj_per_flop,
                                  f"H200 priors, static power scaled by TDP ({prior.source})")


@dataclass(frozen=True, slots=True)
class PueProfile:
    key: str
    value: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class Region:
    key: str
    name: str
    usd_per_kwh: Decimal
    pue: PueProfile
    source: str


def _read(file_name: str) -> dict[str, Any]:
    folder = resources.files("tokenomy.factory").joinpath("data")
    raw = folder.joinpath(file_name).read_text("utf-8")
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"data/{file_name}: {exc}") from None


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    table = data.get(key)
    if not isinstance(table, Mapping):
        raise DataError(f"{where}: [{key}] must be a table")
    return table


def _gpu(key: str, t: Mapping[str, Any]) -> GpuSpec:
    def d(field: str) -> Decimal:
        return dec(t[field], f"gpus.toml {key}.{field}")

    def maybe(field: str) -> Decimal | None:
        return d(field) if field in t else None

    e = t.get("energy")
    energy = None if e is None else EnergyCoefficients(
        dec(e["static_w"], "static_w"), dec(e["pj_per_byte"], "pj_per_byte"),
        dec(e["pj_per_flop"], "pj_per_flop"), str(e["source"]))
    return GpuSpec(
        key, str(t["name"]), d("tdp_w"), d("memory_gb"), d("bandwidth_tb_s"), d("bf16_tflops"),
        d("fp8_tflops"), d("it_kw"), d("all_in_kw"), d("tco_hyperscaler_usd_h"),
        d("tco_neocloud_usd_h"), d("rental_3y_usd_h"), d("capex_usd"), str(t["source"]),
        maybe("on_demand_usd_h"), maybe("measured_bandwidth_tb_s"),
        maybe("measured_bf16_tflops"), energy)


def _model(key: str, t: Mapping[str, Any]) -> ModelShape:
    ints = {f: int(t.get(f, 0)) for f in (
        "hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate", "vocab", "experts",
        "top_k", "moe_intermediate", "shared_experts", "dense_layers", "attention_params",
        "kv_elements")}
    return ModelShape(name=key, tied_embeddings=bool(t.get("tied_embeddings", False)),
                      source=str(t["source"]), **ints)


@dataclass(frozen=True, slots=True)
class Catalog:
    gpus: Mapping[str, GpuSpec]
    regions: Mapping[str, Region]
    pue: Mapping[str, PueProfile]
    models: Mapping[str, ModelShape]
    published: Mapping[str, tuple[Decimal, Decimal | None]]  # model: (total B, active B)


@cache
def bundled() -> Catalog:
    """The data shipped with the package (parsed once)."""
    try:
        gpus_raw = _table(_read("gpus.toml"), "gpu", "gpus.toml")
        gpus = {k: _gpu(k, v) for k, v in gpus_raw.items()}
        regions_raw = _read("regions.toml")
        pue = {k: PueProfile(k, dec(v["value"], f"pue.{k}"), str(v["source"]))
               for k, v in _table(regions_raw, "pue", "regions.toml").items()}
        regions = {k: Region(k, str(v["name"]), dec(v["usd_per_kwh"], f"region.{k}"),
                             pue[str(v["pue"])], str(v["source"]))
                   for k, v in _table(regions_raw, "region", "regions.toml").items()}
        models_raw = _table(_read("models.toml"), "model", "models.toml")
        models = {k: _model(k, v) for k, v in models_raw.items()}
        published = {k: (dec(v["published_total_b"], k),
                         dec(v["published_active_b"], k) if "published_active_b" in v else None)
                     for k, v in models_raw.items()}
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, FactoryError):
            raise
        raise DataError(f"bundled factory data: missing or bad field {exc}") from None
    return Catalog(gpus, regions, pue, models, published)


def _lookup(kind: str, table: Mapping[str, Any], name: str) -> Any:
    for key, value in table.items():
        if key.lower() == name.strip().lower():
            return value
    raise UnknownNameError(kind, name, sorted(table))


def gpu(name: str) -> GpuSpec:
    result: GpuSpec = _lookup("GPU", bundled().gpus, name)
    return result


def region(name: str) -> Region:
    result: Region = _lookup("region", bundled().regions, name)
    return result


def pue_profile(name: str) -> PueProfile:
    result: PueProfile = _lookup("PUE profile", bundled().pue, name)
    return result


def model(name: str) -> ModelShape:
    result: ModelShape = _lookup("model", bundled().models, name)
    return result


def bytes_per_element(precision: str) -> int:
    if precision not in PRECISIONS:
        raise UnknownNameError("precision", precision, sorted(PRECISIONS))
    return PRECISIONS[precision]

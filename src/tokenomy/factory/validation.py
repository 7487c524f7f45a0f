"""Validation: InferenceX's published formula outputs reproduced, and the model's tokens per
joule against tokens per joule measured on one H200.

In: the bundled ``inferencemax.toml`` and ``h200_tokens_per_joule.json``. Out:
:class:`InferenceMaxCheck` rows (recomputed vs published, and whether the published value
lies within the rounding of a recomputation from the rounded published input) and
:class:`H200Check` rows (predicted vs measured tokens/J, with the relative error), for two
predictions:

* ``ideal``: the roofline time (measured ceilings, no overheads) and the power model;
* ``at measured time``: the same bytes and FLOPs, but static power over the measured duration
  (the software's overheads show up as time, not as bytes).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from tokenomy.factory import catalog
from tokenomy.factory._num import MILLION, SECONDS_PER_HOUR, dec
from tokenomy.factory.errors import DataError
from tokenomy.factory.roofline import Hardware, decode_step, joules, prefill

H200_MODELS = {"dense-1B(llama3.2-1B)": "llama-3.2-1b", "dense-8B(llama3.1-8B)": "llama-3.1-8b",
               "moe-7B-A1B(olmoe)": "olmoe-1b-7b"}


# ---------------------------------------------------------------- InferenceX formulas

def mtok_per_hour(tput_per_gpu: Decimal) -> Decimal:
    return tput_per_gpu * SECONDS_PER_HOUR / MILLION


def usd_per_mtok(tco_usd_per_gpu_hour: Decimal, tput_per_gpu: Decimal) -> Decimal:
    return tco_usd_per_gpu_hour / mtok_per_hour(tput_per_gpu)


def tok_s_per_mw(tput_per_gpu: Decimal, kw_per_gpu: Decimal) -> Decimal:
    return tput_per_gpu * 1000 / kw_per_gpu


def joules_per_token(kw_per_gpu: Decimal, tput_per_gpu: Decimal) -> Decimal:
    return kw_per_gpu * 1000 / tput_per_gpu


def _half_unit(published: Decimal, digits: int | None) -> Decimal:
    """Half a unit in the last shown place (``digits`` significant digits, if given)."""
    exponent = published.as_tuple().exponent
    place = published.adjusted() - digits + 1 if digits else int(exponent)
    return Decimal(1).scaleb(place) / 2


@dataclass(frozen=True, slots=True)
class InferenceMaxCheck:
    label: str
    quantity: str  # "usd_per_mtok" | "tok_s_per_mw"
    published: Decimal
    recomputed: Decimal
    reproduces: bool  # the published value is within the rounding of a recomputation

    @property
    def relative_error(self) -> Decimal:
        return self.recomputed / self.published - 1


def _check(label: str, quantity: str, published: Decimal, digits: int | None,
           low: Decimal, nominal: Decimal, high: Decimal) -> InferenceMaxCheck:
    half = _half_unit(published, digits)
    overlaps = low <= published + half and published - half <= high
    return InferenceMaxCheck(label, quantity, published, nominal, overlaps)


def _row_checks(row: Mapping[str, Any]) -> list[InferenceMaxCheck]:
    gpu = catalog.gpu(str(row["gpu"]))
    tput = dec(row["tput_per_gpu"], "tput_per_gpu")
    half = _half_unit(tput, None)
    label = str(row["label"])
    checks = [_check(label, "usd_per_mtok", dec(row["usd_per_mtok"], "usd_per_mtok"), None,
                     usd_per_mtok(gpu.tco_hyperscaler_usd_h, tput + half),
                     usd_per_mtok(gpu.tco_hyperscaler_usd_h, tput),
                     usd_per_mtok(gpu.tco_hyperscaler_usd_h, tput - half))]
    if "tok_s_per_mw" in row:
        digits = row.get("tok_s_per_mw_digits")
        checks.append(_check(label, "tok_s_per_mw", dec(row["tok_s_per_mw"], "tok_s_per_mw"),
                             int(digits) if digits else None,
                             tok_s_per_mw(tput - half, gpu.all_in_kw),
                             tok_s_per_mw(tput, gpu.all_in_kw),
                             tok_s_per_mw(tput + half, gpu.all_in_kw)))
    return checks


def inferencemax_checks() -> list[InferenceMaxCheck]:
    """Every published InferenceX value recomputed with their formulas and GPU constants."""
    folder = resources.files("tokenomy.factory").joinpath("data")
    try:
        rows = tomllib.loads(folder.joinpath("inferencemax.toml").read_text("utf-8"))["row"]
        return [check for row in rows for check in _row_checks(row)]
    except (KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"data/inferencemax.toml: {exc}") from None


# ---------------------------------------------------------------- H200 tokens per joule

@dataclass(frozen=True, slots=True)
class H200Check:
    model: str  # the bundled shape it was compared with
    label: str  # the measured row's model label
    stack: str
    batch: int
    measured_tokens_per_joule: Decimal
    ideal_tokens_per_joule: Decimal  # roofline time + power model
    at_time_tokens_per_joule: Decimal  # measured time + power model
    measured_tokens_per_s: Decimal
    ideal_tokens_per_s: Decimal

    @property
    def ideal_error(self) -> Decimal:
        return self.ideal_tokens_per_joule / self.measured_tokens_per_joule - 1

    @property
    def at_time_error(self) -> Decimal:
        return self.at_time_tokens_per_joule / self.measured_tokens_per_joule - 1


@cache
def h200_measurements() -> dict[str, Any]:
    raw = resources.files("tokenomy.factory").joinpath("data").joinpath(
        "h200_tokens_per_joule.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def _predict(row: Mapping[str, Any]) -> H200Check:
    shape = catalog.model(H200_MODELS[str(row["model"])])
    gpu = catalog.gpu("H200")
    coefficients = gpu.energy_model()
    hw = Hardware(gpu, "bf16", 1, measured=True)
    batch, prompt, new = int(row["batch"]), int(row["prompt"]), int(row["new"])
    first = prefill(shape, hw, batch, prompt)
    step = decode_step(shape, hw, batch, prompt + new // 2)  # mean context over the decode
    seconds = first.seconds + new * step.seconds
    moved = first.bytes + new * step.bytes
    flops = first.flops + new * step.flops
    tokens = Decimal(batch * new)
    measured_s = dec(str(row["seconds"]), "seconds")
    return H200Check(
        shape.name, str(row["model"]), str(row["stack"]), batch,
        dec(str(row["tok_per_joule"]), "tok_per_joule"),
        tokens / joules(coefficients, seconds, moved, flops),
        tokens / joules(coefficients, measured_s, moved, flops),
        dec(str(row["tok_per_s"]), "tok_per_s"), tokens / seconds)


def h200_checks() -> list[H200Check]:
    """The model against every measured H200 row (prefill of ``prompt`` + ``new`` decode steps,
    as the measured ``generate()`` calls did)."""
    try:
        return [_predict(row) for row in h200_measurements()["rows"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"data/h200_tokens_per_joule.json: {exc}") from None


def median_abs(values: list[Decimal]) -> Decimal:
    ordered = sorted(abs(v) for v in values)
    if not ordered:
        return Decimal(0)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

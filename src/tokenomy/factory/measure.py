"""Measured tokens per joule: what a load run produced and what it cost.

In: :class:`BatchRun` records (tokens, requests and an :class:`EnergyReading` per batch size)
and :class:`MeasureAssumptions` for the money. Out: :class:`BatchResult` per batch — tokens/s,
watts, tokens/J, J/token and the cost per million tokens at the measured throughput and power
— and the saved-file format (``tokenomy.factory.measurement`` v1) that the gateway's
``greenest`` routing reads its ``joules_per_token`` from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tokenomy.factory._num import ONE, ZERO, dec, significant
from tokenomy.factory.cost import CostBreakdown, CostInputs, cost_per_mtok
from tokenomy.factory.energy import EnergyMethod, EnergyReading
from tokenomy.factory.errors import DataError, FactoryError

FILE_KIND = "tokenomy.factory.measurement"
FILE_VERSION = 1
RESULTS_MAX = 256


@dataclass(frozen=True, slots=True)
class BatchRun:
    batch: int
    output_tokens: int
    requests: int
    errors: int
    energy: EnergyReading  # its ``seconds`` is the measured window

    def __post_init__(self) -> None:
        if self.batch <= 0 or min(self.output_tokens, self.requests, self.errors) < 0:
            raise FactoryError("a batch run needs batch > 0 and non-negative counts")


@dataclass(frozen=True, slots=True)
class MeasureAssumptions:
    """Money for a measurement: the meter's watts are the power unless ``power_kw`` is given
    (e.g. to add the host's share); PUE and price turn them into dollars."""

    gpu_usd_per_hour: Decimal
    pue: Decimal
    usd_per_kwh: Decimal
    utilization: Decimal = ONE
    power_kw: Decimal | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"gpu_usd_per_hour": str(self.gpu_usd_per_hour), "pue": str(self.pue),
                "usd_per_kwh": str(self.usd_per_kwh), "utilization": str(self.utilization),
                "power_kw": None if self.power_kw is None else str(self.power_kw)}


@dataclass(frozen=True, slots=True)
class BatchResult:
    run: BatchRun
    cost: CostBreakdown | None  # None when no token came back

    @property
    def tokens_per_s(self) -> Decimal:
        s = self.run.energy.seconds
        return ZERO if s == 0 else Decimal(self.run.output_tokens) / s

    @property
    def watts(self) -> Decimal:
        return self.run.energy.watts

    @property
    def tokens_per_joule(self) -> Decimal:
        j = self.run.energy.joules
        return ZERO if j == 0 else Decimal(self.run.output_tokens) / j

    @property
    def joules_per_token(self) -> Decimal | None:
        tokens = self.run.output_tokens
        return None if tokens == 0 else self.run.energy.joules / tokens

    def to_json(self) -> dict[str, Any]:
        jpt = self.joules_per_token
        return {
            "batch": self.run.batch, "output_tokens": self.run.output_tokens,
            "requests": self.run.requests, "errors": self.run.errors,
            "seconds": significant(self.run.energy.seconds, 6),
            "joules": significant(self.run.energy.joules, 6),
            "energy_method": self.run.energy.method.value,
            "energy_detail": self.run.energy.detail,
            "tokens_per_s": significant(self.tokens_per_s, 6),
            "watts": significant(self.watts, 6),
            "tokens_per_joule": significant(self.tokens_per_joule, 6),
            "joules_per_token": None if jpt is None else significant(jpt, 6),
            "cost_usd_per_mtok": None if self.cost is None
            else significant(self.cost.usd_per_mtok, 6),
            "energy_share": None if self.cost is None
            else significant(self.cost.energy_share, 4),
        }


def summarize(run: BatchRun, assumptions: MeasureAssumptions) -> BatchResult:
    """A run's rates and its cost per million tokens under ``assumptions``."""
    seconds = run.energy.seconds
    if run.output_tokens == 0 or seconds == 0:
        return BatchResult(run, None)
    power_kw = assumptions.power_kw
    if power_kw is None:
        power_kw = run.energy.watts / 1000
    inputs = CostInputs(assumptions.gpu_usd_per_hour, power_kw, assumptions.pue,
                        assumptions.usd_per_kwh, Decimal(run.output_tokens) / seconds,
                        assumptions.utilization)
    return BatchResult(run, cost_per_mtok(inputs))


def to_file(endpoint: str, model: str, assumptions: MeasureAssumptions,
            results: Sequence[BatchResult]) -> dict[str, Any]:
    """The saved measurement (JSON-ready; the caller writes it)."""
    return {"kind": FILE_KIND, "version": FILE_VERSION, "endpoint": endpoint, "model": model,
            "assumptions": assumptions.to_json(), "results": [r.to_json() for r in results]}


@dataclass(frozen=True, slots=True)
class SavedResult:
    batch: int
    joules_per_token: Decimal | None
    tokens_per_s: Decimal
    method: EnergyMethod


@dataclass(frozen=True, slots=True)
class SavedMeasurement:
    endpoint: str
    model: str
    results: tuple[SavedResult, ...]


def from_file(data: Any, where: str) -> SavedMeasurement:
    """A saved measurement parsed back; anything else is a :class:`DataError`."""
    if not isinstance(data, Mapping) or data.get("kind") != FILE_KIND:
        raise DataError(f"{where}: not a tokenomy factory measurement (kind {FILE_KIND!r})")
    if data.get("version") != FILE_VERSION:
        raise DataError(f"{where}: unsupported version {data.get('version')!r}")
    rows = data.get("results")
    if not isinstance(rows, list) or not 0 < len(rows) <= RESULTS_MAX:
        raise DataError(f"{where}: results must be a list of 1..{RESULTS_MAX} rows")
    try:
        results = tuple(SavedResult(
            int(r["batch"]),
            None if r["joules_per_token"] is None else dec(r["joules_per_token"], "J/token"),
            dec(r["tokens_per_s"], "tokens_per_s"), EnergyMethod(r["energy_method"]))
            for r in rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: bad result row ({exc})") from None
    return SavedMeasurement(str(data.get("endpoint", "")), str(data.get("model", "")), results)


def greenest_joules(saved: SavedMeasurement, batch: int | None = None) -> SavedResult:
    """The row to route by: the given batch, else the fewest joules per token measured."""
    rows = [r for r in saved.results if r.joules_per_token is not None]
    if batch is not None:
        rows = [r for r in rows if r.batch == batch]
    if not rows:
        at = "" if batch is None else f" at batch {batch}"
        raise FactoryError(f"no result with tokens{at} in the measurement")
    return min(rows, key=lambda r: (r.joules_per_token, -r.batch))

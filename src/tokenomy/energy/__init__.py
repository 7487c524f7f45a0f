"""Energy meters (edge): NVML on NVIDIA GPUs, RAPL on Linux CPUs, or a stated estimate.

In: the machine (NVML library, ``/sys/class/powercap``) or injected stand-ins for tests. Out:
:class:`~tokenomy.factory.energy.EnergyReading` values that say which method produced them.
Every meter has ``begin()``, ``poll()`` (call it every ~0.1-1 s during a window: it samples
power or guards against counter wraparound) and ``end() -> EnergyReading``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from tokenomy.energy.errors import MeterUnavailableError
from tokenomy.energy.estimate import EstimateMeter
from tokenomy.energy.nvml import NvmlMeter, load_nvml
from tokenomy.energy.rapl import DEFAULT_ROOT, RaplMeter, read_zones
from tokenomy.factory.energy import EnergyMethod, EnergyReading

METER_KINDS = ("auto", "nvml", "rapl", "estimate")


class Meter(Protocol):
    @property
    def method(self) -> EnergyMethod: ...

    def begin(self) -> None: ...

    def poll(self) -> None: ...

    def end(self) -> EnergyReading: ...


def open_meter(kind: str = "auto", *, rapl_root: Path = DEFAULT_ROOT,
               estimate_tdp_w: Decimal = Decimal(700),
               estimate_utilization: Decimal = Decimal("0.7"), nvml: Any | None = None,
               gpu_indices: list[int] | None = None) -> tuple[Meter, list[str]]:
    """The meter of ``kind`` ("auto": NVML, else RAPL, else the estimate), and why the ones
    tried before it were skipped."""
    if kind not in METER_KINDS:
        raise MeterUnavailableError(f"meter must be one of {', '.join(METER_KINDS)}")
    skipped: list[str] = []
    if kind in ("auto", "nvml"):
        try:
            return NvmlMeter(nvml, gpu_indices), skipped
        except MeterUnavailableError as exc:
            if kind == "nvml":
                raise
            skipped.append(f"nvml: {exc}")
    if kind in ("auto", "rapl"):
        rapl = RaplMeter(rapl_root)
        if rapl.available():
            return rapl, skipped
        if kind == "rapl":
            raise MeterUnavailableError(f"no readable RAPL zones under {rapl_root}")
        skipped.append(f"rapl: no readable zones under {rapl_root}")
    return EstimateMeter(estimate_tdp_w, estimate_utilization), skipped


__all__ = [
    "METER_KINDS",
    "EstimateMeter",
    "Meter",
    "MeterUnavailableError",
    "NvmlMeter",
    "RaplMeter",
    "load_nvml",
    "open_meter",
    "read_zones",
]

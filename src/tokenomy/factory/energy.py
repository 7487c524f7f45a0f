"""Energy readings and the arithmetic of meters (the reading itself is done at the edge, in
``tokenomy.energy``).

In: counter values, power samples or a TDP estimate. Out: an :class:`EnergyReading` that says
which :class:`EnergyMethod` produced it::

    counter delta  = (end - start) mod (max_range + 1)     RAPL energy_uj wraps at max_range
    sampled energy = sum of (t[i+1] - t[i]) x (P[i] + P[i+1]) / 2     (trapezoid rule)
    estimate       = TDP x utilization x seconds           (a stated guess, not a measurement)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from tokenomy.factory._num import ZERO, fraction
from tokenomy.factory.errors import FactoryError

SAMPLES_MAX = 1_000_000
MICRO = Decimal("0.000001")
MILLI = Decimal("0.001")


class EnergyMethod(StrEnum):
    NVML_COUNTER = "nvml-energy-counter"  # nvmlDeviceGetTotalEnergyConsumption deltas (mJ)
    NVML_SAMPLED = "nvml-power-sampled"  # nvmlDeviceGetPowerUsage (mW) integrated over time
    RAPL = "rapl"  # Linux powercap energy_uj counters (µJ), wraparound unwrapped
    ESTIMATE = "estimate"  # TDP x utilization x seconds: no meter was available


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """Joules over a window of ``seconds``, and how they were obtained."""

    method: EnergyMethod
    joules: Decimal
    seconds: Decimal
    detail: str = ""  # devices or zones read, the estimate's assumptions

    def __post_init__(self) -> None:
        if self.joules < 0 or self.seconds < 0:
            raise FactoryError("an energy reading cannot be negative")

    @property
    def watts(self) -> Decimal:
        return ZERO if self.seconds == 0 else self.joules / self.seconds

    @property
    def measured(self) -> bool:
        return self.method is not EnergyMethod.ESTIMATE

    def to_json(self) -> dict[str, str]:
        return {"method": self.method.value, "joules": str(self.joules),
                "seconds": str(self.seconds), "detail": self.detail}


def counter_delta(start: int, end: int, max_range: int) -> int:
    """Counts between two readings of a counter that wraps to 0 after ``max_range``; correct
    for windows shorter than one wrap (poll more often than that)."""
    if max_range <= 0:
        raise FactoryError(f"counter range must be > 0, got {max_range}")
    if not (0 <= start <= max_range and 0 <= end <= max_range):
        raise FactoryError(f"counter readings {start}, {end} outside 0..{max_range}")
    return (end - start) % (max_range + 1)


@dataclass(frozen=True, slots=True)
class ZoneCounter:
    """One powercap zone read once: ``intel-rapl:0`` (package) or ``intel-rapl:0:2`` (dram)."""

    zone: str
    name: str
    energy_uj: int
    max_range_uj: int

    @property
    def counted(self) -> bool:
        """Top-level zones (packages, psys) and DRAM subzones are summed; core/uncore subzones
        are parts of their package and would count twice."""
        return self.zone.count(":") == 1 or self.name == "dram"


def rapl_microjoules(before: Sequence[ZoneCounter], after: Sequence[ZoneCounter]) -> int:
    """Microjoules between two reads of the same zones (each unwrapped on its own)."""
    first = {z.zone: z for z in before}
    if set(first) != {z.zone for z in after}:
        raise FactoryError("RAPL zones changed between two readings")
    total = 0
    for z in after:
        if z.counted:
            total += counter_delta(first[z.zone].energy_uj, z.energy_uj, z.max_range_uj)
    return total


def integrate_power(samples: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """Joules from ``(seconds, watts)`` samples in time order, by the trapezoid rule."""
    if len(samples) > SAMPLES_MAX:
        raise FactoryError(f"at most {SAMPLES_MAX} power samples")
    joules = ZERO
    for (t0, p0), (t1, p1) in pairwise(samples):
        if t1 < t0:
            raise FactoryError("power samples must be in time order")
        joules += (t1 - t0) * (p0 + p1) / 2
    return joules


def estimate(tdp_w: Decimal, utilization: Decimal, seconds: Decimal) -> EnergyReading:
    """The documented fallback when no meter exists: TDP x utilization x seconds."""
    fraction(utilization, "estimate utilization")
    if tdp_w <= 0:
        raise FactoryError(f"TDP must be > 0 W, got {tdp_w}")
    return EnergyReading(EnergyMethod.ESTIMATE, tdp_w * utilization * seconds, seconds,
                         f"estimate: TDP {tdp_w} W x utilization {utilization}")

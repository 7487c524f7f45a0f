"""Cost per million tokens from hardware, power and throughput.

In: an hourly hardware cost (capex amortized, or a rental rate), IT power per GPU, PUE, the
electricity price, tokens per second and utilization. Out: :class:`CostBreakdown`, the cost
per million tokens split into hardware, energy and other shares.

::

    hardware $/h = capex x CRF(r, n) / 8760        (straight line when r = 0: capex / (n x 8760))
                   or a rental $/GPU-hour
    energy $/h   = power kW x PUE x $/kWh
    tokens / h   = tokens/s x 3600 x utilization
    $ / M tokens = (hardware + energy + other) $/h / tokens per hour x 10^6

Utilization is the fraction of wall time spent serving; the hardware is paid, and the power
drawn (at the provisioned rate), for every hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tokenomy.factory._num import (
    MILLION,
    ONE,
    SECONDS_PER_HOUR,
    ZERO,
    fraction,
    positive,
)
from tokenomy.factory.errors import FactoryError

HOURS_PER_YEAR = Decimal(8760)
LIFE_YEARS_MAX = 30


@dataclass(frozen=True, slots=True)
class Capex:
    """A purchase amortized over ``life_years`` at an annual ``cost_of_capital`` (0 = none)."""

    usd_per_gpu: Decimal
    life_years: Decimal
    cost_of_capital: Decimal = ZERO

    def __post_init__(self) -> None:
        positive(self.usd_per_gpu, "capex")
        positive(self.life_years, "life in years")
        if self.life_years > LIFE_YEARS_MAX:
            raise FactoryError(f"life in years must be <= {LIFE_YEARS_MAX}, got {self.life_years}")
        if not ZERO <= self.cost_of_capital <= ONE:
            raise FactoryError(f"cost of capital must be in [0, 1], got {self.cost_of_capital}")

    def usd_per_hour(self) -> Decimal:
        return self.usd_per_gpu * capital_recovery_factor(
            self.cost_of_capital, self.life_years) / HOURS_PER_YEAR


def capital_recovery_factor(rate: Decimal, years: Decimal) -> Decimal:
    """The annual payment per dollar borrowed: r(1+r)^n / ((1+r)^n - 1); 1/n when r = 0."""
    if rate == 0:
        return ONE / years
    growth = (ONE + rate) ** years
    return rate * growth / (growth - ONE)


@dataclass(frozen=True, slots=True)
class CostInputs:
    """Everything one cost-per-token figure depends on (per GPU)."""

    hardware_usd_per_hour: Decimal
    power_kw: Decimal  # IT power per GPU (GPU + host + network share), before PUE
    pue: Decimal
    usd_per_kwh: Decimal
    tokens_per_s: Decimal
    utilization: Decimal = ONE
    other_usd_per_hour: Decimal = ZERO  # staff, space, maintenance, network (fixed opex)

    def __post_init__(self) -> None:
        if self.hardware_usd_per_hour < 0 or self.other_usd_per_hour < 0:
            raise FactoryError("hourly costs must be >= 0")
        if self.power_kw < 0:
            raise FactoryError(f"power must be >= 0 kW, got {self.power_kw}")
        if self.pue < ONE:
            raise FactoryError(f"PUE must be >= 1, got {self.pue}")
        if self.usd_per_kwh < 0:
            raise FactoryError(f"electricity price must be >= 0, got {self.usd_per_kwh}")
        positive(self.tokens_per_s, "tokens per second")
        fraction(self.utilization, "utilization")


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost per million tokens and where it goes."""

    inputs: CostInputs
    hardware_usd_per_mtok: Decimal
    energy_usd_per_mtok: Decimal
    other_usd_per_mtok: Decimal

    @property
    def usd_per_mtok(self) -> Decimal:
        return self.hardware_usd_per_mtok + self.energy_usd_per_mtok + self.other_usd_per_mtok

    def share(self, part: Decimal) -> Decimal:
        total = self.usd_per_mtok
        return ZERO if total == 0 else part / total

    @property
    def hardware_share(self) -> Decimal:
        return self.share(self.hardware_usd_per_mtok)

    @property
    def energy_share(self) -> Decimal:
        return self.share(self.energy_usd_per_mtok)

    @property
    def other_share(self) -> Decimal:
        return self.share(self.other_usd_per_mtok)

    @property
    def tokens_per_joule(self) -> Decimal:
        """Tokens per joule at the facility meter, over wall time (idle hours draw power too)."""
        i = self.inputs
        watts = i.power_kw * 1000 * i.pue
        return ZERO if watts == 0 else i.tokens_per_s * i.utilization / watts


def cost_per_mtok(inputs: CostInputs) -> CostBreakdown:
    """The cost per million tokens of ``inputs`` (see the module docstring)."""
    mtok_per_hour = inputs.tokens_per_s * SECONDS_PER_HOUR * inputs.utilization / MILLION
    energy_per_hour = inputs.power_kw * inputs.pue * inputs.usd_per_kwh
    return CostBreakdown(
        inputs,
        hardware_usd_per_mtok=inputs.hardware_usd_per_hour / mtok_per_hour,
        energy_usd_per_mtok=energy_per_hour / mtok_per_hour,
        other_usd_per_mtok=inputs.other_usd_per_hour / mtok_per_hour,
    )

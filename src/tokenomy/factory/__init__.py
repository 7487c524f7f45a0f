"""The token factory: what a token costs to make, and how many joules it takes.

In: hardware (GPU specs, capex or rental), power (kW, PUE, $/kWh, region), utilization and a
throughput — given, bounded by a roofline over a model's shape, or measured with an energy
meter. Out: cost per million tokens with its hardware / energy / other shares, tokens per
joule, and the validation of the model against InferenceX and H200 measurements.

Pure: no I/O. The meters that read NVML and RAPL, and the load that drives an endpoint, live at
the edge (``tokenomy.energy``, ``tokenomy.cli.factory``); this package gets their readings.
"""

from tokenomy.factory.catalog import (
    Catalog,
    EnergyCoefficients,
    GpuSpec,
    PueProfile,
    Region,
    bundled,
    gpu,
    model,
    pue_profile,
    region,
)
from tokenomy.factory.cost import (
    Capex,
    CostBreakdown,
    CostInputs,
    capital_recovery_factor,
    cost_per_mtok,
)
from tokenomy.factory.energy import (
    EnergyMethod,
    EnergyReading,
    ZoneCounter,
    counter_delta,
    estimate,
    integrate_power,
    rapl_microjoules,
)
from tokenomy.factory.errors import DataError, FactoryError, UnknownNameError
from tokenomy.factory.measure import (
    BatchResult,
    BatchRun,
    MeasureAssumptions,
    SavedMeasurement,
    from_file,
    greenest_joules,
    summarize,
    to_file,
)
from tokenomy.factory.models import ModelShape, distinct_experts
from tokenomy.factory.quote import Quote, QuoteRequest, quote
from tokenomy.factory.roofline import Hardware, StepBound, decode_step, gpus_needed, prefill

__all__ = [
    "BatchResult",
    "BatchRun",
    "Capex",
    "Catalog",
    "CostBreakdown",
    "CostInputs",
    "DataError",
    "EnergyCoefficients",
    "EnergyMethod",
    "EnergyReading",
    "FactoryError",
    "GpuSpec",
    "Hardware",
    "MeasureAssumptions",
    "ModelShape",
    "PueProfile",
    "Quote",
    "QuoteRequest",
    "Region",
    "SavedMeasurement",
    "StepBound",
    "UnknownNameError",
    "ZoneCounter",
    "bundled",
    "capital_recovery_factor",
    "cost_per_mtok",
    "counter_delta",
    "decode_step",
    "distinct_experts",
    "estimate",
    "from_file",
    "gpu",
    "gpus_needed",
    "greenest_joules",
    "integrate_power",
    "model",
    "prefill",
    "pue_profile",
    "quote",
    "rapl_microjoules",
    "region",
    "summarize",
    "to_file",
]

"""Roofline bounds on decode throughput, and a power model to turn them into joules.

In: a :class:`ModelShape`, a :class:`Hardware` (bandwidth, FLOP/s, GPUs per replica) and a
batch with its context. Out: :class:`StepBound`, what one decode step reads and computes and
the tokens per second the GPUs cannot beat::

    weights read  = (always-read + MoE layers x U(B) x expert) x bytes per weight
    KV read       = B x context x KV elements per token x bytes per element
    t_memory      = (weights + KV) / bandwidth        t_compute = B x FLOPs per token / FLOP/s
    tokens/s  <=  B / max(t_memory, t_compute)        FLOPs per token = 2 x active (+ attention)

Power (``EnergyCoefficients``): static + e_byte x bytes/s + e_flop x FLOP/s, at most TDP.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tokenomy.factory._num import ZERO
from tokenomy.factory.catalog import EnergyCoefficients, GpuSpec, bytes_per_element
from tokenomy.factory.errors import FactoryError
from tokenomy.factory.models import BATCH_MAX, ModelShape, distinct_experts

TERA = Decimal(10) ** 12
PICO = Decimal(10) ** -12
CONTEXT_MAX = 10_000_000
GPUS_MAX = 1024
MEMORY_USABLE = Decimal("0.9")  # of HBM, for weights and KV (the rest: activations, runtime)


@dataclass(frozen=True, slots=True)
class Hardware:
    """The ceilings one model replica runs under (``gpus`` GPUs, tensor-parallel)."""

    gpu: GpuSpec
    precision: str = "bf16"
    gpus: int = 1
    measured: bool = False  # the measured (achievable) ceilings where the data has them

    def __post_init__(self) -> None:
        bytes_per_element(self.precision)
        if not 0 < self.gpus <= GPUS_MAX:
            raise FactoryError(f"GPUs per replica must be in 1..{GPUS_MAX}, got {self.gpus}")

    @property
    def bandwidth(self) -> Decimal:
        """Bytes per second over all GPUs."""
        per_gpu = self.gpu.bandwidth_tb_s
        if self.measured and self.gpu.measured_bandwidth_tb_s is not None:
            per_gpu = self.gpu.measured_bandwidth_tb_s
        return per_gpu * TERA * self.gpus

    @property
    def flops(self) -> Decimal:
        """FLOP/s over all GPUs at this precision."""
        per_gpu = self.gpu.tflops(self.precision)
        if self.measured and self.precision == "bf16" and self.gpu.measured_bf16_tflops:
            per_gpu = self.gpu.measured_bf16_tflops
        return per_gpu * TERA * self.gpus

    @property
    def memory_bytes(self) -> Decimal:
        return self.gpu.memory_gb * 10**9 * self.gpus * MEMORY_USABLE


@dataclass(frozen=True, slots=True)
class StepBound:
    """One decode step of ``batch`` sequences at ``context`` cached tokens each."""

    batch: int
    context: int
    distinct_experts: Decimal  # U(B) per MoE layer (0 for dense)
    weight_bytes: Decimal
    kv_bytes: Decimal
    flops: Decimal
    t_memory_s: Decimal
    t_compute_s: Decimal

    @property
    def bound(self) -> str:
        return "compute" if self.t_compute_s > self.t_memory_s else "memory"

    @property
    def seconds(self) -> Decimal:
        return max(self.t_memory_s, self.t_compute_s)

    @property
    def tokens_per_s(self) -> Decimal:
        return self.batch / self.seconds

    @property
    def bytes(self) -> Decimal:
        return self.weight_bytes + self.kv_bytes


def _check(batch: int, context: int) -> None:
    if not 0 < batch <= BATCH_MAX:
        raise FactoryError(f"batch must be in 1..{BATCH_MAX}, got {batch}")
    if not 0 <= context <= CONTEXT_MAX:
        raise FactoryError(f"context must be in 0..{CONTEXT_MAX}, got {context}")


def decode_step(model: ModelShape, hw: Hardware, batch: int, context: int) -> StepBound:
    """The roofline of one decode step (see the module docstring)."""
    _check(batch, context)
    width = bytes_per_element(hw.precision)
    weights = model.weights_read(batch) * width
    kv = Decimal(batch) * context * model.kv_per_token * width
    flops = Decimal(batch) * model.flops_per_token(context)
    distinct = weights_distinct(model, batch)
    return StepBound(batch, context, distinct, weights, kv, flops,
                     (weights + kv) / hw.bandwidth, flops / hw.flops)


def weights_distinct(model: ModelShape, batch: int) -> Decimal:
    return distinct_experts(model.experts, model.top_k, batch) if model.is_moe else ZERO


def prefill(model: ModelShape, hw: Hardware, batch: int, prompt: int) -> StepBound:
    """Prefill of ``batch`` prompts of ``prompt`` tokens: every weight read once (all experts
    for a large enough batch), the KV written, B x prompt tokens of FLOPs (mean context
    prompt / 2 for attention)."""
    _check(batch, prompt)
    width = bytes_per_element(hw.precision)
    tokens = batch * max(prompt, 1)
    weights = model.weights_read(min(tokens, BATCH_MAX)) * width
    kv = Decimal(tokens) * model.kv_per_token * width
    flops = Decimal(tokens) * model.flops_per_token(prompt // 2)
    return StepBound(batch, prompt, weights_distinct(model, min(tokens, BATCH_MAX)), weights, kv,
                     flops, (weights + kv) / hw.bandwidth, flops / hw.flops)


def fits(model: ModelShape, hw: Hardware, batch: int, context: int) -> bool:
    """Whether the weights and the KV cache of ``batch`` x ``context`` fit in usable HBM."""
    width = bytes_per_element(hw.precision)
    need = (Decimal(model.total_params) + Decimal(batch) * context * model.kv_per_token) * width
    return need <= hw.memory_bytes


def gpus_needed(model: ModelShape, gpu: GpuSpec, precision: str, batch: int,
                context: int) -> int:
    """The fewest GPUs (a power of two) whose usable memory holds weights and KV."""
    gpus = 1
    while not fits(model, Hardware(gpu, precision, gpus), batch, context):
        gpus *= 2
        if gpus > GPUS_MAX:
            raise FactoryError(f"{model.name} does not fit on {GPUS_MAX} {gpu.key} GPUs")
    return gpus


def power_w(coefficients: EnergyCoefficients, tdp_w: Decimal, bytes_per_s: Decimal,
            flops_per_s: Decimal) -> Decimal:
    """Power of one GPU moving ``bytes_per_s`` and computing ``flops_per_s``, capped at TDP."""
    dynamic = (coefficients.pj_per_byte * bytes_per_s + coefficients.pj_per_flop * flops_per_s)
    return min(tdp_w, coefficients.static_w + dynamic * PICO)


def joules(coefficients: EnergyCoefficients, seconds: Decimal, moved_bytes: Decimal,
           flops: Decimal) -> Decimal:
    """Energy of one GPU: static power for ``seconds`` plus per-byte and per-FLOP energy."""
    return coefficients.static_w * seconds + \
        (coefficients.pj_per_byte * moved_bytes + coefficients.pj_per_flop * flops) * PICO

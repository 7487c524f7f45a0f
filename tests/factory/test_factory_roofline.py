"""Model shapes and the roofline: parameter counts, U(B), FLOPs and bytes per step."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy.factory import (
    FactoryError,
    Hardware,
    UnknownNameError,
    bundled,
    decode_step,
    distinct_experts,
    gpu,
    gpus_needed,
    model,
)


@pytest.mark.parametrize("name", sorted(bundled().models))
def test_parameter_counts_match_the_published_totals(name: str) -> None:
    total_b, active_b = bundled().published[name]
    shape = model(name)
    assert abs(D(shape.total_params) / 10**9 / total_b - 1) < D("0.01"), shape.total_params
    if active_b is not None:  # published "active" counts sometimes include the embedding
        assert abs(D(shape.active_params) / 10**9 / active_b - 1) < D("0.12")


def test_distinct_experts_examples() -> None:
    """factory.md section 4: Mixtral U(1)=2, U(4)=5.5, U(16)=7.9; Qwen3-30B-A3B U(16)=82,
    U(64)=126."""
    assert distinct_experts(8, 2, 1) == 2
    assert distinct_experts(8, 2, 4).quantize(D("0.01")) == D("5.47")
    assert distinct_experts(8, 2, 16).quantize(D("0.1")) == D("7.9")
    assert round(distinct_experts(128, 8, 16)) == 82
    assert round(distinct_experts(128, 8, 64)) == 126


@given(e=st.integers(1, 512), k_frac=st.floats(0, 1), b=st.integers(1, 4096))
def test_distinct_experts_bounds(e: int, k_frac: float, b: int) -> None:
    """k <= U(B) <= min(E, kB), and U grows with B."""
    k = max(1, min(e, round(k_frac * e)))
    u = distinct_experts(e, k, b)
    tolerance = D("1e-20")
    assert k - tolerance <= u <= min(e, k * b) + tolerance
    assert distinct_experts(e, k, b + 1) >= u - tolerance


def test_distinct_experts_rejects_nonsense() -> None:
    with pytest.raises(FactoryError, match="top_k"):
        distinct_experts(8, 9, 1)
    with pytest.raises(FactoryError, match="batch"):
        distinct_experts(8, 2, 0)


def test_flops_per_token_is_twice_the_active_parameters_plus_attention() -> None:
    m = model("llama-3.1-8b")
    assert m.flops_per_token(0) == 2 * m.active_params
    assert m.flops_per_token(1024) == 2 * m.active_params + 4 * 1024 * 32 * 32 * 128


def test_llama_8b_on_h200_matches_the_reference_table() -> None:
    """factory.md section 4 (bf16, ctx 1024, measured ceilings 4.3 TB/s and 790 TFLOP/s):
    B=1 <= 284 tok/s, B=64 <= 11,660, KV 8.6 GB at B=64; dense turns compute-bound late."""
    hw = Hardware(gpu("H200"), "bf16", 1, measured=True)
    m = model("llama-3.1-8b")
    one, sixty_four = decode_step(m, hw, 1, 1024), decode_step(m, hw, 64, 1024)
    assert abs(one.tokens_per_s / 284 - 1) < D("0.02")
    assert abs(sixty_four.tokens_per_s / 11660 - 1) < D("0.05")
    assert (sixty_four.kv_bytes / 10**9).quantize(D("0.1")) == D("8.6")
    assert one.bound == sixty_four.bound == "memory"
    weights_only = decode_step(m, hw, 256, 0)
    assert weights_only.bound == "compute"  # past the ridge (~184 FLOP/byte measured)


def test_moe_bytes_grow_with_batch_until_every_expert_is_read() -> None:
    hw = Hardware(gpu("H200"), "bf16", 1, measured=True)
    m = model("qwen3-30b-a3b")
    steps = [decode_step(m, hw, b, 0) for b in (1, 16, 64, 256)]
    weights_gb = [s.weight_bytes / 10**9 for s in steps]
    assert weights_gb == sorted(weights_gb)
    assert weights_gb[0] < 7 and weights_gb[-1] > 60  # ~6.1 GB -> ~60.4 GB in the reference
    assert abs(steps[-1].weight_bytes / (2 * D(m.total_params - m.embedding)) - 1) < D("0.01")


def test_fp8_halves_the_bytes_and_big_models_need_more_gpus() -> None:
    m = model("llama-3.1-70b")
    bf16 = decode_step(m, Hardware(gpu("H200"), "bf16"), 8, 1024)
    fp8 = decode_step(m, Hardware(gpu("H200"), "fp8"), 8, 1024)
    assert fp8.bytes * 2 == bf16.bytes
    assert gpus_needed(m, gpu("H200"), "bf16", 64, 1024) == 2
    assert gpus_needed(model("deepseek-v3"), gpu("H200"), "fp8", 512, 1024) == 8


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="known: B200, GB200, H100, H200"):
        gpu("A100")
    with pytest.raises(UnknownNameError, match="precision"):
        Hardware(gpu("H200"), "fp4")

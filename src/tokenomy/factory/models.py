"""Transformer shapes and what one token costs them: parameters read and FLOPs done.

In: a :class:`ModelShape` (from config.json fields). Out: parameter counts (total, active,
always-read) and the expected number of distinct experts a batch touches in an MoE layer::

    U(B) = E x (1 - (1 - k/E)^B)     (uniform, independent top-k routing; k <= U(B) <= min(E, kB))
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tokenomy.factory._num import ONE
from tokenomy.factory.errors import FactoryError

BATCH_MAX = 1 << 20


@dataclass(frozen=True, slots=True)
class ModelShape:
    """A decoder-only transformer, dense (``experts == 0``) or mixture-of-experts."""

    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int  # FFN width of the dense layers
    vocab: int
    tied_embeddings: bool = False
    experts: int = 0  # routed experts per MoE layer (0: dense)
    top_k: int = 0
    moe_intermediate: int = 0
    shared_experts: int = 0
    dense_layers: int = 0  # leading layers with a dense FFN in an MoE model
    attention_params: int = 0  # override (e.g. DeepSeek MLA); 0: from heads and head_dim
    kv_elements: int = 0  # KV-cache elements per token per layer; 0: 2 x kv_heads x head_dim
    source: str = ""

    def __post_init__(self) -> None:
        for field in ("hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate",
                      "vocab"):
            if getattr(self, field) <= 0:
                raise FactoryError(f"model {self.name}: {field} must be > 0")
        if self.experts and not 0 < self.top_k <= self.experts:
            raise FactoryError(f"model {self.name}: top_k must be in 1..experts")
        if self.experts and self.moe_intermediate <= 0:
            raise FactoryError(f"model {self.name}: moe_intermediate must be > 0")
        if not 0 <= self.dense_layers <= self.layers:
            raise FactoryError(f"model {self.name}: dense_layers must be in 0..layers")

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def attention(self) -> int:
        """Attention weights in one layer."""
        if self.attention_params:
            return self.attention_params
        return 2 * self.hidden * self.heads * self.head_dim + \
            2 * self.hidden * self.kv_heads * self.head_dim

    @property
    def expert(self) -> int:
        """Weights of one routed (or shared) expert: gate, up and down projections."""
        return 3 * self.hidden * self.moe_intermediate

    @property
    def dense_ffn(self) -> int:
        return 3 * self.hidden * self.intermediate

    @property
    def embedding(self) -> int:
        return self.vocab * self.hidden

    @property
    def lm_head(self) -> int:
        return self.embedding  # read every step whether tied or not

    @property
    def always_read(self) -> int:
        """Weights every decode step reads whatever the routing: attention, dense FFNs, shared
        experts, routers and the LM head (the embedding table is looked up, not read)."""
        dense = self.layers - self.moe_layers
        per_moe = self.attention + self.shared_experts * self.expert + self.hidden * self.experts
        return dense * (self.attention + self.dense_ffn) + self.moe_layers * per_moe + self.lm_head

    @property
    def total_params(self) -> int:
        embeddings = self.embedding if self.tied_embeddings else 2 * self.embedding
        return self.always_read - self.lm_head + embeddings + \
            self.moe_layers * self.experts * self.expert

    @property
    def active_params(self) -> int:
        """Weights one token multiplies (embedding lookup excluded, LM head included)."""
        return self.always_read + self.moe_layers * self.top_k * self.expert

    @property
    def kv_per_token(self) -> int:
        """KV-cache elements per token over all layers."""
        per_layer = self.kv_elements or 2 * self.kv_heads * self.head_dim
        return per_layer * self.layers

    def flops_per_token(self, context: int) -> int:
        """2 x active parameters, plus attention over ``context`` cached tokens
        (4 x context x heads x head_dim per layer: scores and weighted values)."""
        return 2 * self.active_params + 4 * context * self.layers * self.heads * self.head_dim

    def weights_read(self, batch: int) -> Decimal:
        """Parameters one decode step of ``batch`` tokens reads (expected, for MoE)."""
        distinct = distinct_experts(self.experts, self.top_k, batch) if self.is_moe else 0
        return Decimal(self.always_read) + self.moe_layers * distinct * self.expert


def distinct_experts(experts: int, top_k: int, batch: int) -> Decimal:
    """Expected distinct experts that ``batch`` tokens route to: E x (1 - (1 - k/E)^B)."""
    if not 0 < top_k <= experts:
        raise FactoryError(f"top_k must be in 1..experts, got k={top_k}, E={experts}")
    if not 0 < batch <= BATCH_MAX:
        raise FactoryError(f"batch must be in 1..{BATCH_MAX}, got {batch}")
    e = Decimal(experts)
    return e * (ONE - (ONE - top_k / e) ** batch)

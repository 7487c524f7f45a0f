"""Rate keys and their fallback chains (docs/price-book.md, "Rate keys").

In: the rate keys of one price entry (``input``, ``cache_read_audio``, ``cache_write_1h``, …)
as ``Decimal`` per million tokens. Out: the rate of a (class, modality, TTL) slot, or ``None``
when the book does not price it — which callers must treat as unpriced, never as zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

CLASS_KEYS = ("input", "cache_read", "cache_write", "cache_write_5m", "cache_write_1h",
              "output", "reasoning")
MODALITY_NAMES = ("text", "image", "audio", "video", "document")
RATE_KEYS = frozenset(
    [*CLASS_KEYS, *(f"{c}_{m}" for c in CLASS_KEYS for m in MODALITY_NAMES)]
)
DEFAULT_TEXT_PRICED = ("image", "document")

# The class chain each slot falls back along, before any modality fallback.
_CLASS_CHAIN = {
    "input": ("input",),
    "cache_read": ("cache_read", "input"),
    "cache_write": ("cache_write", "cache_write_5m", "input"),
    "cache_write_5m": ("cache_write_5m", "cache_write", "input"),
    "cache_write_1h": ("cache_write_1h", "cache_write", "input"),
    "output": ("output",),
    "reasoning": ("reasoning", "output"),
}


def resolve_rate(
    rates: Mapping[str, Decimal], cls: str, modality: str, text_priced: tuple[str, ...]
) -> Decimal | None:
    """The rate of ``cls`` × ``modality``: the modality's own chain, then — only for a
    modality the model bills as text — the text chain. ``None`` if neither has one."""
    chain = _CLASS_CHAIN[cls]
    if modality == "text":
        for key in chain:
            if key in rates:
                return rates[key]
        return None
    for key in chain:
        rate = rates.get(f"{key}_{modality}")
        if rate is not None:
            return rate
    if modality in text_priced:
        for key in chain:
            if key in rates:
                return rates[key]
    return None

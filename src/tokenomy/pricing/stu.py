"""The Standard Token Unit (STU): any usage stated in one comparable unit.

1 STU = one uncached text input token. Every class × modality gets a weight derived from the
price book: the **median**, over the priced models of a quality tier, of
``rate(class, modality) / rate(input, text)`` of the same model, at the book's prices in force
on the table's date (standard service tier, base long-context tier). Medians resist outliers
(one model's odd audio price does not move the unit). A slot no model of the tier prices falls
back to the median over all tiers; a slot nobody prices has no weight, and converting usage in
it is an error rather than a silent zero.

In: a :class:`PriceBook` and an instant. Out: a versioned :class:`StuTable` (weights rounded
half-even to 4 decimals — the published numbers are exactly the ones applied) and
``convert(usage, quality)`` → ``Decimal`` STU.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import compress
from statistics import median
from types import MappingProxyType
from typing import Any

from tokenomy.meter.usage import MODALITIES, TOKEN_CLASSES, Usage
from tokenomy.pricing.book import QUALITIES, PriceBook
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.rates import resolve_rate

STU_CLASSES = ("input", "cache_read", "cache_write", "cache_write_5m", "cache_write_1h",
               "output", "reasoning")
WEIGHT_PLACES = Decimal("0.0001")
# (class, modality) of each count of a Usage, in its order (an enum's .value is a slow read)
_SLOT_NAMES = tuple((c.value, m.value) for c in TOKEN_CLASSES for m in MODALITIES)
_CACHE_WRITE_TEXT = _SLOT_NAMES.index(("cache_write", "text"))
ALL = "all"


class StuError(PricingError):
    type = "stu_error"


@dataclass(frozen=True, slots=True)
class StuTable:
    version: str
    as_of: datetime
    weights: Mapping[str, Mapping[tuple[str, str], Decimal]]  # quality or "all" → slot → w
    models: Mapping[str, int]  # quality → number of models the medians were taken over

    def weight(self, quality: str, cls: str, modality: str) -> Decimal:
        slot = (cls, modality)
        for table in (self.weights.get(quality, {}), self.weights[ALL]):
            if slot in table:
                return table[slot]
        raise StuError(f"no STU weight for {cls} × {modality} (no priced model bills it)")

    def convert(self, usage: Usage, quality: str) -> Decimal:
        """``usage`` in STU for a model of ``quality``."""
        total = Decimal(0)
        counts = usage.counts
        ttl = dict(usage.cache_write_ttl)
        for i in compress(range(len(counts)), counts):  # the non-zero counts, in order
            tokens = counts[i]
            if i == _CACHE_WRITE_TEXT and ttl:
                for label in ("5m", "1h"):
                    part = min(ttl.get(label, 0), tokens)
                    if part:
                        total += part * self.weight(quality, f"cache_write_{label}", "text")
                        tokens -= part
                if not tokens:
                    continue
            total += tokens * self.weight(quality, *_SLOT_NAMES[i])
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "as_of": self.as_of.isoformat(),
            "unit": "1 STU = 1 uncached text input token",
            "models": dict(self.models),
            "weights": {
                quality: {f"{c}/{m}": str(w) for (c, m), w in sorted(table.items())}
                for quality, table in self.weights.items()
            },
        }


def active_context(usage: Usage) -> Decimal | None:
    """Tokens of context scanned per output token (total input ÷ total output)."""
    if not usage.total_output:
        return None
    return (Decimal(usage.total_input) / usage.total_output).quantize(Decimal("0.01"))


def build_table(book: PriceBook, at: datetime) -> StuTable:
    """The STU table of ``book`` at ``at``."""
    ratios: dict[str, dict[tuple[str, str], list[Decimal]]] = {q: {} for q in (*QUALITIES, ALL)}
    models = dict.fromkeys((*QUALITIES, ALL), 0)
    for entry in book.entries_at(at):
        base = entry.rates.get("input")
        if not base:
            continue  # free or input-less models define no unit
        models[entry.quality] += 1
        models[ALL] += 1
        for cls in STU_CLASSES:
            for modality in MODALITIES:
                rate = resolve_rate(entry.rates, cls, modality.value, entry.text_priced)
                if rate is None:
                    continue
                ratio = rate / base
                for quality in (entry.quality, ALL):
                    ratios[quality].setdefault((cls, modality.value), []).append(ratio)
    weights = {
        quality: MappingProxyType({
            slot: Decimal(median(values)).quantize(WEIGHT_PLACES)
            for slot, values in sorted(table.items())
        })
        for quality, table in ratios.items()
    }
    digest = hashlib.sha256(
        repr(sorted((q, sorted(w.items())) for q, w in weights.items())).encode()
    ).hexdigest()[:8]
    return StuTable(f"stu-{at:%Y-%m-%d}-{digest}", at, MappingProxyType(weights),
                    MappingProxyType(models))

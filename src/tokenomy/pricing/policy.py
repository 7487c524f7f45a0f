"""What to do with usage the book cannot price: ``block`` it, or ``hold`` it at a provisional
rate (flagged, so it is repriced when a price arrives). Never a silent $0."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from tokenomy.money import USD
from tokenomy.pricing.book import PriceEntry

# Held usage is reserved at a deliberately dear rate (Claude Opus 4.1's list price): holding
# too much is repaired by repricing; holding too little would be an overspend.
DEFAULT_PROVISIONAL = MappingProxyType({
    "input": Decimal("15.00"),
    "cache_read": Decimal("15.00"),
    "cache_write": Decimal("30.00"),
    "output": Decimal("75.00"),
})
DEFAULT_PROVISIONAL_FEE = Decimal("0.05")  # per unit of an unpriced counter (a search…)
PROVISIONAL_VERSION = "provisional"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _default_rates() -> MappingProxyType[str, Decimal]:
    return DEFAULT_PROVISIONAL


@dataclass(frozen=True, slots=True)
class UnpricedPolicy:
    mode: Literal["block", "hold"] = "block"
    provisional: MappingProxyType[str, Decimal] = field(default_factory=_default_rates)
    provisional_fee: Decimal = DEFAULT_PROVISIONAL_FEE

    @property
    def holds(self) -> bool:
        return self.mode == "hold"

    def entry_for(self, model: str) -> PriceEntry:
        """A stand-in entry for a model the book does not know."""
        return PriceEntry(
            provider="unknown", model=model, version=PROVISIONAL_VERSION, valid_from=_EPOCH,
            valid_to=None, currency=USD, source="provisional policy", country="",
            quality="frontier", rates=self.provisional,
            text_priced=("image", "audio", "video", "document"),
        )

    def rate(self, cls: str) -> Decimal:
        return self.provisional.get(cls) or self.provisional.get(
            "output" if cls == "reasoning" else "input", DEFAULT_PROVISIONAL["output"])


BLOCK = UnpricedPolicy("block")
HOLD = UnpricedPolicy("hold")

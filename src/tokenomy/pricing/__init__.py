"""Pricing: the versioned price book, exact quotes with line items, the Standard Token Unit.

In: a :class:`~tokenomy.meter.Usage`, a model, an instant, a service tier; price books in TOML
(docs/price-book.md). Out: a :class:`Quote` in integer minor units (nano-USD) whose lines each
carry class, modality, tokens, rate and amount, plus the price version used; STU weights.
"""

from tokenomy.pricing.book import SERVICE_TIERS, PriceBook, PriceEntry
from tokenomy.pricing.catalog import bundled_entries, load_book, parse_book
from tokenomy.pricing.errors import BookError, PricingError, UnpricedError
from tokenomy.pricing.policy import BLOCK, HOLD, UnpricedPolicy
from tokenomy.pricing.quote import Line, Quote, quote

__all__ = [
    "BLOCK",
    "HOLD",
    "SERVICE_TIERS",
    "BookError",
    "Line",
    "PriceBook",
    "PriceEntry",
    "PricingError",
    "Quote",
    "UnpricedError",
    "UnpricedPolicy",
    "bundled_entries",
    "load_book",
    "parse_book",
    "quote",
]

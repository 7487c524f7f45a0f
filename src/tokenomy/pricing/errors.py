"""The price book's exception tree.

    PricingError (ValueError)
    ├── BookError        a price book file that breaks the format; lists every problem
    └── UnpricedError    usage the book cannot price (unknown model, no rate for a class ×
                         modality, a service tier the model does not offer); names what
"""

from __future__ import annotations

from collections.abc import Sequence


class PricingError(ValueError):
    """Bad input to pricing. ``type`` is the wire name used in JSON errors."""

    type = "pricing_error"


class BookError(PricingError):
    """A price book with problems; ``problems`` holds each one, with its place."""

    type = "invalid_price_book"

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        shown = "; ".join(problems[:10]) + (f"; … {len(problems) - 10} more"
                                             if len(problems) > 10 else "")
        super().__init__(f"{source}: {shown}")
        self.source = source
        self.problems = tuple(problems)


class UnpricedError(PricingError):
    """Usage that has no price under the ``block`` policy. Never priced as $0."""

    type = "unpriced"

    def __init__(self, model: str, what: str) -> None:
        super().__init__(
            f"no price for {model!r}: {what}; run `tokenomy prices` to list priced models, "
            "or add a user book (`--book FILE`)"
        )
        self.model = model

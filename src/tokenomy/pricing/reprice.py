"""Repricing: what recorded usage would cost under another book — a dry run.

In: recorded usage (each with the cost and price version it was recorded at, which never
change) and a :class:`Pricing` context holding the other book. Out: one diff line per record
and a summary. Nothing is written: a recorded cost keeps its price version forever; repricing
only shows what another book would say (e.g. held, provisional usage once a price arrives).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tokenomy.meter.usage import Usage
from tokenomy.money.amount import format_minor
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.quote import quote
from tokenomy.pricing.records import Pricing


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded cost, as stored."""

    id: str
    model: str
    at: datetime
    service_tier: str
    usage: Usage
    cost_minor: int
    currency: str
    price_version: str


def reprice_rows(rows: Iterable[Recorded], pricing: Pricing,
                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Diff lines and a summary (totals in USD; other currencies are reported as errors)."""
    lines: list[dict[str, Any]] = []
    old_total = new_total = changed = errors = 0
    for row in rows:
        try:
            new = quote(pricing.book, row.usage, row.model, row.at, row.service_tier,
                        pricing.policy)
        except PricingError as exc:
            errors += 1
            lines.append({"id": row.id, "error": {"type": exc.type, "message": str(exc)}})
            continue
        if new.currency.code != row.currency:
            errors += 1
            lines.append({"id": row.id, "error": {
                "type": "currency_mismatch",
                "message": f"recorded in {row.currency}, the new book prices in "
                           f"{new.currency.code}"}})
            continue
        scale = new.currency.scale
        delta = new.total - row.cost_minor
        old_total += row.cost_minor
        new_total += new.total
        changed += delta != 0
        lines.append({
            "id": row.id, "model": row.model, "at": row.at.isoformat(),
            "old_cost_usd": format_minor(row.cost_minor, scale),
            "new_cost_usd": format_minor(new.total, scale),
            "delta_usd": format_minor(delta, scale),
            "old_price_version": row.price_version, "new_price_version": new.version,
            "provisional": new.provisional,
        })
    summary = {
        "records": len(lines), "changed": changed, "errors": errors,
        "old_total_usd": format_minor(old_total, 9), "new_total_usd": format_minor(new_total, 9),
        "delta_usd": format_minor(new_total - old_total, 9), "dry_run": True,
    }
    return lines, summary

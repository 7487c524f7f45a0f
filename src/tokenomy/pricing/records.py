"""Record-level pricing contracts, shared by ``tokenomy cost`` and ``/api/pricing/quote``.

In: ``{"id", "provider", "api", "model", "usage": {native}, "at"?, "service_tier"?}`` (the
normalize input plus an optional ISO 8601 instant and service tier). Out: ``{"id", "model",
"cost_usd", "price_version", "stu", "lines": [...]}`` plus details, or
``{"id", "error": {"type", "message"}}``. The clock is passed in (``now``), never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenomy.meter.errors import MeterError, RequestError
from tokenomy.meter.normalize import normalize
from tokenomy.meter.usage import Usage
from tokenomy.money import Asset
from tokenomy.money.amount import format_minor
from tokenomy.pricing.book import SERVICE_TIERS, PriceBook
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.policy import UnpricedPolicy
from tokenomy.pricing.quote import Quote, plain, quote
from tokenomy.pricing.stu import StuTable, active_context


def parse_instant(value: Any, field: str = "at") -> datetime:
    """An ISO 8601 date or datetime as an aware UTC instant (naive means UTC)."""
    if not isinstance(value, str):
        raise RequestError(f"{field} must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"{field}: not an ISO 8601 date or datetime: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Pricing:
    """Everything a record needs to be priced: the book, the policy, the STU table, now."""

    book: PriceBook
    policy: UnpricedPolicy
    stu: StuTable
    now: datetime


@dataclass(frozen=True, slots=True)
class Priced:
    """One priced record, kept whole so callers can store it."""

    record_id: Any
    provider: str
    model: str
    at: datetime
    usage: Usage
    quote: Quote
    stu: Decimal
    at_given: bool  # False when ``at`` was absent and ``now`` was used


def _usage_of(record: Mapping[str, Any]) -> tuple[str, Usage]:
    if "tokens" in record and "usage" not in record:  # already canonical
        return str(record.get("provider", "")), Usage.from_json(record)
    for name in ("provider", "api", "usage"):
        if name not in record:
            raise RequestError(f"record is missing {name!r}")
    provider, api, native = record["provider"], record["api"], record["usage"]
    if not isinstance(provider, str) or not isinstance(api, str):
        raise RequestError("provider and api must be strings")
    if not isinstance(native, Mapping):
        raise RequestError("usage must be an object")
    return provider, normalize(provider, api, native)


def price_record(record: Any, pricing: Pricing) -> Priced:
    """Price one record; raises :class:`MeterError` or :class:`PricingError` on bad input."""
    if not isinstance(record, Mapping):
        raise RequestError("each record must be a JSON object")
    model = record.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("record is missing its model")
    provider, usage = _usage_of(record)
    at = parse_instant(record["at"]) if record.get("at") is not None else pricing.now
    tier = record.get("service_tier") or "standard"
    if tier not in SERVICE_TIERS:
        raise RequestError(f"service_tier must be one of {', '.join(SERVICE_TIERS)}")
    priced = quote(pricing.book, usage, model, at, tier, pricing.policy)
    stu = pricing.stu.convert(usage, priced.entry.quality)
    return Priced(record.get("id"), provider, model, at, usage, priced, stu,
                  record.get("at") is not None)


def priced_line(priced: Priced) -> dict[str, Any]:
    """The contract line of one priced record."""
    q = priced.quote
    context = active_context(priced.usage)
    return {
        "id": priced.record_id,
        **q.to_json(),
        "at": priced.at.isoformat(),
        "stu": plain(priced.stu),
        "active_context_tokens": None if context is None else str(context),
        "estimated": priced.usage.estimated,
    }


def cost_line(record: Any, pricing: Pricing) -> tuple[dict[str, Any], Priced | None]:
    """One output line and the priced record (``None`` for an error line)."""
    record_id = record.get("id") if isinstance(record, Mapping) else None
    try:
        priced = price_record(record, pricing)
    except (MeterError, PricingError) as exc:
        kind = getattr(exc, "type", "invalid_request")
        return {"id": record_id, "error": {"type": kind, "message": str(exc)}}, None
    return priced_line(priced), priced


def summary_line(totals: Mapping[Asset, int], records: int, errors: int) -> dict[str, Any]:
    """The last line of ``tokenomy cost``: totals per currency as decimal strings."""
    line: dict[str, Any] = {}
    for currency, minor in sorted(totals.items(), key=lambda item: item[0].code):
        code = currency.code
        key = "total_cost_usd" if code == "USD" else f"total_cost_{code.lower()}"
        line[key] = format_minor(minor, currency.scale)
    line.setdefault("total_cost_usd", "0")
    line.update(records=records, errors=errors)
    return line

"""FinOps FOCUS 1.x cost and usage rows, with the prompt-cache chargeback.

In: the window's :class:`~tokenomy.report.facts.RequestFacts`. Out: one FOCUS row per
request × token class × modality, money as exact decimal strings of USD (never floats).

* ``BilledCost`` — what the budget was charged for the slice (the ledger's capture).
* ``ListCost`` — the slice at the price book's list price (the metered cost).
* ``ContractedCost`` — equals ``BilledCost`` (no negotiated discounts are modelled).
* ``EffectiveCost`` — ``BilledCost`` after the cache-write chargeback
  (:mod:`tokenomy.report.allocate`): a request's cache-write cost leaves its ``cache_write``
  slices and arrives, split by cache-read tokens, on the ``cache_read`` slices of the requests
  that read that cache (scope: key and model; alive for the write's TTL). The ΣEffectiveCost of
  an export equals its ΣBilledCost to the nano-dollar; remainders go by largest remainder,
  ties to the earlier request (then the earlier slice).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tokenomy.report.allocate import Charge, chargeback, split
from tokenomy.report.facts import RequestFacts
from tokenomy.report.views import usd

FOCUS_VERSION = "1.2"
COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName",
    "ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceName", "ServiceCategory",
    "ResourceId", "ResourceName", "ResourceType", "RegionId", "SkuId", "SkuPriceId",
    "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit", "Tags",
    "x_RequestId", "x_TokenClass", "x_Modality", "x_Origin", "x_STU", "x_Outcome",
)
INVOICE_ISSUER = "Tokenomy"
TOKENS_PER_PRICING_UNIT = 1_000_000


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).isoformat().replace("+00:00", "Z")


def effective_costs(facts: Sequence[RequestFacts]) -> list[list[int]]:
    """Each request's slices' effective cost (chargeback applied), exactly conserving."""
    charges = [Charge(f.id, f"{f.record.key_id}|{f.record.model}", f.record.started_at,
                      f.cost_nano, f.cache_write_cost_nano, f.cache_read_tokens, f.cache_ttl_ns)
               for f in facts]
    out: list[list[int]] = []
    for f, alloc in zip(facts, chargeback(charges), strict=True):
        costs = [0 if (s.cls == "cache_write" and alloc.cache_write_given) else s.cost_nano
                 for s in f.slices]
        if alloc.cache_write_received:
            readers = [i for i, s in enumerate(f.slices) if s.cls == "cache_read"]
            shares = split(alloc.cache_write_received, [f.slices[i].tokens for i in readers])
            for i, share in zip(readers, shares, strict=True):
                costs[i] += share
        out.append(costs)
    return out


def focus_rows(facts: Sequence[RequestFacts], since_ns: int, until_ns: int
               ) -> list[dict[str, str]]:
    """The FOCUS rows of ``facts`` over the billing period ``[since, until)``."""
    rows: list[dict[str, str]] = []
    for f, effective in zip(facts, effective_costs(facts), strict=True):
        r = f.record
        for s, eff in zip(f.slices, effective, strict=True):
            tags: dict[str, Any] = {"team": f.team, "account": f.account, "key": f.key,
                                    "api": r.api, "upstream": r.upstream}
            rows.append({
                "BilledCost": usd(s.cost_nano), "EffectiveCost": usd(eff),
                "ListCost": usd(s.list_nano), "ContractedCost": usd(s.cost_nano),
                "BillingCurrency": "USD",
                "BillingPeriodStart": _iso(since_ns), "BillingPeriodEnd": _iso(until_ns),
                "ChargePeriodStart": _iso(r.started_at),
                "ChargePeriodEnd": _iso(max(r.finished_at, r.started_at)),
                "ChargeCategory": "Usage", "ChargeClass": "",
                "ChargeDescription": f"{s.tokens} {s.cls} {s.modality} tokens of {r.model}",
                "ChargeFrequency": "Usage-Based",
                "BillingAccountId": f.team, "BillingAccountName": f.team,
                "SubAccountId": f.account, "SubAccountName": f.account,
                "ProviderName": f.provider, "PublisherName": f.provider,
                "InvoiceIssuerName": INVOICE_ISSUER, "ServiceName": r.model,
                "ServiceCategory": "AI and Machine Learning",
                "ResourceId": r.key_id, "ResourceName": f.key, "ResourceType": "API key",
                "RegionId": f.origin,
                "SkuId": f"{r.model}:{s.cls}:{s.modality}", "SkuPriceId": r.price_version,
                "ConsumedQuantity": str(s.tokens), "ConsumedUnit": "Tokens",
                "PricingQuantity": f"{Decimal(s.tokens).scaleb(-6).normalize():f}",
                "PricingUnit": "1M Tokens",
                "Tags": json.dumps(tags, sort_keys=True, separators=(",", ":")),
                "x_RequestId": r.id, "x_TokenClass": s.cls, "x_Modality": s.modality,
                "x_Origin": f.origin, "x_STU": str(s.stu), "x_Outcome": r.outcome,
            })
    return rows


def focus_csv(rows: Sequence[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


__all__ = ["COLUMNS", "FOCUS_VERSION", "effective_costs", "focus_csv", "focus_rows"]

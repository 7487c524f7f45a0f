"""Request records made reportable: who, what, where from, and the cost in slices.

In: the gateway's :class:`~tokenomy.store.gateway_sql.RequestRecord` rows of a window, the
budgets and keys (names, kinds), and the price book. Out: one :class:`RequestFacts` per request
with its dimensions (account, team, key, model, provider, origin, day) and its billed cost in
nano-USD cut into :class:`Slice` values per token class × modality.

Attribution rules (documented in docs/readme-reports.md):

* **billed cost** = what the budget was charged (``captured_minor``), in nano-USD.
* **account** = the key's budget path; **team** = the nearest budget on that path (itself or
  an ancestor) whose kind is ``team``, else the path's first segment.
* **provider** and **origin** = the price-book entry of the model at the request's instant
  (``country`` of its book: ``US``, ``CN``…); unpriced models: the price version's prefix and
  ``unknown``.
* **slices**: the request is re-quoted with the book in force at its instant; its billed cost
  is split over the quote's class × modality lines by their amounts (exact, largest
  remainder), or over the token counts when the re-quote has no amounts. STU is split the same
  way over the slices' STU weights. Slices sum to the request exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from tokenomy.ledger.budgets import Budget
from tokenomy.meter.errors import MeterError
from tokenomy.meter.usage import MODALITIES, TOKEN_CLASSES, Usage
from tokenomy.money import UnknownAssetError, asset
from tokenomy.pricing import PriceBook
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.quote import quote
from tokenomy.pricing.stu import StuTable
from tokenomy.report.allocate import split
from tokenomy.store.gateway_sql import RequestRecord

NANO_SCALE = 9  # reports hold money in nano-USD
OK_OUTCOMES = frozenset({"ok"})
ABANDONED_OUTCOMES = frozenset({"client_disconnect"})
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Slice:
    """One token class × modality of a request: its tokens, cost and STU."""

    cls: str
    modality: str
    tokens: int
    cost_nano: int  # billed
    list_nano: int  # metered at the book's list price
    stu: Decimal


@dataclass(frozen=True, slots=True)
class RequestFacts:
    record: RequestRecord
    account: str
    team: str
    key: str
    provider: str
    origin: str
    day: str  # YYYY-MM-DD, UTC
    tokens: int  # all billed tokens of the request
    cost_nano: int  # billed
    stu: Decimal
    slices: tuple[Slice, ...]
    retried: bool  # a later attempt of the same request (failover or idempotent retry) exists
    cache_ttl_ns: int  # how long its prompt-cache write lives (5 min, or 1 h)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def ok(self) -> bool:
        return self.record.outcome in OK_OUTCOMES and 200 <= self.record.status < 300

    @property
    def abandoned(self) -> bool:
        return self.record.outcome in ABANDONED_OUTCOMES

    @property
    def cache_write_cost_nano(self) -> int:
        return sum(s.cost_nano for s in self.slices if s.cls == "cache_write")

    @property
    def cache_read_tokens(self) -> int:
        return sum(s.tokens for s in self.slices if s.cls == "cache_read")


def to_nano(minor: int, currency: str) -> int:
    """``minor`` units of ``currency`` (USD, or USDC at par) as nano-USD, exactly."""
    if minor == 0:
        return 0
    try:
        scale = asset(currency).scale
    except UnknownAssetError:
        scale = NANO_SCALE
    return minor * 10 ** (NANO_SCALE - scale) if scale <= NANO_SCALE else minor


def team_of(path: str, budgets: Mapping[str, Budget]) -> str:
    parts = path.split("/")
    for depth in range(len(parts), 0, -1):
        name = "/".join(parts[:depth])
        found = budgets.get(name)
        if found is not None and found.kind == "team":
            return name
    return parts[0] or UNKNOWN


def _usage(record: RequestRecord) -> Usage | None:
    try:
        data = json.loads(record.usage_json)
        return Usage.from_json(data) if data else None
    except (ValueError, MeterError):
        return None


def _stu(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def _slots(usage: Usage) -> list[tuple[str, str, int]]:
    counts = usage.counts
    n = len(MODALITIES)
    return [(c.value, m.value, counts[ci * n + mi]) for ci, c in enumerate(TOKEN_CLASSES)
            for mi, m in enumerate(MODALITIES) if counts[ci * n + mi]]


class Attributor:
    """Turns request records into :class:`RequestFacts` with one book and STU table."""

    def __init__(self, book: PriceBook, stu: StuTable, budgets: Sequence[Budget],
                 key_names: Mapping[str, str]) -> None:
        self.book = book
        self.stu_table = stu
        self.budgets = {b.name: b for b in budgets}
        self.key_names = dict(key_names)

    def _entry(self, record: RequestRecord, at: datetime) -> tuple[str, str, str]:
        """(provider, origin, quality) of the record's model at ``at``."""
        try:
            entry = self.book.entry(record.model, at)
        except PricingError:
            prefix = record.price_version.split("/")[0] if "/" in record.price_version else ""
            return prefix or UNKNOWN, UNKNOWN, ""
        return entry.provider, entry.country or UNKNOWN, entry.quality

    def _weight(self, quality: str, cls: str, modality: str, tokens: int) -> Decimal:
        try:
            return tokens * self.stu_table.weight(quality, cls, modality)
        except PricingError:
            return Decimal(tokens)

    def _slices(self, usage: Usage | None, record: RequestRecord, at: datetime, quality: str,
                cost: int, stu: Decimal) -> tuple[Slice, ...]:
        slots = _slots(usage) if usage is not None else []
        if not slots:
            listed = to_nano(record.cost_minor, record.currency)
            return (Slice("none", "none", 0, cost, listed, stu),) if cost or stu else ()
        amounts = dict.fromkeys(((c, m) for c, m, _ in slots), 0)
        if usage is not None:
            try:
                q = quote(self.book, usage, record.model, at)
                for line in q.lines:
                    if (line.cls, line.modality) in amounts:
                        amounts[(line.cls, line.modality)] += line.amount
            except PricingError:
                pass
        weights = list(amounts.values())
        if not any(weights):
            weights = [t for _, _, t in slots]
        costs = split(cost, weights)
        lists = split(to_nano(record.cost_minor, record.currency), weights)
        stu_weights = [self._weight(quality, c, m, t) for c, m, t in slots]
        stus = _split_decimal(stu, stu_weights)
        return tuple(Slice(c, m, t, k, li, s)
                     for (c, m, t), k, li, s in zip(slots, costs, lists, stus, strict=True))

    def facts(self, records: Sequence[RequestRecord]) -> list[RequestFacts]:
        later = _retried(records)
        out = []
        for r in records:
            at = datetime.fromtimestamp(r.started_at // 1_000_000_000, UTC)
            provider, origin, quality = self._entry(r, at)
            usage = _usage(r)
            cost = to_nano(r.captured_minor, r.currency)
            stu = _stu(r.stu)
            slices = self._slices(usage, r, at, quality, cost, stu)
            out.append(RequestFacts(
                r, r.budget or UNKNOWN, team_of(r.budget, self.budgets) if r.budget else UNKNOWN,
                self.key_names.get(r.key_id, r.key_id or "x402"), provider, origin,
                at.date().isoformat(), sum(s.tokens for s in slices), cost, stu, slices,
                r.id in later, _ttl_ns(usage)))
        return out


STU_PLACES = Decimal("0.000001")
CACHE_TTL_NS = {"5m": 300 * 10**9, "1h": 3_600 * 10**9}


def _ttl_ns(usage: Usage | None) -> int:
    ttl = dict(usage.cache_write_ttl) if usage is not None else {}
    return CACHE_TTL_NS["1h"] if ttl.get("1h", 0) > 0 else CACHE_TTL_NS["5m"]


def _split_decimal(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``total`` split by ``weights`` to 6 places; the last part takes the rounding rest."""
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum <= 0:
        return [total, *([Decimal(0)] * (len(weights) - 1))]
    parts = [(total * w / weight_sum).quantize(STU_PLACES) for w in weights[:-1]]
    return [*parts, total - sum(parts, Decimal(0))]


def _retried(records: Sequence[RequestRecord]) -> set[str]:
    """Ids of records followed by another attempt of the same request: the gateway's own
    failover (``req_x`` → ``req_x-2``) or the client's retry with the same idempotency key."""
    out: set[str] = set()
    last_by_key: dict[tuple[str, str], RequestRecord] = {}
    for r in sorted(records, key=lambda r: (r.started_at, r.id)):
        base, _, attempt = r.id.rpartition("-")
        if base and attempt.isdigit():
            out.add(base if attempt == "2" else f"{base}-{int(attempt) - 1}")
        if r.idempotency_key:
            ident = (r.key_id, r.idempotency_key)
            previous = last_by_key.get(ident)
            if previous is not None:
                out.add(previous.id)
            last_by_key[ident] = r
    return out


__all__ = ["Attributor", "RequestFacts", "Slice", "team_of", "to_nano"]

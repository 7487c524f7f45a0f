"""Quotes: a :class:`~tokenomy.meter.Usage` priced exactly, with line items.

In: a usage, a model, the instant it happened, a service tier, a :class:`PriceBook` and an
:class:`UnpricedPolicy`. Out: a :class:`Quote` — one :class:`Line` per non-zero
class × modality (and per cache TTL, and per fee), each ``tokens × rate`` rounded **half-even to
the minor unit** (the nano-dollar for USD), and ``total = sum of lines``. That is the only
rounding. The quote carries the price version it used, forever.

The long-context tier is chosen from the request's total input and applies to every token of
the request. With ``reasoning_mode = "all_output"`` (Qwen's thinking mode), a request that
reasoned bills its visible output at the reasoning rate too.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import compress
from typing import Any, NamedTuple

from tokenomy.meter.usage import MODALITIES, TOKEN_CLASSES, Usage
from tokenomy.money import Asset, Rounding, quantize
from tokenomy.money.amount import format_minor
from tokenomy.pricing.book import PriceBook, PriceEntry, Rate, SlotRates
from tokenomy.pricing.errors import UnpricedError
from tokenomy.pricing.policy import BLOCK, PROVISIONAL_VERSION, UnpricedPolicy

_N_MOD = len(MODALITIES)
_CLASS_NAMES = tuple(c.value for c in TOKEN_CLASSES)
_MOD_NAMES = tuple(m.value for m in MODALITIES)
_OUTPUT, _REASONING, _CACHE_WRITE = 3, 4, 2
_SLOTS = range(len(TOKEN_CLASSES) * _N_MOD)
_SLOT_CM = tuple(divmod(i, _N_MOD) for i in _SLOTS)
_HALF_EVEN = Rounding.HALF_EVEN


class Line(NamedTuple):
    """``tokens`` (or fee units) × ``rate`` = ``amount`` minor units."""

    cls: str  # input, cache_read, cache_write, output, reasoning, or "fee"
    modality: str  # a modality, or the fee's counter name
    tokens: int
    rate: Rate
    amount: int
    ttl: str | None = None
    provisional: bool = False

    def to_json(self, scale: int) -> dict[str, Any]:
        line: dict[str, Any] = {"class": self.cls, "modality": self.modality}
        if self.cls == "fee":
            line.update(units=self.tokens, rate_usd_per_unit=plain(self.rate.per_mtok))
        else:
            line.update(tokens=self.tokens, rate_usd_per_mtok=plain(self.rate.per_mtok))
        if self.ttl:
            line["ttl"] = self.ttl
        line["cost_usd"] = format_minor(self.amount, scale)
        if self.rate.rule:
            line["rule"] = self.rate.rule
        if self.provisional:
            line["provisional"] = True
        return line


class Quote(NamedTuple):
    """A priced usage. Immutable; ``total`` = the sum of the lines' amounts."""

    model: str
    version: str
    currency: Asset
    total: int  # minor units of ``currency``
    items: tuple[tuple[Any, ...], ...]  # the lines' fields, as plain tuples (see ``lines``)
    tier_rule: str
    service_tier: str
    provisional: bool
    entry: PriceEntry

    @property
    def total_decimal(self) -> Decimal:
        return Decimal(self.total).scaleb(-self.currency.scale)

    @property
    def lines(self) -> tuple[Line, ...]:
        """The line items. (Built on demand: a quote on the hot path may never need them.)"""
        return tuple(Line._make(item) for item in self.items)

    def cost_text(self) -> str:
        return format_minor(self.total, self.currency.scale)

    def to_json(self) -> dict[str, Any]:
        scale = self.currency.scale
        return {
            "model": self.model,
            "cost_usd" if self.currency.code == "USD" else "cost": self.cost_text(),
            "currency": self.currency.code,
            "price_version": self.version,
            "service_tier": self.service_tier,
            "tier_rule": self.tier_rule,
            "provisional": self.provisional,
            "lines": [line.to_json(scale) for line in self.lines],
        }


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``"1.25"``, ``"10"``, ``"0.028"``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _amount(tokens: int, rate: Rate) -> int:
    per = rate.minor_per_token
    if type(per) is int:
        return tokens * per
    return quantize(tokens * per, 0, Rounding.HALF_EVEN)


def _ttl_parts(usage: Usage) -> list[tuple[int, str | None, int]]:
    """Cache writes as (modality index, TTL label or None, tokens); TTL-labelled tokens are
    assigned to modalities text first, as the normalizers assign unsplit cache counts."""
    counts = list(usage.counts[_CACHE_WRITE * _N_MOD : (_CACHE_WRITE + 1) * _N_MOD])
    ttl = usage.cache_write_ttl
    if not any(counts[1:]):  # text only: the common case, no per-modality walk
        rest = counts[0] - sum(tokens for _, tokens in ttl)
        parts: list[tuple[int, str | None, int]] = [(0, label, n) for label, n in ttl]
        return [*parts, (0, None, rest)] if rest else parts
    parts = []
    for label, tokens in ttl:
        for m in range(_N_MOD):
            take = min(tokens, counts[m])
            if take:
                parts.append((m, label, take))
                counts[m] -= take
                tokens -= take
    parts.extend((m, None, rest) for m, rest in enumerate(counts) if rest)
    return parts


def quote(
    book: PriceBook,
    usage: Usage,
    model: str,
    at: datetime,
    service_tier: str = "standard",
    policy: UnpricedPolicy = BLOCK,
) -> Quote:
    """Price ``usage`` of ``model`` at instant ``at`` (timezone-aware)."""
    try:
        entry = book.entry(model, at)
        tier_index, _ = entry.tier_for(usage.total_input)
        slots = book.slots(entry, tier_index, service_tier)
    except UnpricedError:
        if not policy.holds:
            raise
        entry = policy.entry_for(model)
        slots = book.slots(entry, 0, "standard")
    return _price(usage, model, slots, service_tier, policy)


def _provisional(model: str, policy: UnpricedPolicy, cls: str, what: str,
                 scale: int) -> Rate:
    if not policy.holds:
        raise UnpricedError(model, f"no rate for {what}")
    per_mtok = policy.rate(cls)
    return Rate(per_mtok, per_mtok.scaleb(scale - 6), "provisional")


def _price(usage: Usage, model: str, slots: SlotRates, service_tier: str,
           policy: UnpricedPolicy) -> Quote:
    entry = slots.entry
    scale = entry.currency.scale
    counts = usage.counts
    rates = slots.slots
    has_ttl = bool(usage.cache_write_ttl)
    reasoned = entry.reasoning_mode == "all_output" and any(counts[_REASONING * _N_MOD :])
    lines: list[tuple[Any, ...]] = []
    total = 0
    provisional = entry.version == PROVISIONAL_VERSION
    for i in compress(_SLOTS, counts):  # only the non-zero slots
        c, m = _SLOT_CM[i]
        if c == _CACHE_WRITE and has_ttl:
            continue  # priced below, by TTL
        rate = rates[_REASONING * _N_MOD + m] if c == _OUTPUT and reasoned else rates[i]
        if rate is None:
            what = f"{_CLASS_NAMES[c]} tokens of modality {_MOD_NAMES[m]}"
            rate = _provisional(model, policy, _CLASS_NAMES[c], what, scale)
            provisional = held = True
        else:
            held = False
        tokens = counts[i]
        per = rate.minor_per_token
        amount = tokens * per if type(per) is int else quantize(tokens * per, 0, _HALF_EVEN)
        total += amount
        lines.append((_CLASS_NAMES[c], _MOD_NAMES[m], tokens, rate, amount, None, held))
    if has_ttl:
        by_ttl = slots.cache_write_ttl
        for m, label, tokens in _ttl_parts(usage):
            ttl_rates = by_ttl.get(label) if label else None
            rate = ttl_rates[m] if ttl_rates else rates[_CACHE_WRITE * _N_MOD + m]
            if rate is None:
                what = f"cache_write/{label} tokens of modality {_MOD_NAMES[m]}"
                rate = _provisional(model, policy, "cache_write", what, scale)
                provisional = held = True
            else:
                held = False
            per = rate.minor_per_token
            amount = tokens * per if type(per) is int else quantize(tokens * per, 0, _HALF_EVEN)
            total += amount
            lines.append(("cache_write", _MOD_NAMES[m], tokens, rate, amount, label, held))
    if usage.extras or "request" in slots.fees:
        total, held_fees = _fees(usage, slots, model, policy, scale, lines, total)
        provisional = provisional or held_fees
    return Quote(model, entry.version, entry.currency, total, tuple(lines), slots.tier_rule,
                 service_tier, provisional, entry)


def _fees(usage: Usage, slots: SlotRates, model: str, policy: UnpricedPolicy, scale: int,
          lines: list[tuple[Any, ...]], total: int) -> tuple[int, bool]:
    fees = slots.fees
    units = dict(usage.extras)
    if "request" in fees:
        units["request"] = 1
    provisional = False
    for name, count in sorted(units.items()):
        rate = fees.get(name)
        held = rate is None
        if rate is None:
            if not policy.holds:
                raise UnpricedError(model, f"no fee for {count} {name}")
            fee = policy.provisional_fee
            rate = Rate(fee, fee.scaleb(scale), "provisional")
            provisional = True
        if count:
            amount = _amount(count, rate)
            total += amount
            lines.append(("fee", name, count, rate, amount, None, held))
    return total, provisional

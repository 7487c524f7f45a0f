"""Price entries and the layered price book.

In: :class:`PriceEntry` values (from :mod:`tokenomy.pricing.catalog`), one layer per book,
bundled catalog first. Out: the entry in force for a model at an instant, and its resolved
per-slot rates for a long-context tier and a service tier (:class:`SlotRates`).

Lookup walks the layers from the top (the last user book) down; the first layer with an entry
for the model covering the instant wins. An entry priced *relative* to the layer below
(``multiplier`` and no rates) is materialized against the entry in force below at that instant.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tokenomy.money import Asset
from tokenomy.pricing.errors import UnpricedError
from tokenomy.pricing.rates import CLASS_KEYS, MODALITY_NAMES, resolve_rate

SERVICE_TIERS = ("standard", "batch", "flex", "priority")
QUALITIES = ("frontier", "standard", "economy")
EMPTY: Mapping[str, Decimal] = MappingProxyType({})


def _empty() -> Mapping[str, Decimal]:
    return EMPTY


def _no_specs() -> Mapping[str, ServiceTierSpec]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ServiceTierSpec:
    """A service tier: explicit rates, and a multiplier for the rates it does not name."""

    multiplier: Decimal = Decimal(1)
    rates: Mapping[str, Decimal] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class ContextTier:
    """A long-context tier: applies to the whole request above ``input_tokens`` of input."""

    input_tokens: int
    rates: Mapping[str, Decimal] = field(default_factory=_empty)
    service_tiers: Mapping[str, ServiceTierSpec] = field(default_factory=_no_specs)
    inclusive: bool = False  # True: ">=" (xAI); False: ">" (everyone else)

    def applies(self, total_input: int) -> bool:
        if self.inclusive:
            return total_input >= self.input_tokens
        return total_input > self.input_tokens

    @property
    def rule(self) -> str:
        return f"total input {'≥' if self.inclusive else '>'} {self.input_tokens:,}"


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """The prices of one model over one period. Rates are ``Decimal`` per 1M tokens."""

    provider: str
    model: str
    version: str
    valid_from: datetime
    valid_to: datetime | None
    currency: Asset
    source: str
    country: str
    quality: str
    rates: Mapping[str, Decimal]
    tiers: tuple[ContextTier, ...] = ()
    service_tiers: Mapping[str, ServiceTierSpec] = field(default_factory=_no_specs)
    fees: Mapping[str, Decimal] = field(default_factory=_empty)
    text_priced: tuple[str, ...] = ("image", "document")
    reasoning_mode: str = "separate"  # "all_output": a thinking request's output at reasoning
    aliases: tuple[str, ...] = ()
    note: str = ""
    book: str = "bundled"
    relative: Decimal | None = None  # rates = the layer below × relative

    def to_json(self) -> dict[str, Any]:
        def rates(table: Mapping[str, Decimal]) -> dict[str, str]:
            return {k: str(v) for k, v in table.items()}

        def specs(table: Mapping[str, ServiceTierSpec]) -> dict[str, Any]:
            return {k: {"multiplier": str(s.multiplier), **rates(s.rates)}
                    for k, s in table.items()}

        return {
            "provider": self.provider, "model": self.model, "version": self.version,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "currency": self.currency.code, "country": self.country, "quality": self.quality,
            "rates_per_mtok": rates(self.rates),
            "long_context_tiers": [
                {"input_tokens": t.input_tokens, "inclusive": t.inclusive,
                 "rates_per_mtok": rates(t.rates), "service_tiers": specs(t.service_tiers)}
                for t in self.tiers
            ],
            "service_tiers": specs(self.service_tiers),
            "fees": rates(self.fees),
            "text_priced": list(self.text_priced),
            "reasoning_mode": self.reasoning_mode,
            "aliases": list(self.aliases),
            "relative_multiplier": None if self.relative is None else str(self.relative),
            "book": self.book, "source": self.source, "note": self.note,
        }

    def covers(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def tier_for(self, total_input: int) -> tuple[int, ContextTier | None]:
        """The highest long-context tier the request exceeds (index 0 = base prices)."""
        chosen: tuple[int, ContextTier | None] = (0, None)
        for index, tier in enumerate(self.tiers, 1):
            if tier.applies(total_input):
                chosen = (index, tier)
        return chosen

    def scaled(self, base: PriceEntry) -> PriceEntry:
        """This relative entry made concrete on ``base`` (the entry in force below)."""
        factor = self.relative
        assert factor is not None

        def scale(rates: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
            return MappingProxyType({k: v * factor for k, v in rates.items()})

        def scale_specs(specs: Mapping[str, ServiceTierSpec]) -> Mapping[str, ServiceTierSpec]:
            return MappingProxyType(
                {k: ServiceTierSpec(s.multiplier, scale(s.rates)) for k, s in specs.items()}
            )

        return replace(
            base,
            version=f"{self.version}({base.version})",
            rates=scale(base.rates),
            tiers=tuple(
                replace(t, rates=scale(t.rates), service_tiers=scale_specs(t.service_tiers))
                for t in base.tiers
            ),
            service_tiers=scale_specs(base.service_tiers),
            fees=scale(base.fees),
            book=self.book,
            source=self.source or base.source,
            note=self.note or base.note,
            relative=None,
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """One resolved rate: per 1M tokens as written, and per token in minor units."""

    per_mtok: Decimal
    minor_per_token: int | Decimal  # int when exact (the fast path), else Decimal
    rule: str  # "" for the plain base rate, else what changed it ("batch ×0.5", …)


@dataclass(frozen=True, slots=True)
class SlotRates:
    """Resolved rates of one (entry, long-context tier, service tier)."""

    entry: PriceEntry
    tier_rule: str
    slots: tuple[Rate | None, ...]  # 25, class-major like Usage.counts
    cache_write_ttl: dict[str, tuple[Rate | None, ...]]  # "5m"/"1h" → 5 modality rates
    fees: Mapping[str, Rate]


_USAGE_CLASSES = ("input", "cache_read", "cache_write", "output", "reasoning")


def _minor(per_mtok: Decimal, scale: int) -> int | Decimal:
    value = per_mtok.scaleb(scale - 6)
    whole = value.to_integral_value()
    return int(whole) if whole == value else value


def _apply(
    entry: PriceEntry, tier: ContextTier | None, service_tier: str
) -> tuple[Mapping[str, Decimal], Decimal, str]:
    """Rates of the tier (base rates overridden) and the service tier's effect on them."""
    rates = dict(entry.rates)
    rule_parts = []
    if tier is not None:
        rates.update(tier.rates)
        rule_parts.append(tier.rule)
    if service_tier == "standard":
        return rates, Decimal(1), "; ".join(rule_parts)
    spec = tier.service_tiers.get(service_tier) if tier is not None else None
    if spec is None:
        spec = entry.service_tiers.get(service_tier)
        if spec is None:
            raise UnpricedError(entry.model, f"no {service_tier} service tier")
        if tier is not None and spec.rates:
            raise UnpricedError(
                entry.model,
                f"{service_tier} has explicit rates for the base tier only, none for "
                f"{tier.rule}",
            )
    rates.update(spec.rates)
    explicit = set(spec.rates)
    rule_parts.append(f"{service_tier} ×{spec.multiplier}" if spec.multiplier != 1
                      else service_tier)
    # Rates the spec names are final; the others scale by its multiplier.
    scaled = {k: (v if k in explicit else v * spec.multiplier) for k, v in rates.items()}
    return scaled, Decimal(1), "; ".join(rule_parts)


def resolve_slots(entry: PriceEntry, tier_index: int, service_tier: str) -> SlotRates:
    """Every slot's rate for the tier at ``tier_index`` (0 = base) and ``service_tier``."""
    if service_tier not in SERVICE_TIERS:
        raise UnpricedError(entry.model, f"unknown service tier {service_tier!r} "
                                         f"(known: {', '.join(SERVICE_TIERS)})")
    tier = entry.tiers[tier_index - 1] if tier_index else None
    rates, _, rule = _apply(entry, tier, service_tier)
    scale = entry.currency.scale

    def rate(cls: str, modality: str) -> Rate | None:
        per_mtok = resolve_rate(rates, cls, modality, entry.text_priced)
        return None if per_mtok is None else Rate(per_mtok, _minor(per_mtok, scale), rule)

    slots = tuple(rate(c, m) for c in _USAGE_CLASSES for m in MODALITY_NAMES)
    ttl = {label: tuple(rate(f"cache_write_{label}", m) for m in MODALITY_NAMES)
           for label in ("5m", "1h")}
    fee_factor = Decimal(1)
    fees = {name: Rate(value * fee_factor, _minor(value.scaleb(6), scale), rule)
            for name, value in entry.fees.items()}
    assert set(CLASS_KEYS) >= {"input", "output"}
    return SlotRates(entry, rule, slots, ttl, MappingProxyType(fees))


@dataclass
class PriceBook:
    """Layers of entries; the bundled catalog is layer 0, user books above it."""

    layers: list[dict[str, list[PriceEntry]]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _aliases: list[dict[str, str]] = field(default_factory=list)
    _resolved: dict[tuple[str, int, str], SlotRates] = field(default_factory=dict)
    _starts: list[dict[str, list[datetime]]] = field(default_factory=list)
    _names: dict[str, str] = field(default_factory=dict)
    _recent: dict[str, PriceEntry] = field(default_factory=dict)

    def add_layer(self, name: str, entries: Iterable[PriceEntry]) -> None:
        by_model: dict[str, list[PriceEntry]] = {}
        aliases: dict[str, str] = {}
        for entry in entries:
            by_model.setdefault(entry.model, []).append(entry)
            for alias in entry.aliases:
                aliases[alias] = entry.model
        for history in by_model.values():
            history.sort(key=lambda e: e.valid_from)
        self.layers.append(by_model)
        self.names.append(name)
        self._aliases.append(aliases)
        self._starts.append({m: [e.valid_from for e in h] for m, h in by_model.items()})
        self._resolved.clear()
        self._recent.clear()
        # Upper layers win: an id that is a model up here stays one even if aliased below.
        for alias, target in aliases.items():
            self._names[alias] = target
        for model in by_model:
            self._names[model] = model

    def canonical(self, model: str) -> str | None:
        """The model id ``model`` names in any layer (itself, or what it aliases)."""
        return self._names.get(model)

    def models(self) -> list[str]:
        return sorted({m for layer in self.layers for m in layer})

    def history(self, model: str) -> list[PriceEntry]:
        """Every entry of ``model`` in every layer, oldest first, top layer last."""
        name = self.canonical(model) or model
        return [e for layer in self.layers for e in layer.get(name, ())]

    def _find(self, model: str, at: datetime, top: int) -> PriceEntry | None:
        for index in range(top, -1, -1):
            history = self.layers[index].get(model)
            if not history:
                continue
            position = bisect.bisect_right(self._starts[index][model], at) - 1
            if position < 0:
                continue
            entry = history[position]
            if not entry.covers(at):
                continue
            if entry.relative is not None:
                below = self._find(model, at, index - 1)
                if below is None:
                    raise UnpricedError(model, f"{entry.version} is relative to a layer "
                                               "below that has no price at that time")
                return entry.scaled(below)
            return entry
        return None

    def entry(self, model: str, at: datetime) -> PriceEntry:
        """The entry in force for ``model`` at ``at``, or :class:`UnpricedError`."""
        recent = self._recent.get(model)
        if recent is not None and recent.covers(at):  # most quotes are for "now"
            return recent
        name = self._names.get(model)
        if name is None:
            raise UnpricedError(model, "unknown model")
        found = self._find(name, at, len(self.layers) - 1)
        if found is not None and len(self._recent) < 100_000 and len(self.layers) == 1:
            self._recent[model] = found
        if found is None:
            raise UnpricedError(model, f"no price in force at {at.isoformat()}")
        return found

    def slots(self, entry: PriceEntry, tier_index: int, service_tier: str) -> SlotRates:
        key = (entry.version, tier_index, service_tier)
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = resolve_slots(entry, tier_index, service_tier)
            if len(self._resolved) < 100_000:  # bounded cache
                self._resolved[key] = resolved
        return resolved

    def entries_at(self, at: datetime, models: Sequence[str] | None = None) -> list[PriceEntry]:
        """The entry in force at ``at`` for every (or each named) model that has one."""
        out = []
        for model in models or self.models():
            try:
                found = self._find(model, at, len(self.layers) - 1)
            except UnpricedError:
                continue  # a relative entry over a gap below: that model has no price then
            if found is not None:
                out.append(found)
        return out

    def orphans(self) -> list[str]:
        """Relative entries of the top layer for a model no layer below prices at all."""
        top = len(self.layers) - 1
        return [
            f"{entry.version}: a multiplier needs a price below it, and no layer below "
            f"prices {entry.model}"
            for history in self.layers[top].values() for entry in history
            if entry.relative is not None
            and not any(entry.model in layer for layer in self.layers[:top])
        ]

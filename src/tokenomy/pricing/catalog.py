"""Reading price books (docs/price-book.md) into :class:`PriceEntry` values.

In: TOML text (the bundled catalog ships in ``catalog/*.toml``; user books are read by the
caller and passed in as text). Out: entries, or a :class:`BookError` listing *every* problem
found, each with its place (``gpt-4o price[1].cache_read: …``), so one bad line does not hide
the next. Nothing is half-loaded: a book with any problem yields no entries.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from tokenomy.money import asset
from tokenomy.pricing.book import (
    QUALITIES,
    SERVICE_TIERS,
    ContextTier,
    PriceBook,
    PriceEntry,
    ServiceTierSpec,
)
from tokenomy.pricing.errors import BookError
from tokenomy.pricing.rates import DEFAULT_TEXT_PRICED, MODALITY_NAMES, RATE_KEYS

FILE_KEYS = frozenset({"provider", "country", "currency", "source", "name", "model", "note"})
MODEL_KEYS = frozenset({"id", "aliases", "quality", "text_priced", "note", "source", "price",
                        "reasoning_mode"})
PRICE_KEYS = frozenset({"valid_from", "valid_to", "source", "note", "version", "multiplier",
                        "above", "fees", "reasoning_mode", *SERVICE_TIERS[1:]}) | RATE_KEYS
TIER_KEYS = frozenset({"input_tokens", "inclusive", *SERVICE_TIERS[1:]}) | RATE_KEYS
REASONING_MODES = ("separate", "all_output")
MODELS_MAX = 100_000  # entries one book may hold


class _Problems(list[str]):
    def at(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _decimal(value: Any, where: str, problems: _Problems) -> Decimal | None:
    if not isinstance(value, str):
        problems.at(where, f"must be a decimal string like \"2.50\", got {value!r}")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        problems.at(where, f"not a decimal number: {value!r}")
        return None
    if not number.is_finite() or number < 0:
        problems.at(where, f"must be a finite, non-negative number, got {value!r}")
        return None
    return number


def _instant(value: Any, where: str, problems: _Problems) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            problems.at(where, f"not an ISO date or datetime: {value!r}")
            return None
    else:
        problems.at(where, f"must be an ISO date or datetime, got {value!r}")
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _unknown(table: Mapping[str, Any], allowed: frozenset[str], where: str,
             problems: _Problems) -> None:
    for key in table:
        if key not in allowed:
            problems.at(f"{where}.{key}", "unknown key (see docs/price-book.md)")


def _rates(table: Mapping[str, Any], where: str, problems: _Problems) -> dict[str, Decimal]:
    rates = {}
    for key, value in table.items():
        if key in RATE_KEYS:
            number = _decimal(value, f"{where}.{key}", problems)
            if number is not None:
                rates[key] = number
    return rates


def _service_tiers(table: Mapping[str, Any], where: str,
                   problems: _Problems) -> dict[str, ServiceTierSpec]:
    specs = {}
    for name in SERVICE_TIERS[1:]:
        if name not in table:
            continue
        spec = table[name]
        place = f"{where}.{name}"
        if isinstance(spec, str):
            factor = _decimal(spec, place, problems)
            if factor is not None:
                specs[name] = ServiceTierSpec(multiplier=factor)
        elif isinstance(spec, Mapping):
            _unknown(spec, RATE_KEYS | {"multiplier"}, place, problems)
            factor = _decimal(spec.get("multiplier", "1"), f"{place}.multiplier", problems)
            specs[name] = ServiceTierSpec(factor or Decimal(1),
                                          MappingProxyType(_rates(spec, place, problems)))
        else:
            problems.at(place, "must be a multiplier string or a table of rates")
    return specs


def _tiers(raw: Any, where: str, problems: _Problems) -> tuple[ContextTier, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.at(f"{where}.above", "must be an array of tables ([[model.price.above]])")
        return ()
    tiers = []
    for i, table in enumerate(raw):
        place = f"{where}.above[{i}]"
        if not isinstance(table, Mapping):
            problems.at(place, "must be a table")
            continue
        _unknown(table, TIER_KEYS, place, problems)
        threshold = table.get("input_tokens")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            problems.at(f"{place}.input_tokens", f"must be a non-negative integer, "
                                                 f"got {threshold!r}")
            continue
        inclusive = table.get("inclusive", False)
        if not isinstance(inclusive, bool):
            problems.at(f"{place}.inclusive", "must be true or false")
        tiers.append(ContextTier(
            threshold,
            MappingProxyType(_rates(table, place, problems)),
            MappingProxyType(_service_tiers(table, place, problems)),
            inclusive is True,
        ))
    thresholds = [t.input_tokens for t in tiers]
    if thresholds != sorted(set(thresholds)):
        problems.at(f"{where}.above", "input_tokens must be strictly increasing")
    return tuple(tiers)


def _fees(raw: Any, where: str, problems: _Problems) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.at(f"{where}.fees", "must be a table")
        return {}
    fees = {}
    for name, value in raw.items():
        number = _decimal(value, f"{where}.fees.{name}", problems)
        if number is not None:
            fees[str(name)] = number
    return fees


def _entries_of_model(model: Mapping[str, Any], context: dict[str, Any], where: str,
                      problems: _Problems) -> list[PriceEntry]:
    _unknown(model, MODEL_KEYS, where, problems)
    model_id = model.get("id")
    if not isinstance(model_id, str) or not model_id:
        problems.at(f"{where}.id", "required string")
        return []
    where = model_id
    aliases = model.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        problems.at(f"{where}.aliases", "must be a list of strings")
        aliases = []
    quality = model.get("quality", "standard")
    if quality not in QUALITIES:
        problems.at(f"{where}.quality", f"must be one of {', '.join(QUALITIES)}")
    text_priced = model.get("text_priced", list(DEFAULT_TEXT_PRICED))
    if not isinstance(text_priced, list) or not set(text_priced) <= set(MODALITY_NAMES):
        problems.at(f"{where}.text_priced", f"must list modalities of {MODALITY_NAMES}")
        text_priced = list(DEFAULT_TEXT_PRICED)
    prices = model.get("price")
    if not isinstance(prices, list) or not prices:
        problems.at(f"{where}.price", "needs at least one [[model.price]] entry")
        return []
    entries: list[PriceEntry] = []
    starts: list[datetime] = []
    for i, price in enumerate(prices):
        place = f"{where} price[{i}]"
        if not isinstance(price, Mapping):
            problems.at(place, "must be a table")
            continue
        _unknown(price, PRICE_KEYS, place, problems)
        start = _instant(price.get("valid_from"), f"{place}.valid_from", problems)
        end = (_instant(price["valid_to"], f"{place}.valid_to", problems)
               if "valid_to" in price else None)
        rates = _rates(price, place, problems)
        relative = None
        if "multiplier" in price:
            relative = _decimal(price["multiplier"], f"{place}.multiplier", problems)
            if rates:
                problems.at(place, "a relative entry (multiplier) must not also give rates")
        elif not {"input", "output"} <= set(rates):
            problems.at(place, "needs `input` and `output` rates (or a relative `multiplier`)")
        mode = price.get("reasoning_mode", model.get("reasoning_mode", "separate"))
        if mode not in REASONING_MODES:
            problems.at(f"{place}.reasoning_mode", f"must be one of {REASONING_MODES}")
        if start is None:
            continue
        if starts and start <= starts[-1]:
            problems.at(f"{place}.valid_from", "must be later than the previous entry's")
        if end is not None and end <= start:
            problems.at(f"{place}.valid_to", "must be later than valid_from")
        starts.append(start)
        stamp = price["valid_from"] if isinstance(price["valid_from"], str) else start.isoformat()
        version = price.get("version") or f"{context['prefix']}/{model_id}@{stamp}"
        entries.append(PriceEntry(
            provider=context["provider"], model=model_id, version=str(version),
            valid_from=start, valid_to=end, currency=context["currency"],
            source=str(price.get("source") or model.get("source") or context["source"]),
            country=context["country"], quality=str(quality),
            rates=MappingProxyType(rates), tiers=_tiers(price.get("above"), place, problems),
            service_tiers=MappingProxyType(_service_tiers(price, place, problems)),
            fees=MappingProxyType(_fees(price.get("fees"), place, problems)),
            text_priced=tuple(text_priced), reasoning_mode=str(mode), aliases=tuple(aliases),
            note=str(price.get("note", "")), book=context["name"], relative=relative,
        ))
    # An entry without valid_to ends where the next one starts.
    for i in range(len(entries) - 1):
        if entries[i].valid_to is None:
            entries[i] = _until(entries[i], entries[i + 1].valid_from)
    return entries


def _until(entry: PriceEntry, end: datetime) -> PriceEntry:
    from dataclasses import replace

    return replace(entry, valid_to=end)


def parse_book(text: str, source: str, *, bundled: bool = False) -> list[PriceEntry]:
    """Every entry of the book in ``text``; :class:`BookError` lists all problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BookError(source, [f"not valid TOML: {exc}"]) from None
    problems = _Problems()
    _unknown(data, FILE_KEYS, "file", problems)
    provider = data.get("provider")
    if not isinstance(provider, str) or not provider:
        problems.at("provider", "required string")
        provider = "?"
    try:
        currency = asset(str(data.get("currency", "USD")))
    except ValueError as exc:
        problems.at("currency", str(exc))
        currency = asset("USD")
    name = str(data.get("name", "bundled" if bundled else source))
    context = {
        "provider": provider, "currency": currency, "name": name,
        "country": str(data.get("country", "")), "source": str(data.get("source", "")),
        "prefix": provider if bundled else name,
    }
    models = data.get("model", [])
    if not isinstance(models, list) or len(models) > MODELS_MAX:
        raise BookError(source, [f"`model` must be an array of at most {MODELS_MAX} tables"])
    entries: list[PriceEntry] = []
    for i, model in enumerate(models):
        if not isinstance(model, Mapping):
            problems.at(f"model[{i}]", "must be a table")
            continue
        entries.extend(_entries_of_model(model, context, f"model[{i}]", problems))
    seen: dict[str, str] = {}
    for entry in entries:
        for label in (entry.model, *entry.aliases):
            if seen.setdefault(label, entry.model) != entry.model:
                problems.at(label, f"declared by both {seen[label]} and {entry.model}")
    if problems:
        raise BookError(source, problems)
    return entries


@cache
def bundled_entries() -> tuple[PriceEntry, ...]:
    """The catalog shipped in ``tokenomy/pricing/catalog/*.toml`` (read once)."""
    folder = resources.files("tokenomy.pricing").joinpath("catalog")
    entries: list[PriceEntry] = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            entries.extend(parse_book(item.read_text(encoding="utf-8"),
                                      f"catalog/{item.name}", bundled=True))
    return tuple(entries)


def load_book(user_books: Mapping[str, str] | None = None) -> PriceBook:
    """The bundled catalog with each user book (``{source name: TOML text}``) layered on."""
    book = PriceBook()
    book.add_layer("bundled", bundled_entries())
    for source, text in (user_books or {}).items():
        book.add_layer(source, parse_book(text, source))
        orphans = book.orphans()
        if orphans:
            raise BookError(source, orphans)
    return book

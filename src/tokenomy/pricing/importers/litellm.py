"""LiteLLM's ``model_prices_and_context_window.json`` converted into price books.

In: the parsed JSON (model key → entry), the ``valid_from`` stamped on every entry (the caller
passes it: there is no clock here), and optionally the providers to keep (our ids). Out: one
:class:`ImportResult` per provider: a complete book in the docs/price-book.md format
(``name = "litellm"``) and every ``(model key, field)`` that did not make it into the book.

What maps (LiteLLM's USD per token becomes an exact decimal string per 1M tokens, computed as
``Decimal(repr(value)) * 1_000_000``, so ``2.8e-08`` is ``"0.028"`` and never ``0.0279999…``):

* ``input_cost_per_token`` → ``input``, ``output_cost_per_token`` → ``output``,
  ``cache_read_input_token_cost`` → ``cache_read``, ``cache_creation_input_token_cost`` →
  ``cache_write`` (``cache_write_5m`` for Anthropic), ``cache_creation_input_token_cost_above_1hr``
  → ``cache_write_1h``, ``output_cost_per_reasoning_token`` → ``reasoning``; the audio, image and
  video ``*_token`` variants → ``input_audio``, ``cache_read_image``, ``output_video``, ….
* ``<field>_above_<N>k_tokens`` → ``[[model.price.above]]`` with ``input_tokens = N * 1000``. As
  in LiteLLM, a tier's rate it does not name is the next lower tier's, so each tier written
  carries the rates of the tiers below it. xAI's tiers are ``inclusive`` (``>=``), as in LiteLLM.
* ``_batches`` / ``_flex`` / ``_priority`` → the service tier ``batch`` / ``flex`` /
  ``priority``, inside the long-context tier when combined (``…_above_272k_tokens_batches``).
  A table of explicit rates (the rates it does not name stay the standard ones, as in LiteLLM),
  or ``"0.5"`` when it names every rate of its tier at exactly half.
* ``tiered_pricing`` (Qwen's ranges): the range starting at 0 gives the base rates, a range
  ``[lo, hi]`` an ``above`` tier with ``input_tokens = lo``. LiteLLM picks the range with
  ``lo < input <= hi``, so a request of exactly ``lo`` tokens stays in the lower range; our
  ``above`` is strictly greater too, so the two agree exactly when the ranges are contiguous
  (each ``lo`` = the previous ``hi``). LiteLLM prices a request that falls in a gap, or above
  the last range, at the last range; the book prices a gap at the range below it, so
  non-contiguous ranges are imported but reported as ``tiered_pricing.range``. Rates a range
  does not name are, as in LiteLLM, its input rate (cache reads, writes) or its output rate
  (reasoning), never another range's.
* ``input_cost_per_token_cache_hit`` (DeepSeek) is ``cache_read``: mapped when it agrees,
  reported when it differs. ``search_context_cost_per_query.search_context_size_medium`` → the
  fee ``web_search_requests`` (low and high are reported). ``source`` → the entry's ``source``.
  ``alias_of`` entries → ``aliases`` of their target. Embeddings without an output rate get
  ``output = "0"``; image models without one, their ``output_image`` rate (LiteLLM bills all
  their output as image tokens).
* The model id is the key without its provider prefix (``gemini/gemini-2.5-pro`` →
  ``gemini-2.5-pro``; ``vertex_ai/`` for families such as ``vertex_ai-anthropic_models``).

Everything else that is priced (per second, per image, per character, per pixel, per query,
off-peak windows, regional uplifts, …), a value that is not a non-negative number, a model of
another mode, a key whose id is already taken (the first one wins) is *reported*, with the
field. The fields of a model that has no ``input`` or ``output`` rate are all reported, with the
missing one as ``"<field> (missing)"``. Non-price metadata (:data:`METADATA_KEYS`) is skipped
silently. Every model gets ``quality = "standard"`` (LiteLLM has no quality).

One module past the ~500-line mark on purpose: the field map, the reader and the TOML writer
are one concept (LiteLLM's schema), and a third of it is the schema's own tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tokenomy._invariant import invariant
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.quote import plain
from tokenomy.pricing.rates import CLASS_KEYS, MODALITY_NAMES, RATE_KEYS

BOOK_NAME = "litellm"
SOURCE = "https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json"
ENTRIES_MAX = 100_000  # keys one LiteLLM file may hold (1.110.2 has ~4,900)
ALIAS_HOPS_MAX = 8  # alias_of → alias_of → … chains followed at most this far
UNKNOWN_PROVIDER = "unknown"  # where entries without a litellm_provider are reported

PROVIDER_IDS: Mapping[str, str] = MappingProxyType({
    "openai": "openai", "anthropic": "anthropic", "gemini": "google", "deepseek": "deepseek",
    "dashscope": "qwen", "moonshot": "moonshot", "minimax": "minimax", "xai": "xai",
})
COUNTRIES: Mapping[str, str] = MappingProxyType({
    "openai": "US", "anthropic": "US", "google": "US", "xai": "US",
    "deepseek": "CN", "qwen": "CN", "moonshot": "CN", "minimax": "CN",
})
MODES = frozenset({"chat", "completion", "responses", "embedding", "audio_transcription",
                   "realtime", "image_generation"})
INCLUSIVE_PROVIDERS = frozenset({"xai"})  # LiteLLM bills their tiers from `>= threshold`

# Non-price metadata, skipped without a report. Anything not here and not mapped is reported.
METADATA_KEYS = frozenset({
    "audio_transcription_config", "bedrock_converse_supports_strict_tools",
    "bedrock_output_config_effort_ceiling", "comment", "default_reasoning_effort",
    "deprecation_date", "deprecation_source", "gemini_audio_only_live", "gemini_native_audio",
    "litellm_provider", "max_input_tokens", "max_output_tokens", "max_tokens", "metadata", "mode",
    "output_vector_size", "prompt_cache_min_tokens", "provider_specific_entry",
    "reasoning_contexts", "reasoning_effort_levels", "reasoning_modes", "rpm", "source",
    "successor_model", "thinking_always_on", "thinking_on_by_default",
    "tool_use_system_prompt_tokens", "tpm", "use_openai_responses_path", "uses_embed_content",
    "vertex_ai_audio_api", "web_search_billing_unit",
})
METADATA_PREFIXES = ("supports_", "supported_", "token_count_")

# LiteLLM per-token fields → our rate key; "cache_write" is "cache_write_5m" for Anthropic.
_RATE_FIELDS: Mapping[str, str] = MappingProxyType({
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "output_cost_per_reasoning_token": "reasoning",
    "input_cost_per_audio_token": "input_audio",
    "output_cost_per_audio_token": "output_audio",
    "cache_read_input_audio_token_cost": "cache_read_audio",
    "cache_creation_input_audio_token_cost": "cache_write_audio",
    "input_cost_per_image_token": "input_image",
    "output_cost_per_image_token": "output_image",
    "cache_read_input_image_token_cost": "cache_read_image",
    "input_cost_per_video_token": "input_video",
    "output_cost_per_video_token": "output_video",
})
_SERVICE_TIERS: Mapping[str, str] = MappingProxyType(
    {"batches": "batch", "flex": "flex", "priority": "priority"}
)
_RATE_FIELD = re.compile(
    "^(?P<base>" + "|".join(sorted(map(re.escape, _RATE_FIELDS), key=len, reverse=True)) + ")"
    r"(?:_above_(?P<n>\d{1,7})(?P<k>k?)_tokens)?(?:_(?P<svc>batches|flex|priority))?$"
)
_TIERED_FIELDS = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
                  "cache_creation_input_token_cost", "output_cost_per_reasoning_token")
_HALF = Decimal("0.5")
_MTOK = 1_000_000
_KEY_ORDER = {key: i for i, key in enumerate(
    [*CLASS_KEYS, *(f"{c}_{m}" for c in CLASS_KEYS for m in MODALITY_NAMES)]
)}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """One provider's book, converted from LiteLLM."""

    provider: str  # our provider id, or the litellm_provider name as-is
    toml: str  # a complete book file (docs/price-book.md), name = "litellm"
    models: int  # [[model]] tables in ``toml``
    unmapped: tuple[tuple[str, str], ...]  # (model key, field) not in the book, sorted


Rates = dict[str, Decimal]


@dataclass(slots=True)
class _Price:
    """One model's prices while it is being read (builder; not a core record)."""

    rates: Rates = field(default_factory=dict)
    above: dict[int, Rates] = field(default_factory=dict)
    services: dict[tuple[int | None, str], Rates] = field(default_factory=dict)  # (tier, name)
    fees: Rates = field(default_factory=dict)
    source: str = ""
    mapped: list[str] = field(default_factory=list)  # fields that went into the book


@dataclass(slots=True)
class _Group:
    """One provider's models while reading (model id → (LiteLLM key, price))."""

    models: dict[str, tuple[str, _Price]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # LiteLLM key → model id
    aliases: dict[str, list[str]] = field(default_factory=dict)  # model id → alias ids
    unmapped: set[tuple[str, str]] = field(default_factory=set)


def convert(data: Mapping[str, Any], *, valid_from: str,
            providers: Collection[str] | None = None) -> dict[str, ImportResult]:
    """Every provider's book (our provider id → result), from LiteLLM's parsed JSON."""
    _check_valid_from(valid_from)
    if not isinstance(data, Mapping):
        raise PricingError("LiteLLM data must be a JSON object of model key → entry")
    if len(data) > ENTRIES_MAX:
        raise PricingError(f"LiteLLM data has {len(data)} keys, more than {ENTRIES_MAX}")
    groups: dict[str, _Group] = {}

    def group(provider: str) -> _Group | None:
        if providers is not None and provider not in providers:
            return None
        return groups.setdefault(provider, _Group())

    for key, entry in data.items():
        if key == "sample_spec":
            continue
        if not isinstance(entry, Mapping):
            _report(group(UNKNOWN_PROVIDER), key, "entry")
            continue
        if "alias_of" in entry:
            continue  # once every model is in: see _aliases
        litellm_provider = entry.get("litellm_provider")
        if not isinstance(litellm_provider, str) or not litellm_provider:
            _report(group(UNKNOWN_PROVIDER), key, "litellm_provider")
            continue
        provider = PROVIDER_IDS.get(litellm_provider, litellm_provider)
        found = group(provider)
        if found is not None:
            _add_model(found, key, entry, provider, litellm_provider)
    _aliases(data, group)
    return {provider: _result(provider, g, valid_from) for provider, g in sorted(groups.items())}


def _report(group: _Group | None, key: str, name: str) -> None:
    if group is not None:
        group.unmapped.add((key, name))


def _check_valid_from(valid_from: str) -> None:
    try:
        if "T" in valid_from or " " in valid_from:
            datetime.fromisoformat(valid_from.replace("Z", "+00:00"))
        else:
            date.fromisoformat(valid_from)
    except (TypeError, ValueError):
        raise PricingError(f"valid_from: not an ISO date or datetime: {valid_from!r}") from None


def _model_id(key: str, litellm_provider: str) -> str:
    """The key without its provider prefix: ``gemini/`` for ``gemini``, and ``vertex_ai/``
    for a family such as ``vertex_ai-anthropic_models``."""
    for prefix in (f"{litellm_provider}/", f"{litellm_provider.split('-', 1)[0]}/"):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _add_model(group: _Group, key: str, entry: Mapping[str, Any], provider: str,
               litellm_provider: str) -> None:
    if entry.get("mode") not in MODES:
        group.unmapped.add((key, "mode"))
        return
    model_id = _model_id(key, litellm_provider)
    if not model_id or model_id in group.models:
        group.unmapped.add((key, "key"))
        if model_id:
            group.ids[key] = model_id  # its aliases name the id, so they go to the first
        return
    price, unmapped = _read_entry(entry, provider)
    group.unmapped.update((key, name) for name in unmapped)
    if price is not None:
        group.models[model_id] = (key, price)
        group.ids[key] = model_id


def _aliases(data: Mapping[str, Any], group: Callable[[str], _Group | None]) -> None:
    """``alias_of`` entries become ``aliases`` of the model they point to."""
    for key, entry in data.items():
        if not isinstance(entry, Mapping) or "alias_of" not in entry:
            continue
        target, hops = entry["alias_of"], 0
        while (isinstance(target, str) and isinstance(data.get(target), Mapping)
               and "alias_of" in data[target] and hops < ALIAS_HOPS_MAX):
            target, hops = data[target]["alias_of"], hops + 1
        aimed = data.get(target) if isinstance(target, str) else None
        litellm_provider = aimed.get("litellm_provider") if isinstance(aimed, Mapping) else None
        if not isinstance(litellm_provider, str) or not litellm_provider:
            _report(group(UNKNOWN_PROVIDER), key, "alias_of")
            continue
        found: _Group | None = group(PROVIDER_IDS.get(litellm_provider, litellm_provider))
        if found is None:
            continue
        for name in entry:
            if name != "alias_of" and not _is_metadata(name):
                found.unmapped.add((key, name))
        model_id = found.ids.get(target)
        alias = _model_id(key, litellm_provider)
        taken = {a for names in found.aliases.values() for a in names}
        if model_id is None or alias in found.models or alias in taken:
            found.unmapped.add((key, "alias_of"))
        elif alias != model_id:
            found.aliases.setdefault(model_id, []).append(alias)


def _is_metadata(name: str) -> bool:
    return name in METADATA_KEYS or name.startswith(METADATA_PREFIXES)


def _number(value: object) -> Decimal | None:
    """A JSON number as the exact decimal it was written as; None if not a number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = Decimal(repr(value))
    if not number.is_finite() or number < 0:
        return None
    return number


def _per_mtok(value: object) -> Decimal | None:
    number = _number(value)
    return None if number is None else number * _MTOK


def _rate_key(base: str, provider: str) -> str:
    key = _RATE_FIELDS[base]
    if provider == "anthropic" and key.startswith("cache_write") and not key.endswith("_1h"):
        key = key.replace("cache_write", "cache_write_5m", 1)
    invariant(key in RATE_KEYS, f"{key} is not a rate key")
    return key


def _read_entry(entry: Mapping[str, Any], provider: str) -> tuple[_Price | None, list[str]]:
    """One model's price, and the fields it could not map."""
    price, unmapped = _Price(), []
    for name, value in entry.items():
        if name in ("tiered_pricing", "input_cost_per_token_cache_hit"):
            continue  # read below, once every plain rate is in
        if name == "source":
            if isinstance(value, str):
                price.source = value
            else:
                unmapped.append(name)
        elif name == "search_context_cost_per_query":
            unmapped.extend(_read_search(value, price))
        elif name == "web_search_billing_unit":
            if value != "per_query":
                unmapped.append(name)
        elif not _is_metadata(name) and not _read_rate(name, value, provider, price):
            unmapped.append(name)
    _carry_tiers(price)
    if "tiered_pricing" in entry:
        unmapped.extend(_read_tiered(entry["tiered_pricing"], provider, price))
    if "input_cost_per_token_cache_hit" in entry:
        hit = _per_mtok(entry["input_cost_per_token_cache_hit"])
        if hit is not None and price.rates.setdefault("cache_read", hit) == hit:
            price.mapped.append("input_cost_per_token_cache_hit")
        else:
            unmapped.append("input_cost_per_token_cache_hit")
    if entry.get("mode") == "embedding":
        price.rates.setdefault("output", Decimal(0))
    if entry.get("mode") == "image_generation" and "output_image" in price.rates:
        price.rates.setdefault("output", price.rates["output_image"])  # LiteLLM's rule too
    missing = [f"{name}_cost_per_token (missing)" for name in ("input", "output")
               if name not in price.rates]
    if missing:
        return None, [*unmapped, *price.mapped, *missing]
    return price, unmapped


def _read_rate(name: str, value: object, provider: str, price: _Price) -> bool:
    """Put one ``*_cost_per_token``-style field into ``price``; False if it does not map."""
    match = _RATE_FIELD.match(name)
    rate = _per_mtok(value)
    if match is None or rate is None:
        return False
    key = _rate_key(match["base"], provider)
    tier = int(match["n"]) * (1000 if match["k"] else 1) if match["n"] else None
    if match["svc"]:
        price.services.setdefault((tier, _SERVICE_TIERS[match["svc"]]), {})[key] = rate
        if tier is not None:
            price.above.setdefault(tier, {})
    elif tier is None:
        price.rates[key] = rate
    else:
        price.above.setdefault(tier, {})[key] = rate
    price.mapped.append(name)
    return True


def _carry_tiers(price: _Price) -> None:
    """As LiteLLM does, a tier's rate it does not name is the next lower tier's."""
    below: Rates = {}
    for threshold in sorted(price.above):
        below = {**below, **price.above[threshold]}
        price.above[threshold] = below


def _read_search(value: object, price: _Price) -> list[str]:
    """``search_context_cost_per_query`` → the ``web_search_requests`` fee (medium size)."""
    field_name = "search_context_cost_per_query"
    if not isinstance(value, Mapping):
        return [field_name]
    unmapped = []
    for size, cost in value.items():
        fee = _number(cost) if size == "search_context_size_medium" else None
        if fee is None:
            unmapped.append(f"{field_name}.{size}")
        else:
            price.fees["web_search_requests"] = fee
            price.mapped.append(f"{field_name}.{size}")
    return unmapped


def _read_tiered(value: object, provider: str, price: _Price) -> list[str]:
    """Qwen-style ``tiered_pricing`` ranges → the base rates and ``above`` tiers."""
    ranges = _ranges(value)
    if ranges is None:
        return ["tiered_pricing"]
    unmapped = []
    contiguous = ranges[0][0] == 0 and all(
        ranges[i][0] == ranges[i - 1][1] for i in range(1, len(ranges)))
    if not contiguous:
        unmapped.append("tiered_pricing.range")
    for low, _, tier in ranges:
        rates: Rates = {}
        for name, cost in tier.items():
            rate = _per_mtok(cost) if name in _TIERED_FIELDS else None
            if rate is not None:
                rates[_rate_key(name, provider)] = rate
            elif name != "range":
                unmapped.append(f"tiered_pricing.{name}")
        # LiteLLM: a range's missing cache rates are its input rate, reasoning its output.
        for key in price.rates:
            if key not in rates and key in ("cache_read", "cache_write", "cache_write_5m"):
                rates[key] = rates["input"]
            elif key not in rates and key == "reasoning" and "output" in rates:
                rates[key] = rates["output"]
        if "cache_write_1h" in price.rates and "cache_write_1h" not in rates:
            write = rates.get("cache_write_5m", rates.get("cache_write", rates["input"]))
            rates["cache_write_1h"] = write
        if low == 0:
            price.rates.update(rates)
        else:
            price.above[low] = {**price.above.get(low, {}), **rates}
    price.mapped.append("tiered_pricing")
    return unmapped


def _ranges(value: object) -> list[tuple[int, Decimal, Mapping[str, Any]]] | None:
    """The ranges sorted by start, or None if LiteLLM would not price by them."""
    if not isinstance(value, list) or not value or len(value) > ENTRIES_MAX:
        return None
    ranges = []
    for tier in value:
        bounds = tier.get("range") if isinstance(tier, Mapping) else None
        if not isinstance(bounds, list) or len(bounds) != 2:
            return None
        low, high = (_number(b) for b in bounds)
        if low is None or high is None or high <= low or low != low.to_integral_value():
            return None
        if _per_mtok(tier.get("input_cost_per_token")) is None:
            return None  # LiteLLM skips a table without input rates
        ranges.append((int(low), high, tier))
    ranges.sort(key=lambda r: r[0])
    if len({r[0] for r in ranges}) != len(ranges):
        return None
    return ranges


# -- writing ---------------------------------------------------------------------------------


def _result(provider: str, group: _Group, valid_from: str) -> ImportResult:
    lines = [
        "# Imported from LiteLLM's model_prices_and_context_window.json by",
        "# `tokenomy prices import litellm` (format: docs/price-book.md).",
        "# USD per 1M tokens; fees per unit. Fields it could not map are listed by the command.",
        "",
        f"provider = {_string(provider)}",
    ]
    if provider in COUNTRIES:
        lines.append(f"country  = {_string(COUNTRIES[provider])}")
    lines += ['currency = "USD"', f"source   = {_string(SOURCE)}",
              f"name     = {_string(BOOK_NAME)}"]
    inclusive = provider in INCLUSIVE_PROVIDERS
    for model_id in sorted(group.models):
        key, price = group.models[model_id]
        lines += ["", f"[[model]]  # LiteLLM key {_string(key)}", f"id = {_string(model_id)}"]
        aliases = group.aliases.get(model_id)
        if aliases:
            lines.append(f"aliases = [{', '.join(_string(a) for a in sorted(aliases))}]")
        lines += ['quality = "standard"', ""]
        lines += _price_lines(price, valid_from, inclusive)
    return ImportResult(provider, "\n".join(lines) + "\n", len(group.models),
                        tuple(sorted(group.unmapped)))


def _price_lines(price: _Price, valid_from: str, inclusive: bool) -> Iterator[str]:
    yield "  [[model.price]]"
    yield f"  valid_from = {_string(valid_from)}"
    if price.source:
        yield f"  source = {_string(price.source)}"
    yield from (f"  {line}" for line in _rate_lines(price.rates))
    yield from (f"  {line}" for line in _service_lines(price, None, price.rates))
    if price.fees:
        yield f"  fees = {_inline(price.fees)}"
    for threshold in sorted(price.above):
        rates = price.above[threshold]
        yield ""
        yield "    [[model.price.above]]"
        yield f"    input_tokens = {threshold}"
        if inclusive:
            yield "    inclusive = true"
        yield from (f"    {line}" for line in _rate_lines(rates))
        effective = {**price.rates, **rates}
        yield from (f"    {line}" for line in _service_lines(price, threshold, effective))


def _rate_lines(rates: Rates) -> Iterator[str]:
    for key in sorted(rates, key=_KEY_ORDER.__getitem__):
        yield f"{key} = {_string(plain(rates[key]))}"


def _service_lines(price: _Price, tier: int | None, effective: Rates) -> Iterator[str]:
    for name in _SERVICE_TIERS.values():
        rates = price.services.get((tier, name))
        if not rates:
            continue
        halved = set(rates) == set(effective) and all(
            rate == effective[key] * _HALF for key, rate in rates.items())
        yield f'{name} = "0.5"' if halved else f"{name} = {_inline(rates)}"


def _inline(rates: Rates) -> str:
    keys = sorted(rates, key=lambda k: (_KEY_ORDER.get(k, len(_KEY_ORDER)), k))
    return "{ " + ", ".join(f"{k} = {_string(plain(rates[k]))}" for k in keys) + " }"


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate cannot be written as UTF-8
            out.append("\\uFFFD")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)

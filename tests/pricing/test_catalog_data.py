"""Data checks for the bundled price catalog (src/tokenomy/pricing/catalog/*.toml).

Standard library only: this validates the TOML data against docs/price-book.md without
importing ``tokenomy.pricing`` (the loader is a separate piece of work).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

CATALOG = Path(__file__).resolve().parents[2] / "src" / "tokenomy" / "pricing" / "catalog"

PROVIDERS = {
    "openai": "US",
    "anthropic": "US",
    "google": "US",
    "xai": "US",
    "deepseek": "CN",
    "qwen": "CN",
    "moonshot": "CN",
    "minimax": "CN",
    "simulator": "US",  # Tokenomy's own upstream simulator
}

MIN_MODELS = 60

# --- the key whitelist of docs/price-book.md -------------------------------------------------

RATE_CLASSES = (
    "input",
    "cache_read",
    "cache_write",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "reasoning",
)
MODALITIES = ("text", "image", "audio", "video", "document")
RATE_KEYS = frozenset([*RATE_CLASSES, *(f"{c}_{m}" for c in RATE_CLASSES for m in MODALITIES)])
SERVICE_TIERS = frozenset({"standard", "batch", "flex", "priority"})
FEE_KEYS = frozenset({"request", "web_search_requests"})
QUALITIES = frozenset({"frontier", "standard", "economy"})
TEXT_PRICEABLE = frozenset({"image", "document", "audio", "video"})

FILE_KEYS = frozenset({"provider", "country", "currency", "source", "name", "model"})
MODEL_KEYS = frozenset({"id", "aliases", "quality", "text_priced", "price", "reasoning_mode"})
ENTRY_KEYS = (
    frozenset({"valid_from", "valid_to", "source", "note", "multiplier", "above", "fees",
               "reasoning_mode"})
    | SERVICE_TIERS
    | RATE_KEYS
)
ABOVE_KEYS = frozenset({"input_tokens", "inclusive"}) | SERVICE_TIERS | RATE_KEYS
TIER_TABLE_KEYS = RATE_KEYS | {"multiplier"}

# --- price history that must be present (model, valid_from, rates) ---------------------------

HISTORY: list[tuple[str, str, dict[str, str]]] = [
    ("gpt-4o", "2024-05-13", {"input": "5.00", "output": "15.00"}),
    ("gpt-4o", "2024-10-02", {"input": "2.50", "cache_read": "1.25", "output": "10.00"}),
    ("gpt-4o-2024-05-13", "2024-05-13", {"input": "5.00", "output": "15.00"}),
    ("o3", "2025-04-16", {"input": "10.00", "cache_read": "2.50", "output": "40.00"}),
    ("o3", "2025-06-10", {"input": "2.00", "cache_read": "0.50", "output": "8.00"}),
    (
        "deepseek-chat",
        "2025-02-08T16:00:00Z",
        {"input": "0.27", "cache_read": "0.07", "output": "1.10"},
    ),
    (
        "deepseek-chat",
        "2025-09-05T16:00:00Z",
        {"input": "0.56", "cache_read": "0.07", "output": "1.68"},
    ),
    ("deepseek-chat", "2025-09-29", {"input": "0.28", "cache_read": "0.028", "output": "0.42"}),
    ("deepseek-reasoner", "2025-01-20", {"input": "0.55", "cache_read": "0.14", "output": "2.19"}),
    (
        "deepseek-reasoner",
        "2025-09-29",
        {"input": "0.28", "cache_read": "0.028", "output": "0.42"},
    ),
    (
        "gemini-2.5-flash",
        "2025-04-17",
        {"input": "0.15", "output": "0.60", "reasoning": "3.50", "input_audio": "1.00"},
    ),
    ("gemini-2.5-flash", "2025-06-17", {"input": "0.30", "output": "2.50", "input_audio": "1.00"}),
]

REQUIRED_IDS = {
    "simulator": "sim-small sim-large",
    "openai": """gpt-4o gpt-4o-mini gpt-4.1 gpt-4.1-mini gpt-4.1-nano gpt-4-turbo gpt-4
        gpt-3.5-turbo o1 o1-pro o1-mini o3 o3-pro o3-mini o4-mini gpt-5 gpt-5-chat-latest
        gpt-5-mini gpt-5-nano gpt-5-pro gpt-5.1 gpt-5.2 gpt-5.4 gpt-5.5 gpt-4o-realtime-preview
        gpt-realtime gpt-realtime-mini gpt-4o-audio-preview gpt-audio gpt-audio-mini
        gpt-4o-transcribe gpt-4o-mini-transcribe gpt-image-1 text-embedding-3-small
        text-embedding-3-large text-embedding-ada-002 computer-use-preview""",
    "anthropic": """claude-opus-4-8 claude-opus-4-7 claude-opus-4-6 claude-opus-4-5
        claude-opus-4-1 claude-opus-4-0 claude-opus-4 claude-opus-4-20250514 claude-sonnet-4-6
        claude-sonnet-4-5 claude-sonnet-4-5-20250929 claude-sonnet-4-0 claude-sonnet-4
        claude-sonnet-4-20250514 claude-3-7-sonnet claude-3-7-sonnet-20250219
        claude-3-7-sonnet-latest claude-haiku-4-5 claude-haiku-4-5-20251001 claude-3-5-haiku
        claude-3-5-haiku-20241022 claude-3-5-haiku-latest claude-3-5-sonnet claude-3-haiku
        claude-3-haiku-20240307 claude-3-opus""",
    "google": """gemini-2.0-flash gemini-2.0-flash-lite gemini-2.5-pro gemini-2.5-flash
        gemini-2.5-flash-lite gemini-3-pro-preview gemini-3.1-pro-preview
        gemini-3-flash-preview""",
    "deepseek": "deepseek-chat deepseek-reasoner",
    "qwen": """qwen-max qwen-plus qwen-turbo qwen-flash qwen3-max qwen3-coder-plus qwen-vl-max
        qwen-vl-plus qwen3-vl-plus""",
    "moonshot": """kimi-k2-0711-preview kimi-k2-0905-preview kimi-k2-turbo-preview
        kimi-k2-thinking kimi-k2.5 moonshot-v1-128k""",
    "minimax": "MiniMax-M2 MiniMax-M2.1 MiniMax-M2.5 MiniMax-Text-01",
    "xai": """grok-4 grok-4-fast-reasoning grok-4-fast-non-reasoning grok-3 grok-3-mini
        grok-code-fast-1""",
}

# --- helpers -----------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


BOOKS: dict[str, dict[str, Any]] = {p.stem: _load(p) for p in sorted(CATALOG.glob("*.toml"))}


def _models() -> Iterator[tuple[str, dict[str, Any]]]:
    for stem, book in BOOKS.items():
        for model in book.get("model", []):
            yield stem, model


def _model(model_id: str) -> dict[str, Any]:
    for _, model in _models():
        if model["id"] == model_id:
            return model
    raise AssertionError(f"model {model_id!r} not in the catalog")


def _when(value: object, where: str) -> datetime:
    assert isinstance(value, str), f"{where}: dates are ISO strings, got {value!r}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:  # pragma: no cover - failure path
        raise AssertionError(f"{where}: not an ISO date/datetime: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decimal(value: object, where: str) -> Decimal:
    # bool is an int subclass; reject it explicitly along with int and float.
    assert isinstance(value, str) and not isinstance(value, bool), (
        f"{where}: rates are decimal strings, got {type(value).__name__} {value!r}"
    )
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise AssertionError(f"{where}: {value!r} is not a decimal") from exc
    assert number.is_finite(), f"{where}: {value!r} is not finite"
    assert number >= 0, f"{where}: {value!r} is negative"
    return number


def _check_rates(table: dict[str, Any], where: str) -> None:
    for key in RATE_KEYS & table.keys():
        _decimal(table[key], f"{where}.{key}")


def _check_tier(value: object, where: str) -> None:
    if isinstance(value, str):
        _decimal(value, where)
        return
    assert isinstance(value, dict), f"{where}: a multiplier string or a table, got {value!r}"
    unknown = value.keys() - TIER_TABLE_KEYS
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    assert value, f"{where}: empty service-tier table"
    _check_rates(value, where)
    if "multiplier" in value:
        _decimal(value["multiplier"], f"{where}.multiplier")


def _check_tiers(table: dict[str, Any], where: str) -> None:
    for tier in SERVICE_TIERS & table.keys():
        _check_tier(table[tier], f"{where}.{tier}")


# --- tests -------------------------------------------------------------------------------------


def test_every_provider_file_present() -> None:
    assert set(BOOKS) == set(PROVIDERS), sorted(BOOKS)


@pytest.mark.parametrize("stem", sorted(PROVIDERS))
def test_file_header(stem: str) -> None:
    book = BOOKS[stem]
    unknown = book.keys() - FILE_KEYS
    assert not unknown, f"{stem}: unknown top-level keys {sorted(unknown)}"
    assert book["provider"] == stem
    assert book["country"] == PROVIDERS[stem]
    assert book["currency"] == "USD"
    assert book["name"] == "bundled"
    assert isinstance(book["source"], str) and book["source"].startswith("http")
    assert book.get("model"), f"{stem}: no models"


@pytest.mark.parametrize("stem", sorted(PROVIDERS))
def test_required_models_present(stem: str) -> None:
    known: set[str] = set()
    for model in BOOKS[stem]["model"]:
        known.add(model["id"])
        known.update(model.get("aliases", []))
    missing = set(REQUIRED_IDS[stem].split()) - known
    assert not missing, f"{stem}: missing {sorted(missing)}"


def test_model_count() -> None:
    count = sum(1 for _ in _models())
    assert count >= MIN_MODELS, count


def test_ids_and_aliases_unique_across_files() -> None:
    seen: dict[str, str] = {}
    for stem, model in _models():
        for name in [model["id"], *model.get("aliases", [])]:
            assert isinstance(name, str) and name, f"{stem}: bad id/alias {name!r}"
            assert name not in seen, f"{name!r} in {stem} and {seen[name]}"
            seen[name] = stem


@pytest.mark.parametrize(
    ("stem", "model"),
    [pytest.param(stem, model, id=model["id"]) for stem, model in _models()],
)
def test_model(stem: str, model: dict[str, Any]) -> None:
    where = f"{stem}/{model['id']}"
    unknown = model.keys() - MODEL_KEYS
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    assert model.get("quality") in QUALITIES, f"{where}: quality {model.get('quality')!r}"
    aliases = model.get("aliases", [])
    assert isinstance(aliases, list) and all(isinstance(a, str) for a in aliases), where
    if "text_priced" in model:
        text_priced = model["text_priced"]
        assert isinstance(text_priced, list), where
        assert set(text_priced) <= TEXT_PRICEABLE, f"{where}: text_priced {text_priced}"
        assert len(set(text_priced)) == len(text_priced), where

    entries = model.get("price")
    assert isinstance(entries, list) and entries, f"{where}: no [[model.price]] entries"
    previous: datetime | None = None
    for index, entry in enumerate(entries):
        at = f"{where}.price[{index}]"
        unknown = entry.keys() - ENTRY_KEYS
        assert not unknown, f"{at}: unknown keys {sorted(unknown)}"
        assert "input" in entry and "output" in entry, f"{at}: input and output are required"
        start = _when(entry.get("valid_from"), f"{at}.valid_from")
        if previous is not None:
            assert start > previous, f"{at}: valid_from not strictly increasing"
        previous = start
        if "valid_to" in entry:
            assert _when(entry["valid_to"], f"{at}.valid_to") > start, at
        assert isinstance(entry.get("source", BOOKS[stem]["source"]), str), at
        if "note" in entry:
            assert isinstance(entry["note"], str) and entry["note"].strip(), at
        _check_rates(entry, at)
        _check_tiers(entry, at)
        if "multiplier" in entry:
            _decimal(entry["multiplier"], f"{at}.multiplier")
        fees = entry.get("fees", {})
        assert isinstance(fees, dict), at
        unknown = fees.keys() - FEE_KEYS
        assert not unknown, f"{at}.fees: unknown counters {sorted(unknown)}"
        for key, value in fees.items():
            _decimal(value, f"{at}.fees.{key}")

        above = entry.get("above", [])
        assert isinstance(above, list), at
        threshold = 0
        for t_index, tier in enumerate(above):
            t_at = f"{at}.above[{t_index}]"
            unknown = tier.keys() - ABOVE_KEYS
            assert not unknown, f"{t_at}: unknown keys {sorted(unknown)}"
            tokens = tier.get("input_tokens")
            assert isinstance(tokens, int) and not isinstance(tokens, bool), t_at
            assert tokens > threshold, f"{t_at}: input_tokens must increase"
            threshold = tokens
            assert RATE_KEYS & tier.keys(), f"{t_at}: a tier must change at least one rate"
            _check_rates(tier, t_at)
            _check_tiers(tier, t_at)


def test_no_float_or_int_anywhere_a_number_could_hide() -> None:
    """Only `input_tokens` may be an integer (and `inclusive` a boolean); nothing a float."""

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")
        else:
            assert not isinstance(node, float), f"{path}: float {node!r}"
            if isinstance(node, bool):
                assert path.endswith(".inclusive"), path
            elif isinstance(node, int):
                assert path.endswith(".input_tokens"), path

    for stem, book in BOOKS.items():
        walk(book, stem)


@pytest.mark.parametrize(("model_id", "valid_from", "rates"), HISTORY)
def test_price_history(model_id: str, valid_from: str, rates: dict[str, str]) -> None:
    entries = _model(model_id)["price"]
    if not model_id.startswith("gpt-4o-2024"):  # dated snapshots keep one price forever
        assert len(entries) >= 2, f"{model_id}: expected a price history"
    wanted = _when(valid_from, model_id)
    matches = [e for e in entries if _when(e["valid_from"], model_id) == wanted]
    assert matches, f"{model_id}: no entry valid from {valid_from}"
    for key, value in rates.items():
        assert Decimal(matches[0][key]) == Decimal(value), f"{model_id}@{valid_from}.{key}"


def test_anthropic_cache_multipliers() -> None:
    """5m write 1.25x, 1h write 2x, read 0.1x of base input, written explicitly."""
    for model in BOOKS["anthropic"]["model"]:
        for entry in model["price"]:
            tiers = [entry, *entry.get("above", [])]
            for table in tiers:
                base = Decimal(table["input"])
                assert Decimal(table["cache_write_1h"]) == base * 2, model["id"]
                # Haiku 3 is listed at 0.30 / 0.03 (exact: 0.3125 / 0.025, rounded by Anthropic).
                read = Decimal(table["cache_read"])
                assert abs(read - base / 10) <= Decimal("0.005"), model["id"]
                write_5m = Decimal(table["cache_write_5m"])
                assert abs(write_5m - base * Decimal("1.25")) <= Decimal("0.0125"), model["id"]


def test_long_context_tiers() -> None:
    def top(model_id: str) -> dict[str, Any]:
        entry = _model(model_id)["price"][-1]
        assert entry.get("above"), model_id
        return entry["above"][-1]

    for model_id in ("claude-sonnet-4-0", "claude-sonnet-4-5", "claude-sonnet-4-6"):
        tier = top(model_id)
        assert tier["input_tokens"] == 200000
        assert (tier["input"], tier["output"]) == ("6.00", "22.50")
        assert (tier["cache_write_5m"], tier["cache_write_1h"], tier["cache_read"]) == (
            "7.50",
            "12.00",
            "0.60",
        )
    assert top("gemini-2.5-pro")["input"] == "2.50"
    assert top("gemini-3-pro-preview")["output"] == "18.00"
    assert top("gpt-5.4")["input_tokens"] == 272000
    assert top("gpt-5.5")["input"] == "10.00"
    qwen3_max = _model("qwen3-max")["price"][-1]["above"]
    assert [t["input_tokens"] for t in qwen3_max] == [32000, 128000]
    assert [(t["input"], t["output"]) for t in qwen3_max] == [
        ("2.40", "12.00"),
        ("3.00", "15.00"),
    ]


def test_gemini_modalities() -> None:
    for model in BOOKS["google"]["model"]:
        if model["id"].startswith("gemini-embedding"):
            continue
        assert "video" in model.get("text_priced", []), model["id"]
        audio_is_text = "audio" in model["text_priced"]
        has_audio_rate = "input_audio" in model["price"][-1]
        assert audio_is_text != has_audio_rate, f"{model['id']}: audio must be priced exactly once"

"""`tokenomy prices import litellm`: LiteLLM's price JSON converted into price books.

The fixture ``fixtures/litellm_small.json`` holds one model per mapping rule; the last tests
convert LiteLLM's own full file (from the installed package) and price 1,000 input + 500 output
tokens of every plain chat model both ways.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from tokenomy.meter.usage import Usage
from tokenomy.pricing.book import PriceBook, PriceEntry
from tokenomy.pricing.catalog import parse_book
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.importers import ImportResult, convert_litellm
from tokenomy.pricing.importers.litellm import PROVIDER_IDS, convert
from tokenomy.pricing.quote import quote

FIXTURE = Path(__file__).parent / "fixtures" / "litellm_small.json"
VALID_FROM = "2026-01-01"
AT = datetime(2026, 6, 1, tzinfo=UTC)
D = Decimal


def _fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def _entries(result: ImportResult) -> dict[str, PriceEntry]:
    return {e.model: e for e in parse_book(result.toml, "litellm.toml")}


def _book(*results: ImportResult) -> PriceBook:
    book = PriceBook()
    for result in results:
        book.add_layer(f"litellm-{result.provider}", parse_book(result.toml, "litellm.toml"))
    return book


@pytest.fixture(scope="module")
def small() -> dict[str, ImportResult]:
    return convert(_fixture(), valid_from=VALID_FROM)


def test_one_book_per_provider_with_our_provider_ids(small: dict[str, ImportResult]) -> None:
    assert sorted(small) == ["anthropic", "deepseek", "google", "openai", "qwen", "unknown",
                             "vertex_ai-anthropic_models", "xai"]
    assert convert_litellm is convert
    for provider, result in small.items():
        assert result.provider == provider
        entries = parse_book(result.toml, "litellm.toml")  # no BookError
        assert len(entries) == result.models
        head = tomllib.loads(result.toml)
        assert head["provider"] == provider and head["name"] == "litellm"
        assert head["currency"] == "USD"
        for model in head.get("model", []):
            assert model["quality"] == "standard" and "text_priced" not in model
        assert list(result.unmapped) == sorted(result.unmapped)
    assert tomllib.loads(small["qwen"].toml)["country"] == "CN"
    assert "country" not in tomllib.loads(small["vertex_ai-anthropic_models"].toml)


def test_plain_rates_become_exact_per_million_strings(small: dict[str, ImportResult]) -> None:
    gpt = _entries(small["openai"])["gpt-test"]
    assert dict(gpt.rates) == {
        "input": D("2.5"), "output": D("15"), "cache_read": D("0.25"), "reasoning": D("20"),
        "input_audio": D("32"), "output_audio": D("64"), "cache_read_audio": D("0.4"),
        "input_image": D("5"), "output_image": D("40"), "cache_read_image": D("1.25"),
    }
    assert gpt.source == "https://example.com/openai-pricing"
    assert gpt.version == f"litellm/gpt-test@{VALID_FROM}"
    assert gpt.quality == "standard" and gpt.text_priced == ("image", "document")
    deepseek = _entries(small["deepseek"])["deepseek-test"]
    assert dict(deepseek.rates) == {"input": D("0.28"), "cache_read": D("0.028"),
                                    "output": D("0.42")}
    text = small["deepseek"].toml
    assert 'cache_read = "0.028"' in text and "0.0279" not in text


@pytest.mark.parametrize(("per_token", "per_mtok"), [
    (3e-06, "3"), (2.8e-08, "0.028"), (1.25e-07, "0.125"), (1.0000000000000001e-07,
                                                             "0.10000000000000001"),
    (0, "0"), (0.0, "0"), (1e-05, "10"), (2, "2000000"),
])
def test_float_costs_convert_without_float_error(per_token: float, per_mtok: str) -> None:
    data = {"m": {"litellm_provider": "openai", "mode": "chat",
                  "input_cost_per_token": per_token, "output_cost_per_token": per_token}}
    text = convert(data, valid_from=VALID_FROM)["openai"].toml
    assert f'input = "{per_mtok}"' in text


def test_service_tiers_half_collapses_others_stay_tables(small: dict[str, ImportResult]) -> None:
    gpt = _entries(small["openai"])["gpt-test"]
    batch = gpt.service_tiers["batch"]  # every rate of the entry at exactly one half
    assert batch.multiplier == D("0.5") and not batch.rates
    assert 'batch = "0.5"' in small["openai"].toml
    flex = gpt.service_tiers["flex"]  # half, but names only input and output: a table
    assert flex.multiplier == 1 and dict(flex.rates) == {"input": D("1.25"), "output": D("7.5")}
    priority = gpt.service_tiers["priority"]
    assert dict(priority.rates) == {"input": D("5"), "cache_read": D("0.5"), "output": D("30")}
    claude = _entries(small["anthropic"])["claude-test"]
    assert dict(claude.service_tiers["batch"].rates) == {"input": D("1.5"), "output": D("7.5")}


def test_above_tiers_and_their_batch_tables(small: dict[str, ImportResult]) -> None:
    (tier,) = _entries(small["openai"])["gpt-test"].tiers
    assert tier.input_tokens == 272_000 and not tier.inclusive
    assert dict(tier.rates) == {"input": D("5"), "output": D("22.5")}
    # Half of the tier's input and output, but not of the base cache_read etc.: a table.
    assert dict(tier.service_tiers["batch"].rates) == {"input": D("2.5"), "output": D("11.25")}
    claude = _entries(small["anthropic"])["claude-test"]
    assert dict(claude.rates) == {"input": D("3"), "output": D("15"), "cache_read": D("0.3"),
                                  "cache_write_5m": D("3.75"), "cache_write_1h": D("6")}
    (long,) = claude.tiers
    assert long.input_tokens == 200_000
    assert dict(long.rates) == {"input": D("6"), "output": D("22.5"), "cache_read": D("0.6"),
                                "cache_write_5m": D("7.5"), "cache_write_1h": D("12")}
    vertex = _entries(small["vertex_ai-anthropic_models"])["claude-vertex-test"]
    assert "cache_write" in vertex.rates  # only first-party Anthropic writes are 5-minute


def test_a_tier_keeps_the_rates_of_the_tiers_below_it(small: dict[str, ImportResult]) -> None:
    low, high = _entries(small["google"])["gemini-test"].tiers
    assert (low.input_tokens, high.input_tokens) == (128_000, 200_000)
    assert dict(low.rates) == {"input": D("2.5"), "cache_read": D("0.25")}
    # LiteLLM: >200K has no cache_read of its own, so the >128K one stays in force.
    assert dict(high.rates) == {"input": D("5"), "cache_read": D("0.25"), "output": D("15")}


def test_xai_tiers_are_inclusive(small: dict[str, ImportResult]) -> None:
    book = _book(small["xai"])
    (tier,) = book.entry("grok-test", AT).tiers
    assert tier.inclusive
    at_threshold = quote(book, Usage.build(200_000), "grok-test", AT)
    below = quote(book, Usage.build(199_999), "grok-test", AT)
    assert at_threshold.total == 200_000 * 4_000 and below.total == 199_999 * 2_000


def test_tiered_pricing_ranges_become_above_tiers(small: dict[str, ImportResult]) -> None:
    entries = _entries(small["qwen"])
    qwen = entries["qwen-test"]
    assert dict(qwen.rates) == {"input": D("1"), "output": D("5"), "cache_read": D("0.1"),
                                "reasoning": D("10")}
    assert [t.input_tokens for t in qwen.tiers] == [32_000, 128_000]
    # A range's missing cache_read is its input rate, its missing reasoning its output rate.
    assert dict(qwen.tiers[0].rates) == {"input": D("1.8"), "output": D("9"),
                                         "cache_read": D("1.8"), "reasoning": D("9")}
    assert dict(qwen.tiers[1].rates) == {"input": D("3"), "output": D("15"),
                                         "cache_read": D("0.3"), "reasoning": D("30")}
    # LiteLLM: range [lo, hi] holds lo < input <= hi, so exactly 32,000 stays in the first.
    book = _book(small["qwen"])
    assert quote(book, Usage.build(32_000), "qwen-test", AT).total == 32_000 * 1_000
    assert quote(book, Usage.build(32_001), "qwen-test", AT).total == 32_001 * 1_800
    assert quote(book, Usage.build(300_000), "qwen-test", AT).total == 300_000 * 3_000
    # Ranges with a gap are imported at their start, and reported.
    assert [t.input_tokens for t in entries["qwen-gap"].tiers] == [32_001]


def test_search_fee_embeddings_cache_hit_and_aliases(small: dict[str, ImportResult]) -> None:
    openai = _entries(small["openai"])
    assert dict(openai["gpt-test"].fees) == {"web_search_requests": D("0.035")}
    assert openai["text-embedding-test"].rates["output"] == 0
    deepseek = _entries(small["deepseek"])
    assert deepseek["deepseek-test"].rates["input"] == D("0.28")  # the first key won
    assert deepseek["deepseek-odd"].rates["cache_read"] == D("0.028")
    assert _entries(small["xai"])["grok-test"].aliases == ("grok-test-latest",)
    book = _book(small["xai"])
    assert quote(book, Usage.build(10), "grok-test-latest", AT).model == "grok-test-latest"


def test_every_unmapped_field_is_listed(small: dict[str, ImportResult]) -> None:
    assert {p: r.unmapped for p, r in small.items()} == {
        "openai": (
            ("gpt-realtime-test", "cache_read_input_token_cost"),  # negative
            ("gpt-realtime-test", "input_cost_per_second"),
            ("gpt-test", "fedramp_uplift_multiplier"),
            ("gpt-test", "input_cost_per_video_per_second"),
            ("gpt-test", "search_context_cost_per_query.search_context_size_high"),
            ("gpt-test", "search_context_cost_per_query.search_context_size_low"),
            ("string-price-test", "input_cost_per_token"),  # a string, not a number
            ("string-price-test", "input_cost_per_token (missing)"),
            ("string-price-test", "output_cost_per_token"),  # mapped, but the model is out
            ("tts-test", "mode"),
            ("whisper-test", "input_cost_per_second"),
            ("whisper-test", "input_cost_per_token (missing)"),
            ("whisper-test", "output_cost_per_second"),
            ("whisper-test", "output_cost_per_token (missing)"),
        ),
        "anthropic": (("claude-test", "cache_creation_input_token_cost_above_12hr"),),
        "google": (("gemini/gemini-test", "input_cost_per_token_ultrafast"),),
        "deepseek": (("deepseek-test", "key"),
                     ("deepseek/deepseek-odd", "input_cost_per_token_cache_hit")),
        "qwen": (("dashscope/qwen-gap", "tiered_pricing.input_cost_per_second"),
                 ("dashscope/qwen-gap", "tiered_pricing.range")),
        "xai": (),
        "vertex_ai-anthropic_models": (),
        "unknown": (("fallback_generalizations", "litellm_provider"),
                    ("xai/grok-dangling", "alias_of")),
    }
    assert small["openai"].models == 3  # gpt-test, gpt-realtime-test, text-embedding-test


def test_providers_filter_by_our_ids() -> None:
    results = convert(_fixture(), valid_from=VALID_FROM, providers=["google", "xai"])
    assert sorted(results) == ["google", "xai"]
    assert results["xai"].models == 1 and "grok-test-latest" in results["xai"].toml


def test_bad_valid_from_and_bad_data_are_typed_errors() -> None:
    with pytest.raises(PricingError, match="valid_from"):
        convert({}, valid_from="next tuesday")
    with pytest.raises(PricingError, match="JSON object"):
        convert([], valid_from=VALID_FROM)  # type: ignore[arg-type]
    assert convert({}, valid_from="2026-01-01T12:00:00Z") == {}


def test_ids_with_any_characters_round_trip() -> None:
    odd = 'we"ird\\id\nwith\ttabs, \x7f, ünïcode and 🙂'
    data = {f"openai/{odd}": {"litellm_provider": "openai", "mode": "chat",
                              "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}
    result = convert(data, valid_from=VALID_FROM)["openai"]
    (entry,) = parse_book(result.toml, "litellm.toml")
    assert entry.model == odd


# -- LiteLLM's own file ---------------------------------------------------------------------


def _litellm_file() -> Path:
    spec = importlib.util.find_spec("litellm")  # finds it without importing (no network)
    if spec is None or spec.origin is None:
        pytest.skip("litellm is not installed")
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def full() -> tuple[dict[str, Any], dict[str, ImportResult]]:
    data: dict[str, Any] = json.loads(_litellm_file().read_text(encoding="utf-8"))
    return data, convert(data, valid_from=VALID_FROM)


def test_the_full_file_converts_and_every_book_parses(
    full: tuple[dict[str, Any], dict[str, ImportResult]],
) -> None:
    _, results = full
    assert {"openai", "anthropic", "google", "deepseek", "qwen", "xai"} <= set(results)
    assert sum(r.models for r in results.values()) > 1_000
    for result in results.values():
        assert len(parse_book(result.toml, "litellm.toml")) == result.models
    fields = {name for r in results.values() for _, name in r.unmapped}
    assert {"input_cost_per_second", "output_cost_per_image", "mode"} <= fields
    assert not fields & {"max_tokens", "supports_vision", "litellm_provider_x", "source"}


def _nano(value: Decimal) -> int:
    return int(value.scaleb(9).quantize(D(1), rounding=ROUND_HALF_EVEN))


def test_quotes_equal_litellm_decimal_arithmetic(
    full: tuple[dict[str, Any], dict[str, ImportResult]],
) -> None:
    data, results = full
    books = {provider: _book(result) for provider, result in results.items()}
    checked = exact = 0
    for key, entry in data.items():
        if key == "sample_spec" or entry.get("mode") != "chat" or "tiered_pricing" in entry:
            continue
        cost_in, cost_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if not all(type(c) in (int, float) and c >= 0 for c in (cost_in, cost_out)):
            continue
        provider = entry["litellm_provider"]
        book = books[PROVIDER_IDS.get(provider, provider)]
        model = key.removeprefix(f"{provider}/")
        if book.canonical(model) != model:
            continue
        rates = book.entry(model, AT).rates
        if (rates["input"], rates["output"]) != (D(repr(cost_in)) * 10**6,
                                                 D(repr(cost_out)) * 10**6):
            continue  # a key whose id an earlier key took (reported as unmapped "key")
        litellm = D(repr(cost_in)) * 1000 + D(repr(cost_out)) * 500  # USD
        ours = quote(book, Usage.build(1000, output=500), model, AT)
        assert ours.total == _nano(D(repr(cost_in)) * 1000) + _nano(D(repr(cost_out)) * 500)
        assert abs(D(ours.total) - litellm.scaleb(9)) <= 1, key
        checked += 1
        exact += D(ours.total) == litellm.scaleb(9)
    assert checked >= 200 and exact >= 200

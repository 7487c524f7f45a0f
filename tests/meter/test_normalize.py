"""Conformance of the provider usage normalizers.

Each ``fixtures/usage/*.json`` is one case: a native ``usage`` object as a provider returns it
and either the canonical counts it must become (``expect``) or the field a ``UsageError`` must
name (``expect_error``). ``bug_class`` says which cost bug (gateways.md §3) the case guards.
When ``expect`` has no ``by_modality``, every token must be text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tokenomy.meter.errors import MeterError, UnknownModelError, UsageError
from tokenomy.meter.normalize import (
    ALIASES,
    APIS,
    PROVIDERS,
    normalize,
    normalizer,
    supported,
)
from tokenomy.meter.normalize import __all__ as public_names

FIXTURES = Path(__file__).parent / "fixtures" / "usage"
CASES = sorted(FIXTURES.glob("*.json"))
BUG_CLASSES = {"bucket_semantics", "modality_rate", "shape"}


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


def _nonzero_by_modality(by_modality: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {}
    for modality, classes in by_modality.items():
        kept = {c: n for c, n in classes.items() if n}
        if kept:
            out[modality] = kept
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_fixture(path: Path) -> None:
    case = _load(path)
    assert case["name"] == path.stem
    assert case["bug_class"] in BUG_CLASSES
    if "expect_error" in case:
        with pytest.raises(UsageError) as info:
            normalize(case["provider"], case["api"], case["usage"])
        assert info.value.field == case["expect_error"]["field"], str(info.value)
        return
    got = normalize(case["provider"], case["api"], case["usage"]).to_json()
    expect = case["expect"]
    assert got["tokens"] == expect["tokens"]
    text_only = {"text": {c: n for c, n in expect["tokens"].items() if n}}
    assert _nonzero_by_modality(got["by_modality"]) == _nonzero_by_modality(
        expect.get("by_modality", text_only)
    )
    assert {k: n for k, n in got["cache_write_ttl"].items() if n} == expect.get(
        "cache_write_ttl", {}
    )
    assert got["extras"] == expect.get("extras", {})
    assert got["estimated"] is False


def test_fixture_corpus_covers_every_supported_pair() -> None:
    seen = set()
    for path in CASES:
        case = _load(path)
        seen.add((ALIASES.get(case["provider"], case["provider"]), case["api"]))
    # Anthropic-compatible endpoints reuse one normalizer; one provider of them is enough.
    missing = {pair for pair in supported() if pair not in seen and pair[1] != "messages"}
    assert not missing
    assert len(CASES) >= 40


def test_public_names_sorted() -> None:
    """Sorted the way ruff (RUF022, isort style) sorts: CONSTANTS, Classes, functions."""

    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(public_names) == sorted(public_names, key=kind)


def test_supported_table() -> None:
    pairs = supported()
    assert pairs == tuple(sorted(pairs))
    assert {p for p, _ in pairs} == set(PROVIDERS)
    assert {a for _, a in pairs} == set(APIS)
    for provider, api in pairs:
        assert normalizer(provider, api) is normalizer(provider.upper(), f" {api} ")


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases(alias: str) -> None:
    target = ALIASES[alias]
    for provider, api in supported():
        if provider == target:
            assert normalizer(alias, api) is normalizer(provider, api)


def test_unknown_provider() -> None:
    with pytest.raises(UnknownModelError) as info:
        normalize("acme", "chat", {"prompt_tokens": 1, "completion_tokens": 1})
    assert info.value.name == "acme"
    assert "provider" in str(info.value)


def test_unsupported_pair_names_valid_apis() -> None:
    with pytest.raises(UnknownModelError) as info:
        normalize("anthropic", "chat", {"input_tokens": 1, "output_tokens": 1})
    assert info.value.name == "anthropic/chat"
    assert "anthropic supports api: messages" in str(info.value)
    assert isinstance(info.value, MeterError)


@pytest.mark.parametrize("usage", [None, [], "12", 12])
def test_usage_must_be_an_object(usage: Any) -> None:
    for provider, api in supported():
        with pytest.raises(UsageError) as info:
            normalize(provider, api, usage)
        assert info.value.field == "usage"


def test_openai_rule_is_not_the_anthropic_rule() -> None:
    """Same numbers, two providers: OpenAI's prompt includes cached tokens, Anthropic's
    input_tokens does not (LiteLLM #9812, Aider #5516)."""
    oa = normalize("openai", "chat", {"prompt_tokens": 1000, "completion_tokens": 10,
                                      "prompt_tokens_details": {"cached_tokens": 800}})
    an = normalize("anthropic", "messages", {"input_tokens": 1000, "output_tokens": 10,
                                             "cache_read_input_tokens": 800})
    assert (oa.total_input, oa.tokens("input")) == (1000, 200)
    assert (an.total_input, an.tokens("input")) == (1800, 1000)


def test_gemini_camel_and_snake_agree() -> None:
    camel = {"promptTokenCount": 100, "cachedContentTokenCount": 40, "candidatesTokenCount": 7,
             "thoughtsTokenCount": 3, "toolUsePromptTokenCount": 5, "totalTokenCount": 115,
             "promptTokensDetails": [{"modality": "IMAGE", "tokenCount": 60},
                                     {"modality": "TEXT", "tokenCount": 40}],
             "cacheTokensDetails": [{"modality": "IMAGE", "tokenCount": 40}]}
    snake = {"prompt_token_count": 100, "cached_content_token_count": 40,
             "candidates_token_count": 7, "thoughts_token_count": 3,
             "tool_use_prompt_token_count": 5, "total_token_count": 115,
             "prompt_tokens_details": [{"modality": "IMAGE", "token_count": 60},
                                       {"modality": "TEXT", "token_count": 40}],
             "cache_tokens_details": [{"modality": "IMAGE", "token_count": 40}]}
    assert normalize("google", "generate_content", camel) == normalize(
        "gemini", "generate_content", snake
    )


def test_gemini_mixed_spellings_rejected() -> None:
    with pytest.raises(UsageError):
        normalize("google", "generate_content",
                  {"prompt_token_count": 10, "promptTokenCount": 10})


@pytest.mark.parametrize("bad", [True, 1.0, "1", -1, [1], {"n": 1}])
def test_bad_counts_rejected_everywhere(bad: Any) -> None:
    cases = [
        ("openai", "chat", {"prompt_tokens": bad, "completion_tokens": 1}, "prompt_tokens"),
        ("openai", "responses", {"input_tokens": 1, "output_tokens": 1,
                                 "output_tokens_details": {"reasoning_tokens": bad}},
         "output_tokens_details.reasoning_tokens"),
        ("anthropic", "messages", {"input_tokens": 1, "output_tokens": 1,
                                   "cache_creation_input_tokens": bad},
         "cache_creation_input_tokens"),
        ("google", "generate_content", {"promptTokenCount": 1, "thoughtsTokenCount": bad},
         "thoughtsTokenCount"),
        ("google", "generate_content",
         {"promptTokenCount": 1, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": bad}]},
         "promptTokensDetails[0].tokenCount"),
        ("deepseek", "chat", {"prompt_tokens": 1, "completion_tokens": 1,
                              "prompt_cache_hit_tokens": bad}, "prompt_cache_hit_tokens"),
        ("xai", "chat", {"prompt_tokens": 1, "completion_tokens": 1, "num_sources_used": bad},
         "num_sources_used"),
    ]
    for provider, api, usage, field in cases:
        with pytest.raises(UsageError) as info:
            normalize(provider, api, usage)
        assert info.value.field == field, (provider, api, str(info.value))

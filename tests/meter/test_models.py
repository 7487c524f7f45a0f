"""The model table: one entry per id, every tokenizer real, every provider covered."""

from __future__ import annotations

import pytest

from tokenomy.meter.chat import FAMILIES
from tokenomy.meter.models import MODELS, PROVIDERS, known, resolve
from tokenomy.meter.tokenizers import TOKENIZER_NAMES, get_tokenizer


def test_every_provider_of_the_issue_is_covered() -> None:
    assert set(PROVIDERS) == {"openai", "anthropic", "google", "deepseek", "qwen", "moonshot",
                              "minimax", "xai", "simulator"}


@pytest.mark.parametrize("rules", MODELS, ids=lambda r: r.model)
def test_each_model_resolves_to_itself_and_has_a_tokenizer(rules: object) -> None:
    from tokenomy.meter.models import ModelRules

    assert isinstance(rules, ModelRules)
    assert resolve(rules.model) is rules
    for alias in rules.aliases:
        assert resolve(alias) is rules
    assert rules.tokenizer in TOKENIZER_NAMES
    assert get_tokenizer(rules.tokenizer).exact == rules.tokenizer_exact
    assert rules.max_output_tokens >= 0
    assert rules.family in FAMILIES


def test_known_filters_by_provider() -> None:
    assert {m.provider for m in known("qwen")} == {"qwen"}
    assert len(known()) == len(MODELS)

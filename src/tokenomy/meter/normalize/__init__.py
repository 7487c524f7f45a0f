"""Provider usage objects → the canonical :class:`~tokenomy.meter.usage.Usage`.

In: a provider name, an API name and the provider's native ``usage`` object (decoded JSON).
Out: a :class:`Usage` whose classes are exclusive (input, cache_read, cache_write, output,
reasoning × modality), or a :class:`UsageError` naming the offending field, or an
:class:`UnknownModelError` for a provider / API pair without rules.

    >>> normalize("openai", "chat", {"prompt_tokens": 2006, "completion_tokens": 300,
    ...     "prompt_tokens_details": {"cached_tokens": 1920}}).to_json()["tokens"]
    {'input': 86, 'cache_read': 1920, 'cache_write': 0, 'output': 300, 'reasoning': 0}

One table (:data:`_TABLE`) maps every supported ``(provider, api)`` to its normalizer; the
rules and their sources are in each family's module docstring (:mod:`.openai`,
:mod:`.anthropic`, :mod:`.gemini`, :mod:`.compat`). Keys a normalizer does not read are
ignored; inconsistent counts are never clamped. Pure: no I/O, no state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tokenomy.meter.errors import UnknownModelError
from tokenomy.meter.normalize import anthropic, compat, gemini, openai
from tokenomy.meter.usage import Usage

Normalizer = Callable[[Mapping[str, Any]], Usage]

PROVIDERS: tuple[str, ...] = (
    "anthropic", "deepseek", "google", "minimax", "moonshot", "openai", "qwen", "xai",
)
APIS: tuple[str, ...] = ("chat", "generate_content", "messages", "realtime", "responses")
ALIASES: Mapping[str, str] = {
    "gemini": "google", "vertex": "google",
    "dashscope": "qwen", "alibaba": "qwen",
    "kimi": "moonshot",
}

_CANONICAL: dict[tuple[str, str], Normalizer] = {
    ("openai", "chat"): openai.chat,
    ("openai", "responses"): openai.responses,
    ("openai", "realtime"): openai.realtime,
    ("anthropic", "messages"): anthropic.messages,
    ("google", "generate_content"): gemini.generate_content,
    ("deepseek", "chat"): compat.deepseek_chat,
    # Anthropic-compatible endpoints share the Messages rules: DeepSeek, Moonshot and MiniMax
    # (platform.minimax.io/docs/api-reference/anthropic-api-compatible-cache), Qwen
    # (alibabacloud.com/help/en/model-studio/explicit-cache-best-practice) and xAI
    # (vercel.com/marketplace/xai: "OpenAI, and Anthropic compatible endpoints").
    ("deepseek", "messages"): anthropic.messages,
    ("qwen", "chat"): compat.qwen_chat,
    ("qwen", "messages"): anthropic.messages,
    ("moonshot", "chat"): compat.moonshot_chat,
    ("moonshot", "messages"): anthropic.messages,
    ("minimax", "chat"): compat.minimax_chat,
    ("minimax", "messages"): anthropic.messages,
    ("xai", "chat"): compat.xai_chat,
    ("xai", "responses"): compat.xai_responses,
    ("xai", "messages"): anthropic.messages,
}

#: Every accepted ``(provider, api)`` spelling, aliases included: one dict lookup per call.
_TABLE: dict[tuple[str, str], Normalizer] = {
    **_CANONICAL,
    **{
        (alias, api): fn
        for alias, target in ALIASES.items()
        for (provider, api), fn in _CANONICAL.items()
        if provider == target
    },
}


def supported() -> tuple[tuple[str, str], ...]:
    """The supported ``(provider, api)`` pairs (canonical provider names), sorted."""
    return tuple(sorted(_CANONICAL))


def normalizer(provider: str, api: str) -> Normalizer:
    """The normalizer for ``provider`` / ``api`` (aliases and any letter case accepted)."""
    fn = _TABLE.get((provider, api))
    if fn is not None:
        return fn
    p = str(provider).strip().lower()
    a = str(api).strip().lower()
    p = ALIASES.get(p, p)
    fn = _TABLE.get((p, a))
    if fn is not None:
        return fn
    if p not in PROVIDERS:
        raise UnknownModelError("provider", str(provider))
    valid = ", ".join(sorted(x for q, x in _CANONICAL if q == p))
    err = UnknownModelError("provider/api", f"{provider}/{api}")
    err.args = (f"{err.args[0]}; {p} supports api: {valid}",)
    raise err


def normalize(provider: str, api: str, usage: Mapping[str, Any]) -> Usage:
    """``usage`` as reported by ``provider``'s ``api``, in canonical form."""
    fn = _TABLE.get((provider, api))
    if fn is None:
        fn = normalizer(provider, api)
    return fn(usage)


__all__ = ["ALIASES", "APIS", "PROVIDERS", "Normalizer", "normalize", "normalizer", "supported"]

"""The one table from a model id to its meter rules.

In: a model id as the provider's API returns it (``gpt-4o-2024-08-06``,
``claude-sonnet-4-5-20250929``, ``models/gemini-2.5-pro``, ``openai/gpt-4o``). Out: a
:class:`ModelRules` saying which tokenizer counts its text, which chat-overhead family it
follows, how it counts images, audio, video and document pages, and its output cap.

Resolution: exact id, then a declared alias, then the id without a provider prefix
(``openai/``, ``models/``) or a dated-snapshot suffix (``-2024-08-06``, ``-20250514``,
``-latest``). Nothing else: an id that does not resolve is an :class:`UnknownModelError`,
never a guess. ``tokenomy models`` lists the table.

Caps (``max_output_tokens``) are the providers' documented maximums (model pages, 2025-26);
the estimator reserves them when a request names no limit, so a cap that is too high only
over-reserves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tokenomy.meter.errors import UnknownModelError
from tokenomy.meter.media import (
    ANTHROPIC_HIGH_RES_IMAGE,
    ANTHROPIC_IMAGE,
    GEMINI_2_IMAGE,
    GEMINI_2_VIDEO,
    GEMINI_3_IMAGE,
    GEMINI_3_VIDEO,
    GEMINI_AUDIO,
    OPENAI_AUDIO,
    OPENAI_PATCH_RULES,
    OPENAI_TILE_RULES,
    QWEN2_5_VL,
    QWEN3_VL,
    AudioRule,
    ImageRule,
    VideoRule,
)


@dataclass(frozen=True, slots=True)
class ModelRules:
    """How the meter counts one model's tokens."""

    model: str
    provider: str
    family: str  # chat-overhead family: openai, anthropic, gemini, deepseek, qwen, …
    tokenizer: str  # a name from tokenomy.meter.tokenizers.TOKENIZER_NAMES
    max_output_tokens: int
    image: ImageRule | None = None
    audio: AudioRule | None = None
    video: VideoRule | None = None
    document_tokens_per_page: int | None = None
    aliases: tuple[str, ...] = ()

    @property
    def tokenizer_exact(self) -> bool:
        return not self.tokenizer.endswith("_estimate")

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "tokenizer": self.tokenizer,
            "tokenizer_exact": self.tokenizer_exact,
            "aliases": list(self.aliases),
            "image": type(self.image).__name__ if self.image else None,
            "audio": self.audio is not None,
            "video": self.video is not None,
            "documents": self.document_tokens_per_page is not None,
            "max_output_tokens": self.max_output_tokens,
        }


# -- media presets (tokenomy.meter.media, token_facts.md §1–3) -----------------------------
_TILES = OPENAI_TILE_RULES
_PATCHES = OPENAI_PATCH_RULES
# Document pages: Gemini 2.x 258/page, 3.x 560/page (media_resolution MEDIUM); Claude and
# OpenAI bill each page's text plus an image of it, ≈1,500–3,000 tokens: reserve 3,000.
_PAGE_GEMINI2, _PAGE_GEMINI3, _PAGE_IMAGE_AND_TEXT = 258, 560, 3000


def _openai(model: str, cap: int, image: ImageRule | None, *aliases: str, enc: str = "o200k_base",
            audio: AudioRule | None = None) -> ModelRules:
    page = _PAGE_IMAGE_AND_TEXT if image else None
    return ModelRules(model, "openai", "openai", enc, cap, image, audio, None, page, aliases)


def _claude(model: str, cap: int, *aliases: str, image: ImageRule = ANTHROPIC_IMAGE) -> ModelRules:
    return ModelRules(model, "anthropic", "anthropic", "claude_estimate", cap, image, None, None,
                      _PAGE_IMAGE_AND_TEXT, aliases)


def _gemini(model: str, cap: int, generation: int, *aliases: str) -> ModelRules:
    if generation == 2:
        image, video, page = GEMINI_2_IMAGE, GEMINI_2_VIDEO, _PAGE_GEMINI2
    else:
        image, video, page = GEMINI_3_IMAGE, GEMINI_3_VIDEO, _PAGE_GEMINI3
    return ModelRules(model, "google", "gemini", "gemini_estimate", cap, image, GEMINI_AUDIO,
                      video, page, aliases)


def _text(model: str, provider: str, tokenizer: str, cap: int, *aliases: str,
          image: ImageRule | None = None) -> ModelRules:
    # Providers with no chat-template rule of their own speak OpenAI's wire format.
    family = provider if provider in ("deepseek", "qwen") else "openai"
    return ModelRules(model, provider, family, tokenizer, cap, image, None, None, None, aliases)


MODELS: tuple[ModelRules, ...] = (
    # OpenAI — o200k_base for the 4o generation onward, cl100k_base before it.
    _openai("gpt-4o", 16384, _TILES["gpt-4o"], "chatgpt-4o-latest"),
    _openai("gpt-4o-mini", 16384, _TILES["gpt-4o-mini"]),
    _openai("gpt-4.1", 32768, _TILES["gpt-4o"]),
    _openai("gpt-4.1-mini", 32768, _PATCHES["gpt-4.1-mini"]),
    _openai("gpt-4.1-nano", 32768, _PATCHES["gpt-4.1-nano"]),
    _openai("gpt-4.5-preview", 16384, _TILES["gpt-4o"]),
    _openai("gpt-4-turbo", 4096, _TILES["gpt-4o"], "gpt-4-turbo-preview", enc="cl100k_base"),
    _openai("gpt-4", 8192, None, enc="cl100k_base"),
    _openai("gpt-3.5-turbo", 4096, None, enc="cl100k_base"),
    _openai("o1", 100000, _TILES["o1"]),
    _openai("o1-pro", 100000, _TILES["o1"]),
    _openai("o1-mini", 65536, None),
    _openai("o3", 100000, _TILES["o1"]),
    _openai("o3-pro", 100000, _TILES["o1"]),
    _openai("o3-mini", 100000, None),
    _openai("o4-mini", 100000, _PATCHES["o4-mini"]),
    _openai("gpt-5", 128000, _TILES["gpt-5"]),
    _openai("gpt-5-chat-latest", 16384, _TILES["gpt-5"]),
    _openai("gpt-5-mini", 128000, _PATCHES["gpt-5-mini"]),
    _openai("gpt-5-nano", 128000, _PATCHES["gpt-5-nano"]),
    _openai("gpt-5-pro", 272000, _TILES["gpt-5"]),
    _openai("gpt-5.1", 128000, _TILES["gpt-5"]),
    _openai("gpt-5.2", 128000, _PATCHES["gpt-5.4"]),
    _openai("gpt-5.4", 128000, _PATCHES["gpt-5.4"]),
    _openai("gpt-5.5", 128000, _PATCHES["gpt-5.4"]),
    _openai("computer-use-preview", 1024, _TILES["computer-use-preview"]),
    _openai("gpt-image-1", 4160 * 4, _TILES["gpt-image-1"]),
    _openai("gpt-4o-realtime-preview", 4096, None, audio=OPENAI_AUDIO),
    _openai("gpt-4o-mini-realtime-preview", 4096, None, audio=OPENAI_AUDIO),
    _openai("gpt-realtime", 32768, _TILES["gpt-4o"], audio=OPENAI_AUDIO),
    _openai("gpt-realtime-mini", 32768, _TILES["gpt-4o"], audio=OPENAI_AUDIO),
    _openai("gpt-4o-audio-preview", 16384, None, audio=OPENAI_AUDIO),
    _openai("gpt-4o-mini-audio-preview", 16384, None, audio=OPENAI_AUDIO),
    _openai("gpt-audio", 16384, None, audio=OPENAI_AUDIO),
    _openai("gpt-audio-mini", 16384, None, audio=OPENAI_AUDIO),
    _openai("gpt-4o-transcribe", 2000, None, audio=OPENAI_AUDIO),
    _openai("gpt-4o-mini-transcribe", 2000, None, audio=OPENAI_AUDIO),
    _openai("text-embedding-3-small", 0, None, enc="cl100k_base"),
    _openai("text-embedding-3-large", 0, None, enc="cl100k_base"),
    _openai("text-embedding-ada-002", 0, None, enc="cl100k_base"),
    # Anthropic — no public tokenizer for Claude 3+: a calibrated estimate.
    _claude("claude-opus-4-8", 128000, image=ANTHROPIC_HIGH_RES_IMAGE),
    _claude("claude-opus-4-7", 128000, image=ANTHROPIC_HIGH_RES_IMAGE),
    _claude("claude-opus-4-6", 128000),
    _claude("claude-opus-4-5", 64000),
    _claude("claude-opus-4-1", 32000),
    _claude("claude-opus-4-0", 32000, "claude-opus-4"),
    _claude("claude-sonnet-4-6", 64000),
    _claude("claude-sonnet-4-5", 64000),
    _claude("claude-sonnet-4-0", 64000, "claude-sonnet-4"),
    _claude("claude-3-7-sonnet", 64000),
    _claude("claude-haiku-4-5", 64000),
    _claude("claude-3-5-haiku", 8192),
    _claude("claude-3-5-sonnet", 8192),
    _claude("claude-3-haiku", 4096),
    _claude("claude-3-opus", 4096),
    # Google Gemini — no public tokenizer: a calibrated estimate.
    _gemini("gemini-2.0-flash", 8192, 2, "gemini-2.0-flash-001"),
    _gemini("gemini-2.0-flash-lite", 8192, 2, "gemini-2.0-flash-lite-001"),
    _gemini("gemini-2.5-pro", 65536, 2),
    _gemini("gemini-2.5-flash", 65536, 2),
    _gemini("gemini-2.5-flash-lite", 65536, 2),
    _gemini("gemini-3-pro-preview", 65536, 3),
    _gemini("gemini-3.1-pro-preview", 65536, 3),
    _gemini("gemini-3-flash-preview", 65536, 3),
    # DeepSeek — V3 tokenizer (V3.2 API models share it).
    _text("deepseek-chat", "deepseek", "deepseek_v3", 8192),
    _text("deepseek-reasoner", "deepseek", "deepseek_v3", 65536),
    # Qwen (Alibaba Model Studio) — Qwen2 BPE vocabulary.
    _text("qwen-max", "qwen", "qwen2", 8192, "qwen-max-latest"),
    _text("qwen-plus", "qwen", "qwen2", 32768, "qwen-plus-latest"),
    _text("qwen-turbo", "qwen", "qwen2", 16384, "qwen-turbo-latest"),
    _text("qwen-flash", "qwen", "qwen2", 32768),
    _text("qwen3-max", "qwen", "qwen2", 65536),
    _text("qwen3-coder-plus", "qwen", "qwen2", 65536),
    _text("qwen-vl-max", "qwen", "qwen2", 8192, image=QWEN2_5_VL),
    _text("qwen-vl-plus", "qwen", "qwen2", 8192, image=QWEN2_5_VL),
    _text("qwen2.5-vl-72b-instruct", "qwen", "qwen2", 8192, image=QWEN2_5_VL),
    _text("qwen3-vl-plus", "qwen", "qwen2", 32768, image=QWEN3_VL),
    # Moonshot, MiniMax, xAI — no shipped tokenizer: the generic calibrated estimate.
    _text("kimi-k2-0711-preview", "moonshot", "generic_estimate", 32768),
    _text("kimi-k2-0905-preview", "moonshot", "generic_estimate", 32768),
    _text("kimi-k2-turbo-preview", "moonshot", "generic_estimate", 32768),
    _text("kimi-k2-thinking", "moonshot", "generic_estimate", 65536),
    _text("kimi-k2.5", "moonshot", "generic_estimate", 65536),
    _text("moonshot-v1-128k", "moonshot", "generic_estimate", 131072),
    _text("MiniMax-M2", "minimax", "generic_estimate", 131072),
    _text("MiniMax-M2.1", "minimax", "generic_estimate", 131072),
    _text("MiniMax-M2.5", "minimax", "generic_estimate", 131072),
    _text("MiniMax-Text-01", "minimax", "generic_estimate", 40000),
    _text("grok-4", "xai", "generic_estimate", 256000, "grok-4-latest", image=_TILES["gpt-4o"]),
    _text("grok-4-fast-reasoning", "xai", "generic_estimate", 30000),
    _text("grok-4-fast-non-reasoning", "xai", "generic_estimate", 30000),
    _text("grok-3", "xai", "generic_estimate", 131072, "grok-3-latest"),
    _text("grok-3-mini", "xai", "generic_estimate", 131072),
    _text("grok-code-fast-1", "xai", "generic_estimate", 10000),
    # Tokenomy's own upstream simulator (`tokenomy upstream simulate`): o200k_base, OpenAI wire.
    _text("sim-small", "simulator", "o200k_base", 4096),
    _text("sim-large", "simulator", "o200k_base", 8192),
)

PROVIDERS: tuple[str, ...] = tuple(sorted({m.provider for m in MODELS}))

_BY_ID: dict[str, ModelRules] = {}
for _rules in MODELS:
    for _name in (_rules.model, *_rules.aliases):
        if _name in _BY_ID:
            raise RuntimeError(f"model id {_name!r} is declared twice")
        _BY_ID[_name] = _rules
del _rules, _name

_PREFIX = re.compile(r"^(?:models/|[a-z_]+/)")
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


def resolve(model: str) -> ModelRules:
    """The rules for ``model``, or :class:`UnknownModelError` naming it."""
    rules = _BY_ID.get(model)
    if rules is not None:
        return rules
    name = _PREFIX.sub("", model, count=1)
    for candidate in (name, _SNAPSHOT.sub("", name)):
        rules = _BY_ID.get(candidate)
        if rules is not None:
            return rules
    raise UnknownModelError("model", model)


def known(provider: str | None = None) -> tuple[ModelRules, ...]:
    """All models (of one provider), in table order."""
    if provider is not None and provider not in PROVIDERS:
        raise UnknownModelError("provider", provider)
    return tuple(m for m in MODELS if provider is None or m.provider == provider)

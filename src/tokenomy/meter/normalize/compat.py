"""OpenAI-compatible providers with their own usage fields → canonical :class:`Usage`.

In: the ``usage`` object of DeepSeek, Qwen/DashScope, Moonshot/Kimi, MiniMax or xAI chat
(and xAI Responses), as decoded JSON. Out: a :class:`Usage`. Everything not listed below
follows the OpenAI rules of :mod:`.openai` (prompt includes cached, completion includes
reasoning, ``total_tokens`` must reconcile). Unknown keys are ignored.

* **DeepSeek** (api-docs.deepseek.com pricing note via docs.stigg.io and LiteLLM
  ``types/utils.py`` "DEEPSEEK MAPPING"): ``prompt_tokens = prompt_cache_hit_tokens +
  prompt_cache_miss_tokens`` (checked); hits are ``cache_read``, with no write surcharge. A
  client-added ``prompt_tokens_details.cached_tokens`` must agree with the hits.
  ``completion_tokens`` includes ``reasoning_tokens`` (reasoner: "includes all tokens from
  CoT and the final answer").
* **Qwen / DashScope** (alibabacloud.com/help/en/model-studio/context-cache; LiteLLM
  ``llms/dashscope/cost_calculator.py``: text = prompt - cached - cache_creation):
  ``prompt_tokens_details.cached_tokens`` are reads; explicit-cache writes come as
  ``prompt_tokens_details.cache_creation_input_tokens`` or top-level
  ``cache_creation_input_tokens`` (both inside ``prompt_tokens``; if both are given they must
  agree), with an optional Anthropic-style ``cache_creation`` TTL split; explicit caches live
  5 minutes, so an unsplit write is 5m. ``cache_type`` is ignored. The DashScope native shape
  (``input_tokens`` / ``output_tokens``, ``output_tokens_details.reasoning_tokens``, modality
  counts in ``input_tokens_details`` or, for Qwen-VL, top-level ``image_tokens`` /
  ``video_tokens`` / ``audio_tokens``) is recognised by the absence of ``prompt_tokens``.
* **Moonshot / Kimi** (platform.moonshot.cn/docs/api/caching; openclaw #7073): K2 models
  report ``prompt_tokens_details.cached_tokens``, moonshot-v1 explicit caching a top-level
  ``cached_tokens``; both are inside ``prompt_tokens`` and must agree if both are given.
* **MiniMax** (platform.minimax.io docs; promptfoo MiniMax provider reads the returned cached
  count): plain OpenAI shape with optional ``prompt_tokens_details.cached_tokens``; the
  top-level ``total_characters`` is not a token count and is ignored.
* **xAI** (docs.x.ai/docs/key-information/consumption-and-rate-limits: "reasoning token
  consumption will be counted separately from completion_tokens, but will be counted in the
  total_tokens", as quoted by vercel/ai PR #12425; inspect_ai #5528, sub2api #5771): on chat,
  ``completion_tokens`` EXCLUDES ``completion_tokens_details.reasoning_tokens``. Rule chosen:
  when ``total_tokens`` is present it decides — ``prompt + completion`` means reasoning inside
  (OpenAI rule), ``prompt + completion + reasoning`` means outside, anything else is an
  error; without ``total_tokens`` chat assumes outside (the documented rule) and Responses
  assumes inside (OpenAI Responses rule, which sub2api #5771 reports xAI Responses follows).
  ``prompt_tokens_details.text_tokens`` includes the cached tokens (LiteLLM #14874), handled
  by the OpenAI modality rule. ``num_sources_used`` (Live Search sources, priced per source)
  goes to ``extras["search_sources"]``; ``cost_in_usd_ticks`` is ignored.
"""

from __future__ import annotations

from tokenomy.meter.normalize._fields import Fields, count, need, required, root, same, section
from tokenomy.meter.normalize.anthropic import cache_creation_ttl
from tokenomy.meter.normalize.openai import CHAT, RESPONSES, Shape, chat, openai_like
from tokenomy.meter.usage import Usage

XAI_CHAT = Shape(CHAT.prompt, CHAT.completion, CHAT.prompt_details, CHAT.completion_details,
                 reasoning_inside=False, detect_reasoning=True)
XAI_RESPONSES = Shape(RESPONSES.prompt, RESPONSES.completion, RESPONSES.prompt_details,
                      RESPONSES.completion_details, detect_reasoning=True)
DASHSCOPE_NATIVE = Shape("input_tokens", "output_tokens", "prompt_tokens_details",
                         "output_tokens_details", modality_details="input_tokens_details")
DASHSCOPE_VL = Shape("input_tokens", "output_tokens", "prompt_tokens_details",
                     "output_tokens_details", modality_details="")

_PD = "prompt_tokens_details."


def deepseek_chat(usage: Fields) -> Usage:
    """DeepSeek chat ``usage`` (``prompt_cache_hit_tokens`` / ``prompt_cache_miss_tokens``)."""
    u = root(usage)
    prompt = required(u, "prompt_tokens")
    hit = count(u, "prompt_cache_hit_tokens")
    if u.get("prompt_cache_miss_tokens") is not None:
        miss = count(u, "prompt_cache_miss_tokens")
        need(hit + miss == prompt, "prompt_cache_miss_tokens",
             f"hit {hit} + miss {miss} = {hit + miss} does not equal prompt_tokens {prompt}")
    pd = section(u, "prompt_tokens_details")
    if pd.get("cached_tokens") is not None:
        hit = same(hit, count(pd, "cached_tokens", _PD), "prompt_cache_hit_tokens",
                   _PD + "cached_tokens")
    return openai_like(u, CHAT, cached=hit, cached_field="prompt_cache_hit_tokens")


def qwen_chat(usage: Fields) -> Usage:
    """Qwen chat ``usage``: OpenAI-compatible mode, or the DashScope native shape."""
    u = root(usage)
    if "prompt_tokens" not in u and "input_tokens" in u:
        shape = DASHSCOPE_NATIVE if u.get("input_tokens_details") is not None else DASHSCOPE_VL
    else:
        shape = CHAT
    pd = section(u, "prompt_tokens_details")
    nested = count(pd, "cache_creation_input_tokens", _PD)
    top = count(u, "cache_creation_input_tokens")
    write = same(top, nested, "cache_creation_input_tokens", _PD + "cache_creation_input_tokens")
    write_field = _PD + "cache_creation_input_tokens" if nested else "cache_creation_input_tokens"
    split = pd.get("cache_creation") if "cache_creation" in pd else u.get("cache_creation")
    where = _PD + "cache_creation" if "cache_creation" in pd else "cache_creation"
    ttl = cache_creation_ttl(split, write, where, write_field)
    return openai_like(u, shape, write=write, write_field=write_field, ttl=ttl)


def moonshot_chat(usage: Fields) -> Usage:
    """Moonshot / Kimi chat ``usage`` (top-level ``cached_tokens`` or the OpenAI field)."""
    u = root(usage)
    top = count(u, "cached_tokens")
    nested = count(section(u, "prompt_tokens_details"), "cached_tokens", _PD)
    cached = same(top, nested, "cached_tokens", _PD + "cached_tokens")
    field = "cached_tokens" if top else _PD + "cached_tokens"
    return openai_like(u, CHAT, cached=cached, cached_field=field)


def minimax_chat(usage: Fields) -> Usage:
    """MiniMax chat ``usage`` (OpenAI shape; ``total_characters`` ignored)."""
    return chat(usage)


def _xai_extras(u: Fields) -> tuple[tuple[str, int], ...]:
    sources = count(u, "num_sources_used")
    return (("search_sources", sources),) if sources else ()


def xai_chat(usage: Fields) -> Usage:
    """xAI chat ``usage``: reasoning outside ``completion_tokens`` (see module docstring)."""
    u = root(usage)
    return openai_like(u, XAI_CHAT, extras=_xai_extras(u))


def xai_responses(usage: Fields) -> Usage:
    """xAI Responses ``usage``: OpenAI Responses shape, reasoning placement from the total."""
    u = root(usage)
    return openai_like(u, XAI_RESPONSES, extras=_xai_extras(u))

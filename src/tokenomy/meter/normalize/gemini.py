"""Gemini / Vertex ``usageMetadata`` → canonical :class:`Usage`.

In: the ``usageMetadata`` of a ``generateContent`` (or streamed, or Live API) response, in the
REST camelCase form (``promptTokenCount``) or the Python SDK's snake_case form
(``prompt_token_count``), as decoded JSON. Out: a :class:`Usage`.

Bucket semantics (google-genai 3.6.1 ``types.GenerateContentResponseUsageMetadata``;
ai.google.dev/gemini-api/docs/tokens; ``token_facts.md`` §4a):

* ``promptTokenCount`` INCLUDES ``cachedContentTokenCount`` ("when cached_content is set,
  this is still the total effective prompt size"), so uncached input = prompt - cached
  (LiteLLM #14849 double-counted it);
* ``candidatesTokenCount`` EXCLUDES ``thoughtsTokenCount``; thoughts are billed at the output
  price and become ``reasoning``; the Live API calls the output ``responseTokenCount``;
* ``toolUsePromptTokenCount`` (prompts built by server-side tools such as grounding) is billed
  as input and is added to ``input``;
* ``totalTokenCount``, when present, must equal prompt + candidates + toolUsePrompt + thoughts;
* ``promptTokensDetails`` / ``cacheTokensDetails`` / ``candidatesTokensDetails`` /
  ``toolUsePromptTokensDetails`` are lists of ``{modality, tokenCount}`` with modality TEXT,
  IMAGE, AUDIO, VIDEO, DOCUMENT or MODALITY_UNSPECIFIED (proto3 JSON omits the default, so a
  missing modality or count is UNSPECIFIED / 0). UNSPECIFIED counts as text; an unknown
  modality is an error. A list that adds up to less than its total leaves the remainder as
  text; more is an error. Uncached input per modality = prompt details - cache details (a
  negative difference is an error); without cache details the cached tokens are attributed to
  text first, then image, audio, video, document (Gemini image tokens priced as text was
  LiteLLM #17410; Live audio output priced as text PR #38457);
* Gemini has no per-request cache write (explicit caches are created and billed through the
  caching API), so ``cache_write`` is 0. ``trafficType`` and other keys are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from tokenomy.meter.errors import UsageError
from tokenomy.meter.normalize._fields import (
    N_MOD,
    ZERO5,
    Counts5,
    Fields,
    count,
    fill_text,
    minus,
    read,
    required,
    root,
    same,
    take,
)
from tokenomy.meter.usage import Usage

_MODALITY = {
    "TEXT": 0, "MODALITY_UNSPECIFIED": 0, None: 0,
    "IMAGE": 1, "AUDIO": 2, "VIDEO": 3, "DOCUMENT": 4,
}

# prompt, cached, candidates, response (Live), thoughts, tool-use prompt, total,
# prompt details, cache details, candidates details, response details, tool-use details, count
_CAMEL = (
    "promptTokenCount", "cachedContentTokenCount", "candidatesTokenCount",
    "responseTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount", "totalTokenCount",
    "promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails",
    "responseTokensDetails", "toolUsePromptTokensDetails", "tokenCount",
)
_SNAKE = (
    "prompt_token_count", "cached_content_token_count", "candidates_token_count",
    "response_token_count", "thoughts_token_count", "tool_use_prompt_token_count",
    "total_token_count", "prompt_tokens_details", "cache_tokens_details",
    "candidates_tokens_details", "response_tokens_details", "tool_use_prompt_tokens_details",
    "token_count",
)


_PROMPT, _CACHED, _CANDIDATES, _RESPONSE, _THOUGHTS, _TOOL, _TOTAL = range(7)
_SLOTS = {name: i for names in (_CAMEL, _SNAKE) for i, name in enumerate(names[:7])}


def _modalities(value: object, total: int, field: str, total_field: str, key: str) -> Counts5:
    """A ``[{modality, tokenCount}]`` list as a 5-modality split of ``total``."""
    if not value:
        return (total, 0, 0, 0, 0)
    parts = [0, 0, 0, 0, 0]
    try:
        if type(value) is not list:
            raise TypeError
        for item in value:
            index = _MODALITY.get(item.get("modality"), -1)
            n = item.get(key)
            if index < 0 or type(n) is not int or n < 0:
                if index < 0 or n is not None:
                    raise TypeError
                continue
            parts[index] += n
    except (TypeError, AttributeError):
        return _diagnose(value, total, field, total_field, key)
    given = parts[0] + parts[1] + parts[2] + parts[3] + parts[4]
    if given > total:
        raise UsageError(field, f"adds up to {given}, more than {total_field} {total}")
    return (parts[0] + total - given, parts[1], parts[2], parts[3], parts[4])


def _diagnose(value: object, total: int, field: str, total_field: str, key: str) -> Counts5:
    """:func:`_modalities` for input that failed the fast checks: the precise error."""
    if not isinstance(value, list | tuple):
        raise UsageError(field, f"must be a list or null, got {type(value).__name__}")
    parts = [0] * N_MOD
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            raise UsageError(where, "must be an object")
        modality = item.get("modality")
        index = _MODALITY.get(modality) if isinstance(modality, str | None) else None
        if index is None:
            raise UsageError(where + ".modality", f"unknown modality {modality!r}")
        parts[index] += count(item, key, where + ".")
    if sum(parts) > total:
        raise UsageError(field, f"adds up to {sum(parts)}, more than {total_field} {total}")
    return fill_text(total, parts, field, total_field)


def generate_content(usage: Fields) -> Usage:
    """Gemini ``usageMetadata`` (camelCase or snake_case)."""
    u = root(usage)
    k = _SNAKE if "prompt_token_count" in u else _CAMEL
    n = read(u, _SLOTS, 7)
    prompt, cached, thoughts, tool = n[_PROMPT], n[_CACHED], n[_THOUGHTS], n[_TOOL]
    if not prompt:
        required(u, k[0])  # absent or null: the precise error
    if k is _SNAKE and "promptTokenCount" in u:
        raise UsageError("promptTokenCount", "camelCase and snake_case fields mixed")
    out = n[_CANDIDATES] or n[_RESPONSE]
    out_key, out_details = k[2], k[9]
    if n[_RESPONSE] and not n[_CANDIDATES]:
        out_key, out_details = k[3], k[10]
    elif n[_RESPONSE]:
        same(n[_CANDIDATES], n[_RESPONSE], k[2], k[3])
    if cached > prompt:
        raise UsageError(k[1], f"{cached} is more than {k[0]} {prompt}")
    if u.get(k[6]) is not None and n[_TOTAL] != prompt + out + tool + thoughts:
        raise UsageError(k[6], f"{n[_TOTAL]} does not equal {k[0]} + {out_key} + {k[5]} + "
                         f"{k[4]} = {prompt + out + tool + thoughts}")
    p = _modalities(u.get(k[7]), prompt, k[7], k[0], k[12])
    cache_list = u.get(k[8])
    if cache_list:
        c = _modalities(cache_list, cached, k[8], k[1], k[12])
        inp = (p[0] - c[0], p[1] - c[1], p[2] - c[2], p[3] - c[3], p[4] - c[4])
        if min(inp) < 0:
            minus(p, c, k[8], k[1])  # raises, naming the modality
    elif cached:
        c, inp = take(p, cached, k[1], k[0])
    else:
        c, inp = ZERO5, p
    if tool or u.get(k[11]):
        t = _modalities(u.get(k[11]), tool, k[11], k[5], k[12])
        inp = (inp[0] + t[0], inp[1] + t[1], inp[2] + t[2], inp[3] + t[3], inp[4] + t[4])
    o = _modalities(u.get(out_details), out, out_details, out_key, k[12])
    return Usage((*inp, *c, 0, 0, 0, 0, 0, *o, thoughts, 0, 0, 0, 0))

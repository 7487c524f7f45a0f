"""Anthropic Messages ``usage`` → canonical :class:`Usage`.

In: the ``usage`` object of a Messages response (or of the Anthropic-compatible endpoints of
DeepSeek, Moonshot, MiniMax, Qwen and xAI), as decoded JSON. Out: a :class:`Usage`.

Bucket semantics (anthropic SDK 2.14.0 ``types/usage.py``, ``cache_creation.py``,
``output_tokens_details.py``, ``server_tool_usage.py``; ``token_facts.md`` §4a):

* ``input_tokens`` is the UNCACHED input only; ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens`` are separate and additive (total input is the sum of the
  three). This is the opposite of OpenAI's inclusive ``prompt_tokens`` (LiteLLM #9812, #11364);
* ``cache_creation.{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}`` splits the cache
  writes by TTL (1h writes cost 2× input, 5m writes 1.25×) and must add up to
  ``cache_creation_input_tokens``. When the ``cache_creation`` object is absent or ``null``,
  every write is a 5-minute write: 5m is Anthropic's default ``cache_control`` TTL, and older
  API versions report no split;
* ``output_tokens`` is "the inclusive, authoritative total used for billing", thinking
  included, so ``output = output_tokens - output_tokens_details.thinking_tokens`` and
  thinking is ``reasoning`` ("Always ≤ output_tokens");
* ``server_tool_use.{web_search_requests, web_fetch_requests}`` are request counts, priced per
  request: they go to ``extras`` under the same names;
* Anthropic reports no modality split: images and documents are billed as input tokens, so
  all counts are text;
* ``service_tier``, ``inference_geo``, ``speed`` and any other key are ignored here (pricing
  reads them from the response, not from the token counts).

``input_tokens`` and ``output_tokens`` are required; a streaming ``message_delta`` usage
without ``input_tokens`` must be merged with its ``message_start`` first.
"""

from __future__ import annotations

from collections.abc import Mapping

from tokenomy.meter.errors import UsageError
from tokenomy.meter.normalize._fields import Fields, count, required, root, section
from tokenomy.meter.usage import Usage

_SERVER_TOOLS = ("web_search_requests", "web_fetch_requests")


def cache_creation_ttl(
    obj: object, write: int, where: str, total_field: str
) -> tuple[tuple[str, int], ...]:
    """TTL split of ``write`` cache-write tokens from an Anthropic ``cache_creation`` object
    (``obj`` is its raw value, ``where`` its dotted name). Absent or null: all 5m."""
    if obj is None:
        return (("5m", write),) if write else ()
    if not isinstance(obj, Mapping):
        raise UsageError(where, f"must be an object or null, got {type(obj).__name__}")
    split: Fields = obj
    pfx = where + "."
    m5 = count(split, "ephemeral_5m_input_tokens", pfx)
    h1 = count(split, "ephemeral_1h_input_tokens", pfx)
    if m5 + h1 != write:
        raise UsageError(
            where, f"5m {m5} + 1h {h1} = {m5 + h1} does not equal {total_field} {write}"
        )
    if not h1:
        return (("5m", m5),) if m5 else ()
    # Sorted by label, as Usage keeps it ("1h" < "5m"): no re-sorting on the hot path.
    return (("1h", h1), ("5m", m5)) if m5 else (("1h", h1),)


def messages(usage: Fields) -> Usage:
    """Anthropic Messages ``usage``."""
    u = root(usage)
    inp = required(u, "input_tokens")
    out = required(u, "output_tokens")
    read = count(u, "cache_read_input_tokens")
    write = count(u, "cache_creation_input_tokens")
    ttl = cache_creation_ttl(
        u.get("cache_creation"), write, "cache_creation", "cache_creation_input_tokens"
    )
    thinking = 0
    details = u.get("output_tokens_details")
    if details is not None:
        thinking = count(section(u, "output_tokens_details"), "thinking_tokens",
                         "output_tokens_details.")
        if thinking > out:
            raise UsageError("output_tokens_details.thinking_tokens",
                             f"{thinking} is more than output_tokens {out}")
    extras: tuple[tuple[str, int], ...] = ()
    if u.get("server_tool_use") is not None:
        tools = section(u, "server_tool_use")
        extras = tuple((k, count(tools, k, "server_tool_use.")) for k in _SERVER_TOOLS)
    return Usage(
        (inp, 0, 0, 0, 0, read, 0, 0, 0, 0, write, 0, 0, 0, 0,
         out - thinking, 0, 0, 0, 0, thinking, 0, 0, 0, 0),
        ttl,
        extras,
    )

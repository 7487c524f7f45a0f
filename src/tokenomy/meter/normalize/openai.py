"""OpenAI usage objects (Chat Completions, Responses, Realtime) → canonical :class:`Usage`.

In: the ``usage`` object of a chat completion, of a Responses ``response``, or of a Realtime
``response.done`` event, as decoded JSON. Out: a :class:`Usage` with exclusive classes.

Bucket semantics (openai SDK 3.57.0 ``types/completion_usage.py``,
``types/responses/response_usage.py``, ``types/realtime/realtime_response_usage*.py``; see
``token_facts.md`` §4a):

* the prompt total (``prompt_tokens`` / ``input_tokens``) INCLUDES ``cached_tokens`` and the
  2026 ``cache_write_tokens``, so ``input = prompt - cached - cache_write``;
* ``text_tokens`` / ``image_tokens`` / ``audio_tokens`` / ``video_tokens`` of the prompt
  details split the prompt total by modality (xAI's ``text_tokens`` includes its cached part,
  LiteLLM #14874); a modality missing from the split is text (the remainder);
* Realtime ``cached_tokens_details`` splits the cached tokens by modality, so the uncached
  tokens of a modality are ``<modality>_tokens - cached_tokens_details.<modality>_tokens``.
  Without that split (Chat, Responses) cached and cache-write tokens are attributed to text
  first, then image, audio, video (a documented attribution, never a clamp: totals are kept,
  and more cached than prompt is an error);
* the output total (``completion_tokens`` / ``output_tokens``) INCLUDES ``reasoning_tokens``
  and the accepted/rejected prediction tokens, so ``output = completion - reasoning``;
  ``audio_tokens`` / ``image_tokens`` of the output details are the audio / image part of the
  visible output (gpt-4o-audio, gpt-image). An explicit output ``text_tokens`` is only checked
  (``<= completion``): providers disagree on whether it contains reasoning (LiteLLM PR #39850);
* ``cache_write_tokens_details.ttl_<label>_tokens`` gives the cache-write TTL split;
* ``total_tokens``, when present, must equal ``prompt + completion``.

:func:`openai_like` is also the core of the OpenAI-compatible providers in :mod:`.compat`,
which pass their own field names (:class:`Shape`) and provider-specific counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenomy.meter.errors import UsageError
from tokenomy.meter.normalize._fields import (
    Fields,
    count,
    fill_text,
    minus,
    read,
    required,
    root,
    section,
    take,
    ttl_split,
)
from tokenomy.meter.usage import Usage

# Positions of the prompt-detail and completion-detail counts read by :func:`read`.
_CACHED, _WRITE, _P_TEXT, _P_IMAGE, _P_AUDIO, _P_VIDEO = range(6)
_IN_SLOTS = {"cached_tokens": 0, "cache_write_tokens": 1, "text_tokens": 2, "image_tokens": 3,
             "audio_tokens": 4, "video_tokens": 5}
_MOD_SLOTS = {"text_tokens": 2, "image_tokens": 3, "audio_tokens": 4, "video_tokens": 5}
_REASONING, _O_AUDIO, _O_IMAGE, _O_TEXT, _ACCEPTED, _REJECTED = range(6)
_OUT_SLOTS = {"reasoning_tokens": 0, "audio_tokens": 1, "image_tokens": 2, "text_tokens": 3,
              "accepted_prediction_tokens": 4, "rejected_prediction_tokens": 5}
_CACHED_MOD_SLOTS = {"text_tokens": 0, "image_tokens": 1, "audio_tokens": 2, "video_tokens": 3}

NO_PAIRS: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Shape:
    """Where an OpenAI-style usage object keeps its counts (field names, dotted prefixes)."""

    prompt: str
    completion: str
    prompt_details: str
    completion_details: str
    modality_details: str | None = None  # None: same as prompt_details; "": the top level
    reasoning_inside: bool = True  # completion total includes reasoning (OpenAI); xAI: no
    detect_reasoning: bool = False  # decide inside/outside from total_tokens (xAI)
    pfx: str = field(init=False)
    cfx: str = field(init=False)
    cached_field: str = field(init=False)
    write_field: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pfx", self.prompt_details + ".")
        object.__setattr__(self, "cfx", self.completion_details + ".")
        object.__setattr__(self, "cached_field", self.pfx + "cached_tokens")
        object.__setattr__(self, "write_field", self.pfx + "cache_write_tokens")


CHAT = Shape("prompt_tokens", "completion_tokens", "prompt_tokens_details",
             "completion_tokens_details")
RESPONSES = Shape("input_tokens", "output_tokens", "input_tokens_details",
                  "output_tokens_details")
REALTIME = Shape("input_tokens", "output_tokens", "input_token_details", "output_token_details")


def openai_like(
    usage: Fields,
    shape: Shape,
    *,
    cached: int | None = None,
    cached_field: str = "",
    write: int | None = None,
    write_field: str = "",
    ttl: tuple[tuple[str, int], ...] | None = None,
    extras: tuple[tuple[str, int], ...] = NO_PAIRS,
) -> Usage:
    """The canonical usage of an OpenAI-style object. ``cached``/``write`` (with the field
    names to blame) override the ``cached_tokens``/``cache_write_tokens`` of the details."""
    u = root(usage)
    prompt = required(u, shape.prompt)
    completion = required(u, shape.completion)
    pd = section(u, shape.prompt_details)
    p = read(pd, _IN_SLOTS, 6, shape.pfx)
    if shape.modality_details is not None:
        md = u if not shape.modality_details else section(u, shape.modality_details)
        m = read(md, _MOD_SLOTS, 6, shape.modality_details + "." if md is not u else "")
        p[_P_TEXT:] = m[_P_TEXT:]
    if cached is None:
        cached, cached_field = p[_CACHED], shape.cached_field
    if write is None:
        write, write_field = p[_WRITE], shape.write_field
        if ttl is None and pd.get("cache_write_tokens_details") is not None:
            ttl = _ttl(pd, write, shape.pfx)
    rest = prompt - cached - write
    if rest >= 0 and not (p[3] or p[4] or p[5]) and p[_P_TEXT] <= prompt and (
        pd.get("cached_tokens_details") is None
    ):
        inp: tuple[int, ...] = (rest, 0, 0, 0, 0, cached, 0, 0, 0, 0, write, 0, 0, 0, 0)
    else:
        inp = _input_by_modality(pd, shape, prompt, p, cached, cached_field, write, write_field)
    o = read(section(u, shape.completion_details), _OUT_SLOTS, 6, shape.cfx)
    reasoning = o[_REASONING]
    total = u.get("total_tokens")
    if type(total) is int and total == prompt + completion and (
        shape.reasoning_inside or shape.detect_reasoning
    ):
        visible = completion - reasoning  # the usual case: reasoning inside the completion
    elif type(total) is int and total == prompt + completion + reasoning and (
        shape.detect_reasoning or not shape.reasoning_inside
    ):
        visible = completion  # xAI chat: reasoning outside, counted in the total
    elif _reasoning_inside(u, shape, prompt, completion, reasoning):
        visible = completion - reasoning
    else:
        visible = completion
    if visible >= 0 and not (o[1] or o[2] or o[3] or o[4] or o[5]):
        return Usage((*inp, visible, 0, 0, 0, 0, reasoning, 0, 0, 0, 0), ttl or NO_PAIRS, extras)
    out = _output_by_modality(shape, completion, o, visible)
    return Usage(inp + out, ttl or NO_PAIRS, extras)


def _input_by_modality(
    pd: Fields, shape: Shape, prompt: int, p: list[int],
    cached: int, cached_field: str, write: int, write_field: str,
) -> tuple[int, ...]:
    """15 counts (input, cache_read, cache_write × 5 modalities) when the prompt is split."""
    if cached > prompt:
        raise UsageError(cached_field, f"{cached} is more than {shape.prompt} {prompt}")
    where = shape.modality_details if shape.modality_details is not None else shape.prompt_details
    parts = fill_text(prompt, (p[2], p[3], p[4], p[5], 0), where or "usage", shape.prompt)
    by_modality = section(pd, "cached_tokens_details", shape.pfx)
    if by_modality:
        cfx = shape.pfx + "cached_tokens_details."
        c = read(by_modality, _CACHED_MOD_SLOTS, 5, cfx)
        c_split = fill_text(cached, (c[0], c[1], c[2], c[3], 0), cfx[:-1], cached_field)
        left = minus(parts, c_split, cfx[:-1], "cached tokens")
    else:
        c_split, left = take(parts, cached, cached_field, shape.prompt)
    w_split, left = take(left, write, write_field, f"{shape.prompt} not cached")
    return left + c_split + w_split


def _output_by_modality(
    shape: Shape, completion: int, o: list[int], visible: int
) -> tuple[int, ...]:
    """10 counts (output, reasoning × 5 modalities) when the completion is split."""
    cfx = shape.cfx
    if visible < 0:
        raise UsageError(cfx + "reasoning_tokens",
                         f"{o[_REASONING]} is more than {shape.completion} {completion}")
    predicted = o[_ACCEPTED] + o[_REJECTED]
    if predicted > completion:
        raise UsageError(cfx + "rejected_prediction_tokens",
                         f"prediction tokens {predicted} exceed {shape.completion} {completion}")
    if o[_O_TEXT] + o[_O_AUDIO] + o[_O_IMAGE] > completion:
        raise UsageError(shape.completion_details,
                         f"modality counts exceed {shape.completion} {completion}")
    out = fill_text(visible, (0, o[_O_IMAGE], o[_O_AUDIO], 0, 0), shape.completion_details,
                    f"visible {shape.completion}")
    return (*out, o[_REASONING], 0, 0, 0, 0)


def _reasoning_inside(
    u: Fields, shape: Shape, prompt: int, completion: int, reasoning: int
) -> bool:
    """Whether the output total includes reasoning; checks ``total_tokens`` when present.

    With ``detect_reasoning`` (xAI) the total decides: ``prompt + completion`` means reasoning
    is inside the completion (OpenAI rule), ``prompt + completion + reasoning`` means outside
    (xAI rule); without a total the shape's default applies."""
    if u.get("total_tokens") is None:
        return shape.reasoning_inside
    total = count(u, "total_tokens")
    inclusive = prompt + completion
    exclusive = inclusive + reasoning
    if shape.detect_reasoning:
        if total == inclusive:
            return True
        if total == exclusive:
            return False
    elif total == (inclusive if shape.reasoning_inside else exclusive):
        return shape.reasoning_inside
    alt = f" (or {exclusive} with reasoning outside)" if shape.detect_reasoning else ""
    expect = inclusive if shape.reasoning_inside else exclusive
    raise UsageError("total_tokens", f"{total} does not reconcile: expected {expect}{alt}")


def _ttl(pd: Fields, write: int, pfx: str) -> tuple[tuple[str, int], ...]:
    """The ``cache_write_tokens_details`` TTL split; it may not exceed the writes."""
    where = pfx + "cache_write_tokens_details."
    split = ttl_split(section(pd, "cache_write_tokens_details", pfx), where)
    if sum(n for _, n in split) > write:
        raise UsageError(where[:-1], f"TTL split exceeds cache_write_tokens {write}")
    return split


def chat(usage: Fields) -> Usage:
    """OpenAI Chat Completions ``usage``."""
    return openai_like(usage, CHAT)


def responses(usage: Fields) -> Usage:
    """OpenAI Responses ``usage`` (also the Images API shape: ``input_tokens_details``
    ``{text_tokens, image_tokens}``, ``output_tokens_details.image_tokens``)."""
    return openai_like(usage, RESPONSES)


def realtime(usage: Fields) -> Usage:
    """OpenAI Realtime ``response.done`` ``response.usage``."""
    return openai_like(usage, REALTIME)



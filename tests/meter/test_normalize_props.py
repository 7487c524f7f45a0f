"""Properties of the usage normalizers over generated provider usage objects.

For every provider shape, a generated CONSISTENT usage object (with the totals the provider
would bill) normalizes to counts that are never negative and that reconcile: canonical total
input == the provider's total input, canonical total output == its billable output. Key order
never matters. A consistent object with one inconsistency injected raises ``UsageError``.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.meter.errors import UsageError
from tokenomy.meter.normalize import normalize

N = st.integers(min_value=0, max_value=200_000)
Case = tuple[str, str, dict[str, Any], int, int]  # provider, api, usage, total in, total out


def _put(draw: st.DrawFn, target: dict[str, Any], key: str, value: int) -> None:
    """Set a count; a zero may be sent as 0, as null, or left out (providers do all three)."""
    if value:
        target[key] = value
        return
    how = draw(st.sampled_from(["zero", "null", "absent"]))
    if how != "absent":
        target[key] = 0 if how == "zero" else None


def _split(draw: st.DrawFn, total: int, n: int) -> list[int]:
    """``total`` split into ``n`` non-negative parts."""
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=n - 1, max_size=n - 1)))
    edges = [0, *cuts, total]
    return [edges[i + 1] - edges[i] for i in range(n)]


@st.composite
def openai_case(draw: st.DrawFn) -> Case:
    provider, api = draw(st.sampled_from([
        ("openai", "chat"), ("openai", "responses"), ("openai", "realtime"),
        ("minimax", "chat"), ("moonshot", "chat"), ("qwen", "chat"), ("deepseek", "chat"),
    ]))
    names = {"chat": ("prompt_tokens", "completion_tokens", "prompt_tokens_details",
                      "completion_tokens_details"),
             "responses": ("input_tokens", "output_tokens", "input_tokens_details",
                           "output_tokens_details"),
             "realtime": ("input_tokens", "output_tokens", "input_token_details",
                          "output_token_details")}[api]
    text, image, audio = draw(N), draw(N), draw(N)
    prompt = text + image + audio
    cached = draw(st.integers(0, prompt))
    write = draw(st.integers(0, prompt - cached)) if provider == "openai" else 0
    visible_text, visible_audio, reasoning = draw(N), draw(N), draw(N)
    completion = visible_text + visible_audio + reasoning
    pd: dict[str, Any] = {}
    for key, value in (("image_tokens", image), ("audio_tokens", audio)):
        _put(draw, pd, key, value)
    if draw(st.booleans()):
        pd["text_tokens"] = text
    if api == "realtime" and draw(st.booleans()):
        c = _split(draw, cached, 3)
        c = [min(c[0], text), min(c[1], image), min(c[2], audio)]
        cached = sum(c)
        pd["cached_tokens_details"] = {"text_tokens": c[0], "image_tokens": c[1],
                                       "audio_tokens": c[2]}
    u: dict[str, Any] = {names[0]: prompt, names[1]: completion}
    if provider == "deepseek":
        u["prompt_cache_hit_tokens"] = cached
        u["prompt_cache_miss_tokens"] = prompt - cached
    elif provider == "moonshot" and draw(st.booleans()):
        u["cached_tokens"] = cached
    else:
        _put(draw, pd, "cached_tokens", cached)
    _put(draw, pd, "cache_write_tokens", write)
    cd: dict[str, Any] = {}
    _put(draw, cd, "reasoning_tokens", reasoning)
    _put(draw, cd, "audio_tokens", visible_audio)
    keep_pd, keep_cd = draw(st.booleans()), draw(st.booleans())
    u[names[2]] = pd if pd or keep_pd else None
    u[names[3]] = cd if cd or keep_cd else None
    if draw(st.booleans()):
        u["total_tokens"] = prompt + completion
    return provider, api, u, prompt, completion


@st.composite
def xai_case(draw: st.DrawFn) -> Case:
    prompt, completion, reasoning = draw(N), draw(N), draw(N)
    cached = draw(st.integers(0, prompt))
    u: dict[str, Any] = {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "prompt_tokens_details": {"text_tokens": prompt, "cached_tokens": cached,
                                  "image_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "num_sources_used": draw(st.integers(0, 20)),
    }
    if draw(st.booleans()):
        u["total_tokens"] = prompt + completion + reasoning  # xAI: reasoning outside
        return "xai", "chat", u, prompt, completion + reasoning
    if draw(st.booleans()) and reasoning <= completion:
        u["total_tokens"] = prompt + completion  # OpenAI rule, detected from the total
        return "xai", "chat", u, prompt, completion
    return "xai", "chat", u, prompt, completion + reasoning  # no total: documented default


@st.composite
def anthropic_case(draw: st.DrawFn) -> Case:
    provider = draw(st.sampled_from(["anthropic", "deepseek", "minimax", "moonshot"]))
    inp, read, m5, h1, visible, thinking = (draw(N) for _ in range(6))
    u: dict[str, Any] = {"input_tokens": inp, "output_tokens": visible + thinking}
    _put(draw, u, "cache_read_input_tokens", read)
    _put(draw, u, "cache_creation_input_tokens", m5 + h1)
    if h1 or draw(st.booleans()):
        u["cache_creation"] = {"ephemeral_5m_input_tokens": m5, "ephemeral_1h_input_tokens": h1}
    if thinking or draw(st.booleans()):
        u["output_tokens_details"] = {"thinking_tokens": thinking}
    if draw(st.booleans()):
        u["server_tool_use"] = {"web_search_requests": draw(st.integers(0, 9))}
    u["service_tier"] = "standard"
    return provider, "messages", u, inp + read + m5 + h1, visible + thinking


_GEMINI_MODALITIES = ["TEXT", "IMAGE", "AUDIO", "VIDEO", "DOCUMENT"]


@st.composite
def gemini_case(draw: st.DrawFn) -> Case:
    snake = draw(st.booleans())

    def k(camel: str, snake_name: str) -> str:
        return snake_name if snake else camel

    count_key = k("tokenCount", "token_count")
    prompt_parts = [draw(N) for _ in _GEMINI_MODALITIES]
    cache_parts = [draw(st.integers(0, p)) for p in prompt_parts]
    out_parts = [draw(N) for _ in _GEMINI_MODALITIES]
    thoughts, tool = draw(N), draw(N)
    prompt, cached, out = sum(prompt_parts), sum(cache_parts), sum(out_parts)

    def details(parts: list[int]) -> list[dict[str, Any]]:
        return [{"modality": m, count_key: n} for m, n in zip(_GEMINI_MODALITIES, parts,
                                                             strict=True) if n]

    u: dict[str, Any] = {
        k("promptTokenCount", "prompt_token_count"): prompt,
        k("candidatesTokenCount", "candidates_token_count"): out,
        k("promptTokensDetails", "prompt_tokens_details"): details(prompt_parts),
        k("candidatesTokensDetails", "candidates_tokens_details"): details(out_parts),
    }
    _put(draw, u, k("cachedContentTokenCount", "cached_content_token_count"), cached)
    _put(draw, u, k("thoughtsTokenCount", "thoughts_token_count"), thoughts)
    _put(draw, u, k("toolUsePromptTokenCount", "tool_use_prompt_token_count"), tool)
    if cached:
        u[k("cacheTokensDetails", "cache_tokens_details")] = details(cache_parts)
    if draw(st.booleans()):
        u[k("totalTokenCount", "total_token_count")] = prompt + out + thoughts + tool
    return "google", "generate_content", u, prompt + tool, out + thoughts


ANY_CASE = st.one_of(openai_case(), xai_case(), anthropic_case(), gemini_case())


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(v, rng) for key, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@settings(max_examples=400, deadline=None)
@given(ANY_CASE)
def test_consistent_usage_reconciles(case: Case) -> None:
    provider, api, usage, total_in, total_out = case
    got = normalize(provider, api, usage)
    assert min(got.counts) >= 0
    assert got.total_input == total_in
    assert got.total_output == total_out
    assert got.total == total_in + total_out


@settings(max_examples=200, deadline=None)
@given(ANY_CASE, st.randoms(use_true_random=False))
def test_key_order_does_not_matter(case: Case, rng: random.Random) -> None:
    provider, api, usage, _, _ = case
    assert normalize(provider, api, _shuffled(usage, rng)) == normalize(provider, api, usage)


# -- inconsistent objects -----------------------------------------------------------------------

def _counts(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every integer count inside a usage object."""
    if isinstance(value, dict):
        return [p for key, v in value.items() for p in _counts(v, (*path, key))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _counts(v, (*path, i))]
    return [path] if type(value) is int else []


def _set(usage: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        usage = usage[key]
    usage[path[-1]] = value


@settings(max_examples=300, deadline=None)
@given(ANY_CASE, st.data())
def test_bad_count_types_raise(case: Case, data: st.DataObject) -> None:
    provider, api, usage, _, _ = case
    paths = _counts(usage)
    path = data.draw(st.sampled_from(paths))
    original = usage
    for key in path[:-1]:
        original = original[key]
    n = original[path[-1]]
    bad = data.draw(st.sampled_from([float(n), str(n), -1 - n, bool(n % 2), [n]]))
    _set(usage, path, bad)
    try:
        normalize(provider, api, usage)
    except UsageError:
        return
    raise AssertionError(f"accepted {bad!r} at {path}")


def _break_gemini(usage: dict[str, Any], what: str, bump: int) -> None:
    snake = "prompt_token_count" in usage

    def k(camel: str, snake_name: str) -> str:
        return snake_name if snake else camel

    prompt = usage[k("promptTokenCount", "prompt_token_count")]
    if what == "cached":  # cached content larger than the prompt that contains it
        usage[k("cachedContentTokenCount", "cached_content_token_count")] = prompt + bump
    elif what == "total":  # a total that forgets (or double counts) a bucket
        parts = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
                 "toolUsePromptTokenCount")
        snake_parts = ("prompt_token_count", "candidates_token_count", "thoughts_token_count",
                       "tool_use_prompt_token_count")
        right = sum(usage.get(k(c, s_)) or 0 for c, s_ in zip(parts, snake_parts, strict=True))
        usage[k("totalTokenCount", "total_token_count")] = right + bump
    else:  # modality details adding up to more than the prompt
        key = k("tokenCount", "token_count")
        details = k("promptTokensDetails", "prompt_tokens_details")
        usage[details] = [*usage[details], {"modality": "AUDIO", key: bump}]


def _break_anthropic(usage: dict[str, Any], what: str, bump: int) -> None:
    if what == "thinking":  # thinking is inside output_tokens, so it cannot exceed it
        usage["output_tokens_details"] = {"thinking_tokens": usage["output_tokens"] + bump}
    else:  # a TTL split that does not add up to the cache writes
        written = usage.get("cache_creation_input_tokens") or 0
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": written + bump}


_PROMPT_DETAILS = ("prompt_tokens_details", "input_tokens_details", "input_token_details")
_COMPLETION_DETAILS = ("completion_tokens_details", "output_tokens_details",
                       "output_token_details")


def _break_openai(provider: str, usage: dict[str, Any], what: str, bump: int) -> None:
    chat = "prompt_tokens" in usage
    p_key, c_key = ("prompt_tokens", "completion_tokens") if chat else ("input_tokens",
                                                                        "output_tokens")
    pd_key = next(k for k in _PROMPT_DETAILS if k in usage)
    cd_key = next(k for k in _COMPLETION_DETAILS if k in usage)
    prompt, completion = usage[p_key], usage[c_key]
    if what == "cached":  # more cached than prompt (the double-counting symptom)
        if provider == "deepseek":
            usage["prompt_cache_hit_tokens"] = prompt + bump
        elif provider == "moonshot" and "cached_tokens" in usage:
            usage["cached_tokens"] = prompt + bump
        else:
            usage[pd_key] = {"cached_tokens": prompt + bump}
    elif what == "total":
        reasoning = (usage[cd_key] or {}).get("reasoning_tokens") or 0
        usage["total_tokens"] = prompt + completion + reasoning + bump
    else:  # reasoning larger than the completion that includes it
        usage[cd_key] = {"reasoning_tokens": completion + bump}
        usage["total_tokens"] = prompt + completion


_BREAKS = {
    "google": ["cached", "total", "details"],
    "messages": ["thinking", "ttl"],
    "xai": ["cached", "total", "reasoning"],
    "openai": ["cached", "total", "reasoning"],
}


def _break(provider: str, api: str, usage: dict[str, Any], data: st.DataObject) -> None:
    """Inject one inconsistency a real provider or gateway bug could produce."""
    bump = data.draw(st.integers(1, 1000))
    family = "google" if provider == "google" else "messages" if api == "messages" else "openai"
    what = data.draw(st.sampled_from(_BREAKS[family]))
    if family == "google":
        _break_gemini(usage, what, bump)
    elif family == "messages":
        _break_anthropic(usage, what, bump)
    else:
        _break_openai(provider, usage, what, bump)


@settings(max_examples=400, deadline=None)
@given(ANY_CASE, st.data())
def test_inconsistent_usage_raises(case: Case, data: st.DataObject) -> None:
    provider, api, usage, _, _ = case
    _break(provider, api, usage, data)
    try:
        got = normalize(provider, api, usage)
    except UsageError:
        return
    raise AssertionError(f"accepted inconsistent {usage!r}: {got}")

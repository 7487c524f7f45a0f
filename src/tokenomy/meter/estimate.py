"""Worst-case usage of a request, before it is sent.

In: a request body of one API family (OpenAI ``chat``, ``responses``, ``embeddings``;
Anthropic ``messages``; Gemini ``generate_content``) and the model's :class:`ModelRules`.
Out: a :class:`Usage` marked ``estimated`` that budgets reserve, so it must never be below
what the provider will bill for input:

* text is counted with the model's tokenizer plus its chat overhead (estimators lean high);
* inline media (``data:`` URLs, base64 blocks) are read and counted by the model's rules;
* remote media go through the ``fetch`` callable the caller passes in (the meter does no
  I/O); without one, a remote image counts at its rule's largest size and remote audio or
  video is refused, as nothing bounds its length;
* output is the request's own cap (``max_tokens``, ``max_completion_tokens``,
  ``max_output_tokens``, ``maxOutputTokens``) times the number of choices, or the model's
  documented maximum when the request names none. A reasoning budget (Anthropic
  ``thinking.budget_tokens``, Gemini ``thinkingBudget``) is reported as reasoning; OpenAI
  reasoning counts inside its output cap. Pricing takes the dearer of the output and
  reasoning rates for a worst case.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tokenomy.meter.chat import count_chat, count_tools
from tokenomy.meter.errors import RequestError
from tokenomy.meter.media import (
    Detail,
    ImageRule,
    MediaResolution,
    audio_tokens,
    image_tokens,
    video_tokens,
)
from tokenomy.meter.models import ModelRules
from tokenomy.meter.probe import MediaError, MediaInfo, decode_data_url, probe
from tokenomy.meter.tokenizers import get_tokenizer
from tokenomy.meter.usage import MODALITIES, Modality, Usage

Fetch = Callable[[str], bytes]

API_FAMILIES = ("chat", "responses", "embeddings", "messages", "generate_content")
# Sizes that bound every image rule we know: tiles cap at 768×2048, patches at their budget,
# Claude at its token cap, Gemini 2.x is approximated as 4×4 tiles at most (3072 px).
_WORST_SIZES = ((768, 2048), (2048, 768), (1568, 1568), (3072, 3072), (2048, 2048), (4096, 4096))
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_MAX_PARTS = 10_000  # a request with more content parts than this is refused


@dataclass(slots=True)
class _Collected:
    """What a request body holds, family-neutral."""

    messages: list[dict[str, Any]] = field(default_factory=list)  # OpenAI-shaped text messages
    raw_texts: list[str] = field(default_factory=list)  # text with no chat frame (embeddings)
    raw_tokens: int = 0  # input already given as token ids
    media: list[tuple[str, Any]] = field(default_factory=list)  # (kind, payload)
    tools: list[Any] = field(default_factory=list)
    output_cap: int | None = None
    reasoning: int = 0
    choices: int = 1
    audio_out: bool = False
    resolution: MediaResolution | None = None
    cache_ttl: str | None = None  # the longest cache_control TTL a request asks for


def _cache_ttl(node: Any, depth: int = 0) -> str | None:
    """The longest ``cache_control`` TTL anywhere in ``node`` ("1h" beats "5m")."""
    if depth > 64:
        raise RequestError("request body nests deeper than 64 levels")
    best: str | None = None
    if isinstance(node, Mapping):
        control = node.get("cache_control")
        if isinstance(control, Mapping):
            best = str(control.get("ttl") or "5m")
        children: Iterable[Any] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        ttl = _cache_ttl(child, depth + 1)
        if ttl is not None and (best is None or _TTL_ORDER.get(ttl, 9) > _TTL_ORDER.get(best, 9)):
            best = ttl
    return best


_TTL_ORDER = {"5m": 0, "1h": 1}


def estimate_request(
    api: str, body: Mapping[str, Any], rules: ModelRules, fetch: Fetch | None = None
) -> Usage:
    """The worst-case :class:`Usage` of ``body`` sent to ``rules.model`` over ``api``."""
    if not isinstance(body, Mapping):
        raise RequestError("the request body must be a JSON object")
    collect = _COLLECTORS.get(api)
    if collect is None:
        raise RequestError(f"unknown api {api!r}; known: {', '.join(API_FAMILIES)}")
    found = _Collected()
    collect(body, found)
    found.cache_ttl = _cache_ttl(body)
    if len(found.media) > _MAX_PARTS:
        raise RequestError(f"too many media parts ({len(found.media)} > {_MAX_PARTS})")
    tokenizer = get_tokenizer(rules.tokenizer)
    text_in = found.raw_tokens + sum(tokenizer.count(t) for t in found.raw_texts)
    if found.messages:
        text_in += count_chat(found.messages, tokenizer, rules.family)
    if found.tools:
        text_in += count_tools(found.tools, tokenizer, rules.family)
    media_in = dict.fromkeys(MODALITIES, 0)
    media_in[Modality.TEXT] = text_in
    for kind, payload in found.media:
        modality, tokens = _media_tokens(kind, payload, rules, found.resolution, fetch)
        media_in[modality] += tokens
    cap = found.output_cap if found.output_cap is not None else rules.max_output_tokens
    if api == "generate_content":  # thoughts are billed beside the candidates
        visible, reasoning = cap, found.reasoning
    else:  # Anthropic's thinking budget and OpenAI's reasoning live inside the cap
        reasoning = min(found.reasoning, cap)
        visible = cap - reasoning
    out = dict.fromkeys(MODALITIES, 0)
    out[Modality.AUDIO if found.audio_out else Modality.TEXT] = visible * found.choices
    # Cache reads are cheaper than input, so none are assumed. A request that marks
    # cache breakpoints may instead write its whole text prefix, which costs more (1.25× or
    # 2× input at Anthropic and DashScope): the worst case books the text as a cache write.
    fresh = [media_in[m] for m in MODALITIES]
    written = [0] * len(MODALITIES)
    ttl: tuple[tuple[str, int], ...] = ()
    if found.cache_ttl is not None and text_in:
        fresh[0], written[0] = 0, text_in
        ttl = ((found.cache_ttl, text_in),)
    counts = (
        *fresh,
        *(0,) * len(MODALITIES),
        *written,
        *(out[m] for m in MODALITIES),
        reasoning * found.choices, *(0,) * (len(MODALITIES) - 1),
    )
    return Usage(counts, cache_write_ttl=ttl, estimated=True)


# -- media ------------------------------------------------------------------------------


def _media_tokens(
    kind: str, payload: Any, rules: ModelRules, resolution: MediaResolution | None,
    fetch: Fetch | None,
) -> tuple[Modality, int]:
    ref: str | bytes
    detail = Detail.AUTO
    if isinstance(payload, tuple):
        ref, detail = payload
    else:
        ref = payload
    data = _load(ref, fetch)
    if data is None:  # remote image, nothing to read it with
        if kind != "image" or rules.image is None:
            raise RequestError(
                f"cannot bound remote {kind} {str(ref)[:80]!r}: send it inline or let the "
                "gateway fetch it"
            )
        return Modality.IMAGE, _worst_image(rules.image, detail, resolution)
    if kind == "document" or data[:5] == b"%PDF-":
        return Modality.DOCUMENT, _document_tokens(data, rules)
    try:
        info = probe(data)
    except MediaError as exc:
        raise RequestError(f"unreadable {kind} part: {exc}") from None
    return _info_tokens(info, rules, detail, resolution)


def _info_tokens(
    info: MediaInfo, rules: ModelRules, detail: Detail, resolution: MediaResolution | None
) -> tuple[Modality, int]:
    if info.modality == "image":
        if rules.image is None:
            raise RequestError(f"model {rules.model!r} does not take image input")
        assert info.width is not None and info.height is not None
        return Modality.IMAGE, image_tokens(rules.image, info.width, info.height, detail,
                                            resolution)
    duration = info.duration_ms or 0
    if info.modality == "audio":
        if rules.audio is None:
            raise RequestError(f"model {rules.model!r} does not take audio input")
        return Modality.AUDIO, audio_tokens(rules.audio, duration, "input")
    if rules.video is None:
        raise RequestError(f"model {rules.model!r} does not take video input")
    return Modality.VIDEO, video_tokens(rules.video, duration, info.has_audio, resolution)


def count_media(
    info: MediaInfo, rules: ModelRules, detail: Detail = Detail.AUTO,
    resolution: MediaResolution | None = None,
) -> tuple[Modality, int]:
    """Tokens of one probed media item for ``rules.model``."""
    return _info_tokens(info, rules, detail, resolution)


def _document_tokens(data: bytes, rules: ModelRules) -> int:
    if rules.document_tokens_per_page is None:
        raise RequestError(f"model {rules.model!r} does not take document input")
    pages = max(1, len(_PDF_PAGE.findall(data)))
    return pages * rules.document_tokens_per_page


def count_document(data: bytes, rules: ModelRules) -> int:
    """Tokens of a PDF for ``rules.model``: pages × the model's per-page rule."""
    return _document_tokens(data, rules)


def _worst_image(rule: ImageRule, detail: Detail, resolution: MediaResolution | None) -> int:
    return max(image_tokens(rule, w, h, detail, resolution) for w, h in _WORST_SIZES)


def _load(ref: str | bytes, fetch: Fetch | None) -> bytes | None:
    if isinstance(ref, bytes):
        return ref
    if ref.startswith("data:"):
        try:
            return decode_data_url(ref)[1]
        except MediaError as exc:
            raise RequestError(str(exc)) from None
    if fetch is None:
        return None
    return fetch(ref)


def _b64(data: Any, where: str) -> bytes:
    if not isinstance(data, str):
        raise RequestError(f"{where}: base64 data must be a string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: invalid base64 data") from None


# -- request shapes ---------------------------------------------------------------------


def _int_field(body: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RequestError(f"{name} must be a non-negative integer, got {value!r}")
        return value
    return None


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RequestError(f"{where} must be a list")
    return value


def _text_message(role: str, texts: Iterable[str]) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": t} for t in texts]}


def _openai_parts(content: Any, found: _Collected, where: str) -> Iterator[str]:
    """Texts of an OpenAI content (string or parts); media parts go to ``found.media``."""
    if content is None:
        return
    if isinstance(content, str):
        yield content
        return
    for i, part in enumerate(_list(content, where)):
        if not isinstance(part, Mapping):
            raise RequestError(f"{where}[{i}] must be an object")
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text", "refusal"):
            yield str(part.get("text") or part.get("refusal") or "")
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            detail = image.get("detail", "auto") if isinstance(image, Mapping) else "auto"
            found.media.append(("image", (_str(url, where), Detail(detail or "auto"))))
        elif kind == "input_image":
            url = part.get("image_url") or part.get("file_id")
            found.media.append(("image", (_str(url, where), Detail(part.get("detail") or "auto"))))
        elif kind == "input_audio":
            audio = part.get("input_audio", part)
            found.media.append(("audio", _b64(audio.get("data"), f"{where}[{i}].input_audio")))
        elif kind in ("file", "input_file"):
            file = part.get("file", part)
            data = file.get("file_data") or file.get("file_url") or file.get("file_id")
            found.media.append(("document", _str(data, where)))
        else:
            raise RequestError(f"{where}[{i}]: unknown content part type {kind!r}")


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise RequestError(f"{where}: expected a URL or data string")
    return value


def _collect_chat(body: Mapping[str, Any], found: _Collected) -> None:
    for i, message in enumerate(_list(body.get("messages"), "messages")):
        if not isinstance(message, Mapping):
            raise RequestError(f"messages[{i}] must be an object")
        texts = list(_openai_parts(message.get("content"), found, f"messages[{i}].content"))
        for call in message.get("tool_calls") or ():
            fn = call.get("function", {}) if isinstance(call, Mapping) else {}
            texts.append(str(fn.get("name", "")) + str(fn.get("arguments", "")))
        entry = _text_message(str(message.get("role", "user")), texts)
        if message.get("name"):
            entry["name"] = str(message["name"])
        found.messages.append(entry)
    found.tools = list(body.get("tools") or body.get("functions") or [])
    found.output_cap = _int_field(body, "max_completion_tokens", "max_tokens")
    found.choices = max(1, _int_field(body, "n") or 1)
    found.audio_out = "audio" in (body.get("modalities") or ())


def _collect_responses(body: Mapping[str, Any], found: _Collected) -> None:
    if body.get("instructions"):
        found.messages.append(_text_message("developer", [str(body["instructions"])]))
    items = body.get("input")
    if isinstance(items, str):
        found.messages.append(_text_message("user", [items]))
    else:
        for i, item in enumerate(_list(items, "input")):
            if not isinstance(item, Mapping):
                raise RequestError(f"input[{i}] must be an object")
            if item.get("type") in ("function_call_output", "function_call"):
                text = str(item.get("output") or "") + str(item.get("arguments") or "")
                found.messages.append(_text_message("tool", [text]))
                continue
            texts = list(_openai_parts(item.get("content"), found, f"input[{i}].content"))
            found.messages.append(_text_message(str(item.get("role", "user")), texts))
    found.tools = list(body.get("tools") or [])
    found.output_cap = _int_field(body, "max_output_tokens")


def _collect_embeddings(body: Mapping[str, Any], found: _Collected) -> None:
    value = body.get("input")
    inputs = [value] if isinstance(value, str) else _list(value, "input")
    texts: list[str] = []
    extra_tokens = 0
    for item in inputs:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list):  # already tokenized
            extra_tokens += len(item)
        else:
            raise RequestError("input items must be strings or token arrays")
    found.raw_texts = texts
    found.raw_tokens = extra_tokens
    found.output_cap = 0


def _anthropic_blocks(content: Any, found: _Collected, where: str) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    for i, block in enumerate(_list(content, where)):
        if not isinstance(block, Mapping):
            raise RequestError(f"{where}[{i}] must be an object")
        kind = block.get("type")
        if kind == "text":
            yield str(block.get("text", ""))
        elif kind in ("thinking", "redacted_thinking"):
            yield str(block.get("thinking") or block.get("data") or "")
        elif kind == "tool_use":
            yield str(block.get("name", "")) + json.dumps(block.get("input", {}))
        elif kind == "tool_result":
            yield from _anthropic_blocks(block.get("content") or "", found, f"{where}[{i}]")
        elif kind in ("image", "document"):
            source = block.get("source")
            if not isinstance(source, Mapping):
                raise RequestError(f"{where}[{i}].source must be an object")
            if source.get("type") == "base64":
                found.media.append((kind, _b64(source.get("data"), f"{where}[{i}].source")))
            elif source.get("type") == "text":
                yield str(source.get("data", ""))
            elif source.get("type") == "url":
                found.media.append((kind, _str(source.get("url"), f"{where}[{i}].source")))
            else:
                raise RequestError(f"{where}[{i}].source: unknown type {source.get('type')!r}")
        else:
            raise RequestError(f"{where}[{i}]: unknown content block type {kind!r}")


def _collect_messages(body: Mapping[str, Any], found: _Collected) -> None:
    system = body.get("system")
    if system:
        found.messages.append(
            _text_message("system", list(_anthropic_blocks(system, found, "system")))
        )
    for i, message in enumerate(_list(body.get("messages"), "messages")):
        if not isinstance(message, Mapping):
            raise RequestError(f"messages[{i}] must be an object")
        texts = list(_anthropic_blocks(message.get("content"), found, f"messages[{i}].content"))
        found.messages.append(_text_message(str(message.get("role", "user")), texts))
    found.tools = list(body.get("tools") or [])
    found.output_cap = _int_field(body, "max_tokens")
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        found.reasoning = _int_field(thinking, "budget_tokens") or 0


_GEMINI_RESOLUTION = {
    "MEDIA_RESOLUTION_LOW": MediaResolution.LOW,
    "MEDIA_RESOLUTION_MEDIUM": MediaResolution.MEDIUM,
    "MEDIA_RESOLUTION_HIGH": MediaResolution.HIGH,
    "MEDIA_RESOLUTION_ULTRA_HIGH": MediaResolution.ULTRA_HIGH,
}


def _gemini_get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    return obj.get(camel, obj.get(snake))


def _gemini_parts(content: Any, found: _Collected, where: str) -> list[str]:
    if not isinstance(content, Mapping):
        raise RequestError(f"{where} must be an object")
    texts: list[str] = []
    for i, part in enumerate(_list(content.get("parts", []), f"{where}.parts")):
        if not isinstance(part, Mapping):
            raise RequestError(f"{where}.parts[{i}] must be an object")
        inline = _gemini_get(part, "inlineData", "inline_data")
        remote = _gemini_get(part, "fileData", "file_data")
        if "text" in part:
            texts.append(str(part["text"]))
        elif isinstance(inline, Mapping):
            mime = str(_gemini_get(inline, "mimeType", "mime_type") or "")
            kind = "document" if mime == "application/pdf" else mime.split("/")[0] or "image"
            found.media.append((kind, _b64(inline.get("data"), f"{where}.parts[{i}]")))
        elif isinstance(remote, Mapping):
            mime = str(_gemini_get(remote, "mimeType", "mime_type") or "")
            uri = _str(_gemini_get(remote, "fileUri", "file_uri"), f"{where}.parts[{i}]")
            found.media.append((mime.split("/")[0] or "image", uri))
        elif any(k in part for k in ("functionCall", "function_call", "functionResponse",
                                     "function_response")):
            texts.append(json.dumps(part, sort_keys=True))
        else:
            raise RequestError(f"{where}.parts[{i}]: unknown part {sorted(part)}")
    return texts


def _collect_generate_content(body: Mapping[str, Any], found: _Collected) -> None:
    system = _gemini_get(body, "systemInstruction", "system_instruction")
    if system:
        found.messages.append(_text_message("system", _gemini_parts(system, found, "system")))
    for i, content in enumerate(_list(body.get("contents"), "contents")):
        texts = _gemini_parts(content, found, f"contents[{i}]")
        found.messages.append(_text_message(str(content.get("role", "user")), texts))
    found.tools = list(body.get("tools") or [])
    config = _gemini_get(body, "generationConfig", "generation_config") or {}
    if not isinstance(config, Mapping):
        raise RequestError("generationConfig must be an object")
    found.output_cap = _int_field(config, "maxOutputTokens", "max_output_tokens")
    found.choices = max(1, _int_field(config, "candidateCount", "candidate_count") or 1)
    thinking = _gemini_get(config, "thinkingConfig", "thinking_config") or {}
    if isinstance(thinking, Mapping):
        budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
        if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0:
            found.reasoning = budget
    resolution = _gemini_get(config, "mediaResolution", "media_resolution")
    if resolution is not None:
        if resolution not in _GEMINI_RESOLUTION:
            raise RequestError(f"unknown mediaResolution {resolution!r}")
        found.resolution = _GEMINI_RESOLUTION[resolution]


_COLLECTORS: dict[str, Callable[[Mapping[str, Any], _Collected], None]] = {
    "chat": _collect_chat,
    "responses": _collect_responses,
    "embeddings": _collect_embeddings,
    "messages": _collect_messages,
    "generate_content": _collect_generate_content,
}

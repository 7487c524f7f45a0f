"""Reading usage out of what an upstream sends, per API family, streaming or not.

In: upstream response bodies (JSON) or server-sent events, one complete event at a time. Out:
the provider's native usage object when the upstream gave one (normalized by the meter), the
text that was actually delivered (to count with the real tokenizer when it gave none), and the
final event rewritten to carry Tokenomy's cost (``"tokenomy": {...}``).

The hot path parses only the events that can carry usage; the text of a stream is extracted
from the kept events only when a stream ends without usage.

==========  ============================  ==================================================
family      usage arrives in              text arrives in
==========  ============================  ==================================================
chat        the chunk whose ``usage`` is  ``choices[].delta.content`` (and reasoning, tool
            set (``include_usage``)       call arguments)
responses   ``response.completed``        ``response.*.delta`` events
messages    ``message_start`` (input) +   ``content_block_delta`` (text, thinking, JSON)
            ``message_delta`` (output)
embeddings  the body's ``usage``          (no output)
==========  ============================  ==================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from tokenomy.meter.errors import MeterError
from tokenomy.meter.normalize import normalize, supported
from tokenomy.meter.tokenizers import get_tokenizer
from tokenomy.meter.usage import Usage

SSE_EVENT_BYTES_MAX = 16 * 1024 * 1024  # one event larger than this ends the stream
_USAGE_NULL = (b'"usage":null', b'"usage": null')
_NORMALIZERS = set(supported())


def split_events(buffer: bytearray) -> Iterator[bytes]:
    """Complete events (without their blank-line terminator) taken off the front of
    ``buffer``; a partial event stays in it."""
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            if len(buffer) > SSE_EVENT_BYTES_MAX:
                raise ValueError("an upstream event exceeds the size limit")
            return
        event = bytes(buffer[:end])
        del buffer[: end + 2]
        if event.strip():
            yield event


def event_data(event: bytes) -> bytes:
    """The ``data:`` payload of one event (multi-line data joined with newlines)."""
    if event.startswith(b"data:") and b"\ndata:" not in event:
        first = event.split(b"\n", 1)[0] if b"\n" in event else event
        return first[5:].lstrip(b" ")
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines)


def with_data(event: bytes, data: dict[str, Any]) -> bytes:
    """``event`` with its data line replaced by ``data`` (other fields kept)."""
    kept = [line for line in event.split(b"\n") if not line.startswith(b"data:")]
    kept.append(b"data: " + json.dumps(data, separators=(",", ":")).encode())
    return b"\n".join(kept)


class StreamUsage:
    """What one stream says about usage so far, for one API family."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.native: dict[str, Any] | None = None  # the final usage, when it came
        self.start_usage: dict[str, Any] | None = None  # Anthropic message_start usage
        self.events: list[bytes] = []  # data payloads delivered (text is read only if needed)

    def final(self, event: bytes) -> dict[str, Any] | None:
        """If ``event`` carries the stream's final usage, its parsed data (the caller prices
        it and may rewrite the event); else None. Keeps the event for counting."""
        data = event_data(event)
        self.events.append(data)
        if self.api == "chat":
            if b'"usage"' not in data or any(n in data for n in _USAGE_NULL):
                return None
            obj = _loads(data)
            if isinstance(obj, dict) and isinstance(obj.get("usage"), dict):
                self.native = obj["usage"]
                return obj
            return None
        if self.api == "responses":
            if b'"response.completed"' not in data and b'"response.incomplete"' not in data:
                return None
            obj = _loads(data)
            response = obj.get("response") if isinstance(obj, dict) else None
            if isinstance(response, dict) and isinstance(response.get("usage"), dict):
                self.native = response["usage"]
                return obj  # type: ignore[no-any-return]
            return None
        if self.api == "messages":
            if b'"message_start"' in data:
                obj = _loads(data)
                message = obj.get("message") if isinstance(obj, dict) else None
                if isinstance(message, dict) and isinstance(message.get("usage"), dict):
                    self.start_usage = dict(message["usage"])
                return None
            if b'"message_delta"' in data:
                obj = _loads(data)
                if isinstance(obj, dict) and isinstance(obj.get("usage"), dict):
                    merged = dict(self.start_usage or {})
                    merged.update({k: v for k, v in obj["usage"].items() if v is not None})
                    self.native = merged
                    return obj
        return None

    def delivered_text(self) -> str:
        """The text of every kept event (content, reasoning, tool-call arguments)."""
        parts: list[str] = []
        for data in self.events:
            obj = _loads(data)
            if isinstance(obj, dict):
                parts.extend(_texts(self.api, obj))
        return "".join(parts)


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _texts(api: str, obj: dict[str, Any]) -> Iterator[str]:
    if api == "chat":
        for choice in obj.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            for name in ("content", "reasoning_content", "refusal"):
                if isinstance(delta.get(name), str):
                    yield delta[name]
            for call in delta.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    yield from (function[k] for k in ("name", "arguments")
                                if isinstance(function.get(k), str))
    elif api == "responses":
        kind = obj.get("type")
        if isinstance(kind, str) and kind.endswith(".delta") and isinstance(obj.get("delta"), str):
            yield obj["delta"]
    elif api == "messages" and obj.get("type") == "content_block_delta":
        delta = obj.get("delta")
        if isinstance(delta, dict):
            for name in ("text", "thinking", "partial_json"):
                if isinstance(delta.get(name), str):
                    yield delta[name]


def body_text(api: str, body: dict[str, Any]) -> str:
    """The generated text of a whole (non-streaming) response, for counting."""
    parts: list[str] = []
    if api == "chat":
        for choice in body.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                for name in ("content", "reasoning_content", "refusal"):
                    if isinstance(message.get(name), str):
                        parts.append(message[name])
                for call in message.get("tool_calls") or ():
                    function = call.get("function") if isinstance(call, dict) else None
                    if isinstance(function, dict):
                        parts.extend(str(function.get(k) or "") for k in ("name", "arguments"))
    elif api == "responses":
        for item in body.get("output") or ():
            for part in (item.get("content") or ()) if isinstance(item, dict) else ():
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
            if isinstance(item, dict) and isinstance(item.get("arguments"), str):
                parts.append(item["arguments"])
    elif api == "messages":
        for block in body.get("content") or ():
            if isinstance(block, dict):
                for name in ("text", "thinking"):
                    if isinstance(block.get(name), str):
                        parts.append(block[name])
                if "input" in block:
                    parts.append(json.dumps(block["input"]))
    return "".join(parts)


def usage_of(api: str, kind: str, provider: str, native: Any) -> Usage:
    """The canonical usage from an upstream's usage object (MeterError if malformed)."""
    if not isinstance(native, Mapping):
        raise MeterError("the upstream's usage is not an object")
    if api == "embeddings":
        prompt = native.get("prompt_tokens", native.get("total_tokens"))
        if isinstance(prompt, bool) or not isinstance(prompt, int) or prompt < 0:
            raise MeterError("embeddings usage has no prompt_tokens")
        return Usage.build(input=prompt)
    name = provider if (provider, api) in _NORMALIZERS else kind
    return normalize(name, api, native)


def counted_usage(estimate: Usage, text: str, tokenizer: str, start: Usage | None = None) -> Usage:
    """What a response without usage cost: the input as estimated (or as the upstream said at
    the start of a stream) plus the delivered text counted with the model's tokenizer."""
    base = start if start is not None else estimate
    counts = list(base.counts)
    counts[15:25] = [0] * 10  # output and reasoning: only what was delivered
    counts[15] = get_tokenizer(tokenizer).count(text) if text else 0
    return Usage(tuple(counts), cache_write_ttl=base.cache_write_ttl, estimated=True)


__all__ = [
    "SSE_EVENT_BYTES_MAX",
    "StreamUsage",
    "body_text",
    "counted_usage",
    "event_data",
    "split_events",
    "usage_of",
    "with_data",
]

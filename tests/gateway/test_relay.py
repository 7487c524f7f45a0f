"""Server-sent events: split wherever the bytes happen to break, usage found per family."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tokenomy.gateway.relay import StreamUsage, event_data, split_events, with_data

EVENTS = [b'data: {"a": 1}', b"event: x\ndata: {\"b\": 2}", b": comment", b"data: [DONE]"]


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_events_come_out_whole_however_the_stream_is_cut(cuts: list[int]) -> None:
    stream = b"".join(e + b"\n\n" for e in EVENTS)
    buffer, seen, at = bytearray(), [], 0
    for size in cuts * 10:
        if at >= len(stream):
            break
        buffer += stream[at:at + size]
        at += size
        seen.extend(split_events(buffer))
    buffer += stream[at:]
    seen.extend(split_events(buffer))
    assert seen == EVENTS and not buffer


def test_event_data_and_rewrite() -> None:
    assert event_data(b'event: x\ndata: {"b": 2}') == b'{"b": 2}'
    assert event_data(b"data: a\ndata: b") == b"a\nb"
    rewritten = with_data(b"event: response.completed\ndata: {}", {"t": 1})
    assert rewritten == b'event: response.completed\ndata: {"t":1}'


def chunk(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode()


def test_chat_usage_is_the_chunk_with_usage_set() -> None:
    s = StreamUsage("chat")
    assert s.final(chunk({"choices": [{"delta": {"content": "Hi"}}], "usage": None})) is None
    final = s.final(chunk({"choices": [], "usage": {"prompt_tokens": 3}}))
    assert final is not None and s.native == {"prompt_tokens": 3}
    assert s.delivered_text() == "Hi"


def test_anthropic_usage_merges_start_and_delta() -> None:
    s = StreamUsage("messages")
    s.final(b"event: message_start\n" + chunk(
        {"type": "message_start", "message": {"usage": {"input_tokens": 9,
                                                        "cache_read_input_tokens": 4}}}))
    s.final(b"event: content_block_delta\n" + chunk(
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "yo"}}))
    final = s.final(b"event: message_delta\n" + chunk(
        {"type": "message_delta", "usage": {"output_tokens": 2}}))
    assert final is not None
    assert s.native == {"input_tokens": 9, "cache_read_input_tokens": 4, "output_tokens": 2}
    assert s.delivered_text() == "yo"


def test_responses_usage_is_in_the_completed_event() -> None:
    s = StreamUsage("responses")
    s.final(b"event: response.output_text.delta\n" + chunk(
        {"type": "response.output_text.delta", "delta": "abc"}))
    final = s.final(b"event: response.completed\n" + chunk(
        {"type": "response.completed", "response": {"usage": {"input_tokens": 1}}}))
    assert final is not None and s.native == {"input_tokens": 1}
    assert s.delivered_text() == "abc"

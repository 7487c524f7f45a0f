"""Worst-case request estimates: what a budget reserves before the call."""

from __future__ import annotations

import base64
import io
import wave

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tokenomy.meter.errors import RequestError, UnknownModelError
from tokenomy.meter.estimate import estimate_request
from tokenomy.meter.models import resolve
from tokenomy.meter.tokenizers import get_tokenizer


def _png_b64(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _wav_b64(seconds: int) -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000 * seconds)
    return base64.b64encode(buf.getvalue()).decode()


def test_openai_chat_text_image_and_choices() -> None:
    body = {
        "model": "gpt-4o",
        "max_completion_tokens": 50,
        "n": 2,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {
                    "url": "data:image/png;base64," + _png_b64(1024, 1024), "detail": "high"}},
            ]},
        ],
    }
    usage = estimate_request("chat", body, resolve("gpt-4o"))
    assert usage.input.image == 765
    assert usage.input.text > 0
    assert usage.output.text == 100  # 50 × n=2
    assert usage.estimated


def test_remote_image_without_fetch_counts_at_the_rules_largest_size() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.jpg"}}]}],
        "max_tokens": 1}
    usage = estimate_request("chat", body, resolve("gpt-4o"))
    assert usage.input.image == 85 + 170 * 8  # 768×2048 after resizing: 2×4 tiles


def test_remote_image_with_fetch_reads_the_real_size() -> None:
    png = base64.b64decode(_png_b64(512, 512))
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}}]}],
        "max_tokens": 1}
    usage = estimate_request("chat", body, resolve("gpt-4o"), fetch=lambda url: png)
    assert usage.input.image == 255


def test_remote_audio_cannot_be_bounded_without_fetch() -> None:
    body = {"contents": [{"parts": [{"fileData": {"mimeType": "audio/mp3",
                                                  "fileUri": "gs://bucket/a.mp3"}}]}]}
    with pytest.raises(RequestError, match="remote audio"):
        estimate_request("generate_content", body, resolve("gemini-2.5-flash"))


def test_chat_audio_input_and_audio_output() -> None:
    body = {"modalities": ["text", "audio"], "max_tokens": 200, "messages": [
        {"role": "user", "content": [{"type": "input_audio",
                                      "input_audio": {"data": _wav_b64(3), "format": "wav"}}]}]}
    usage = estimate_request("chat", body, resolve("gpt-4o-audio-preview"))
    assert usage.input.audio == 30  # 10 tokens per second in
    assert usage.output.audio == 200 and usage.output.text == 0


def test_anthropic_thinking_budget_is_inside_max_tokens() -> None:
    body = {"max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1500},
            "system": "You count.", "messages": [{"role": "user", "content": "1 2 3"}]}
    usage = estimate_request("messages", body, resolve("claude-sonnet-4-5"))
    assert usage.reasoning.text == 1500 and usage.output.text == 500


def test_anthropic_cache_control_books_text_as_a_cache_write() -> None:
    body = {"max_tokens": 10, "system": [
        {"type": "text", "text": "A long shared prefix. " * 50,
         "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": "Hi"}]}
    usage = estimate_request("messages", body, resolve("claude-sonnet-4-5"))
    assert usage.input.text == 0
    assert usage.cache_write.text > 50
    assert usage.ttl("1h") == usage.cache_write.text


def test_anthropic_image_block() -> None:
    body = {"max_tokens": 1, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": _png_b64(512, 512)}}]}]}
    usage = estimate_request("messages", body, resolve("claude-haiku-4-5"))
    assert usage.input.image == 350  # 512·512/750, rounded up (token_facts §1b)


def test_gemini_thoughts_are_beside_the_output_cap_and_audio_counts() -> None:
    body = {"contents": [{"role": "user", "parts": [
        {"text": "Transcribe"},
        {"inlineData": {"mimeType": "audio/wav", "data": _wav_b64(2)}}]}],
        "generationConfig": {"maxOutputTokens": 300,
                             "thinkingConfig": {"thinkingBudget": 1000}}}
    usage = estimate_request("generate_content", body, resolve("gemini-2.5-flash"))
    assert usage.input.audio == 64
    assert usage.output.text == 300 and usage.reasoning.text == 1000


def test_responses_api_and_default_output_cap() -> None:
    body = {"instructions": "Be terse.", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}]}
    usage = estimate_request("responses", body, resolve("gpt-5"))
    assert usage.output.text == resolve("gpt-5").max_output_tokens
    assert usage.input.text > 2


def test_embeddings_count_raw_text_and_token_arrays() -> None:
    body = {"input": ["hello world", [1, 2, 3]]}
    usage = estimate_request("embeddings", body, resolve("text-embedding-3-small"))
    assert usage.input.text == 2 + 3 and usage.total_output == 0


def test_pdf_document_counts_pages() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 2 >>\n2 0 obj << /Type /Page >>\n" \
          b"3 0 obj << /Type /Page >>\n%%EOF"
    body = {"contents": [{"parts": [{"inlineData": {
        "mimeType": "application/pdf", "data": base64.b64encode(pdf).decode()}}]}]}
    usage = estimate_request("generate_content", body, resolve("gemini-2.5-pro"))
    assert usage.input.document == 2 * 258


@pytest.mark.parametrize(("api", "body", "match"), [
    ("chat", {"messages": "hi"}, "messages must be a list"),
    ("chat", {"messages": [{"role": "user", "content": [{"type": "hologram"}]}]}, "hologram"),
    ("chat", {"messages": [], "max_tokens": -5}, "max_tokens"),
    ("messages", {"messages": [{"content": [{"type": "image", "source": {
        "type": "base64", "data": "@@@"}}]}]}, "base64"),
    ("teleport", {}, "unknown api"),
])
def test_bad_requests_are_clear_errors(api: str, body: dict[str, object], match: str) -> None:
    with pytest.raises(RequestError, match=match):
        estimate_request(api, body, resolve("gpt-4o"))


def test_image_to_a_text_only_model_is_refused() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + _png_b64(10, 10)}}]}]}
    with pytest.raises(RequestError, match="does not take image input"):
        estimate_request("chat", body, resolve("deepseek-chat"))


def test_model_resolution_handles_snapshots_and_prefixes() -> None:
    assert resolve("gpt-4o-2024-08-06").model == "gpt-4o"
    assert resolve("openai/gpt-4o-mini").model == "gpt-4o-mini"
    assert resolve("claude-sonnet-4-20250514").model == "claude-sonnet-4-0"
    assert resolve("claude-3-5-haiku-latest").model == "claude-3-5-haiku"
    assert resolve("models/gemini-2.5-pro").model == "gemini-2.5-pro"
    with pytest.raises(UnknownModelError, match="tokenomy models"):
        resolve("gpt-4o-turbo-max")


texts = st.text(min_size=0, max_size=200)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), texts),
                min_size=1, max_size=6),
       st.sampled_from(["gpt-4o", "gpt-4", "deepseek-chat", "qwen-plus", "claude-haiku-4-5",
                        "gemini-2.5-flash", "grok-4"]))
def test_input_never_below_the_raw_text_tokens(messages: list[tuple[str, str]],
                                               model: str) -> None:
    rules = resolve(model)
    api = "messages" if rules.provider == "anthropic" else "chat"
    body = {"max_tokens": 1, "messages": [{"role": r, "content": t} for r, t in messages]}
    usage = estimate_request(api, body, rules)
    raw = sum(get_tokenizer(rules.tokenizer).count(t) for _, t in messages)
    assert usage.input.text >= raw
    if rules.tokenizer_exact:
        exact = get_tokenizer("o200k_base" if rules.tokenizer == "o200k_base"
                              else rules.tokenizer)
        assert usage.input.text >= sum(exact.count(t) for _, t in messages)

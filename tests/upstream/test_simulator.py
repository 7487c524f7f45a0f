"""The upstream simulator, served for real and read by the official ``openai`` and ``anthropic``
SDKs, sync and async: every route, every stream, exact usage, caching, every directive.

One uvicorn server (``tokens_per_s=0``: no pacing) serves the whole module from a thread.
The prompt cache is shared by the tests, so each test that cares uses a prompt of its own.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tokenomy.upstream
from serving import free_port
from tokenomy.meter.normalize import normalize
from tokenomy.meter.tokenizers import get_encoder
from tokenomy.upstream import SimulatorConfig, count_prompt, create_simulator
from tokenomy.upstream.simulator import WORDS, _reply_words

STARTUP_SECONDS_MAX = 30
ENC = get_encoder("o200k_base")
LONG = " ".join(WORDS[i % len(WORDS)] for i in range(1_500))  # over 1,024 tokens


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, uvicorn.Server]]:
    port = free_port()
    app = create_simulator(SimulatorConfig(tokens_per_s=0))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS_MAX
    while True:
        try:
            if httpx.get(f"{base}/v1/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert thread.is_alive() and time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.05)
    yield base, server
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def base(served: tuple[str, uvicorn.Server]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def oai(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)


@pytest.fixture(scope="module")
def claude(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base, api_key="x", max_retries=0)


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def text_of(message: Any) -> str:
    return str(message.content[0].text)


# --- the public surface ------------------------------------------------------------------------


def test_public_all_is_sorted() -> None:
    names = tokenomy.upstream.__all__
    assert names == ["SimulatorConfig", "count_prompt", "create_simulator"]
    assert all(hasattr(tokenomy.upstream, name) for name in names)


def test_count_prompt_is_text_plus_three_per_message_plus_three() -> None:
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hello there"},
                                             {"type": "image_url", "image_url": {"url": "x"}}]}]
    assert count_prompt(messages) == ENC.count("Be brief.") + ENC.count("Hello there") + 3 * 2 + 3


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=8, max_size=8), st.integers(0, 300))
def test_reply_of_n_words_is_exactly_n_tokens(seed: bytes, n: int) -> None:
    words = _reply_words(seed, n)
    assert len(words) == n
    assert ENC.count("".join(words)) == n


def test_cli_registers_upstream_simulate() -> None:
    import typer

    from tokenomy.cli import upstream

    app = typer.Typer()
    app.callback()(lambda: None)
    upstream.register(app)
    result = CliRunner().invoke(app, ["upstream", "simulate", "--help"])
    assert result.exit_code == 0
    for flag in ("--host", "--port", "--tokens-per-s", "--output-tokens"):
        assert flag in result.output


def test_paced_replies_answer_the_same() -> None:
    """With pacing on, replies (whole, streamed, reasoning first) are what unpaced ones are."""
    from starlette.testclient import TestClient

    body = {"model": "sim-large", "messages": user("paced"), "max_tokens": 10}
    with TestClient(create_simulator(SimulatorConfig(tokens_per_s=10_000))) as client:
        whole = client.post("/v1/chat/completions", json=body).json()
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
            lines = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert whole["usage"]["completion_tokens"] == 10
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2
    assert len(lines) == 1 + 8 + 1 + 1 and lines[-1] == "data: [DONE]"


# --- OpenAI -------------------------------------------------------------------------------------


def test_models_are_listed(oai: openai.OpenAI) -> None:
    models = oai.models.list().data
    assert [m.id for m in models] == ["sim-small", "sim-large"]
    assert {m.owned_by for m in models} == {"simulator"}


def test_chat_completion_reports_exact_usage(oai: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "You are terse."}, *user("chat usage please")]
    reply = oai.chat.completions.create(model="sim-small", messages=messages)
    choice, usage = reply.choices[0], reply.usage
    assert reply.object == "chat.completion" and choice.finish_reason == "stop"
    assert usage is not None and usage.prompt_tokens == count_prompt(messages)
    assert usage.completion_tokens == 32 == ENC.count(choice.message.content or "")
    assert usage.total_tokens == usage.prompt_tokens + 32
    assert usage.completion_tokens_details and usage.completion_tokens_details.reasoning_tokens == 0
    assert usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens == 0
    canonical = normalize("openai", "chat", usage.model_dump())
    assert canonical.total_output == 32


def test_sim_large_reasons_inside_the_completion_and_respects_the_cap(oai: openai.OpenAI) -> None:
    free = oai.chat.completions.create(model="sim-large", messages=user("reason"))
    assert free.usage and free.usage.completion_tokens == 40
    assert free.usage.completion_tokens_details
    assert free.usage.completion_tokens_details.reasoning_tokens == 8
    assert ENC.count(free.choices[0].message.content or "") == 32
    capped = oai.chat.completions.create(model="sim-large", messages=user("reason"),
                                         max_completion_tokens=10)
    assert capped.choices[0].finish_reason == "length"
    assert capped.usage and capped.usage.completion_tokens == 10
    assert capped.usage.completion_tokens_details
    assert capped.usage.completion_tokens_details.reasoning_tokens == 2
    assert ENC.count(capped.choices[0].message.content or "") == 8


def test_chat_stream_with_usage(oai: openai.OpenAI) -> None:
    messages = user("stream me")
    whole = oai.chat.completions.create(model="sim-small", messages=messages)
    chunks = list(oai.chat.completions.create(
        model="sim-small", messages=messages, stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    tokens = [c.choices[0].delta.content for c in chunks[1:-2]]
    assert len(tokens) == 32
    assert "".join(t or "" for t in tokens) == whole.choices[0].message.content
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_chat_stream_async_without_usage(base: str) -> None:
    async def run() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        stream = await client.chat.completions.create(
            model="sim-small", messages=user("async stream"), stream=True, max_tokens=5)
        return [chunk async for chunk in stream]

    chunks = asyncio.run(run())
    assert len(chunks) == 1 + 5 + 1
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.usage is None and c.choices for c in chunks)


def test_responses_whole_and_capped(oai: openai.OpenAI) -> None:
    reply = oai.responses.create(model="sim-large", input="respond", instructions="Be kind.")
    assert reply.status == "completed" and reply.instructions == "Be kind."
    assert ENC.count(reply.output_text) == 32
    expected = count_prompt([{"role": "system", "content": "Be kind."}, *user("respond")])
    assert reply.usage and reply.usage.input_tokens == expected
    assert reply.usage.output_tokens == 40
    assert reply.usage.output_tokens_details.reasoning_tokens == 8
    capped = oai.responses.create(model="sim-small", input=user("respond"), max_output_tokens=16)
    assert capped.status == "incomplete" and capped.incomplete_details
    assert capped.incomplete_details.reason == "max_output_tokens"
    assert capped.usage and capped.usage.output_tokens == 16
    assert normalize("openai", "responses", reply.usage.model_dump()).total_output == 40


def test_responses_stream_helper_and_event_order(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="sim-small", input="stream the response") as stream:
        events = [event.type for event in stream]
        final = stream.get_final_response()
    assert events[:4] == ["response.created", "response.in_progress",
                          "response.output_item.added", "response.content_part.added"]
    assert events.count("response.output_text.delta") == 32
    assert events[-4:] == ["response.output_text.done", "response.content_part.done",
                           "response.output_item.done", "response.completed"]
    assert ENC.count(final.output_text) == 32 and final.usage and final.usage.output_tokens == 32


def test_responses_stream_async_sequence_numbers(base: str) -> None:
    async def run() -> list[Any]:
        client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        stream = await client.responses.create(model="sim-small", input="seq", stream=True)
        return [event async for event in stream]

    events = asyncio.run(run())
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage is not None


def test_embeddings_base64_and_float_agree(oai: openai.OpenAI) -> None:
    texts = ["alpha", "beta gamma"]
    by_default = oai.embeddings.create(model="sim-small", input=texts)  # SDK asks for base64
    as_floats = oai.embeddings.create(model="sim-small", input=texts, encoding_format="float")
    assert [d.embedding for d in by_default.data] == [d.embedding for d in as_floats.data]
    assert all(len(d.embedding) == 8 for d in as_floats.data)
    assert abs(sum(x * x for x in as_floats.data[0].embedding) - 1) < 1e-5
    assert as_floats.usage.prompt_tokens == ENC.count("alpha") + ENC.count("beta gamma")
    tokens = oai.embeddings.create(model="sim-small", input=[[1, 2, 3]], encoding_format="float")
    assert tokens.usage.prompt_tokens == 3


def test_embeddings_base64_is_little_endian_float32(base: str) -> None:
    body = {"model": "sim-small", "input": "x", "encoding_format": "base64"}
    raw = httpx.post(f"{base}/v1/embeddings", json=body).json()["data"][0]["embedding"]
    as_floats = httpx.post(f"{base}/v1/embeddings", json={**body, "encoding_format": "float"})
    floats = as_floats.json()["data"][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(raw))) == floats


# --- Anthropic ----------------------------------------------------------------------------------


def test_message_reports_usage(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(model="sim-large", max_tokens=100, system="Be brief.",
                                   messages=[{"role": "user", "content": "anthropic usage"}])
    assert reply.type == "message" and reply.stop_reason == "end_turn"
    assert ENC.count(text_of(reply)) == 32 and reply.usage.output_tokens == 32  # no reasoning here
    expected = count_prompt([{"role": "system", "content": "Be brief."}, *user("anthropic usage")])
    assert reply.usage.input_tokens == expected and reply.usage.cache_read_input_tokens == 0
    capped = claude.messages.create(model="sim-small", max_tokens=3,
                                    messages=[{"role": "user", "content": "anthropic usage"}])
    assert capped.stop_reason == "max_tokens" and capped.usage.output_tokens == 3
    assert normalize("anthropic", "messages", reply.usage.model_dump()).total_output == 32


def test_message_stream_helper(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model="sim-small", max_tokens=100,
                                messages=[{"role": "user", "content": "stream anthropic"}]) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) == 32 and "".join(pieces) == text_of(final)
    assert final.usage.output_tokens == 32 and final.stop_reason == "end_turn"


def test_message_stream_async_event_order(base: str) -> None:
    async def run() -> tuple[list[str], Any]:
        client = anthropic.AsyncAnthropic(base_url=base, api_key="x", max_retries=0)
        stream = await client.messages.create(
            model="sim-small", max_tokens=4, stream=True,
            messages=[{"role": "user", "content": "async anthropic"}])
        events = [event async for event in stream]
        async with client.messages.stream(
                model="sim-small", max_tokens=4,
                messages=[{"role": "user", "content": "async anthropic"}]) as helper:
            final = await helper.get_final_message()
        return [e.type for e in events], final

    types, final = asyncio.run(run())
    assert types == ["message_start", "content_block_start", *["content_block_delta"] * 4,
                     "content_block_stop", "message_delta", "message_stop"]
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 4


def test_message_without_max_tokens_is_a_400(claude: anthropic.Anthropic, base: str) -> None:
    answer = httpx.post(f"{base}/v1/messages",
                        json={"model": "sim-small", "messages": user("no cap")})
    assert answer.status_code == 400
    assert answer.json()["type"] == "error"
    assert answer.json()["error"]["type"] == "invalid_request_error"


# --- caching ------------------------------------------------------------------------------------


def test_repeated_long_prompt_is_cached(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    messages = user("openai cache " + LONG)
    prompt = count_prompt(messages)
    assert prompt >= 1_024
    first = oai.chat.completions.create(model="sim-small", messages=messages)
    again = oai.chat.completions.create(model="sim-small", messages=messages)
    assert first.usage and first.usage.prompt_tokens_details
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert again.usage and again.usage.prompt_tokens_details
    assert again.usage.prompt_tokens_details.cached_tokens == prompt // 128 * 128
    assert again.usage.prompt_tokens == prompt  # cached is part of the prompt total
    anthropic_messages = user("anthropic cache " + LONG)
    prompt = count_prompt(anthropic_messages)
    claude.messages.create(model="sim-small", max_tokens=5, messages=anthropic_messages)
    hit = claude.messages.create(model="sim-small", max_tokens=5, messages=anthropic_messages)
    assert hit.usage.cache_read_input_tokens == prompt // 128 * 128
    assert hit.usage.input_tokens == prompt - prompt // 128 * 128  # separate from the read


def test_a_conversation_reuses_its_cached_prefix(oai: openai.OpenAI) -> None:
    turn1 = [{"role": "system", "content": "prefix " + LONG}, *user("first question")]
    oai.chat.completions.create(model="sim-small", messages=turn1)
    turn2 = [*turn1, {"role": "assistant", "content": "an answer"}, *user("second question")]
    reply = oai.chat.completions.create(model="sim-small", messages=turn2)
    prefix = count_prompt(turn1) - 3  # both turn-1 messages, without the reply priming
    assert reply.usage and reply.usage.prompt_tokens_details
    assert reply.usage.prompt_tokens_details.cached_tokens == prefix // 128 * 128
    other = oai.chat.completions.create(model="sim-large", messages=turn2)
    assert other.usage and other.usage.prompt_tokens_details
    assert other.usage.prompt_tokens_details.cached_tokens == 0  # caches are per model


def test_short_prompts_are_never_cached(oai: openai.OpenAI) -> None:
    for _ in range(2):
        reply = oai.chat.completions.create(model="sim-small", messages=user("short"))
        assert reply.usage and reply.usage.prompt_tokens_details
        assert reply.usage.prompt_tokens_details.cached_tokens == 0


# --- directives ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_error_directive(status: int, oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        oai.chat.completions.create(model="sim-small", messages=user(f"[sim:error={status}]"))
    assert raised.value.status_code == status
    assert isinstance(raised.value.body, dict) and "type" in raised.value.body
    with pytest.raises(anthropic.APIStatusError) as raised_a:
        claude.messages.create(model="sim-small", max_tokens=5,
                               messages=[{"role": "user", "content": f"[sim:error={status}]"}])
    assert raised_a.value.status_code == status
    body: Any = raised_a.value.body
    assert body["type"] == "error"


def test_tokens_directive_is_still_capped(oai: openai.OpenAI) -> None:
    five = oai.chat.completions.create(model="sim-small", messages=user("go [sim:tokens=5]"))
    assert five.usage and five.usage.completion_tokens == 5
    assert five.choices[0].finish_reason == "stop"
    capped = oai.chat.completions.create(model="sim-small", max_tokens=3,
                                         messages=user("[sim:tokens=50]"))
    assert capped.usage and capped.usage.completion_tokens == 3
    assert capped.choices[0].finish_reason == "length"
    none = oai.chat.completions.create(model="sim-small", messages=user("[sim:tokens=0]"))
    assert none.choices[0].message.content == "" and none.usage
    assert none.usage.completion_tokens == 0


def test_directives_only_count_in_the_last_user_message(oai: openai.OpenAI) -> None:
    messages = [*user("[sim:error=500]"), {"role": "assistant", "content": "ok"}, *user("hi")]
    reply = oai.chat.completions.create(model="sim-small", messages=messages)
    assert reply.usage and reply.usage.completion_tokens == 32


def test_no_usage_directive(oai: openai.OpenAI, base: str) -> None:
    chunks = list(oai.chat.completions.create(
        model="sim-small", messages=user("[sim:no-usage]"), stream=True,
        stream_options={"include_usage": True}))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    events = list(oai.responses.create(model="sim-small", input="[sim:no-usage]", stream=True))
    assert events[-1].type == "response.completed" and events[-1].response.usage is None


def test_hang_directive_ends_when_the_client_gives_up(
        oai: openai.OpenAI, served: tuple[str, uvicorn.Server]) -> None:
    client = oai.with_options(timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="sim-small", messages=user("[sim:hang]"))
    state = served[1].server_state
    deadline = time.monotonic() + 5
    while state.tasks and time.monotonic() < deadline:  # the hung request task must end
        time.sleep(0.02)
    assert not state.tasks
    reply = oai.chat.completions.create(model="sim-small", messages=user("still alive"))
    assert reply.usage and reply.usage.completion_tokens == 32


def test_drop_after_directive_cuts_every_stream(
        oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    seen: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(
                model="sim-small", messages=user("[sim:drop-after=3]"), stream=True,
                stream_options={"include_usage": True}):
            seen.append(chunk)
    assert [c.choices[0].delta.content is not None for c in seen] == [True] * 4
    assert all(c.choices[0].finish_reason is None for c in seen)
    deltas: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        for event in oai.responses.create(model="sim-small", input="[sim:drop-after=2]",
                                          stream=True):
            deltas.append(event.type)
    assert deltas.count("response.output_text.delta") == 2
    with pytest.raises(httpx2.RemoteProtocolError), claude.messages.stream(
            model="sim-small", max_tokens=50,
            messages=[{"role": "user", "content": "[sim:drop-after=1]"}]) as stream:
        stream.get_final_message()


def test_drop_after_is_ignored_without_stream(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(model="sim-small", messages=user("[sim:drop-after=1]"))
    assert reply.usage and reply.usage.completion_tokens == 32


@pytest.mark.parametrize("directive", ["[sim:bogus]", "[sim:error=200]", "[sim:tokens=x]",
                                       "[sim:hang=1]"])
def test_unknown_or_malformed_directive_is_a_400(directive: str, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="sim-small", messages=user(directive))


# --- bad input ----------------------------------------------------------------------------------


def test_unknown_model_is_a_404_in_each_family(
        oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        oai.chat.completions.create(model="gpt-nope", messages=user("hi"))
    assert raised.value.code == "model_not_found" and raised.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model="gpt-nope", input="hi")
    with pytest.raises(openai.NotFoundError):
        oai.embeddings.create(model="gpt-nope", input="hi")
    with pytest.raises(anthropic.NotFoundError) as raised_a:
        claude.messages.create(model="claude-nope", max_tokens=5,
                               messages=[{"role": "user", "content": "hi"}])
    body: Any = raised_a.value.body
    assert body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses", "/v1/embeddings",
                                  "/v1/messages"])
@pytest.mark.parametrize("body", [b"{nope", b"[1, 2]", b"[" * 100_000, b"\xff\xfe",
                                  b'{"model": "sim-small"}',
                                  b'{"model": "sim-small", "messages": [], "input": [],'
                                  b' "max_tokens": 5}',
                                  b'{"model": "sim-small", "messages": ["x"], "input": [0.5],'
                                  b' "max_tokens": 5}',
                                  b'{"model": "sim-small", "messages": [{"role": "user"}],'
                                  b' "input": "", "max_tokens": 0, "max_output_tokens": 0}',
                                  b'{"model": 7}'])
def test_bad_input_is_a_400_never_a_500(path: str, body: bytes, base: str) -> None:
    answer = httpx.post(f"{base}{path}", content=body,
                        headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    error = answer.json()
    if path == "/v1/messages":
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    else:
        assert error["error"]["type"] == "invalid_request_error" and error["error"]["message"]

"""The gateway with the official SDKs as clients: costs on every answer, budgets enforced.

    client (openai / anthropic SDK) → tokenomy serve --config → upstream simulator
    key "k…" charges its own budget; sim-small costs 100 nano-USD per input token and 400 per
    output token (cached input 25), sim-large 2,000 / 8,000 (cached 500).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import anthropic
import httpx
import openai
import pytest
from gateway_harness import Gateway

SMALL = {"input": 100, "cache_read": 25, "output": 400}  # nano-USD per token
LARGE = {"input": 2000, "cache_read": 500, "output": 8000}
HELLO = [{"role": "user", "content": "hello there"}]


def nano(cost_usd: str) -> int:
    return int(Decimal(cost_usd) * 10**9)


def openai_cost(usage: openai.types.CompletionUsage, rates: dict[str, int]) -> int:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    return ((usage.prompt_tokens - (cached or 0)) * rates["input"]
            + (cached or 0) * rates["cache_read"] + usage.completion_tokens * rates["output"])


def client(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base}/v1", api_key=key, max_retries=0)


def test_chat_non_streaming_carries_its_exact_cost(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    raw = client(gateway, key).chat.completions.with_raw_response.create(
        model="sim-small", messages=HELLO, max_tokens=20)
    completion = raw.parse()
    assert completion.usage is not None
    expected = openai_cost(completion.usage, SMALL)
    assert nano(raw.headers["x-tokenomy-cost-usd"]) == expected > 0
    assert raw.headers["x-tokenomy-request-id"].startswith("req_")
    assert Decimal(raw.headers["x-tokenomy-stu"]) > 0
    assert raw.headers["x-tokenomy-estimated"] == "false"
    line = gateway.budget(budget)
    assert (line.spent, line.reserved) == (expected, 0)
    [record] = gateway.wait_records(budget, 1)
    assert (record.outcome, record.cost_minor, record.captured_minor) == ("ok", expected, expected)
    assert record.upstream == "sim-openai" and record.reserved_minor >= expected


def test_chat_stream_with_usage_ends_with_the_cost(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    chunks = list(client(gateway, key).chat.completions.create(
        model="sim-large", messages=HELLO, stream=True, max_tokens=40,
        stream_options={"include_usage": True}))
    final = chunks[-1]
    assert final.usage is not None and final.usage.completion_tokens_details is not None
    assert final.usage.completion_tokens_details.reasoning_tokens > 0
    info = (final.model_extra or {})["tokenomy"]
    expected = openai_cost(final.usage, LARGE)
    assert nano(info["cost_usd"]) == expected
    assert gateway.budget(budget).spent == expected
    assert gateway.budget(budget).reserved == 0


def test_chat_stream_without_usage_is_still_metered(gateway: Gateway) -> None:
    """The gateway asks the upstream for usage; the client, who did not, gets no usage chunk."""
    key, budget = gateway.key("1")
    chunks = list(client(gateway, key).chat.completions.create(
        model="sim-small", messages=HELLO, stream=True, max_tokens=10))
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)
    [record] = gateway.wait_records(budget, 1)
    assert record.outcome == "ok" and not record.estimated and record.cost_minor > 0
    assert gateway.budget(budget).spent == record.cost_minor


def test_async_openai_chat_responses_and_embeddings(gateway: Gateway) -> None:
    key, budget = gateway.key("1")

    async def run() -> list[int]:
        async with openai.AsyncOpenAI(base_url=f"{gateway.base}/v1", api_key=key,
                                      max_retries=0) as c:
            chat = await c.chat.completions.with_raw_response.create(
                model="sim-small", messages=HELLO, max_tokens=5)
            stream = await c.chat.completions.create(
                model="sim-small", messages=HELLO, max_tokens=5, stream=True,
                stream_options={"include_usage": True})
            last = [chunk async for chunk in stream][-1]
            response = await c.responses.with_raw_response.create(
                model="sim-small", input="hi", max_output_tokens=64)
            async with c.responses.stream(model="sim-small", input="hi",
                                          max_output_tokens=64) as events:
                completed = await events.get_final_response()
            embedding = await c.embeddings.with_raw_response.create(
                model="sim-small", input=["one", "two"])
            assert embedding.parse().usage.prompt_tokens > 0
            assert completed.usage is not None and completed.usage.output_tokens > 0
            return [nano(chat.headers["x-tokenomy-cost-usd"]),
                    nano((last.model_extra or {})["tokenomy"]["cost_usd"]),
                    nano(response.headers["x-tokenomy-cost-usd"]),
                    nano(embedding.headers["x-tokenomy-cost-usd"])]

    costs = asyncio.run(run())
    records = gateway.wait_records(budget, 5)
    assert sorted(r.api for r in records) == ["chat", "chat", "embeddings", "responses",
                                             "responses"]
    assert all(c > 0 for c in costs)
    assert gateway.budget(budget).spent == sum(r.cost_minor for r in records)


def test_responses_stream_final_event_carries_the_cost(gateway: Gateway) -> None:
    key, _ = gateway.key("1")
    with httpx.stream("POST", f"{gateway.base}/v1/responses", timeout=30,
                      headers={"authorization": f"Bearer {key}"},
                      json={"model": "sim-small", "input": "hi", "stream": True}) as r:
        events = [e for e in r.read().decode().split("\n\n") if e.strip()]
    completed = next(e for e in events if "response.completed" in e)
    data = json.loads(completed.split("data: ", 1)[1])
    assert nano(data["tokenomy"]["cost_usd"]) > 0


def test_anthropic_sync_and_async_streaming_and_not(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    sync = anthropic.Anthropic(base_url=gateway.base, api_key=key, max_retries=0)
    raw = sync.messages.with_raw_response.create(model="sim-small", max_tokens=30,
                                                 messages=HELLO)
    message = raw.parse()
    cost = message.usage.input_tokens * 100 + message.usage.output_tokens * 400
    assert nano(raw.headers["x-tokenomy-cost-usd"]) == cost
    with sync.messages.stream(model="sim-large", max_tokens=30, messages=HELLO) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens > 0

    async def run() -> None:
        client = anthropic.AsyncAnthropic(base_url=gateway.base, api_key=key, max_retries=0)
        m = await client.messages.create(model="sim-small", max_tokens=10, messages=HELLO)
        assert m.usage.output_tokens > 0
        async with client.messages.stream(model="sim-small", max_tokens=10,
                                          messages=HELLO) as s:
            assert (await s.get_final_message()).usage.output_tokens > 0

    asyncio.run(run())
    records = gateway.wait_records(budget, 4)
    assert {r.upstream for r in records} == {"sim-anthropic"}
    assert all(r.outcome == "ok" and not r.estimated for r in records)
    assert gateway.budget(budget).spent == sum(r.cost_minor for r in records)
    assert gateway.budget(budget).reserved == 0


def test_anthropic_errors_come_in_anthropic_shape(gateway: Gateway) -> None:
    key, _ = gateway.key("0.000001")
    sync = anthropic.Anthropic(base_url=gateway.base, api_key=key, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        sync.messages.create(model="sim-small", max_tokens=1000, messages=HELLO)
    assert caught.value.status_code == 402
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "insufficient_budget"


def test_a_request_its_budget_cannot_cover_is_refused_before_the_upstream(
        gateway: Gateway) -> None:
    key, budget = gateway.key("0.00001")  # 10,000 nano: less than 100 output tokens of sim-small
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, key).chat.completions.create(model="sim-small", messages=HELLO,
                                                      max_tokens=1000)
    assert caught.value.status_code == 402
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "insufficient_budget" and error["budget"] == budget
    assert error["available"] == "0.00001" and Decimal(error["required"]) > Decimal("0.00001")
    [record] = gateway.wait_records(budget, 1)
    assert (record.outcome, record.upstream, record.status) == ("refused", "", 402)
    line = gateway.budget(budget)
    assert (line.spent, line.reserved) == (0, 0)


def test_bad_requests_get_4xx_json_and_change_nothing(gateway: Gateway,
                                                      http: httpx.Client) -> None:
    key, budget = gateway.key("1")
    auth = {"authorization": f"Bearer {key}"}
    cases = [
        ({}, b"{}", 400, "invalid_request_error"),  # no key: the paywall, but no model
        ({}, b'{"model": "sim-small", "messages": []}', 402, "payment_required"),
        ({"authorization": "Bearer tk-nope"}, b"{}", 401, "invalid_api_key"),
        (auth, b"not json", 400, "invalid_request_error"),
        (auth, b"[1, 2]", 400, "invalid_request_error"),
        (auth, b'{"messages": []}', 400, "invalid_request_error"),
        (auth, b'{"model": "no-such-model", "messages": []}', 404, "model_not_found"),
        (auth, b'{"model": "sim-small", "messages": "x"}', 400, "invalid_request_error"),
    ]
    for headers, body, status, kind in cases:
        r = http.post("/v1/chat/completions", content=body,
                      headers={**headers, "content-type": "application/json"})
        assert r.status_code == status, (body, r.text)
        answer = r.json()  # the paywall's 402 body is x402 v1's: its code is "reason"
        assert (answer["reason"] if status == 402 else answer["error"]["type"]) == kind
    line = gateway.budget(budget)
    assert (line.spent, line.reserved) == (0, 0)


def test_upstream_500_and_timeout_charge_nothing(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    c = client(gateway, key)
    for directive in ("[sim:error=500]", "[sim:hang]"):
        with pytest.raises(openai.APIStatusError) as caught:
            c.chat.completions.create(model="sim-small", max_tokens=10,
                                      messages=[{"role": "user", "content": directive}])
        assert caught.value.status_code == 502
    records = gateway.wait_records(budget, 2)
    assert [r.outcome for r in records] == ["upstream_error", "upstream_error"]
    assert all(r.captured_minor == 0 for r in records)
    line = gateway.budget(budget)
    assert (line.spent, line.reserved) == (0, 0)


def test_upstream_4xx_passes_through_uncharged(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, key).chat.completions.create(
            model="sim-small", max_tokens=10,
            messages=[{"role": "user", "content": "[sim:error=422]"}])
    assert caught.value.status_code == 422
    [record] = gateway.wait_records(budget, 1)
    assert record.outcome == "upstream_rejected" and record.captured_minor == 0
    assert gateway.budget(budget).reserved == 0


def test_fallback_moves_the_reservation_to_the_upstream_used(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    raw = client(gateway, key).chat.completions.with_raw_response.create(
        model="sim-alt", messages=HELLO, max_tokens=5)
    assert raw.headers["x-tokenomy-upstream"] == "alt"
    records = gateway.wait_records(budget, 2)
    assert [(r.upstream, r.outcome) for r in records] == [("dead", "upstream_error"),
                                                         ("alt", "ok")]
    line = gateway.budget(budget)
    assert line.spent == records[1].cost_minor and line.reserved == 0


def test_model_groups_route_by_price_and_quality(gateway: Gateway) -> None:
    key, _budget = gateway.key("1")
    c = client(gateway, key)
    cheap = c.chat.completions.create(model="auto-cheap", messages=HELLO, max_tokens=5)
    good = c.chat.completions.create(model="auto-good", messages=HELLO, max_tokens=5)
    assert (cheap.model, good.model) == ("sim-small", "sim-large")
    assert {m.id for m in c.models.list()} >= {"sim-small", "sim-large", "auto-cheap"}


def test_rate_limit_answers_429_with_retry_after(gateway: Gateway, http: httpx.Client) -> None:
    key, _budget = gateway.key("1", rpm=2)
    body = {"model": "sim-small", "messages": HELLO, "max_tokens": 5}
    statuses = [http.post("/v1/chat/completions", json=body,
                          headers={"authorization": f"Bearer {key}"}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert int(statuses[2].headers["retry-after"]) >= 1
    assert statuses[2].json()["error"]["type"] == "rate_limit_exceeded"
    key2, _ = gateway.key("1", tpm=50)  # the worst case of 100 output tokens is over 50
    r = http.post("/v1/chat/completions", json={**body, "max_tokens": 100},
                  headers={"authorization": f"Bearer {key2}"})
    assert r.status_code == 429


def test_idempotency_key_charges_once(gateway: Gateway, http: httpx.Client) -> None:
    key, budget = gateway.key("1")
    headers = {"authorization": f"Bearer {key}", "idempotency-key": "order-42"}
    body = {"model": "sim-small", "messages": HELLO, "max_tokens": 5}
    first = http.post("/v1/chat/completions", json=body, headers=headers)
    again = http.post("/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["x-tokenomy-idempotent-replay"] == "true"
    assert again.content == first.content
    assert len(gateway.wait_records(budget, 1)) == 1
    assert gateway.budget(budget).spent == nano(first.headers["x-tokenomy-cost-usd"])
    stream_headers = {**headers, "idempotency-key": "stream-7"}
    one = http.post("/v1/chat/completions", json={**body, "stream": True}, headers=stream_headers)
    two = http.post("/v1/chat/completions", json={**body, "stream": True}, headers=stream_headers)
    assert one.text == two.text and "[DONE]" in two.text
    assert len(gateway.wait_records(budget, 2)) == 2


def test_client_disconnect_mid_stream_charges_the_delivered_tokens(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    body = {"model": "sim-slow", "messages": HELLO, "max_tokens": 200, "stream": True}
    with httpx.Client(timeout=30) as c, c.stream(
            "POST", f"{gateway.base}/v1/chat/completions", json=body,
            headers={"authorization": f"Bearer {key}"}) as r:
        lines = r.iter_lines()
        received = [line for line, _ in zip(lines, range(12), strict=False)]
    assert len(received) == 12
    [record] = gateway.wait_records(budget, 1)
    assert record.outcome == "client_disconnect" and record.estimated
    usage = json.loads(record.usage_json)
    delivered_max = 60  # 20 tokens/s for the time the record took to appear, generously
    assert 0 < usage["tokens"]["output"] < min(delivered_max, 200)
    line = gateway.budget(budget)
    assert line.reserved == 0 and line.spent == record.cost_minor < record.reserved_minor


def test_upstream_breaking_mid_stream_charges_what_was_delivered(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    chunks = []
    with pytest.raises(openai.APIError):
        for chunk in client(gateway, key).chat.completions.create(
                model="sim-small", max_tokens=50, stream=True,
                messages=[{"role": "user", "content": "[sim:drop-after=5]"}]):
            chunks.append(chunk)
    [record] = gateway.wait_records(budget, 1)
    assert record.estimated and json.loads(record.usage_json)["tokens"]["output"] == 5
    assert gateway.budget(budget).reserved == 0


def test_revoked_key_is_refused(gateway: Gateway, http: httpx.Client) -> None:
    key, budget = gateway.key("1")
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": "sim-small", "messages": HELLO, "max_tokens": 5}
    assert http.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
    gateway.store.revoke_key(budget, 1)
    import time

    deadline = time.monotonic() + 10
    while http.post("/v1/chat/completions", json=body, headers=headers).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_metrics_count_requests_tokens_and_cost(gateway: Gateway, http: httpx.Client) -> None:
    key, _ = gateway.key("1")
    client(gateway, key).chat.completions.create(model="sim-small", messages=HELLO,
                                                  max_tokens=5)
    text = http.get("/metrics").text
    assert 'tokenomy_requests_total{api="chat"' in text
    assert 'tokenomy_tokens_total{class="output",modality="text"}' in text
    assert "tokenomy_cost_nano_usd_total" in text
    assert "tokenomy_open_reservations" in text
    assert "tokenomy_upstream_latency_seconds_bucket" in text


def test_a_stream_without_usage_is_counted_with_the_real_tokenizer(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    chunks = list(client(gateway, key).chat.completions.create(
        model="sim-small", max_tokens=50, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "[sim:no-usage] [sim:tokens=12]"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [record] = gateway.wait_records(budget, 1)
    usage = json.loads(record.usage_json)
    from tokenomy.meter.tokenizers import get_tokenizer

    assert record.outcome == "ok" and record.estimated
    assert usage["tokens"]["output"] == get_tokenizer("o200k_base").count(text) == 12
    assert gateway.budget(budget).spent == record.cost_minor > 0


def test_a_deeply_nested_body_is_a_400_not_a_crash(gateway: Gateway, http: httpx.Client) -> None:
    """The x402 SDK's imports raise Python's recursion limit (py_ecc); a body nested 100,000
    deep once overflowed the C stack and killed the server."""
    key, _ = gateway.key("1")
    deep = b'{"model": "sim-small", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for headers in ({"authorization": f"Bearer {key}"}, {}):
        r = http.post("/v1/chat/completions", content=deep,
                      headers={**headers, "content-type": "application/json"})
        assert r.status_code == 400, r.text
    assert http.get("/healthz").status_code == 200

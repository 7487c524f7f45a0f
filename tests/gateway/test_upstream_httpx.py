"""The httpx upstream client (``[gateway] upstream_client = "httpx"``): the built-in client's
scripted-server checks that httpx answers alike, then the gateway on it end to end, through the
official openai SDK."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal

import httpx
import openai
import pytest
from gateway_harness import Gateway, running_gateway
from test_upstream_http import OK, Script, _request, _serve

from tokenomy.gateway.upstream_httpx import HttpxUpstreamClient


def _serve_httpx(script: Script, test: Callable[[HttpxUpstreamClient, str], Awaitable[None]],
                 timeout_s: float = 5.0) -> None:
    _serve(script, test, timeout_s, client=HttpxUpstreamClient)


def test_answers_reuse_one_connection_and_headers_come_lower_case() -> None:
    connections = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while True:
            request = await _request(reader)
            assert request.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
            assert b"accept-encoding: identity\r\n" in request.lower()
            writer.write(OK.replace(b"content-type", b"Content-Type"))

    async def test(client: HttpxUpstreamClient, url: str) -> None:
        for _ in range(3):
            response = await client.post(url, {"accept-encoding": "identity"}, b"{}")
            assert (response.status_code, response.headers["content-type"]) == (
                200, "application/json")
            assert await response.aread() == b'{"ok":true}'
        assert client.waiting == 0

    _serve_httpx(script, test)
    assert len(connections) == 1


def test_a_chunked_body_streams_as_it_arrives() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for event in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    async def test(client: HttpxUpstreamClient, url: str) -> None:
        response = await client.post(url, {}, b"")
        chunks = [chunk async for chunk in response.aiter_raw()]
        await response.aclose()
        assert b"".join(chunks) == b"data: 1\n\ndata: 2\n\n" and len(chunks) >= 2
        assert client.waiting == 0

    _serve_httpx(script, test)


def test_silence_is_a_read_timeout_and_a_refused_connection_a_connect_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345")
        await asyncio.sleep(5)

    async def test(client: HttpxUpstreamClient, url: str) -> None:
        response = await client.post(url, {}, b"x")
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()
        assert client.waiting == 0
        with pytest.raises(httpx.ConnectError):
            await client.post("http://127.0.0.1:1/v1/chat/completions", {}, b"")

    _serve_httpx(script, test, timeout_s=0.2)


@pytest.fixture(scope="module")
def httpx_gateway(tmp_path_factory: pytest.TempPathFactory, simulator: str,
                  slow_simulator: str) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("httpx-gateway")
    with running_gateway(workdir, f"sqlite:///{workdir / 'tokenomy.db'}", simulator,
                         slow_simulator, upstream_client="httpx") as gateway:
        yield gateway


def test_the_gateway_on_httpx_meters_and_charges_json_and_streams(
        httpx_gateway: Gateway) -> None:
    key, budget = httpx_gateway.key("1")
    client = openai.OpenAI(base_url=f"{httpx_gateway.base}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "hello"}], max_tokens=8)
    assert raw.parse().usage is not None and raw.parse().usage.completion_tokens == 8
    cost = Decimal(raw.headers["x-tokenomy-cost-usd"])
    stream = client.chat.completions.create(
        model="sim-small", messages=[{"role": "user", "content": "hello"}], max_tokens=8,
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    records = httpx_gateway.wait_records(budget, 2)
    assert [r.outcome for r in records] == ["ok", "ok"] and not any(r.estimated for r in records)
    line = httpx_gateway.budget(budget)
    assert line.reserved == 0 and line.spent == sum(r.captured_minor for r in records) > 0
    assert cost > 0


def test_the_gateway_on_httpx_charges_nothing_for_an_upstream_500_or_timeout(
        httpx_gateway: Gateway) -> None:
    key, budget = httpx_gateway.key("1")
    client = openai.OpenAI(base_url=f"{httpx_gateway.base}/v1", api_key=key, max_retries=0)
    for directive in ("[sim:error=500]", "[sim:hang]"):  # the config's read timeout is 3 s
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(
                model="sim-small", messages=[{"role": "user", "content": directive}],
                max_tokens=8)
        assert failed.value.status_code == 502
    records = httpx_gateway.wait_records(budget, 2)
    assert [r.outcome for r in records] == ["upstream_error", "upstream_error"]
    assert all(r.captured_minor == 0 for r in records)
    line = httpx_gateway.budget(budget)
    assert (line.spent, line.reserved) == (0, 0)

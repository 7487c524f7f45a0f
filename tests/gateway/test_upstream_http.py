"""The upstreams' HTTP/1.1 client against a scripted server: keep-alive reuse, chunked and
read-until-close bodies, streaming, and each failure as httpx's exception. The checks marked
``BOTH`` also run against the httpx client (``[gateway] upstream_client = "httpx"``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tokenomy.gateway.upstream_http import UpstreamClient
from tokenomy.gateway.upstream_httpx import HttpxUpstreamClient

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BOTH = pytest.mark.parametrize("client", [UpstreamClient, HttpxUpstreamClient],
                               ids=["builtin", "httpx"])
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}"


async def _request(reader: asyncio.StreamReader) -> bytes:
    """One request (head and content-length body) as the server read it."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return head + await reader.readexactly(length)


def _serve(script: Script, test: Callable[[Any, str], Awaitable[None]],
           timeout_s: float = 5.0, client: Callable[[float], Any] = UpstreamClient) -> None:
    """Run ``test`` against a server that runs ``script`` on each connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        caller = client(timeout_s)
        try:
            await test(caller, f"http://127.0.0.1:{port}/v1/chat/completions")
        finally:
            await caller.aclose()
            server.close()

    asyncio.run(main())


@BOTH
def test_answers_reuse_one_keep_alive_connection(client: Callable[[float], Any]) -> None:
    connections = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while True:
            request = await _request(reader)
            assert request.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
            assert b"content-type: application/json\r\n" in request
            assert request.endswith(b"\r\n\r\n{}")
            writer.write(OK.replace(b"content-type", b"Content-Type"))  # names come lower case

    async def test(caller: Any, url: str) -> None:
        for _ in range(3):
            response = await caller.post(url, {"content-type": "application/json"}, b"{}")
            assert (response.status_code, response.headers["content-type"]) == (
                200, "application/json")
            assert await response.aread() == b'{"ok":true}'

    _serve(script, test, client=client)
    assert len(connections) == 1


@BOTH
def test_connection_close_is_not_reused_and_chunked_bodies_stream(
        client: Callable[[float], Any]) -> None:
    connections = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
                     b"\r\n")
        for event in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    async def test(caller: Any, url: str) -> None:
        for _ in range(2):
            response = await caller.post(url, {}, b"")
            chunks = [chunk async for chunk in response.aiter_raw()]
            await response.aclose()
            assert b"".join(chunks) == b"data: 1\n\ndata: 2\n\n" and len(chunks) >= 2

    _serve(script, test, client=client)
    assert len(connections) == 2


@BOTH
def test_a_body_without_length_ends_when_the_upstream_closes(
        client: Callable[[float], Any]) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")

    async def test(caller: Any, url: str) -> None:
        response = await caller.post(url, {}, b"x")
        assert await response.aread() == b"all of it"

    _serve(script, test, client=client)


@BOTH
def test_an_informational_answer_is_skipped(client: Callable[[float], Any]) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + OK)

    async def test(caller: Any, url: str) -> None:
        response = await caller.post(url, {}, b"x")
        assert response.status_code == 200 and "link" not in response.headers
        assert await response.aread() == b'{"ok":true}'

    _serve(script, test, client=client)


@pytest.mark.parametrize(("answer", "error"), [
    (b"", httpx.RemoteProtocolError),  # closed before answering
    (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart", httpx.ReadError),  # mid-body
    (b"SMTP ready\r\n\r\n", httpx.RemoteProtocolError),  # not HTTP
])
def test_a_broken_answer_is_httpx_s_error(answer: bytes, error: type[Exception]) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(answer)

    async def test(client: UpstreamClient, url: str) -> None:
        with pytest.raises(error):
            response = await client.post(url, {}, b"x")
            await response.aread()

    _serve(script, test)


@BOTH
def test_silence_is_a_read_timeout(client: Callable[[float], Any]) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345")
        await asyncio.sleep(5)

    async def test(caller: Any, url: str) -> None:
        response = await caller.post(url, {}, b"x")  # the head came in time
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()

    _serve(script, test, timeout_s=0.2, client=client)


def test_a_refused_connection_and_an_unsendable_header_fail_before_sending() -> None:
    async def main() -> None:
        client = UpstreamClient(5.0)
        with pytest.raises(httpx.ConnectError):
            await client.post("http://127.0.0.1:1/v1/chat/completions", {}, b"")
        with pytest.raises(httpx.LocalProtocolError):
            await client.post("http://127.0.0.1:1/v1/x", {"x-a": "1\r\nx-b: 2"}, b"")
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.post("ftp://127.0.0.1/x", {}, b"")
        await client.aclose()

    asyncio.run(main())


@BOTH
def test_waiting_counts_requests_suspended_on_an_upstream_and_returns_to_zero(
        client: Callable[[float], Any]) -> None:
    """``waiting``: requests whose upstream owes them bytes (the gateway's writer treats the
    others as busy). It drops when bytes arrive, on a cancel and on a timeout."""
    release = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await _request(reader)
            if request.endswith(b"silent"):
                await asyncio.sleep(5)
            await release.wait()
            writer.write(OK)

    async def test(caller: Any, url: str) -> None:
        calls = [asyncio.create_task(caller.post(url, {}, b"x")) for _ in range(3)]
        while caller.waiting < 3:
            await asyncio.sleep(0.01)
        release.set()
        for call in calls:
            response = await call
            assert await response.aread() == b'{"ok":true}'
        assert caller.waiting == 0
        cancelled = asyncio.create_task(caller.post(url, {}, b"silent"))
        while caller.waiting < 1:
            await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert caller.waiting == 0
        with pytest.raises(httpx.ReadTimeout):
            await caller.post(url, {}, b"silent")
        assert caller.waiting == 0

    _serve(script, test, timeout_s=0.3, client=client)

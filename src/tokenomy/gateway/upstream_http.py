"""The upstreams' HTTP client: aiohttp's connection pool behind the three calls the proxy makes.

In: an endpoint, the headers to send and the body, as bytes. Out: an :class:`UpstreamResponse`
(status, headers, then the body whole or as it arrives). One client serves every caller: no
cookies are kept, no redirects followed, nothing decompressed (the client asked for
``identity``).

aiohttp's errors are translated here, at this one boundary, into httpx's exception tree (the
mapping of the httpx-over-aiohttp transport this replaced: a connection refused is a
``ConnectError``, a read timeout a ``ReadTimeout``…), so callers catch ``httpx.HTTPError`` and
request records name the same errors as before. Calling aiohttp directly rather than through
httpx's client API saves ~0.17 ms of CPU per request (``bench/gateway.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import NoReturn

import aiohttp
import httpx
from httpx_aiohttp.transport import AIOHTTP_EXC_MAP
from yarl import URL

from tokenomy import __version__

CONNECT_TIMEOUT_S = 10.0
CONNECTIONS_MAX = 1_000
KEEPALIVE_S = 30.0
USER_AGENT = f"tokenomy/{__version__}"


def _raise_translated(exc: Exception) -> NoReturn:
    """Raise ``exc`` as httpx's exception for it (the most specific mapped class), or as it
    is when aiohttp's error has no httpx counterpart."""
    mapped: type[httpx.HTTPError] | None = None
    for aiohttp_error, httpx_error in AIOHTTP_EXC_MAP.items():
        if isinstance(exc, aiohttp_error) and (mapped is None or issubclass(httpx_error, mapped)):
            mapped = httpx_error
    if mapped is None:
        raise exc
    raise mapped(str(exc)) from exc


class UpstreamResponse:
    """An upstream's answer whose body has not been read yet."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code: int = response.status
        self.headers: Mapping[str, str] = response.headers  # case-insensitive

    async def aread(self) -> bytes:
        """The whole body; the connection goes back to the pool."""
        try:
            body = await self._response.read()
        except aiohttp.ClientError as exc:
            _raise_translated(exc)
        self._response.release()
        return body

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives, undecoded."""
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            _raise_translated(exc)

    async def aclose(self) -> None:
        """Done with the body (read or not): an unread rest closes the connection."""
        self._response.release()


class UpstreamClient:
    """One process's connection pool to every upstream (create it inside the event loop)."""

    def __init__(self, timeout_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 connections_max: int = CONNECTIONS_MAX, keepalive_s: float = KEEPALIVE_S,
                 ) -> None:
        # As the httpx transport had it: no total limit; timeout_s to get a connection from
        # the pool and between two reads; connect_timeout_s for the TCP connect.
        timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s,
                                        sock_connect=connect_timeout_s, sock_read=timeout_s)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections_max, keepalive_timeout=keepalive_s),
            timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
            headers={"user-agent": USER_AGENT})

    async def post(self, url: URL, headers: Mapping[str, str], content: bytes,
                   ) -> UpstreamResponse:
        """Send the request and read the answer's head (status and headers)."""
        try:
            response = await self._session.post(url, data=content, headers=headers,
                                                 allow_redirects=False)
        except aiohttp.ClientError as exc:
            _raise_translated(exc)
        return UpstreamResponse(response)

    async def aclose(self) -> None:
        await self._session.close()


__all__ = ["CONNECTIONS_MAX", "UpstreamClient", "UpstreamResponse"]

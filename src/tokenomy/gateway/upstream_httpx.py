"""The upstreams' client on httpx: ``[gateway] upstream_client = "httpx"``.

The same three calls as :mod:`.upstream_http` (post, then the body whole or as it arrives,
then close), made by one ``httpx.AsyncClient``: its connection pool and limits
(:data:`~.upstream_http.CONNECTIONS_MAX` connections, idle ones kept
:data:`~.upstream_http.KEEPALIVE_S`), its timeouts (connect, and ``timeout_s`` for each read,
write and pool wait) and its exception tree. What it adds over the built-in client: the
environment's proxy settings (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) and its CA bundle
(``SSL_CERT_FILE``). What it costs (``bench/gateway.py``): ~1 ms more CPU per request alone,
~3 ms more with 50 requests in flight (httpx's pool grows dearer with every connection).

As with the built-in client, nothing is decompressed by the gateway (it asks for ``identity``),
no redirect is followed and no request is retried (an upstream may have billed it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from tokenomy._invariant import invariant
from tokenomy.gateway.upstream_http import (
    CONNECT_TIMEOUT_S,
    CONNECTIONS_MAX,
    KEEPALIVE_S,
    USER_AGENT,
)


class HttpxResponse:
    """An upstream's answer through httpx: status and headers first, then the body once."""

    __slots__ = ("_client", "_response", "headers", "status_code")

    def __init__(self, response: httpx.Response, client: HttpxUpstreamClient) -> None:
        self._response, self._client = response, client
        self.status_code = response.status_code
        self.headers: dict[str, str] = {}  # names in lower case, repeated ones joined
        for name, value in response.headers.multi_items():
            key = name.lower()
            self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers else value

    async def aread(self) -> bytes:
        """The whole body; the connection goes back to the pool."""
        self._client.waiting += 1
        try:
            return await self._response.aread()
        finally:
            self._client.waiting -= 1

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it arrives (transfer-decoded, not content-decoded)."""
        chunks = self._response.aiter_raw()
        while True:
            self._client.waiting += 1
            try:
                chunk = await anext(chunks, None)
            finally:
                self._client.waiting -= 1
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxUpstreamClient:
    """One process's connections to every upstream, through ``httpx.AsyncClient``."""

    def __init__(self, timeout_s: float, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 connections_max: int = CONNECTIONS_MAX, keepalive_s: float = KEEPALIVE_S,
                 ) -> None:
        invariant(timeout_s > 0 and connect_timeout_s > 0 and connections_max > 0,
                  "positive timeouts and a positive connection limit")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=connections_max,
                                max_keepalive_connections=connections_max,
                                keepalive_expiry=keepalive_s),
            headers={"user-agent": USER_AGENT}, follow_redirects=False, trust_env=True)
        self.waiting = 0  # requests suspended until an upstream sends them more

    async def post(self, url: str, headers: Mapping[str, str], content: bytes,
                   ) -> HttpxResponse:
        """Send the request and read the answer's head (status and headers)."""
        request = self._client.build_request("POST", url, headers=dict(headers), content=content)
        self.waiting += 1
        try:
            response = await self._client.send(request, stream=True)
        finally:
            self.waiting -= 1
        return HttpxResponse(response, self)

    async def aclose(self) -> None:
        await self._client.aclose()


__all__ = ["HttpxResponse", "HttpxUpstreamClient"]

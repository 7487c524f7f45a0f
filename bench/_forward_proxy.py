"""A proxy that only forwards: the floor under any gateway's added latency on this machine.

``python bench/_forward_proxy.py UPSTREAM_URL PORT`` serves ``POST /v1/chat/completions`` (and
``GET /healthz``) on uvicorn, as ``tokenomy serve`` does, and passes each request's body to
``UPSTREAM_URL`` with the gateway's own upstream client (:mod:`tokenomy.gateway.upstream_http`),
then the answer back, streamed as it arrives when it is an event stream. No key, no estimate,
no ledger, no record: what is left is one more process and two more loopback hops."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from tokenomy.gateway.upstream_http import UpstreamClient

Message = dict[str, Any]


def forward_app(upstream: str) -> Any:
    clients: list[UpstreamClient] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    clients.append(UpstreamClient(60.0))
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await clients[0].aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = await clients[0].post(upstream, {"content-type": "application/json",
                                                  "accept-encoding": "identity"}, body)
        kind = answer.headers.get("content-type", "")
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": [(b"content-type", kind.encode())]})
        if "event-stream" in kind:
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await answer.aclose()
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": await answer.aread()})

    return app


if __name__ == "__main__":
    uvicorn.run(forward_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning", access_log=False)

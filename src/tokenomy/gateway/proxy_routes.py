"""The proxy's routes: ``/v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``,
``/v1/messages`` and ``GET /v1/models``, with their request bodies described for the OpenAPI
schema, and :class:`ProxyFastPath`, the application class that sends the POST routes straight
to the :class:`~tokenomy.gateway.proxy.Gateway`."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from tokenomy.gateway.proxy import Gateway

# The request bodies as the OpenAPI schema describes them: the fields the gateway reads;
# everything else passes through to the upstream untouched.
_TEXT_MESSAGES = {"type": "array", "items": {"type": "object", "required": ["role", "content"],
                  "properties": {"role": {"type": "string"}, "content": {"type": "string"}}}}
CHAT_SCHEMA: dict[str, Any] = {
    "required": ["model", "messages"],
    "properties": {"model": {"type": "string", "examples": ["sim-small"]},
                   "messages": _TEXT_MESSAGES,
                   "max_tokens": {"type": "integer", "minimum": 1},
                   "max_completion_tokens": {"type": "integer", "minimum": 1},
                   "n": {"type": "integer", "minimum": 1},
                   "stream": {"type": "boolean"},
                   "stream_options": {"type": "object"}}}
RESPONSES_SCHEMA: dict[str, Any] = {
    "required": ["model", "input"],
    "properties": {"model": {"type": "string", "examples": ["sim-small"]},
                   "input": {"oneOf": [{"type": "string"}, _TEXT_MESSAGES]},
                   "instructions": {"type": "string"},
                   "max_output_tokens": {"type": "integer", "minimum": 1},
                   "stream": {"type": "boolean"}}}
EMBEDDINGS_SCHEMA: dict[str, Any] = {
    "required": ["model", "input"],
    "properties": {"model": {"type": "string", "examples": ["sim-small"]},
                   "input": {"oneOf": [{"type": "string"},
                                       {"type": "array", "items": {"type": "string"}}]}}}
MESSAGES_SCHEMA: dict[str, Any] = {
    "required": ["model", "max_tokens", "messages"],
    "properties": {"model": {"type": "string", "examples": ["sim-small"]},
                   "max_tokens": {"type": "integer", "minimum": 1},
                   "system": {"type": "string"},
                   "messages": _TEXT_MESSAGES,
                   "stream": {"type": "boolean"}}}


TELEMETRY_RECHECK_S = 1.0
PROXY_ROUTES = {"/v1/chat/completions": "chat", "/v1/responses": "responses",
                "/v1/embeddings": "embeddings", "/v1/messages": "messages"}


class ProxyFastPath(FastAPI):
    """The application: FastAPI, except that the proxy's POST routes go straight to the
    gateway, ahead of the framework's middleware, routing and dependency machinery (a fifth
    of a request's CPU). The FastAPI routes below stay for the OpenAPI schema and behave the
    same. When FastAPI's OpenTelemetry instrumentation is on (a provider is configured; looked
    at once per :data:`TELEMETRY_RECHECK_S`), every request takes the framework's way, so it
    is traced.

    An unexpected error is answered as the framework's outer error middleware would: the
    server answers 500 ``Internal Server Error`` and logs the traceback."""

    _telemetry_on = False
    _telemetry_until_s = 0.0  # monotonic: when to look at the providers again

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            api = PROXY_ROUTES.get(scope["path"])
            if api is not None and not self._traced(scope):
                if self.root_path:
                    scope["root_path"] = self.root_path
                scope["app"] = self
                gateway: Gateway = self.state.gateway
                response = await gateway.handle(Request(scope, receive), api)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _traced(self, scope: Scope) -> bool:
        now = time.monotonic()
        if now >= self._telemetry_until_s:
            telemetry = getattr(self, "_native_telemetry", None)  # recent FastAPI versions
            self._telemetry_on = telemetry is not None and bool(telemetry.enabled())
            self._telemetry_until_s = now + TELEMETRY_RECHECK_S
        return self._telemetry_on and "fastapi.telemetry" not in scope


def proxy_router(gateway_of: Any) -> APIRouter:
    """The ``/v1`` routes; ``gateway_of(request)`` answers the process's :class:`Gateway`."""
    router = APIRouter(tags=["proxy"])

    async def route(request: Request, api: str) -> Response:
        gateway: Gateway = gateway_of(request)
        return await gateway.handle(request, api)

    def body(schema: dict[str, Any]) -> dict[str, Any]:
        return {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "additionalProperties": True, **schema}}}}}

    @router.post("/v1/chat/completions", summary="OpenAI Chat Completions (streaming too)",
                 openapi_extra=body(CHAT_SCHEMA))
    async def chat(request: Request) -> Response:
        return await route(request, "chat")

    @router.post("/v1/responses", summary="OpenAI Responses (streaming too)",
                 openapi_extra=body(RESPONSES_SCHEMA))
    async def responses(request: Request) -> Response:
        return await route(request, "responses")

    @router.post("/v1/embeddings", summary="OpenAI Embeddings",
                 openapi_extra=body(EMBEDDINGS_SCHEMA))
    async def embeddings(request: Request) -> Response:
        return await route(request, "embeddings")

    @router.post("/v1/messages", summary="Anthropic Messages (streaming too)",
                 openapi_extra=body(MESSAGES_SCHEMA))
    async def messages(request: Request) -> Response:
        return await route(request, "messages")

    @router.get("/v1/models", summary="Models the upstreams serve")
    async def models(request: Request) -> dict[str, Any]:
        gateway: Gateway = gateway_of(request)
        return await gateway.models()

    return router


__all__ = ["PROXY_ROUTES", "TELEMETRY_RECHECK_S", "ProxyFastPath", "proxy_router"]

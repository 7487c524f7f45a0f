"""Relaying a stream: forward each event as it comes, price the one that carries usage.

The upstream's server-sent events are forwarded one complete event at a time. When the event
carrying the final usage arrives, the usage is normalized, priced and captured BEFORE that
event is forwarded, so it can carry the cost (``"tokenomy": {...}`` in its JSON; for a chat
stream whose client did not ask for usage, an SSE comment line instead, which every client
ignores). A stream that ends without usage, breaks mid-way, or whose client disconnects is
charged for what was delivered, counted with the model's real tokenizer and recorded as
estimated; nothing delivered releases the whole reservation.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tokenomy.gateway.admission import Settled, Ticket, rules_for
from tokenomy.gateway.relay import StreamUsage, counted_usage, split_events, usage_of, with_data
from tokenomy.ledger.budgets import format_major
from tokenomy.meter.errors import MeterError
from tokenomy.meter.usage import Usage
from tokenomy.pricing.quote import plain

if TYPE_CHECKING:
    from tokenomy.gateway.proxy import Gateway
    from tokenomy.gateway.upstream_http import UpstreamAnswer
    from tokenomy.gateway.upstreams import Upstream


def cost_fields(ticket: Ticket, settled: Settled, usage: Usage | None,
                headers: bool) -> dict[str, Any]:
    """The cost a response reports: as ``x-tokenomy-*`` headers, or as a JSON object."""
    ledger = ticket.caller.chain[0].ledger
    cost = format_major(settled.cost, ledger)
    reserved = format_major(ticket.reserved.total, ledger)
    stu = plain(settled.stu) if settled.stu else "0"
    estimated = bool(usage is not None and usage.estimated)
    if headers:
        return {"x-tokenomy-request-id": ticket.request_id, "x-tokenomy-cost-usd": cost,
                "x-tokenomy-stu": stu, "x-tokenomy-reserved-usd": reserved,
                "x-tokenomy-estimated": "true" if estimated else "false"}
    return {"request_id": ticket.request_id, "cost_usd": cost, "stu": stu,
            "reserved_usd": reserved, "estimated": estimated,
            "price_version": settled.quote.version if settled.quote else ""}


def _terminal(event: bytes) -> bool:
    """The family's last event: chat's ``[DONE]``, Anthropic's ``message_stop``, the
    Responses API's ``response.completed``."""
    return (event.startswith(b"data: [DONE]") or event.startswith(b"event: message_stop")
            or event.startswith(b"event: response.completed"))


class StreamRelay:
    """One stream from an upstream to a client."""

    def __init__(self, gateway: Gateway, ticket: Ticket, upstream: Upstream,
                 response: UpstreamAnswer, client_wants_usage: bool, ttfb_ms: float,
                 ) -> None:
        self.gateway, self.ticket, self.upstream = gateway, ticket, upstream
        self.response, self.client_wants_usage, self.ttfb_ms = response, client_wants_usage, ttfb_ms
        self.usage = StreamUsage(ticket.api)
        self.finished = False
        self.complete = False  # the upstream's stream ended normally and all of it was sent
        self.sent: list[bytes] = []  # what the client received, for an idempotent replay
        self.recorded = False  # the replay is stored (before the terminal event went out)

    async def events(self) -> AsyncIterator[bytes]:
        buffer = bytearray()
        outcome = "ok"
        try:
            async for chunk in self.response.aiter_raw():
                buffer += chunk
                if b"\r" in chunk:
                    buffer[:] = buffer.replace(b"\r\n", b"\n")
                # The events that arrived together go out in one write; those before the
                # usage event go before its capture is committed.
                batch: list[bytes] = []
                for event in split_events(buffer):
                    final = self.usage.final(event)
                    if final is None or self.finished:
                        out = event + b"\n\n"
                    else:
                        if batch:
                            yield self._delivered(b"".join(batch))
                            batch.clear()
                        out = await self._priced(event, final)
                    if self.ticket.idempotency_key and _terminal(event):
                        await self._record_done(b"".join((*batch, out)))  # before a retry
                    batch.append(out)
                if batch:
                    yield self._delivered(b"".join(batch) if len(batch) > 1 else batch[0])
            if buffer.strip():
                yield self._delivered(await self._forward(bytes(buffer).strip()))
        except (httpx.HTTPError, ValueError) as exc:
            outcome = "upstream_error"
            self.upstream.failed(time.monotonic())
            self.gateway.metrics.upstream_error(self.upstream.name)
            if not self.finished:
                await self._finish(self._counted(), "upstream_error", f"{type(exc).__name__}")
            yield self._error_event(f"the upstream's stream broke ({type(exc).__name__}); you "
                                    "are charged for what was delivered")
            return
        if not self.finished:  # the upstream ended without usage: count what it sent
            await self._finish(self._counted(), outcome, "")
        self.complete = True

    def _error_event(self, message: str) -> bytes:
        """An in-stream error in the family's format (the SDKs raise on it)."""
        data: dict[str, Any]
        if self.ticket.api == "messages":
            data = {"type": "error", "error": {"type": "api_error", "message": message}}
        elif self.ticket.api == "responses":
            data = {"type": "error", "code": "upstream_error", "message": message,
                    "sequence_number": 0}
        else:
            data = {"error": {"type": "upstream_error", "message": message,
                              "code": "upstream_error"}}
            return b"data: " + json.dumps(data).encode() + b"\n\n"
        return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"

    async def _record_done(self, last: bytes) -> None:
        """The stream's last event is next: record the replay (all of it) first, so a retry
        arriving the moment the client has it replays instead of answering 409."""
        if not self.finished:
            return
        t = self.ticket
        body = b"".join((*self.sent, last)).decode("utf-8", "replace")
        await self.gateway.admission.writer.submit(
            (), (), ((t.caller.key.id, t.idempotency_key, 200, "text/event-stream", body),))
        self.recorded = True

    def _delivered(self, out: bytes) -> bytes:
        """``out``, kept for an idempotent replay (it is sent next, and in full: a client
        that leaves mid-write gets no replay of a stream that is not complete)."""
        if self.ticket.idempotency_key:
            self.sent.append(out)
        return out

    async def _forward(self, event: bytes) -> bytes:
        final = self.usage.final(event)
        if final is None or self.finished:
            return event + b"\n\n"
        return await self._priced(event, final)

    async def _priced(self, event: bytes, final: dict[str, Any]) -> bytes:
        """The usage event, after its cost is captured: rewritten to carry the cost."""
        try:
            usage: Usage | None = self.gateway_usage(final)
        except MeterError:
            usage = self._counted()
        settled = await self._finish(usage, "ok", "")
        info = cost_fields(self.ticket, settled, usage, headers=False)
        if settled.receipt is not None:  # x402: the receipt a header could not carry
            info["payment_response"] = settled.receipt.model_dump(by_alias=True,
                                                                 exclude_none=True)
        if self.ticket.api == "chat" and not self.client_wants_usage:
            return b": tokenomy " + json.dumps(info, separators=(",", ":")).encode() + b"\n\n"
        return with_data(event, {**final, "tokenomy": info}) + b"\n\n"

    def gateway_usage(self, final: dict[str, Any]) -> Usage:
        provider = rules_for(self.ticket.model).provider
        return usage_of(self.ticket.api, self.upstream.spec.kind, provider, self.usage.native)

    def _counted(self) -> Usage | None:
        """The delivered text as usage (None when nothing was delivered)."""
        text = self.usage.delivered_text()
        if not text:
            return None
        rules = rules_for(self.ticket.model)
        start = None
        if self.usage.start_usage is not None:
            try:
                start = usage_of("messages", "anthropic", rules.provider,
                                 {**self.usage.start_usage, "output_tokens": 0})
            except MeterError:
                start = None
        return counted_usage(self.ticket.estimate, text, rules.tokenizer, start)

    async def _finish(self, usage: Usage | None, outcome: str, error: str,
                      ) -> Settled:
        self.finished = True
        seconds = time.monotonic() - self.ticket.started_s
        if outcome == "ok":
            self.upstream.succeeded(self.ttfb_ms, usage.total_output if usage else 0, seconds)
        settled = await self.gateway.admission.settle(
            self.ticket, usage, outcome, 200, self.upstream.name, error)
        self.gateway.metrics.reserved(-1)
        self.gateway.metrics.served(self.ticket, self.upstream.name, outcome, usage,
                                    settled.cost, seconds)
        return settled

    async def close(self) -> None:
        """After the response ended however it ended: settle a stream the client left."""
        if not self.finished:
            await self._finish(self._counted(), "client_disconnect", "")
        await self.response.aclose()
        key, t = self.ticket.idempotency_key, self.ticket
        if not key or self.recorded:
            return
        if self.complete:  # replayable: what the client received, byte for byte
            body = b"".join(self.sent).decode("utf-8", "replace")
            await self.gateway.admission.writer.submit(
                (), (), ((t.caller.key.id, key, 200, "text/event-stream", body),))
        else:
            await asyncio.to_thread(self.gateway.admission.store.fail_idempotency,
                                    t.caller.key.id, key, t.request_id)


class RelayResponse(StreamingResponse):
    """A streaming response that always settles its relay, even when the client leaves.

    It sends as Starlette's does, and stops when the server reports the client gone, but
    watches for that with one plain task rather than a task group (a tenth of the cost)."""

    def __init__(self, relay: StreamRelay) -> None:
        t = relay.ticket
        headers = {"x-tokenomy-request-id": t.request_id,
                   "x-tokenomy-reserved-usd": format_major(t.reserved.total,
                                                           t.caller.chain[0].ledger),
                   "x-tokenomy-upstream": relay.upstream.name, "cache-control": "no-cache"}
        super().__init__(relay.events(), media_type="text/event-stream", headers=headers)
        self.relay = relay
        self.client_left = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self.relay.gateway.admission
        admission.in_flight += 1  # a stream is in flight until it ends
        streaming = asyncio.current_task()
        assert streaming is not None
        watcher = asyncio.get_running_loop().create_task(self._watch(receive, streaming))
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self.client_left:
                raise
            streaming.uncancel()  # the client left: the relay settles what it received
        finally:
            watcher.cancel()
            with anyio.CancelScope(shield=True):
                await self.relay.close()
            admission.in_flight -= 1

    async def _watch(self, receive: Receive, streaming: asyncio.Task[None]) -> None:
        """Cancel ``streaming`` when the server says the client disconnected."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.client_left = True
                streaming.cancel()
                return


__all__ = ["RelayResponse", "StreamRelay", "cost_fields"]

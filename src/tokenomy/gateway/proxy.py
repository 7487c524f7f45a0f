"""The OpenAI- and Anthropic-compatible routes: every request estimated, reserved, called,
metered and captured.

``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings`` (OpenAI family) and
``POST /v1/messages`` (Anthropic family) pass through to an upstream of the same family; the
gateway never translates between families. ``GET /v1/models`` lists what the upstreams serve.

For one request: authenticate the key → estimate the worst case with the meter → order the
candidate (model, upstream) pairs by the routing strategy → take the rate limits → reserve the
worst-case quote on every budget level → call the upstream → normalize the real usage (or
count what was delivered) → capture ≤ the reservation, or release it when nothing was served.
A 5xx, timeout or refused connection releases the reservation and tries the next candidate;
the reservation always follows the upstream actually used. Answers carry
``x-tokenomy-request-id``, ``x-tokenomy-cost-usd`` and ``x-tokenomy-stu`` (a stream's final
event carries the same in a ``"tokenomy"`` object).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from x402.mechanisms.evm.constants import ERR_NONCE_ALREADY_USED
from x402.schemas import PaymentPayload, PaymentRequirements
from x402.schemas.v1 import PaymentPayloadV1

from tokenomy.config import QUALITY_TIERS, ModelGroup
from tokenomy.gateway.admission import Admission, Caller, Refusal, Ticket, rules_for
from tokenomy.gateway.metrics import Metrics
from tokenomy.gateway.paywall import Payment, Paywall, payer_caller, payment_request_id
from tokenomy.gateway.relay import body_text, counted_usage, usage_of
from tokenomy.gateway.streams import RelayResponse, StreamRelay, cost_fields
from tokenomy.gateway.upstream_http import UpstreamAnswer, UpstreamCaller
from tokenomy.gateway.upstreams import Upstream, UpstreamPool
from tokenomy.ledger.budgets import LEDGER_USDC
from tokenomy.meter.errors import MeterError
from tokenomy.meter.estimate import estimate_request
from tokenomy.meter.usage import Usage
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.quote import Quote
from tokenomy.settlement.facilitator import authorization_of

BODY_BYTES_MAX = 32 * 1024 * 1024
IDEMPOTENCY_KEY_LENGTH_MAX = 200
_FAMILY = {"chat": "openai", "responses": "openai", "embeddings": "openai",
           "messages": "anthropic"}


def error_body(family: str, kind: str, message: str, **extra: str) -> dict[str, Any]:
    """The family's error shape (OpenAI: ``{"error": {...}}``; Anthropic adds ``type``)."""
    error = {"type": kind, "message": message, **extra}
    if family == "anthropic":
        return {"type": "error", "error": error}
    return {"error": {**error, "code": kind}}


def refusal_response(family: str, refusal: Refusal, request_id: str) -> JSONResponse:
    headers = {"x-tokenomy-request-id": request_id}
    if refusal.retry_after_s is not None:
        headers["retry-after"] = str(refusal.retry_after_s)
    return JSONResponse(error_body(family, refusal.type, refusal.message, **refusal.detail),
                        status_code=refusal.status, headers=headers)


def idempotency_key_of(headers: Mapping[str, str]) -> str:
    key = headers.get("idempotency-key", "")
    if len(key) > IDEMPOTENCY_KEY_LENGTH_MAX or not key.isprintable():
        raise Refusal(400, "invalid_request_error",
                      f"Idempotency-Key must be 1..{IDEMPOTENCY_KEY_LENGTH_MAX} printable "
                      "characters")
    return key


def secret_of(headers: Mapping[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    raise Refusal(401, "missing_api_key",
                  "no API key: send Authorization: Bearer KEY (or x-api-key: KEY)")


class Gateway:
    """The proxy's state for one process: admission, upstreams, HTTP client, metrics."""

    def __init__(self, admission: Admission, pool: UpstreamPool, client: UpstreamCaller,
                 metrics: Metrics, routing: str, groups: Sequence[ModelGroup] = (),
                 paywall: Paywall | None = None) -> None:
        self.admission, self.pool, self.client = admission, pool, client
        self.metrics, self.routing = metrics, routing
        self.groups = {g.name: g for g in groups}
        self.paywall = paywall

    async def _pay(self, request: Request, amount: int) -> Payment | Response:
        """The request's x402 payment, verified and held — or the 402 that asks for one."""
        assert self.paywall is not None
        paywall, url = self.paywall, str(request.url)
        try:
            found = paywall.payload_of(request.headers)
        except ValueError as exc:
            raise Refusal(400, "invalid_payment", str(exc)) from None
        if found is None:
            return paywall.required(url, amount, "payment required: send an API key, or pay "
                                    "for this request with x402 (PAYMENT-SIGNATURE)")
        payload, version = found
        facilitator = paywall.facilitator
        if isinstance(payload, PaymentPayloadV1):  # v1: the SDK's v1 checks name the mismatch
            offer, verdict, auth = await asyncio.to_thread(paywall.check_v1, payload, amount,
                                                           url)
        else:
            matched = paywall.match(payload, amount)
            if matched is None:
                return paywall.required(url, amount, "the payment does not answer this "
                                        "request's offer (scheme, network, asset, payee or "
                                        "amount)", reason="payment_mismatch")
            offer = matched
            if paywall.remote is not None:
                return await self._pay_remote(paywall, payload, offer, url, amount)
            verdict, auth = await asyncio.to_thread(facilitator.check, payload, offer)
        if auth is not None:  # the hold spends the nonce: a duplicate finds it taken
            results = await self.admission.writer.submit(
                [facilitator.hold_transfer(offer, auth)], durable=False,
                alone=self.admission.alone(), quiet=self.admission.quiet())
            verdict = facilitator.verdict_of(results[0], auth)
        if auth is None or not verdict.is_valid:
            self.metrics.refused(verdict.invalid_reason or "payment_invalid")
            return paywall.required(url, amount,
                                    verdict.invalid_message or "the payment is not valid",
                                    reason=verdict.invalid_reason or "payment_invalid",
                                    settle=paywall.refusal_settle(
                                        verdict, facilitator.net.network, version),
                                    version=version)
        return Payment(payload, offer, auth, version)

    async def handle(self, request: Request, api: str) -> Response:
        self.admission.in_flight += 1
        try:
            return await self._handle(request, api)
        finally:
            self.admission.in_flight -= 1

    async def _handle(self, request: Request, api: str) -> Response:
        family = _FAMILY[api]
        request_id = "req_" + os.urandom(12).hex()  # secrets.token_hex's source, 2 calls less
        started_ns, arrived_s, caller = time.time_ns(), time.monotonic(), None
        model: Any = ""
        stream, idempotency_key, claimed = False, "", False
        payment: Payment | None = None
        try:
            try:
                caller = await self.admission.authenticate(secret_of(request.headers))
            except Refusal as no_key:  # no key: pay per request with x402, if offered
                if no_key.type != "missing_api_key" or self.paywall is None:
                    raise
            body = await self._body(request)
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise Refusal(400, "invalid_request_error", "model is required (a string)")
            stream = bool(body.get("stream")) and api != "embeddings"
            idempotency_key = idempotency_key_of(request.headers)
            plans = self._plans(api, family, model, body,
                                caller.chain[0].ledger if caller else LEDGER_USDC)
            if caller is None:
                paid = await self._pay(request, plans[0][3].total)
                if isinstance(paid, Response):
                    return paid
                assert self.paywall is not None
                payment = paid
                caller = payer_caller(self.paywall.facilitator, paid.auth.payer)
                request_id, idempotency_key = payment_request_id(paid.auth), ""
            if idempotency_key:
                replay = await self._claim(caller, idempotency_key, request_id, family)
                if replay is not None:
                    return replay
                claimed = True
            tokens = self.admission.limit(caller, plans[0][2].total)
        except Refusal as refusal:
            self.metrics.refused(refusal.type)
            if caller is not None:
                await self.admission.record_refusal(caller, request_id, api, model, stream,
                                                    refusal, started_ns)
                if claimed:
                    await self._unclaim(caller, idempotency_key, request_id)
            return refusal_response(family, refusal, request_id)
        answer = await self._attempts(request, api, caller, body, plans, request_id, stream,
                                      tokens, started_ns, arrived_s, idempotency_key, payment)
        if claimed and answer.status_code >= 400:
            await self._unclaim(caller, idempotency_key, request_id)
        return answer

    async def _attempts(self, request: Request, api: str, caller: Caller, body: dict[str, Any],
                        plans: list[tuple[str, Upstream, Usage, Quote]], request_id: str,
                        stream: bool, tokens: int, started_ns: int, arrived_s: float,
                        idempotency_key: str, payment: Payment | None = None) -> Response:
        """Try the plans in order until one upstream answers."""
        family = _FAMILY[api]
        for attempt, (upstream_model, upstream, estimate, reserved) in enumerate(plans, 1):
            ticket = Ticket(request_id if attempt == 1 else f"{request_id}-{attempt}", caller,
                            api, upstream_model, stream, estimate, reserved, time.time_ns(),
                            arrived_s, idempotency_key,
                            tokens_charged=tokens if attempt == 1 else 0, payment=payment)
            try:
                if payment is None:  # a payment's hold is its reservation
                    await self.admission.reserve(ticket)
            except Refusal as refusal:
                self.metrics.refused(refusal.type)
                await self.admission.record_refusal(caller, ticket.request_id, api,
                                                    upstream_model, stream, refusal,
                                                    started_ns, reserved.total)
                self.admission.refund_tokens(ticket, 0)
                return refusal_response(family, refusal, ticket.request_id)
            self.metrics.reserved(1)
            answer = await self._call(request, ticket, upstream, body)
            if answer is not None:
                return answer
        if payment is not None:  # nothing was served: the payer is charged nothing
            assert self.paywall is not None
            await self.admission.writer.submit(
                [self.paywall.facilitator.release_transfer(payment.auth)])
        self.metrics.refused("upstream_unavailable")
        return JSONResponse(error_body(family, "upstream_unavailable",
                                       f"no upstream could serve {plans[0][0]!r} (all failed or "
                                       "their circuit breakers are open); nothing was charged"),
                            status_code=502, headers={"x-tokenomy-request-id": request_id})

    async def _claim(self, caller: Caller, idempotency_key: str, request_id: str,
                     family: str) -> Response | None:
        """Take the idempotency key, or answer its replay (done) or a 409 (in flight)."""
        store = self.admission.store
        stale = time.time_ns() - self.admission.reservation_timeout_s * 1_000_000_000
        claimed, found = await asyncio.to_thread(store.claim_idempotency, caller.key.id,
                                                 idempotency_key, request_id, time.time_ns(),
                                                 stale)
        if claimed:
            return None
        if found.state == "done":
            await self.admission.writer.synced()  # what it replays is on disk before it goes
            return Response(found.body.encode("utf-8"), status_code=found.status,
                            media_type=found.content_type,
                            headers={"x-tokenomy-request-id": found.request_id,
                                     "x-tokenomy-idempotent-replay": "true"})
        raise Refusal(409, "idempotency_conflict",
                      f"a request with Idempotency-Key {idempotency_key!r} is still in flight "
                      f"({found.request_id}); retry after it ends")

    async def _unclaim(self, caller: Caller, idempotency_key: str, request_id: str) -> None:
        await asyncio.to_thread(self.admission.store.fail_idempotency, caller.key.id,
                                idempotency_key, request_id)

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = request.state.raw = await request.body()
        if len(raw) > BODY_BYTES_MAX:
            raise Refusal(413, "request_too_large", f"the body exceeds {BODY_BYTES_MAX} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Refusal(400, "invalid_request_error", "the body is not valid JSON") from None
        except RecursionError:
            raise Refusal(400, "invalid_request_error", "the body is nested too deeply") from None
        if not isinstance(body, dict):
            raise Refusal(400, "invalid_request_error", "the body must be a JSON object")
        return body

    async def _pay_remote(self, paywall: Paywall, payload: PaymentPayload,
                          offer: PaymentRequirements, url: str, amount: int,
                          ) -> Payment | Response:
        """Verify at the remote facilitator; its nonce is claimed here first, so duplicates
        of one payment are served once (verify alone is read-only at a facilitator)."""
        assert paywall.remote is not None
        try:
            auth = authorization_of(payload)
        except ValueError as exc:
            return paywall.required(url, amount, str(exc), reason="invalid_payload")
        seen = f"{offer.network}:{auth.payer.lower()}:{auth.nonce.lower()}"
        claimed, _ = await asyncio.to_thread(
            self.admission.store.claim_idempotency, "x402", seen, payment_request_id(auth),
            time.time_ns())
        if not claimed:
            return paywall.required(url, amount, "this authorization was used",
                                    reason=ERR_NONCE_ALREADY_USED)
        try:
            verdict = await paywall.remote.verify(payload, offer)
        except (ValueError, httpx.HTTPError) as exc:
            raise Refusal(502, "facilitator_unavailable",
                          f"the payment facilitator did not answer: {exc}") from None
        if not verdict.is_valid:
            return paywall.required(url, amount,
                                    verdict.invalid_message or "the payment is not valid",
                                    reason=verdict.invalid_reason or "payment_invalid",
                                    settle=paywall.refusal_settle(verdict, offer.network))
        return Payment(payload, offer, auth, 2, paywall.remote)

    def _plans(self, api: str, family: str, model: str, body: dict[str, Any],
               ledger: int) -> list[tuple[str, Upstream, Usage, Quote]]:
        """Every (model, upstream, worst-case usage, its quote) to try, in routing order."""
        group = self.groups.get(model)
        members = group.models if group is not None else (model,)
        quality = group.quality if group is not None else ""
        if quality:
            members = tuple(m for m in members if self._meets(m, quality))
        candidates = [(m, u) for m in members for u in self.pool.for_model(m, family)]
        if not candidates:
            what = f" of quality {quality!r} or better" if quality else ""
            raise Refusal(404, "model_not_found",
                          f"no {family} upstream serves model {model!r}{what}")
        estimates: dict[str, tuple[Usage, Quote]] = {}
        refused: Refusal | None = None
        for name in dict.fromkeys(m for m, _ in candidates):
            try:
                usage = estimate_request(api, body, rules_for(name))
            except MeterError as exc:
                raise Refusal(400, "invalid_request_error", str(exc)) from None
            try:
                estimates[name] = (usage, self.admission.price(usage, name, ledger))
            except Refusal as exc:  # unpriced (policy block): a group routes around it
                if group is None:
                    raise
                refused = exc
        candidates = [(m, u) for m, u in candidates if m in estimates]
        if not candidates:
            assert refused is not None
            raise refused
        strategy = (group.routing if group is not None else "") or self.routing
        ordered = self.pool.order(candidates, strategy, time.monotonic(),
                                  lambda m: estimates[m][1].total)
        return [(m, u, *estimates[m]) for m, u in ordered]

    def _meets(self, model: str, quality: str) -> bool:
        """Whether ``model``'s quality tier (from the price book) is ``quality`` or better."""
        try:
            tier = self.admission.pricing.book.entry(model, datetime.now(UTC)).quality
        except PricingError:
            return False
        return tier in QUALITY_TIERS[: QUALITY_TIERS.index(quality) + 1]

    async def _call(self, request: Request, ticket: Ticket, upstream: Upstream,
                    body: dict[str, Any]) -> Response | None:
        """Call one upstream; None when it failed before answering (try the next one)."""
        sent = body
        client_wants_usage = True
        if ticket.stream and ticket.api == "chat":
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            client_wants_usage = bool(options.get("include_usage"))
            sent = dict(body, stream_options={**options, "include_usage": True})
        if ticket.model != body.get("model"):  # a model group: the member chosen
            sent = dict(sent, model=ticket.model)
        # Unchanged bodies go as the client sent them (no re-encoding).
        content = request.state.raw if sent is body else json.dumps(sent).encode()
        headers = upstream.headers(request.headers)
        sent_s = time.monotonic()
        upstream.began(sent_s)
        try:
            response = await self.client.post(upstream.url(ticket.api), headers, content)
        except httpx.HTTPError as exc:
            await self._failed(ticket, upstream, f"{type(exc).__name__}: {exc}")
            return None
        if response.status_code >= 500:
            await response.aclose()
            await self._failed(ticket, upstream, f"HTTP {response.status_code}")
            return None
        ttfb_ms = (time.monotonic() - sent_s) * 1000
        self.metrics.upstream_latency(upstream.name, ttfb_ms / 1000)
        if response.status_code >= 400 or not ticket.stream:
            return await self._whole(ticket, upstream, response, ttfb_ms, sent_s)
        relay = StreamRelay(self, ticket, upstream, response, client_wants_usage, ttfb_ms)
        return RelayResponse(relay)

    async def _failed(self, ticket: Ticket, upstream: Upstream, error: str) -> None:
        upstream.failed(time.monotonic())
        self.metrics.upstream_error(upstream.name)
        await self.admission.settle(ticket, None, "upstream_error", 502, upstream.name, error,
                                    release=ticket.payment is None)
        self.metrics.reserved(-1)
        return None

    async def _whole(self, ticket: Ticket, upstream: Upstream, response: UpstreamAnswer,
                     ttfb_ms: float, sent_s: float) -> Response | None:
        try:
            raw = await response.aread()
            upstream_s = time.monotonic() - sent_s
        except httpx.HTTPError as exc:  # failed mid-answer: nothing was delivered
            await response.aclose()
            await self._failed(ticket, upstream, f"{type(exc).__name__}: {exc}")
            return None
        seconds = time.monotonic() - ticket.started_s
        status = response.status_code
        usage: Usage | None = None
        outcome, error = "ok", ""
        if status >= 400:  # the upstream refused the request: providers do not bill these
            outcome, error = "upstream_rejected", raw[:500].decode("utf-8", "replace")
            upstream.succeeded(ttfb_ms, 0, seconds)
        else:
            usage = self._usage_of_body(ticket, upstream, raw)
            upstream.succeeded(ttfb_ms, usage.total_output, seconds)
        content_type = response.headers.get("content-type", "application/json")
        replay = (status, content_type, raw.decode("utf-8", "replace")) if status < 400 else None
        settled = await self.admission.settle(ticket, usage, outcome, status, upstream.name,
                                              error, response=replay)
        self.metrics.reserved(-1)
        self.metrics.served(ticket, upstream.name, outcome, usage, settled.cost, seconds)
        overhead_us = int((time.monotonic() - ticket.started_s - upstream_s) * 1e6)
        headers = ({} if settled.receipt is None or ticket.payment is None
                   else Paywall.receipt(settled.receipt, ticket.payment.version))
        headers |= {"x-tokenomy-upstream": upstream.name,
                    "x-tokenomy-overhead-us": str(overhead_us),
                    **cost_fields(ticket, settled, usage, headers=True)}
        return Response(raw, status_code=status, media_type=content_type, headers=headers)

    def _usage_of_body(self, ticket: Ticket, upstream: Upstream, raw: bytes) -> Usage:
        rules = rules_for(ticket.model)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("usage") is not None:
            try:
                return usage_of(ticket.api, upstream.spec.kind, rules.provider, body["usage"])
            except MeterError:
                pass  # counted below, and marked estimated
        text = body_text(ticket.api, body) if isinstance(body, dict) else ""
        if ticket.api == "embeddings":
            return ticket.estimate
        return counted_usage(ticket.estimate, text, rules.tokenizer)

    async def models(self) -> dict[str, Any]:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "tokenomy"}
                for m in (*self.pool.models(), *self.groups)]
        return {"object": "list", "data": data}


__all__ = ["Gateway", "error_body", "refusal_response", "secret_of"]

"""``/api/x402/*``: the local facilitator over HTTP, shaped as the x402 facilitator API, so
any x402 resource server (the SDK's ``HTTPFacilitatorClient``) can settle into this ledger.

``GET /supported`` → kinds (``upto`` with ``facilitatorAddress``, ``exact``) and signers;
``POST /verify`` and ``POST /settle`` take ``{"x402Version", "paymentPayload",
"paymentRequirements"}`` and answer the SDK's ``VerifyResponse`` / ``SettleResponse`` (a
refusal is a 200 with ``isValid: false`` / ``success: false`` and the reason code; a body
that is not a payment is a 400).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from x402.schemas import PaymentPayload, PaymentRequirements

from tokenomy.settlement.facilitator import LedgerFacilitator


def _parse(body: Any) -> tuple[PaymentPayload, PaymentRequirements]:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    if body.get("x402Version", 2) != 2:
        raise ValueError("this facilitator speaks x402Version 2")
    try:
        return (PaymentPayload.model_validate(body.get("paymentPayload")),
                PaymentRequirements.model_validate(body.get("paymentRequirements")))
    except ValidationError as exc:
        raise ValueError(f"not a payment: {exc.errors()[0].get('msg', exc)}") from None


def x402_router(facilitator_of: Any) -> APIRouter:
    router = APIRouter(prefix="/api/x402", tags=["x402"])

    async def body_of(request: Request) -> tuple[PaymentPayload, PaymentRequirements]:
        try:
            return _parse(await request.json())
        except ValueError as exc:  # a JSON error is a ValueError too
            raise _BadPayment(str(exc)) from None

    @router.get("/supported", summary="What this facilitator settles")
    async def supported(request: Request) -> dict[str, Any]:
        f: LedgerFacilitator = facilitator_of(request)
        return f.supported().model_dump(by_alias=True, exclude_none=True)

    @router.post("/verify", summary="Check a payment and hold its amount")
    async def verify(request: Request) -> Any:
        f: LedgerFacilitator = facilitator_of(request)
        try:
            payload, requirements = await body_of(request)
        except _BadPayment as exc:
            return _bad(str(exc))
        verdict = await asyncio.to_thread(f.verify, payload, requirements)
        return verdict.model_dump(by_alias=True, exclude_none=True)

    @router.post("/settle", summary="Capture a held payment (idempotent)")
    async def settle(request: Request) -> Any:
        f: LedgerFacilitator = facilitator_of(request)
        try:
            payload, requirements = await body_of(request)
        except _BadPayment as exc:
            return _bad(str(exc))
        settled = await asyncio.to_thread(f.settle, payload, requirements)
        return settled.model_dump(by_alias=True, exclude_none=True)

    return router


class _BadPayment(ValueError):
    pass


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": "invalid_payment", "message": message}},
                        status_code=400)


__all__ = ["x402_router"]

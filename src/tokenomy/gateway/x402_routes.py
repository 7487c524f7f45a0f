"""``/api/x402/*``: the local facilitator over HTTP, shaped as the x402 facilitator API, so
any x402 resource server (the SDK's ``HTTPFacilitatorClient``) can settle into this ledger.

``GET /supported`` → kinds (``upto`` with ``facilitatorAddress``, ``exact``; v1: ``exact``
on ``tokenomy-local``) and signers; ``POST /verify`` and ``POST /settle`` take
``{"x402Version", "paymentPayload", "paymentRequirements"}`` — version 2, or 1 with v1's
payload and requirements (:mod:`tokenomy.settlement.v1`) — and answer the SDK's
``VerifyResponse`` / ``SettleResponse`` (a refusal is a 200 with ``isValid: false`` /
``success: false`` and the reason code; a body that is not a payment is a 400).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from x402.schemas import PaymentPayload, PaymentRequirements
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

from tokenomy.settlement.facilitator import LedgerFacilitator
from tokenomy.settlement.v1 import LedgerFacilitatorV1, v1_network_of

Payment = tuple[PaymentPayload, PaymentRequirements] | tuple[PaymentPayloadV1,
                                                             PaymentRequirementsV1]


class _BadPayment(ValueError):
    pass


def _parse(body: Any) -> Payment:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    version = body.get("x402Version", 2)
    if version not in (1, 2):
        raise ValueError("this facilitator speaks x402Version 2 and 1")
    try:
        if version == 1:
            return (PaymentPayloadV1.model_validate(body.get("paymentPayload")),
                    PaymentRequirementsV1.model_validate(body.get("paymentRequirements")))
        return (PaymentPayload.model_validate(body.get("paymentPayload")),
                PaymentRequirements.model_validate(body.get("paymentRequirements")))
    except ValidationError as exc:
        raise ValueError(f"not a payment: {exc.errors()[0].get('msg', exc)}") from None


def _v1(f: LedgerFacilitator) -> LedgerFacilitatorV1:
    network = v1_network_of(f.net)
    if network is None:
        raise _BadPayment(f"{f.net.network} has no x402 v1 name: send x402Version 2")
    return LedgerFacilitatorV1(f, network)


def _run(f: LedgerFacilitator, payment: Payment, action: str) -> dict[str, Any]:
    """``verify`` or ``settle`` the payment with the facilitator of its x402 version."""
    payload, requirements = payment
    if isinstance(payload, PaymentPayloadV1):
        assert isinstance(requirements, PaymentRequirementsV1)
        answer = getattr(_v1(f), action)(payload, requirements)
    else:
        assert isinstance(requirements, PaymentRequirements)
        answer = getattr(f, action)(payload, requirements)
    dumped: dict[str, Any] = answer.model_dump(by_alias=True, exclude_none=True)
    return dumped


def _verify(f: LedgerFacilitator, payment: Payment) -> dict[str, Any]:
    return _run(f, payment, "verify")


def _settle(f: LedgerFacilitator, payment: Payment) -> dict[str, Any]:
    return _run(f, payment, "settle")


def x402_router(facilitator_of: Any) -> APIRouter:
    router = APIRouter(prefix="/api/x402", tags=["x402"])

    async def body_of(request: Request) -> Payment:
        try:
            return _parse(await request.json())
        except ValueError as exc:  # a JSON error is a ValueError too
            raise _BadPayment(str(exc)) from None

    @router.get("/supported", summary="What this facilitator settles")
    async def supported(request: Request) -> dict[str, Any]:
        f: LedgerFacilitator = facilitator_of(request)
        supported = f.supported().model_dump(by_alias=True, exclude_none=True)
        if v1_network_of(f.net) is not None:
            supported["kinds"].append(_v1(f).supported_kind())
        return supported

    @router.post("/verify", summary="Check a payment and hold its amount")
    async def verify(request: Request) -> Any:
        f: LedgerFacilitator = facilitator_of(request)
        try:
            return await asyncio.to_thread(_verify, f, await body_of(request))
        except _BadPayment as exc:
            return _bad(str(exc))

    @router.post("/settle", summary="Capture a held payment (idempotent)")
    async def settle(request: Request) -> Any:
        f: LedgerFacilitator = facilitator_of(request)
        try:
            return await asyncio.to_thread(_settle, f, await body_of(request))
        except _BadPayment as exc:
            return _bad(str(exc))

    return router


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": "invalid_payment", "message": message}},
                        status_code=400)


__all__ = ["x402_router"]

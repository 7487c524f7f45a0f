"""The x402 paywall: a request without an API key pays per request, in USDC, at the metered
price.

In: a request with no key. Out: **402** with a v2 ``PAYMENT-REQUIRED`` offer — ``upto`` first
(authorize the worst-case estimate, pay the metered cost) then ``exact`` (pay the worst case) —
and a v1 JSON body (``{"x402Version": 1, "error": "…", "accepts": [exact on
tokenomy-local]}``, see :mod:`tokenomy.settlement.v1`, plus ``reason``); or, with a
``PAYMENT-SIGNATURE`` (v1: ``X-PAYMENT``) header that answers an offer, a :class:`Payment`:
the facilitator's checks passed and its hold is placed (through the group writer, so a
duplicate header finds its nonce spent and gets 402: the upstream is called once). The gateway
then serves the request like a keyed one, with the hold as its reservation, and captures
``upto``'s metered cost or ``exact``'s whole amount; the receipt comes back in
``PAYMENT-RESPONSE`` (v1: ``X-PAYMENT-RESPONSE``; a stream's final event carries it). A failed
request releases the hold.

Prices are USD; USDC is taken at par, rounded up to its micro-unit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse
from x402.http import (
    HTTPFacilitatorClient,
    decode_payment_signature_header,
    encode_payment_required_header,
    encode_payment_response_header,
)
from x402.mechanisms.evm.constants import SCHEME_EXACT, SCHEME_UPTO
from x402.schemas import (
    PaymentPayload,
    PaymentRequired,
    PaymentRequirements,
    ResourceInfo,
    SettleResponse,
    VerifyResponse,
)
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequiredV1, PaymentRequirementsV1

from tokenomy.gateway.admission import Caller
from tokenomy.ledger.budgets import LEDGER_USDC, Budget
from tokenomy.settlement.facilitator import (
    Authorization,
    LedgerFacilitator,
    wallet_account_id,
)
from tokenomy.settlement.v1 import LedgerFacilitatorV1, v1_network_of, v1_receipt
from tokenomy.store.gateway_sql import KeyRecord

PAYMENT_HEADERS = ("payment-signature", "x-payment")
RESPONSE_HEADER = {2: "payment-response", 1: "x-payment-response"}  # by x402 version


@dataclass(frozen=True, slots=True)
class Payment:
    """A verified payment whose hold is placed: the request's reservation."""

    payload: PaymentPayload | PaymentPayloadV1
    requirements: PaymentRequirements  # a v1 payment: the v2 twin of its offer
    auth: Authorization
    version: int  # 2, or 1 for an X-PAYMENT client
    remote: HTTPFacilitatorClient | None = None  # settle there, not in this ledger


class PaymentRefused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def payer_caller(facilitator: LedgerFacilitator, payer: str) -> Caller:
    """The payer as the gateway's caller: a one-level chain on their wallet account."""
    name = f"x402/{payer.lower()}"
    wallet = Budget(name, wallet_account_id(facilitator.net, payer), LEDGER_USDC, 0,
                    kind="agent", owner=payer)
    key = KeyRecord(f"x402:{payer.lower()}", name, "", name)
    return Caller(key, (wallet,))


class Paywall:
    """Offers, header parsing and receipts for one payment network."""

    def __init__(self, facilitator: LedgerFacilitator,
                 remote: HTTPFacilitatorClient | None = None) -> None:
        self.facilitator = facilitator
        self.net = facilitator.net
        self.remote = remote  # a remote facilitator replaces the ledger's checks and holds
        v1_network = v1_network_of(self.net) if remote is None else None
        # v1 is the local facilitator's only: a remote one is asked in v2
        self.v1 = LedgerFacilitatorV1(facilitator, v1_network) if v1_network else None

    def offers(self, amount: int) -> list[PaymentRequirements]:
        """``upto`` then ``exact`` for ``amount`` atomic units (the worst case)."""
        net, text = self.net, str(max(amount, 1))
        upto_extra = {**net.extra, "facilitatorAddress": net.facilitator}
        return [PaymentRequirements(scheme=scheme, network=net.network, asset=net.asset,
                                    amount=text, pay_to=net.pay_to,
                                    max_timeout_seconds=net.max_timeout_s, extra=extra)
                for scheme, extra in ((SCHEME_UPTO, upto_extra), (SCHEME_EXACT, net.extra))]

    def offers_v1(self, amount: int, url: str) -> list[PaymentRequirementsV1]:
        """The v1 offer: ``exact`` for ``amount`` (none without a v1 name for the chain)."""
        return [self.v1.requirements(amount, url)] if self.v1 is not None else []

    def required(self, url: str, amount: int, error: str, reason: str = "payment_required",
                 settle: SettleResponse | None = None, version: int = 2) -> JSONResponse:
        """The 402 answer: the v2 offer in ``PAYMENT-REQUIRED``, the v1 offer as the JSON
        body (v1's ``error`` is a string: the message; ``reason`` is its code), and a
        refused payment's receipt in ``PAYMENT-RESPONSE`` (v1: ``X-PAYMENT-RESPONSE``)."""
        offer = PaymentRequired(error=error, accepts=self.offers(amount), resource=ResourceInfo(
            url=url, description="AI tokens, metered", mime_type="application/json"))
        headers = {"payment-required": encode_payment_required_header(offer)}
        if settle is not None:
            headers[RESPONSE_HEADER[version]] = encode_payment_response_header(settle)
        legacy = PaymentRequiredV1(error=error, accepts=self.offers_v1(amount, url))
        body = {**legacy.model_dump(by_alias=True, exclude_none=True), "reason": reason}
        return JSONResponse(body, status_code=402, headers=headers)

    def payload_of(self, headers: Any,
                   ) -> tuple[PaymentPayload | PaymentPayloadV1, int] | None:
        """The payment a request carries and its x402 version, or None; ValueError if it
        cannot be read (or is v1 and v1 is not offered)."""
        for name in PAYMENT_HEADERS:
            value = headers.get(name)
            if value:
                try:
                    decoded = decode_payment_signature_header(value)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"the {name} header is not a payment payload: {exc}") \
                        from None
                if isinstance(decoded, PaymentPayload):
                    return decoded, 2
                if self.v1 is None:
                    raise ValueError("x402 v1 is offered with the local facilitator only; "
                                     "send a v2 PAYMENT-SIGNATURE")
                return decoded, 1
        return None

    def match(self, payload: PaymentPayload, amount: int) -> PaymentRequirements | None:
        """Our offer that ``payload.accepted`` answers (scheme, network, asset, payTo,
        amount), or None (the price moved, or the client picked something else)."""
        a = payload.accepted
        for offer in self.offers(amount):
            if (a.scheme == offer.scheme and a.network == offer.network
                    and a.asset.lower() == offer.asset.lower()
                    and a.pay_to.lower() == offer.pay_to.lower() and a.amount == offer.amount):
                return offer
        return None

    def check_v1(self, payload: PaymentPayloadV1, amount: int, url: str,
                 ) -> tuple[PaymentRequirements, VerifyResponse, Authorization | None]:
        """Check a v1 payment against the v1 offer for ``amount``: the offer's v2 twin (what
        the ledger holds against), the verdict, and what it authorizes if valid."""
        assert self.v1 is not None, "payload_of refuses v1 when it is not offered"
        offer = self.v1.requirements(amount, url)
        verdict, auth = self.v1.check(payload, offer)
        return self.v1.twin(offer), verdict, auth

    @staticmethod
    def receipt(settled: SettleResponse, version: int = 2) -> dict[str, str]:
        return {RESPONSE_HEADER[version]: encode_payment_response_header(settled)}

    def refusal_settle(self, verdict: VerifyResponse, network: str, version: int = 2,
                       ) -> SettleResponse:
        refused = SettleResponse(success=False, error_reason=verdict.invalid_reason,
                                 error_message=verdict.invalid_message, payer=verdict.payer,
                                 transaction="", network=network)
        if version == 1 and self.v1 is not None:
            return v1_receipt(refused, self.v1.network)
        return refused


def payment_request_id(auth: Authorization) -> str:
    """A request id from the authorization (its retries are the same payment)."""
    digest = hashlib.sha256(f"{auth.payer.lower()}:{auth.nonce.lower()}".encode()).hexdigest()
    return "req_x402_" + digest[:20]


__all__ = ["PAYMENT_HEADERS", "Payment", "Paywall", "payer_caller", "payment_request_id"]

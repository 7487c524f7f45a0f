"""The x402 paywall: a request without an API key pays per request, in USDC, at the metered
price.

In: a request with no key. Out: **402** with a v2 ``PAYMENT-REQUIRED`` offer — ``upto`` first
(authorize the worst-case estimate, pay the metered cost) then ``exact`` (pay the worst case) —
or, with a ``PAYMENT-SIGNATURE`` (v1: ``X-PAYMENT``) header that matches an offer, a
:class:`Payment`: the facilitator's checks passed and its hold is placed (through the group
writer, so a duplicate header finds its nonce spent and gets 402: the upstream is called
once). The gateway then serves the request like a keyed one, with the hold as its reservation,
and captures ``upto``'s metered cost or ``exact``'s whole amount; the receipt comes back in
``PAYMENT-RESPONSE`` (a stream's final event carries it). A failed request releases the hold.

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

from tokenomy.gateway.admission import Caller
from tokenomy.ledger.budgets import LEDGER_USDC, Budget
from tokenomy.settlement.facilitator import (
    Authorization,
    LedgerFacilitator,
    wallet_account_id,
)
from tokenomy.store.gateway_sql import KeyRecord

PAYMENT_HEADERS = ("payment-signature", "x-payment")


@dataclass(frozen=True, slots=True)
class Payment:
    """A verified payment whose hold is placed: the request's reservation."""

    payload: PaymentPayload
    requirements: PaymentRequirements
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

    def offers(self, amount: int) -> list[PaymentRequirements]:
        """``upto`` then ``exact`` for ``amount`` atomic units (the worst case)."""
        net, text = self.net, str(max(amount, 1))
        upto_extra = {**net.extra, "facilitatorAddress": net.facilitator}
        return [PaymentRequirements(scheme=scheme, network=net.network, asset=net.asset,
                                    amount=text, pay_to=net.pay_to,
                                    max_timeout_seconds=net.max_timeout_s, extra=extra)
                for scheme, extra in ((SCHEME_UPTO, upto_extra), (SCHEME_EXACT, net.extra))]

    def required(self, url: str, amount: int, family: str, error: str,
                 reason: str = "payment_required", settle: SettleResponse | None = None,
                 ) -> JSONResponse:
        """The 402 answer: the offer in ``PAYMENT-REQUIRED`` and in the JSON body."""
        offer = PaymentRequired(error=error, accepts=self.offers(amount), resource=ResourceInfo(
            url=url, description="AI tokens, metered", mime_type="application/json"))
        headers = {"payment-required": encode_payment_required_header(offer)}
        if settle is not None:
            headers["payment-response"] = encode_payment_response_header(settle)
        body: dict[str, Any] = {"type": reason, "message": error}
        wrapped = {"type": "error", "error": body} if family == "anthropic" else {"error": body}
        offered = offer.model_dump(by_alias=True, exclude_none=True, exclude={"error"})
        return JSONResponse({**offered, **wrapped}, status_code=402, headers=headers)

    def payload_of(self, headers: Any) -> tuple[PaymentPayload, int] | None:
        """The payment a request carries, or None; ValueError if it cannot be read."""
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
                raise ValueError("x402 v1 payloads name networks the local chain does not have;"
                                 " send a v2 PAYMENT-SIGNATURE")
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

    @staticmethod
    def receipt(settled: SettleResponse) -> dict[str, str]:
        return {"payment-response": encode_payment_response_header(settled)}

    @staticmethod
    def refusal_settle(verdict: VerifyResponse, network: str) -> SettleResponse:
        return SettleResponse(success=False, error_reason=verdict.invalid_reason,
                              error_message=verdict.invalid_message, payer=verdict.payer,
                              transaction="", network=network)


def payment_request_id(auth: Authorization) -> str:
    """A request id from the authorization (its retries are the same payment)."""
    digest = hashlib.sha256(f"{auth.payer.lower()}:{auth.nonce.lower()}".encode()).hexdigest()
    return "req_x402_" + digest[:20]


__all__ = ["PAYMENT_HEADERS", "Payment", "Paywall", "payer_caller", "payment_request_id"]

"""x402 v1 (``X-PAYMENT``) through the gateway, the official SDK's v1 client as the peer, on
real sockets.

    agent (x402Client.register_v1("tokenomy-local", ExactEvmSchemeV1)) → tokenomy serve
    no API key → 402, v1 offer in the JSON body → X-PAYMENT → served, X-PAYMENT-RESPONSE,
    the whole exact amount captured in the ledger — with v2's guarantees.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from gateway_harness import Gateway
from x402 import x402Client
from x402.http import (
    decode_payment_required_header,
    decode_payment_response_header,
    x402HTTPClient,
)
from x402.http.clients.httpx import x402AsyncTransport
from x402.mechanisms.evm.exact.v1.client import ExactEvmSchemeV1
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentPayload, SettleResponse
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequiredV1

from tokenomy.settlement.facilitator import LedgerFacilitator
from tokenomy.settlement.network import LOCAL
from tokenomy.settlement.v1 import LOCAL_V1_NETWORK, register_v1_network

register_v1_network()  # what any SDK v1 client of Tokenomy does once (the server does too)

BODY = {"model": "sim-small", "max_tokens": 40,
        "messages": [{"role": "user", "content": "how much is a token?"}]}
URL = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def ledger_invariants_hold(gateway: Gateway) -> Any:
    yield
    assert gateway.store.verify() == []


def v1_agent(gateway: Gateway, micro_usdc: int,
             ) -> tuple[LocalAccount, x402Client, LedgerFacilitator]:
    """A funded wallet and an SDK client that speaks x402 v1 only."""
    account = Account.create()
    client = x402Client()
    client.register_v1(LOCAL_V1_NETWORK, ExactEvmSchemeV1(EthAccountSigner(account)))
    client.set_spend_controls({"allowed_assets": [
        {"network": LOCAL_V1_NETWORK, "asset": LOCAL.asset, "max_amount_per_payment": "50000"}]})
    facilitator = LedgerFacilitator(gateway.store)
    if micro_usdc:
        facilitator.fund(account.address, micro_usdc, f"v1-{secrets.token_hex(8)}")
    return account, client, facilitator


class V1Only(httpx.AsyncHTTPTransport):
    """The network as a v1-only client sees it: v2's ``PAYMENT-REQUIRED`` header is dropped
    (the SDK's client prefers it), so the SDK reads the v1 body; requests are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.headers)
        response = await super().handle_async_request(request)
        if "payment-required" in response.headers:
            del response.headers["payment-required"]
        return response


async def v1_post(gateway: Gateway, client: x402Client, body: dict[str, Any],
                  ) -> tuple[httpx.Response, list[httpx.Headers]]:
    wire = V1Only()
    transport = x402AsyncTransport(client, transport=wire)
    async with httpx.AsyncClient(base_url=gateway.base, transport=transport, timeout=30) as http:
        return await http.post(URL, json=body), wire.sent


def offer_of(gateway: Gateway, body: dict[str, Any] = BODY) -> PaymentRequiredV1:
    r = httpx.post(f"{gateway.base}{URL}", json=body, timeout=30)
    assert r.status_code == 402
    return PaymentRequiredV1.model_validate(r.json())


def v1_header(client: x402Client, offer: PaymentRequiredV1) -> str:
    payload = asyncio.run(client.create_payment_payload(offer))
    assert isinstance(payload, PaymentPayloadV1)
    [(name, value)] = x402HTTPClient(client).encode_payment_signature_header(payload).items()
    assert name == "X-PAYMENT"
    return value


def post_x_payment(gateway: Gateway, header: str, body: dict[str, Any] = BODY,
                   ) -> httpx.Response:
    return httpx.post(f"{gateway.base}{URL}", json=body, headers={"x-payment": header},
                      timeout=30)


def encoded(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def refusal(r: httpx.Response) -> SettleResponse:
    assert r.status_code == 402, r.text
    assert "payment-response" not in r.headers  # v1 reads X-PAYMENT-RESPONSE
    return decode_payment_response_header(r.headers["x-payment-response"])


def test_the_402_body_is_a_v1_offer_beside_the_v2_header(gateway: Gateway) -> None:
    r = httpx.post(f"{gateway.base}{URL}", json=BODY, timeout=30)
    assert r.status_code == 402 and r.headers["payment-required"]
    assert r.json()["x402Version"] == 1 and r.json()["reason"] == "payment_required"
    offer = PaymentRequiredV1.model_validate(r.json())
    [exact] = offer.accepts
    assert (exact.scheme, exact.network, exact.asset) == ("exact", "tokenomy-local", LOCAL.asset)
    assert exact.pay_to == LOCAL.pay_to and exact.resource == f"{gateway.base}{URL}"
    assert exact.extra == {"name": "Tokenomy Local USDC", "version": "1"}
    assert int(exact.max_amount_required) >= 1 and exact.max_timeout_seconds == 120
    assert isinstance(offer.error, str) and offer.error


def test_a_v1_client_pays_and_is_served(gateway: Gateway) -> None:
    account, client, facilitator = v1_agent(gateway, 1_000_000)
    price = int(offer_of(gateway).accepts[0].max_amount_required)
    r, sent = asyncio.run(v1_post(gateway, client, BODY))
    assert r.status_code == 200, r.text
    assert "x-payment" in sent[-1] and "payment-signature" not in sent[-1]
    assert "payment-response" not in r.headers
    receipt = decode_payment_response_header(r.headers["x-payment-response"])
    assert receipt.success and receipt.payer == account.address
    assert receipt.network == "tokenomy-local" and receipt.amount == str(price)
    assert receipt.transaction.startswith("ledger:")
    assert facilitator.balance(account.address) == (1_000_000 - price, 0)
    [record] = gateway.wait_records(f"x402/{account.address.lower()}", 1)
    assert (record.outcome, record.captured_minor) == ("ok", price)
    assert r.json()["usage"]["completion_tokens"] > 0


def test_a_v1_payment_is_served_once_sequential_or_concurrent(gateway: Gateway) -> None:
    account, client, facilitator = v1_agent(gateway, 1_000_000)
    header = v1_header(client, offer_of(gateway))
    first = post_x_payment(gateway, header)
    assert first.status_code == 200, first.text
    paid = int(decode_payment_response_header(first.headers["x-payment-response"]).amount or 0)
    again = refusal(post_x_payment(gateway, header))
    assert not again.success and again.error_reason == "invalid_exact_evm_nonce_already_used"
    assert again.network == "tokenomy-local"
    header2 = v1_header(client, offer_of(gateway))

    async def five() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.base, timeout=30) as http:
            answers = await asyncio.gather(*(http.post(URL, json=BODY,
                                                       headers={"x-payment": header2})
                                             for _ in range(5)))
        return sorted(a.status_code for a in answers)

    assert asyncio.run(five()) == [200, 402, 402, 402, 402]
    served = gateway.wait_records(f"x402/{account.address.lower()}", 2)
    assert [r.outcome for r in served] == ["ok", "ok"]  # two upstream calls, not six
    assert facilitator.balance(account.address) == (1_000_000 - 2 * paid, 0)


def test_a_v1_authorization_cannot_be_replayed_as_v2(gateway: Gateway) -> None:
    """The two versions sign the same EIP-712 message; they share one nonce space."""
    account, client, facilitator = v1_agent(gateway, 1_000_000)
    header = v1_header(client, offer_of(gateway))
    assert post_x_payment(gateway, header).status_code == 200
    after = facilitator.balance(account.address)
    v1 = json.loads(base64.b64decode(header))
    v2_offer = httpx.post(f"{gateway.base}{URL}", json=BODY, timeout=30)
    offered = decode_payment_required_header(v2_offer.headers["payment-required"])
    exact = next(a for a in offered.accepts if a.scheme == "exact")
    v2 = PaymentPayload(payload=v1["payload"], accepted=exact)
    r = httpx.post(f"{gateway.base}{URL}", json=BODY, timeout=30, headers={
        "payment-signature": base64.b64encode(v2.model_dump_json(by_alias=True).encode())
        .decode()})
    assert r.status_code == 402
    assert decode_payment_response_header(r.headers["payment-response"]).error_reason == \
        "invalid_exact_evm_nonce_already_used"
    assert facilitator.balance(account.address) == after


def test_bad_v1_payments_get_the_standard_reasons_and_charge_nothing(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    account, client, facilitator = v1_agent(gateway, 1_000_000)
    offer = offer_of(gateway)
    tampered = json.loads(base64.b64decode(v1_header(client, offer)))
    tampered["payload"]["authorization"]["nonce"] = "0x" + "ab" * 32  # not what was signed
    assert refusal(post_x_payment(gateway, encoded(tampered))).error_reason == \
        "invalid_exact_evm_payload_signature"
    tampered["payload"]["signature"] = "0x" + "11" * 65  # v = 17: no signature at all
    assert refusal(post_x_payment(gateway, encoded(tampered))).error_reason == \
        "invalid_exact_evm_failed_to_verify_signature"
    thief = "0x" + "99" * 20
    stolen = offer.model_copy(update={"accepts": [offer.accepts[0].model_copy(
        update={"pay_to": thief})]})
    assert refusal(post_x_payment(gateway, v1_header(client, stolen))).error_reason == \
        "invalid_exact_evm_payload_recipient_mismatch"
    cheaper = {**BODY, "max_tokens": 5}  # signed for another request: the amount is wrong
    assert refusal(post_x_payment(gateway, v1_header(client, offer), cheaper)).error_reason \
        == "invalid_exact_evm_payload_authorization_value_mismatch"
    real_time = time.time
    with monkeypatch.context() as m:  # the client's clock an hour behind: long expired
        m.setattr(time, "time", lambda: real_time() - 3600)
        expired = v1_header(client, offer)
    assert refusal(post_x_payment(gateway, expired)).error_reason == \
        "invalid_exact_evm_payload_authorization_valid_before"
    relabeled = {**json.loads(base64.b64decode(v1_header(client, offer))),
                 "network": "base-sepolia"}
    assert refusal(post_x_payment(gateway, encoded(relabeled))).error_reason == \
        "network_mismatch"
    not_exact = {**tampered, "scheme": "upto"}
    assert refusal(post_x_payment(gateway, encoded(not_exact))).error_reason == \
        "invalid_payload"
    assert facilitator.balance(account.address) == (1_000_000, 0)
    assert gateway.records(f"x402/{account.address.lower()}") == []


def test_a_v1_wallet_without_funds_and_a_failed_upstream_charge_nothing(
        gateway: Gateway) -> None:
    _, broke, _ = v1_agent(gateway, 0)
    r, _ = asyncio.run(v1_post(gateway, broke, BODY))
    assert r.status_code == 402
    assert decode_payment_response_header(r.headers["x-payment-response"]).error_reason == \
        "insufficient_funds"
    account, client, facilitator = v1_agent(gateway, 1_000_000)
    failing = {**BODY, "messages": [{"role": "user", "content": "[sim:error=500]"}]}
    r, _ = asyncio.run(v1_post(gateway, client, failing))
    assert r.status_code == 502
    assert facilitator.balance(account.address) == (1_000_000, 0)


def test_a_paid_v1_stream_carries_its_receipt_in_the_final_event(gateway: Gateway) -> None:
    account, client, facilitator = v1_agent(gateway, 1_000_000)
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    r, _ = asyncio.run(v1_post(gateway, client, body))
    assert r.status_code == 200
    events = [e for e in r.text.split("\n\n") if e.startswith("data: {")]
    receipt = json.loads(events[-1][len("data: "):])["tokenomy"]["payment_response"]
    assert receipt["success"] and receipt["network"] == "tokenomy-local"
    assert facilitator.balance(account.address)[0] == 1_000_000 - int(receipt["amount"])


def test_the_facilitator_api_verifies_and_settles_v1_for_the_sdk(gateway: Gateway) -> None:
    """The SDK's HTTPFacilitatorClient posts x402Version 1 bodies; /supported lists v1."""
    from x402.http import FacilitatorConfig, HTTPFacilitatorClient

    account, client, facilitator = v1_agent(gateway, 50_000)
    kinds = httpx.get(f"{gateway.base}/api/x402/supported").json()["kinds"]
    assert {"x402Version": 1, "scheme": "exact", "network": "tokenomy-local"} in kinds
    offer = offer_of(gateway)
    [requirements] = offer.accepts
    payload = asyncio.run(client.create_payment_payload(offer))
    assert isinstance(payload, PaymentPayloadV1)

    async def verify_settle_twice() -> list[Any]:
        remote = HTTPFacilitatorClient(FacilitatorConfig(url=f"{gateway.base}/api/x402"))
        try:
            return [await remote.verify(payload, requirements),
                    await remote.settle(payload, requirements),
                    await remote.settle(payload, requirements)]
        finally:
            await remote.aclose()

    verified, first, second = asyncio.run(verify_settle_twice())
    assert verified.is_valid and verified.payer == account.address
    assert first.success and first == second and first.network == "tokenomy-local"
    price = int(requirements.max_amount_required)
    assert facilitator.balance(account.address) == (50_000 - price, 0)

"""The local facilitator, in process: the official SDK signs, the ledger holds and settles.

    wallet of the payer (funded 10,000 micro-USDC) ─hold→ payee ─post ≤ hold / void
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from x402 import x402Client
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.mechanisms.evm.upto.client import UptoEvmScheme
from x402.schemas import PaymentPayload, PaymentRequired, PaymentRequirements, ResourceInfo

from tokenomy.settlement.facilitator import LedgerFacilitator
from tokenomy.settlement.network import LOCAL, LOCAL_CHAIN_ID
from tokenomy.store import open_gateway_store

ACCOUNT = Account.create()
CLIENT = x402Client()
CLIENT.register("eip155:*", ExactEvmClientScheme(EthAccountSigner(ACCOUNT)))
CLIENT.register("eip155:*", UptoEvmScheme(EthAccountSigner(ACCOUNT)))
CLIENT.set_spend_controls(False)


def requirements(scheme: str = "exact", amount: int = 2_500, **changes: Any,
                 ) -> PaymentRequirements:
    extra = dict(LOCAL.extra)
    if scheme == "upto":
        extra["facilitatorAddress"] = LOCAL.facilitator
    base = {"scheme": scheme, "network": LOCAL.network, "asset": LOCAL.asset,
            "amount": str(amount), "pay_to": LOCAL.pay_to, "max_timeout_seconds": 60,
            "extra": extra}
    return PaymentRequirements(**{**base, **changes})


def sign(req: PaymentRequirements) -> PaymentPayload:
    offer = PaymentRequired(accepts=[req], resource=ResourceInfo(url="http://gw/v1/chat"))
    return asyncio.run(CLIENT.create_payment_payload(offer))


@pytest.fixture()
def facilitator(tmp_path: Path) -> LedgerFacilitator:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'f.db'}", time.time_ns)
    f = LedgerFacilitator(store)
    f.fund(ACCOUNT.address, 10_000, "seed")
    return f


@pytest.mark.parametrize("scheme", ["exact", "upto"])
def test_verify_holds_settle_captures_and_is_idempotent(facilitator: LedgerFacilitator,
                                                        scheme: str) -> None:
    req = requirements(scheme)
    payload = sign(req)
    assert facilitator.verify(payload, req).is_valid
    assert facilitator.balance(ACCOUNT.address) == (7_500, 2_500)
    charged = 2_500 if scheme == "exact" else 411
    settle_req = req.model_copy(update={"amount": str(charged)})
    first = facilitator.settle(payload, settle_req)
    assert first.success and first.amount == str(charged)
    assert facilitator.settle(payload, settle_req) == first
    assert facilitator.balance(ACCOUNT.address) == (10_000 - charged, 0)
    assert facilitator.store.verify() == []


def test_fund_is_idempotent_per_grant_id(facilitator: LedgerFacilitator) -> None:
    facilitator.fund(ACCOUNT.address, 10_000, "seed")  # the fixture's grant again
    assert facilitator.balance(ACCOUNT.address) == (10_000, 0)


@pytest.mark.parametrize("change, reason", [
    ({"pay_to": "0x" + "22" * 20}, "invalid_payment_requirements"),
    ({"asset": "0x" + "33" * 20}, "invalid_payment_requirements"),
    ({"network": "eip155:8453"}, "invalid_payment_requirements"),
    ({"extra": {"name": "USD Coin", "version": "1"}}, "invalid_exact_evm_token_name_mismatch"),
    ({"extra": {"name": LOCAL.asset_name, "version": "2"}},
     "invalid_exact_evm_token_version_mismatch"),
])
def test_a_payment_for_anything_but_ours_is_refused(facilitator: LedgerFacilitator,
                                                   change: dict[str, Any], reason: str) -> None:
    theirs = requirements(**change)
    verdict = facilitator.verify(sign(theirs), theirs)
    assert not verdict.is_valid and verdict.invalid_reason == reason
    assert facilitator.balance(ACCOUNT.address) == (10_000, 0)


def test_a_signature_is_bound_to_the_offer_it_signed(facilitator: LedgerFacilitator) -> None:
    signed = sign(requirements(amount=100))
    verdict = facilitator.verify(signed, requirements(amount=2_500))  # a bigger bill
    assert verdict.invalid_reason == "invalid_exact_evm_payload_authorization_value_mismatch"
    redirected = signed.model_copy(deep=True)
    redirected.payload["authorization"]["to"] = "0x" + "44" * 20  # pay someone else
    verdict = facilitator.verify(redirected, requirements(amount=100))
    assert verdict.invalid_reason == "invalid_exact_evm_payload_recipient_mismatch"
    raised = signed.model_copy(deep=True)
    raised.payload["authorization"]["value"] = "2500"  # a bigger amount than was signed
    verdict = facilitator.verify(raised, requirements(amount=2_500))
    assert verdict.invalid_reason == "invalid_exact_evm_payload_signature"
    assert facilitator.balance(ACCOUNT.address) == (10_000, 0)


def test_expired_and_too_long_authorizations_are_refused(tmp_path: Path) -> None:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'e.db'}", time.time_ns)
    later = LedgerFacilitator(store, clock=lambda: time.time() + 3_600)
    later.fund(ACCOUNT.address, 10_000, "seed")
    req = requirements()
    expired = later.verify(sign(req), req)
    assert expired.invalid_reason == "invalid_exact_evm_payload_authorization_valid_before"
    long_lived = requirements(max_timeout_seconds=86_400)
    verdict = LedgerFacilitator(store).verify(sign(long_lived), long_lived)
    assert verdict.invalid_reason == "invalid_exact_evm_payload_authorization_valid_before"
    assert later.balance(ACCOUNT.address) == (10_000, 0)


def test_insufficient_funds(facilitator: LedgerFacilitator) -> None:
    req = requirements(amount=10_001)
    verdict = facilitator.verify(sign(req), req)
    assert verdict.invalid_reason == "insufficient_funds"
    assert facilitator.balance(ACCOUNT.address) == (10_000, 0)


def test_settle_above_the_hold_or_after_release_fails(facilitator: LedgerFacilitator) -> None:
    req = requirements("upto", 1_000)
    payload = sign(req)
    assert facilitator.verify(payload, req).is_valid
    over = facilitator.settle(payload, req.model_copy(update={"amount": "1001"}))
    assert over.error_reason == "invalid_upto_evm_payload_settlement_exceeds_amount"
    facilitator.release(payload)
    assert facilitator.balance(ACCOUNT.address) == (10_000, 0)
    late = facilitator.settle(payload, req.model_copy(update={"amount": "10"}))
    assert not late.success and late.error_reason == "invalid_transaction_state"


def test_the_local_chain_is_not_a_public_one() -> None:
    assert LOCAL.network == f"eip155:{LOCAL_CHAIN_ID}"
    assert LOCAL_CHAIN_ID not in {1, 10, 137, 8453, 84532, 42161, 11155111, 31337}


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(["exact", "upto"]),
                          st.integers(min_value=1, max_value=4_000),
                          st.integers(min_value=0, max_value=4_000),
                          st.booleans()), min_size=1, max_size=6))
def test_money_is_conserved_whatever_happens(tmp_path_factory: pytest.TempPathFactory,
                                              steps: list[tuple[str, int, int, bool]]) -> None:
    """Wallet + payee always sum to what was funded; nothing stays held after settling or
    releasing; the invariants hold."""
    store = open_gateway_store(f"sqlite:///{tmp_path_factory.mktemp('p') / 'p.db'}",
                               time.time_ns)
    f = LedgerFacilitator(store)
    f.fund(ACCOUNT.address, 10_000, "seed")
    paid = 0
    for scheme, amount, charge, settle in steps:
        req = requirements(scheme, amount)
        payload = sign(req)
        if not f.verify(payload, req).is_valid:
            assert amount > f.balance(ACCOUNT.address)[0]
            continue
        bill = amount if scheme == "exact" else min(charge, amount)
        if settle:
            assert f.settle(payload, req.model_copy(update={"amount": str(bill)})).success
            paid += bill
        else:
            f.release(payload)
    assert f.balance(ACCOUNT.address) == (10_000 - paid, 0)
    assert store.verify() == []
    store.close()

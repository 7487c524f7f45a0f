"""x402 v1 over the local ledger, in process: the SDK's v1 client signs for ``tokenomy-local``,
the SDK's v1 checks and the ledger's hold and settle.

    v1 name tokenomy-local → chain 4020402 (the SDK's V1_NETWORK_CHAIN_IDS, extended once)
    wallet of the payer (funded 10,000 micro-USDC) ─hold→ payee ─post the whole hold
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from eth_account import Account
from x402 import x402Client
from x402.mechanisms.evm import V1_NETWORK_CHAIN_IDS, V1_NETWORKS
from x402.mechanisms.evm.exact.register import register_exact_evm_client
from x402.mechanisms.evm.exact.v1.client import ExactEvmSchemeV1
from x402.mechanisms.evm.exact.v1.facilitator import ExactEvmSchemeV1 as SdkV1Facilitator
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.mechanisms.evm.v1.utils import get_evm_chain_id
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequiredV1, PaymentRequirementsV1

from tokenomy.settlement.facilitator import LedgerFacilitator, LocalChain
from tokenomy.settlement.network import LOCAL, LOCAL_CHAIN_ID, PaymentNetwork
from tokenomy.settlement.v1 import (
    LOCAL_V1_NETWORK,
    LedgerFacilitatorV1,
    V1NetworkError,
    register_v1_network,
    v1_network_of,
)
from tokenomy.store import open_gateway_store

register_v1_network()
ACCOUNT = Account.create()
CLIENT = x402Client()
CLIENT.register_v1(LOCAL_V1_NETWORK, ExactEvmSchemeV1(EthAccountSigner(ACCOUNT)))
CLIENT.register_v1("base-sepolia", ExactEvmSchemeV1(EthAccountSigner(ACCOUNT)))
CLIENT.set_spend_controls(False)


def sign(req: PaymentRequirementsV1) -> PaymentPayloadV1:
    payload = asyncio.run(CLIENT.create_payment_payload(PaymentRequiredV1(accepts=[req])))
    assert isinstance(payload, PaymentPayloadV1)
    return payload


@pytest.fixture()
def facilitator(tmp_path: Path) -> LedgerFacilitator:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'f.db'}", time.time_ns)
    f = LedgerFacilitator(store)
    f.fund(ACCOUNT.address, 10_000, "seed")
    return f


@pytest.fixture()
def v1(facilitator: LedgerFacilitator) -> LedgerFacilitatorV1:
    return LedgerFacilitatorV1(facilitator, LOCAL_V1_NETWORK)


def test_the_sdk_resolves_the_local_v1_name_after_registration() -> None:
    register_v1_network()  # idempotent
    assert get_evm_chain_id(LOCAL_V1_NETWORK) == LOCAL_CHAIN_ID  # what its client signs with
    assert V1_NETWORK_CHAIN_IDS[LOCAL_V1_NETWORK] == LOCAL_CHAIN_ID
    assert V1_NETWORKS.count(LOCAL_V1_NETWORK) == 1  # register_exact_evm_client covers it


@pytest.mark.parametrize(("name", "chain_id", "words"), [
    ("base", LOCAL_CHAIN_ID, "the SDK's v1 name of chain 8453"),  # rename a public network
    ("my-base", 8453, "already has the v1 name"),  # alias a public chain
    ("other-local", LOCAL_CHAIN_ID, "already has the v1 name"),  # alias the local chain
])
def test_registration_never_aliases_a_known_chain(name: str, chain_id: int, words: str) -> None:
    before = (dict(V1_NETWORK_CHAIN_IDS), list(V1_NETWORKS))
    with pytest.raises(V1NetworkError, match=words):
        register_v1_network(name, chain_id)
    assert (dict(V1_NETWORK_CHAIN_IDS), list(V1_NETWORKS)) == before


def test_v1_names_of_networks() -> None:
    assert v1_network_of(LOCAL) == LOCAL_V1_NETWORK
    assert v1_network_of(PaymentNetwork(network="eip155:84532")) == "base-sepolia"
    assert v1_network_of(PaymentNetwork(network="eip155:999999937")) is None
    assert v1_network_of(PaymentNetwork(network="solana:abc")) is None


def test_a_v1_facilitator_settles_its_own_chain_only(facilitator: LedgerFacilitator) -> None:
    with pytest.raises(V1NetworkError, match="not the v1 name"):
        LedgerFacilitatorV1(facilitator, "base-sepolia")
    with pytest.raises(V1NetworkError, match="not the v1 name"):
        LedgerFacilitatorV1(facilitator, "never-registered")


def test_verify_holds_settle_captures_once(facilitator: LedgerFacilitator,
                                           v1: LedgerFacilitatorV1) -> None:
    req = v1.requirements(2_500, "http://gw/v1/chat")
    payload = sign(req)
    assert payload.network == LOCAL_V1_NETWORK
    assert v1.verify(payload, req).is_valid
    assert facilitator.balance(ACCOUNT.address) == (7_500, 2_500)
    first, second = v1.settle(payload, req), v1.settle(payload, req)
    assert first.success and first == second and first.network == LOCAL_V1_NETWORK
    assert first.amount == "2500" and facilitator.balance(ACCOUNT.address) == (7_500, 0)
    again = v1.verify(payload, req)
    assert again.invalid_reason == "invalid_exact_evm_nonce_already_used"
    assert facilitator.store.verify() == []


def test_settle_without_verify_holds_first_and_a_wrong_amount_moves_nothing(
        facilitator: LedgerFacilitator, v1: LedgerFacilitatorV1) -> None:
    req = v1.requirements(1_000, "http://gw/v1/chat")
    payload = sign(req)
    more = req.model_copy(update={"max_amount_required": "1001"})
    refused = v1.settle(payload, more)
    assert not refused.success
    assert refused.error_reason == "invalid_exact_evm_payload_authorization_value_mismatch"
    assert facilitator.balance(ACCOUNT.address) == (10_000, 0)
    assert v1.settle(payload, req).success
    assert facilitator.balance(ACCOUNT.address) == (9_000, 0)


def test_an_expired_or_too_long_authorization_is_refused(tmp_path: Path) -> None:
    store = open_gateway_store(f"sqlite:///{tmp_path / 'c.db'}", time.time_ns)
    later = LedgerFacilitator(store, clock=lambda: time.time() + 3_600)
    later.fund(ACCOUNT.address, 10_000, "seed")
    v1 = LedgerFacilitatorV1(later, LOCAL_V1_NETWORK)
    req = v1.requirements(1_000, "http://gw/v1/chat")
    assert v1.verify(sign(req), req).invalid_reason == \
        "invalid_exact_evm_payload_authorization_valid_before"
    long_lived = req.model_copy(update={"max_timeout_seconds": 3_600})  # the client asks
    now_v1 = LedgerFacilitatorV1(LedgerFacilitator(store), LOCAL_V1_NETWORK)
    assert now_v1.verify(sign(long_lived), req).invalid_reason == \
        "invalid_exact_evm_payload_authorization_valid_before"
    assert later.balance(ACCOUNT.address) == (10_000, 0)


def test_signatures_do_not_cross_between_the_local_and_a_public_chain(
        v1: LedgerFacilitatorV1) -> None:
    """Same asset address, same EIP-712 name and version: only the chain id differs."""
    local = v1.requirements(1_000, "http://gw/v1/chat")
    public = local.model_copy(update={"network": "base-sepolia"})
    on_base = SdkV1Facilitator(LocalChain(PaymentNetwork(network="eip155:84532")))
    relabeled = sign(local).model_copy(update={"network": "base-sepolia"})
    assert on_base._verify(relabeled, public, simulate=False).invalid_reason == \
        "invalid_exact_evm_payload_signature"
    signed_for_base = sign(public).model_copy(update={"network": LOCAL_V1_NETWORK})
    verdict, auth = v1.check(signed_for_base, local)
    assert auth is None and verdict.invalid_reason == "invalid_exact_evm_payload_signature"


def test_the_sdks_own_registration_helper_pays_tokenomy_local(
        facilitator: LedgerFacilitator, v1: LedgerFacilitatorV1) -> None:
    client = register_exact_evm_client(x402Client(), EthAccountSigner(ACCOUNT))
    client.set_spend_controls(False)
    req = v1.requirements(700, "http://gw/v1/chat")
    payload = asyncio.run(client.create_payment_payload(PaymentRequiredV1(accepts=[req])))
    assert isinstance(payload, PaymentPayloadV1)
    assert v1.settle(payload, req).success
    assert facilitator.balance(ACCOUNT.address) == (9_300, 0)


def test_a_malformed_v1_payload_is_refused(v1: LedgerFacilitatorV1) -> None:
    req = v1.requirements(1_000, "http://gw/v1/chat")
    bad = PaymentPayloadV1(scheme="exact", network=LOCAL_V1_NETWORK, payload={"nope": 1})
    assert v1.verify(bad, req).invalid_reason == "invalid_payload"
    assert v1.settle(bad, req).error_reason == "invalid_payload"
    upto = sign(req).model_copy(update={"scheme": "upto"})
    assert v1.verify(upto, req).invalid_reason == "invalid_payload"

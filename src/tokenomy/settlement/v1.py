"""x402 v1 (legacy ``X-PAYMENT``) over the local ledger: the local chain's v1 name, the v1
offer, and v1 verify / settle mapped onto :class:`LedgerFacilitator`.

In: a v1 ``PaymentPayloadV1`` (``exact`` only: an EIP-3009 ``TransferWithAuthorization``
signed by the SDK's ``ExactEvmSchemeV1`` client) and the server's own
``PaymentRequirementsV1``. Out: the SDK's ``VerifyResponse`` / ``SettleResponse`` (the
receipt names the network as the v1 client does, ``tokenomy-local``), and the same ledger
transfers as v2:

    payer wallet ─hold (id from network, asset, payer, nonce)→ payee     verify
    payer wallet ─post the whole hold→ payee                              settle (idempotent)

v1 names networks (``base-sepolia``) where v2 uses CAIP-2 ids, and the SDK resolves a name
to the EIP-712 ``chainId`` through one public table, ``V1_NETWORK_CHAIN_IDS`` (exported by
``x402.mechanisms.evm``), read by both its v1 client and its v1 facilitator; it has no
registration call (upstream adds v1 names only by changing the SDK itself; see
x402-foundation/x402#2563).
:func:`register_v1_network` is the one place that extends that table (and ``V1_NETWORKS``,
which ``register_exact_evm_client`` iterates): ``tokenomy-local`` → 4020402. It refuses any
name or chain id the SDK already has, so the local chain never aliases a public one — the
signature's domain is ``{chainId: 4020402, verifyingContract: 0x7040…0402}`` whichever
version carries it. A v1 and a v2 payment of the same authorization share one nonce space
(the hold id does not depend on the version): one of them is served.

Every protocol check is the SDK's own (``ExactEvmSchemeV1._verify`` with on-chain simulation
off, over the facilitator's :class:`LocalChain`) after the ledger's (network, asset, payee,
domain, the authorization's lifetime).
"""

from __future__ import annotations

from typing import Any

from x402.mechanisms.evm.constants import (
    ERR_AUTHORIZATION_VALUE_MISMATCH,
    SCHEME_EXACT,
)
from x402.mechanisms.evm.exact.v1.facilitator import ExactEvmSchemeV1
from x402.mechanisms.evm.types import ExactEIP3009Payload
from x402.mechanisms.evm.v1.constants import V1_NETWORK_CHAIN_IDS, V1_NETWORKS
from x402.schemas import PaymentRequirements, SettleResponse, VerifyResponse
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

from tokenomy.settlement.facilitator import Authorization, LedgerFacilitator
from tokenomy.settlement.network import LOCAL_CHAIN_ID, PaymentNetwork

LOCAL_V1_NETWORK = "tokenomy-local"  # the local chain's v1 name (v2: eip155:4020402)
V1_DESCRIPTION = "AI tokens, metered"


class V1NetworkError(ValueError):
    """A v1 network name or chain id the SDK already gives to another network."""


def register_v1_network(name: str = LOCAL_V1_NETWORK, chain_id: int = LOCAL_CHAIN_ID) -> None:
    """Teach the SDK's v1 client and facilitator that ``name`` is ``chain_id`` (idempotent).

    Both processes need it: the server (startup of ``tokenomy serve``) and any v1 client
    built on the SDK. Refuses to rename a network the SDK knows or to alias its chain id."""
    known = V1_NETWORK_CHAIN_IDS.get(name)
    if known is not None and known != chain_id:
        raise V1NetworkError(f"{name!r} is the SDK's v1 name of chain {known}, not {chain_id}")
    aliases = sorted(n for n, c in V1_NETWORK_CHAIN_IDS.items() if c == chain_id and n != name)
    if aliases:
        raise V1NetworkError(f"chain {chain_id} already has the v1 name(s) {aliases}")
    V1_NETWORK_CHAIN_IDS[name] = chain_id
    if name not in V1_NETWORKS:
        V1_NETWORKS.append(name)


def chain_id_of(network: str) -> int | None:
    """The chain id of a CAIP-2 ``eip155:N`` network, or None."""
    family, _, reference = network.partition(":")
    return int(reference) if family == "eip155" and reference.isdigit() else None


def v1_network_of(net: PaymentNetwork) -> str | None:
    """The v1 name of ``net``'s chain, if the SDK has one (after registration)."""
    chain_id = chain_id_of(net.network)
    names = [n for n, c in V1_NETWORK_CHAIN_IDS.items() if c == chain_id]
    return names[0] if chain_id is not None and len(names) == 1 else None


def authorization_of_v1(payload: PaymentPayloadV1) -> Authorization:
    """The payer, nonce, amount and deadline of a v1 ``exact`` payload (ValueError if not)."""
    if payload.scheme != SCHEME_EXACT:
        raise ValueError(f"unsupported v1 scheme {payload.scheme!r} (v1 pays exact only)")
    try:
        a = ExactEIP3009Payload.from_dict(payload.payload).authorization
        return Authorization(SCHEME_EXACT, a.from_address, str(a.nonce), int(a.value),
                             int(a.valid_before))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"malformed v1 exact payload: {exc}") from None


def v1_receipt(receipt: SettleResponse, network: str) -> SettleResponse:
    """A receipt as a v1 client reads it: the network by its v1 name."""
    return receipt.model_copy(update={"network": network})


class LedgerFacilitatorV1:
    """x402 v1 ``exact`` verify / settle over a :class:`LedgerFacilitator` (its holds, its
    nonce space), for the facilitator's network under its v1 name."""

    def __init__(self, facilitator: LedgerFacilitator, network: str) -> None:
        if V1_NETWORK_CHAIN_IDS.get(network) != chain_id_of(facilitator.net.network):
            raise V1NetworkError(f"{network!r} is not the v1 name of {facilitator.net.network}"
                                 " (register_v1_network first)")
        self.facilitator, self.network = facilitator, network
        self._exact = ExactEvmSchemeV1(facilitator.chain)

    def requirements(self, amount: int, resource: str) -> PaymentRequirementsV1:
        """The v1 ``exact`` offer for ``amount`` atomic units."""
        net = self.facilitator.net
        return PaymentRequirementsV1(
            scheme=SCHEME_EXACT, network=self.network, max_amount_required=str(max(amount, 1)),
            resource=resource, description=V1_DESCRIPTION, mime_type="application/json",
            pay_to=net.pay_to, max_timeout_seconds=net.max_timeout_s, asset=net.asset,
            extra=dict(net.extra))

    def twin(self, req: PaymentRequirementsV1) -> PaymentRequirements:
        """The v2 requirements the ledger checks and holds against (same chain, by CAIP-2)."""
        net = self.facilitator.net
        network = net.network if req.network == self.network else req.network
        return PaymentRequirements(scheme=req.scheme, network=network, asset=req.asset,
                                   amount=req.max_amount_required, pay_to=req.pay_to,
                                   max_timeout_seconds=req.max_timeout_seconds,
                                   extra=dict(req.extra or {}))

    def check(self, payload: PaymentPayloadV1, req: PaymentRequirementsV1,
              ) -> tuple[VerifyResponse, Authorization | None]:
        """Every check but the ledger's (nothing is written)."""
        try:
            auth = authorization_of_v1(payload)
        except ValueError as exc:
            return VerifyResponse(is_valid=False, invalid_reason="invalid_payload",
                                  invalid_message=str(exc)), None
        refused = self.facilitator.requirements_refused(self.twin(req), auth)
        if refused is not None:
            return refused, None
        verdict = self._exact._verify(payload, req, simulate=False)
        return verdict, auth if verdict.is_valid else None

    def verify(self, payload: PaymentPayloadV1, req: PaymentRequirementsV1) -> VerifyResponse:
        """Check the payload and place the hold (a used nonce or short funds refuse)."""
        verdict, auth = self.check(payload, req)
        if auth is None:
            return verdict
        f = self.facilitator
        result = f.store.create_transfers([f.hold_transfer(self.twin(req), auth)])[0]
        return f.verdict_of(result, auth)

    def settle(self, payload: PaymentPayloadV1, req: PaymentRequirementsV1) -> SettleResponse:
        """Capture the whole hold (placing it first if verify was skipped); idempotent."""
        f = self.facilitator

        def failed(reason: str | None, message: str | None, payer: str | None = None,
                   ) -> SettleResponse:
            return SettleResponse(success=False, error_reason=reason, error_message=message,
                                  payer=payer, transaction="", network=self.network)

        try:
            auth = authorization_of_v1(payload)
        except ValueError as exc:
            return failed("invalid_payload", str(exc))
        if int(req.max_amount_required) != auth.amount:
            return failed(ERR_AUTHORIZATION_VALUE_MISMATCH, f"{req.max_amount_required} is not "
                          f"the {auth.amount} authorized", auth.payer)
        if not f.store.lookup_transfers([f.hold_id(auth)]):
            held = self.verify(payload, req)
            if not held.is_valid:
                return failed(held.invalid_reason, held.invalid_message, auth.payer)
        capture = f.capture_transfer(auth, auth.amount)
        result = f.store.create_transfers([capture])[0]
        return v1_receipt(f.settlement_of(result, capture, auth), self.network)

    def supported_kind(self) -> dict[str, Any]:
        return {"x402Version": 1, "scheme": SCHEME_EXACT, "network": self.network}


__all__ = [
    "LOCAL_V1_NETWORK",
    "LedgerFacilitatorV1",
    "V1NetworkError",
    "authorization_of_v1",
    "chain_id_of",
    "register_v1_network",
    "v1_network_of",
    "v1_receipt",
]

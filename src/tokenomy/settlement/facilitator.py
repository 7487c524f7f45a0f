"""The local x402 facilitator: verify places a ledger hold, settle captures it.

In: a payment payload signed with the official SDK (``exact``: an EIP-3009
``TransferWithAuthorization``; ``upto``: a Permit2 ``PermitWitnessTransferFrom`` for a maximum)
and the server's own payment requirements. Out: the SDK's ``VerifyResponse`` /
``SettleResponse``, and ledger transfers on the USDC ledger (micro-units = the asset's atomic
units):

    payer wallet ─hold (pending, until validBefore)→ payee        verify
    payer wallet ─post ≤ hold→ payee                               settle (upto: the metered cost)
    payer wallet ─void→ (released)                                 the handler failed

Every protocol check is the SDK's own (``ExactEvmScheme._verify`` and ``verify_upto_permit2``
with on-chain simulation off, over :class:`LocalChain`, a chain of plain accounts whose only
contract is the asset); this module adds the ledger's: the hold's id derives from
``(network, asset, payer, nonce)``, so a nonce is spent by the same transaction that debits
it — a replay, sequential or concurrent, finds the id taken — and the balance check is the
wallet account's ``debits_must_not_exceed_credits``. Settle is idempotent: its transfer id
derives from the hold's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from x402.mechanisms.evm.constants import (
    ERR_NONCE_ALREADY_USED,
    ERR_TOKEN_NAME_MISMATCH,
    ERR_TOKEN_VERSION_MISMATCH,
    ERR_UPTO_SETTLEMENT_EXCEEDS_AMOUNT,
    ERR_VALID_BEFORE_EXPIRED,
    SCHEME_EXACT,
    SCHEME_UPTO,
)
from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme
from x402.mechanisms.evm.types import ExactEIP3009Payload, UptoPermit2Payload
from x402.mechanisms.evm.upto.permit2_utils import verify_upto_permit2
from x402.schemas import (
    PaymentPayload,
    PaymentRequirements,
    SettleResponse,
    SupportedKind,
    SupportedResponse,
    VerifyResponse,
)

from tokenomy.ledger.budgets import LEDGER_USDC, derive_id, funding_account_id
from tokenomy.ledger.protocol import LedgerStore
from tokenomy.ledger.types import (
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.settlement.network import CLOCK_SKEW_S, LOCAL, PaymentNetwork

R = CreateTransferResult
CODE_WALLET = 20  # account: an x402 payer's wallet (debits_must_not_exceed_credits)
CODE_PAYEE = 21  # account: who x402 payments go to
CODE_PAYMENT = 22  # transfer: hold, settle, release
CODE_WALLET_FUNDING = 23  # transfer: funding → wallet (tokenomy wallet fund)
INSUFFICIENT_FUNDS = "insufficient_funds"  # the spec's reason code
INVALID_REQUIREMENTS = "invalid_payment_requirements"
INVALID_STATE = "invalid_transaction_state"
_NO_FUNDS = (R.EXCEEDS_CREDITS, R.DEBIT_ACCOUNT_NOT_FOUND)
HOLD_GRACE_S = 900  # how long past validBefore a hold may still be captured
EXPIRY_MARGIN_S = 6  # validBefore must leave this long to settle (the SDK's buffer)


class LocalChain:
    """The SDK's view of the local network (``FacilitatorEvmSigner``): externally owned
    accounts only — their signatures are checked by ecrecover — and one contract, the asset.
    Nothing here writes: settlement is the ledger's."""

    def __init__(self, net: PaymentNetwork) -> None:
        self.net = net

    def get_addresses(self) -> list[str]:
        return [self.net.facilitator]

    def get_code(self, address: str) -> bytes:
        return b"\x60\x00" if address.lower() == self.net.asset.lower() else b""

    def get_chain_id(self) -> int:
        return int(self.net.network.split(":", 1)[1])

    def read_contract(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the local network has no contracts to read (smart wallets are "
                           "not supported)")

    def __getattr__(self, name: str) -> Any:  # write_contract, send_transaction, …
        raise AttributeError(f"the local network does not {name}: settlement is the ledger's")


@dataclass(frozen=True, slots=True)
class Authorization:
    """What a payload authorizes, whatever its scheme."""

    scheme: str
    payer: str
    nonce: str
    amount: int  # exact: the value; upto: the permitted maximum
    valid_before: int  # unix seconds


def authorization_of(payload: PaymentPayload) -> Authorization:
    """The payer, nonce, amount and deadline of a payload (ValueError if malformed)."""
    scheme = payload.accepted.scheme
    try:
        if scheme == SCHEME_EXACT:
            a = ExactEIP3009Payload.from_dict(payload.payload).authorization
            return Authorization(scheme, a.from_address, str(a.nonce), int(a.value),
                                 int(a.valid_before))
        if scheme == SCHEME_UPTO:
            p = UptoPermit2Payload.from_dict(payload.payload).permit2_authorization
            return Authorization(scheme, p.from_address, str(p.nonce),
                                 int(p.permitted.amount), int(p.deadline))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"malformed {scheme} payload: {exc}") from None
    raise ValueError(f"unsupported scheme {scheme!r}")


def wallet_account_id(net: PaymentNetwork, payer: str) -> int:
    return derive_id("x402-wallet", net.network, net.asset.lower(), payer.lower())


def payee_account_id(net: PaymentNetwork, pay_to: str) -> int:
    return derive_id("x402-payee", net.network, net.asset.lower(), pay_to.lower())


class LedgerFacilitator:
    """x402 verify / settle / release over the ledger, for one payment network."""

    def __init__(self, store: LedgerStore, net: PaymentNetwork = LOCAL,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.net, self.clock = store, net, clock
        self.chain = LocalChain(net)
        self._exact = ExactEvmScheme(self.chain)
        self.ensure_accounts([net.pay_to])

    # -- accounts ----------------------------------------------------------------------
    def ensure_accounts(self, payees: Sequence[str] = (), payers: Sequence[str] = ()) -> None:
        """Create the funding, payee and wallet accounts (idempotent)."""
        wanted = [Account(funding_account_id(LEDGER_USDC), LEDGER_USDC, 11)]
        wanted += [Account(payee_account_id(self.net, p), LEDGER_USDC, CODE_PAYEE)
                   for p in payees]
        wanted += [Account(wallet_account_id(self.net, p), LEDGER_USDC, CODE_WALLET,
                           AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS) for p in payers]
        self.store.create_accounts(wanted)

    def fund(self, payer: str, amount: int, grant_id: str) -> CreateTransferResult:
        """Grant ``amount`` atomic units to ``payer``'s wallet (``grant_id`` makes it
        idempotent: the same id twice grants once)."""
        self.ensure_accounts(payers=[payer])
        transfer = Transfer(derive_id("x402-fund", grant_id), funding_account_id(LEDGER_USDC),
                            wallet_account_id(self.net, payer), amount, LEDGER_USDC,
                            CODE_WALLET_FUNDING)
        return self.store.create_transfers([transfer])[0]

    def balance(self, payer: str) -> tuple[int, int]:
        """(available, held) atomic units of ``payer``'s wallet."""
        found = self.store.lookup_accounts([wallet_account_id(self.net, payer)])
        if not found:
            return 0, 0
        a = found[0]
        return a.credits_posted - a.debits_posted - a.debits_pending, a.debits_pending

    # -- the protocol ------------------------------------------------------------------
    def supported(self) -> SupportedResponse:
        kinds = [SupportedKind(x402_version=2, scheme=SCHEME_UPTO, network=self.net.network,
                               extra={"facilitatorAddress": self.net.facilitator}),
                 SupportedKind(x402_version=2, scheme=SCHEME_EXACT, network=self.net.network)]
        return SupportedResponse(kinds=kinds, signers={"eip155:*": [self.net.facilitator]})

    def check(self, payload: PaymentPayload, req: PaymentRequirements,
              ) -> tuple[VerifyResponse, Authorization | None]:
        """Every check but the ledger's (nothing is written)."""
        try:
            auth = authorization_of(payload)
        except ValueError as exc:
            return VerifyResponse(is_valid=False, invalid_reason="invalid_payload",
                                  invalid_message=str(exc)), None
        refused = self.requirements_refused(req, auth)
        if refused is not None:
            return refused, None
        if auth.scheme == SCHEME_EXACT:
            verdict, _ = self._exact._verify(payload, req, simulate=False)
        else:
            verdict = verify_upto_permit2(self.chain, payload, req,
                                          simulate=False)
        return verdict, auth if verdict.is_valid else None

    def requirements_refused(self, req: PaymentRequirements,
                              auth: Authorization) -> VerifyResponse | None:
        def no(reason: str, message: str) -> VerifyResponse:
            return VerifyResponse(is_valid=False, invalid_reason=reason,
                                  invalid_message=message, payer=auth.payer)

        net = self.net
        if req.network != net.network or req.asset.lower() != net.asset.lower():
            return no(INVALID_REQUIREMENTS, f"this facilitator settles {net.asset} on "
                      f"{net.network} only")
        if req.pay_to.lower() != net.pay_to.lower():
            return no(INVALID_REQUIREMENTS, f"this facilitator pays {net.pay_to} only")
        extra = req.extra or {}
        if extra.get("name") != net.asset_name:
            return no(ERR_TOKEN_NAME_MISMATCH, f"the asset's EIP-712 name is {net.asset_name!r}")
        if extra.get("version") != net.asset_version:
            return no(ERR_TOKEN_VERSION_MISMATCH,
                      f"the asset's EIP-712 version is {net.asset_version!r}")
        now = self.clock()
        if auth.valid_before < now + EXPIRY_MARGIN_S:  # the SDK's rule, on our clock
            return no(ERR_VALID_BEFORE_EXPIRED, "the authorization has expired")
        if auth.valid_before > now + net.max_timeout_s + CLOCK_SKEW_S:
            return no(ERR_VALID_BEFORE_EXPIRED, f"an authorization may live at most "
                      f"{net.max_timeout_s} s (+{CLOCK_SKEW_S} s skew)")
        return None

    def hold_transfer(self, req: PaymentRequirements, auth: Authorization) -> Transfer:
        # Placed before validBefore, the hold may be captured after it: a long stream ends
        # well after its authorization's window (the sweeper releases it past the grace).
        timeout = max(1, auth.valid_before - int(self.clock())) + HOLD_GRACE_S
        return Transfer(self.hold_id(auth), wallet_account_id(self.net, auth.payer),
                        payee_account_id(self.net, req.pay_to), auth.amount, LEDGER_USDC,
                        CODE_PAYMENT, TransferFlags.PENDING, timeout=timeout)

    def hold_id(self, auth: Authorization) -> int:
        return derive_id("x402-hold", self.net.network, self.net.asset.lower(),
                         auth.payer.lower(), auth.nonce.lower())

    def verdict_of(self, result: CreateTransferResult, auth: Authorization) -> VerifyResponse:
        """What the hold's ledger result means to the payer."""
        if result is R.OK:
            return VerifyResponse(is_valid=True, payer=auth.payer)
        if result in _NO_FUNDS:
            return VerifyResponse(is_valid=False, invalid_reason=INSUFFICIENT_FUNDS,
                                  invalid_message="the wallet cannot cover the authorization",
                                  payer=auth.payer)
        return VerifyResponse(is_valid=False, invalid_reason=ERR_NONCE_ALREADY_USED,
                              invalid_message=f"this authorization was used ({result.value})",
                              payer=auth.payer)

    def verify(self, payload: PaymentPayload, req: PaymentRequirements) -> VerifyResponse:
        """Check the payload and place the hold (a used nonce or short funds refuse)."""
        verdict, auth = self.check(payload, req)
        if auth is None:
            return verdict
        result = self.store.create_transfers([self.hold_transfer(req, auth)])[0]
        return self.verdict_of(result, auth)

    def capture_transfer(self, auth: Authorization, amount: int) -> Transfer:
        """Post ``amount`` (≤ the hold) of the hold; 0 voids it (nothing is charged)."""
        hold = self.hold_id(auth)
        if amount == 0:
            return self.release_transfer(auth)
        return Transfer(derive_id("x402-settle", str(hold)), 0, 0, amount, LEDGER_USDC,
                        CODE_PAYMENT, TransferFlags.POST_PENDING_TRANSFER, pending_id=hold)

    def release_transfer(self, auth: Authorization) -> Transfer:
        hold = self.hold_id(auth)
        return Transfer(derive_id("x402-release", str(hold)), 0, 0, 0, LEDGER_USDC,
                        CODE_PAYMENT, TransferFlags.VOID_PENDING_TRANSFER, pending_id=hold)

    def settlement_of(self, result: CreateTransferResult, transfer: Transfer,
                      auth: Authorization) -> SettleResponse:
        """What a capture's ledger result means (a replay of a capture is its success)."""
        tx = f"ledger:{transfer.id:032x}"
        if result in (R.OK, R.EXISTS):
            settled = transfer.amount if transfer.flags & TransferFlags.POST_PENDING_TRANSFER else 0
            return SettleResponse(success=True, payer=auth.payer, transaction=tx,
                                  network=self.net.network, amount=str(settled))
        return SettleResponse(success=False, error_reason=INVALID_STATE,
                              error_message=f"the hold cannot be settled ({result.value})",
                              payer=auth.payer, transaction="", network=self.net.network)

    def settle(self, payload: PaymentPayload, req: PaymentRequirements) -> SettleResponse:
        """Capture ``req.amount`` of the hold (placing it first if verify was skipped)."""
        try:
            auth = authorization_of(payload)
        except ValueError as exc:
            return SettleResponse(success=False, error_reason="invalid_payload",
                                  error_message=str(exc), transaction="",
                                  network=self.net.network)
        amount = int(req.amount)
        if amount > auth.amount or (auth.scheme == SCHEME_EXACT and amount != auth.amount):
            return SettleResponse(success=False, error_reason=ERR_UPTO_SETTLEMENT_EXCEEDS_AMOUNT,
                                  error_message=f"{amount} is more than the {auth.amount} "
                                  "authorized", payer=auth.payer, transaction="",
                                  network=self.net.network)
        if not self.store.lookup_transfers([self.hold_id(auth)]):
            held = self.verify(payload, req.model_copy(update={"amount": str(auth.amount)}))
            if not held.is_valid:
                return SettleResponse(success=False, error_reason=held.invalid_reason,
                                      error_message=held.invalid_message, payer=auth.payer,
                                      transaction="", network=self.net.network)
        capture = self.capture_transfer(auth, amount)
        result = self.store.create_transfers([capture])[0]
        return self.settlement_of(result, capture, auth)

    def release(self, payload: PaymentPayload) -> None:
        """Void the hold (the handler failed): the payer is charged nothing."""
        auth = authorization_of(payload)
        self.store.create_transfers([self.release_transfer(auth)])


class LedgerScheme:
    """One scheme of :class:`LedgerFacilitator` as the SDK's ``SchemeNetworkFacilitator``,
    so ``x402Facilitator().register([network], LedgerScheme(f, "exact"))`` serves it."""

    caip_family = "eip155:*"

    def __init__(self, facilitator: LedgerFacilitator, scheme: str) -> None:
        self.facilitator, self.scheme = facilitator, scheme

    def get_extra(self, network: str) -> dict[str, Any] | None:
        if self.scheme == SCHEME_UPTO:
            return {"facilitatorAddress": self.facilitator.net.facilitator}
        return None

    def get_signers(self, network: str) -> list[str]:
        return [self.facilitator.net.facilitator]

    def verify(self, payload: PaymentPayload, requirements: PaymentRequirements,
               context: Any = None) -> VerifyResponse:
        return self.facilitator.verify(payload, requirements)

    def settle(self, payload: PaymentPayload, requirements: PaymentRequirements,
               context: Any = None) -> SettleResponse:
        return self.facilitator.settle(payload, requirements)


__all__ = [
    "CODE_PAYEE",
    "CODE_PAYMENT",
    "CODE_WALLET",
    "Authorization",
    "LedgerFacilitator",
    "LedgerScheme",
    "LocalChain",
    "authorization_of",
    "payee_account_id",
    "wallet_account_id",
]

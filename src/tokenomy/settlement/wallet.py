"""The agent wallet guard: the only holder of an agent's key, refusing before it signs.

In: an ``eth_account`` key, a :class:`WalletPolicy`, and the 402 offers of the servers an agent
calls. Out: x402 payments signed by the official SDK (``upto`` and ``exact`` on ``eip155:*``)
only when the policy allows them; an httpx transport and client that pay through the guard; one
audit line per decision (:mod:`tokenomy.settlement.guard_log`).

Before any signature exists, the SDK's ``on_before_payment_creation`` hook checks, in order: kill
switch, network, asset, payee, per-payment cap (for ``upto``, the authorized maximum),
authorization lifetime, rate, period budget — and reserves the amount in the same locked step.
Below it, the SDK's ``spend_controls`` cap the same assets at the same amount, and a selection
policy drops offers the static checks refuse (so a mixed 402 still pays an acceptable offer).
After the paid request, ``on_payment_response`` trues the reservation down to the settled amount
of the server's ``PAYMENT-RESPONSE``, or releases it when the server reports failure. A paid
request that gets no answer about its payment keeps its reservation: the payee may still settle.

Errors::

    ValueError
    └── WalletError        a key file, policy or audit log that cannot be used
    x402.http.clients.httpx.PaymentError
    └── PaymentRefused     the guard refused to sign (``.reason``)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from x402 import x402Client
from x402.http.clients.httpx import PaymentError, x402AsyncTransport
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.mechanisms.evm.upto import UptoEvmClientScheme
from x402.schemas import (
    AbortResult,
    NoMatchingRequirementsError,
    PaymentAbortedError,
    PaymentCreatedContext,
    PaymentCreationContext,
    PaymentCreationFailureContext,
    PaymentPayload,
    PaymentPayloadV1,
    PaymentRequired,
    PaymentRequiredV1,
    PaymentResponseContext,
    ResourceInfo,
)

from tokenomy.settlement.guard_book import SpendBook
from tokenomy.settlement.guard_log import (
    REFUSED,
    RELEASED,
    SETTLED,
    SIGNED,
    AuditEntry,
    AuditLog,
    AuditLogError,
    read_entries,
)
from tokenomy.settlement.guard_policy import (
    DEFAULT_PAYMENTS_PER_MINUTE_MAX,
    DEFAULT_PERIOD_S,
    DEFAULT_TIMEOUT_S_MAX,
    Offer,
    WalletError,
    WalletPolicy,
    atomic,
    parse_address,
)

# The URL of the request being paid, set by the guard's transport for the audit log.
_REQUEST_URL: ContextVar[str | None] = ContextVar("tokenomy_wallet_request_url", default=None)


class PaymentRefused(PaymentError):
    """The guard refused to sign: nothing was signed, nothing was sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"payment refused: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Reservation:
    ticket: int
    offer: Offer
    amount: int
    url: str | None


@dataclass(slots=True)
class _Pending:
    """Reservations waiting for their signature (by request) or their outcome (by payment)."""

    by_request: dict[int, list[_Reservation]] = field(default_factory=dict)
    by_payment: dict[str, _Reservation] = field(default_factory=dict)


class _GuardedClient(x402Client):
    """The SDK client, with refusals turned into :class:`PaymentRefused` at one boundary."""

    def __init__(self, on_unmatched: Callable[[PaymentRequired | PaymentRequiredV1, str], str],
                 ) -> None:
        super().__init__()
        self._on_unmatched = on_unmatched

    async def create_payment_payload(
        self,
        payment_required: PaymentRequired | PaymentRequiredV1,
        resource: ResourceInfo | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> PaymentPayload | PaymentPayloadV1:
        try:
            return await super().create_payment_payload(payment_required, resource, extensions)
        except PaymentAbortedError as exc:
            raise PaymentRefused(exc.reason) from None
        except NoMatchingRequirementsError as exc:
            raise PaymentRefused(self._on_unmatched(payment_required, str(exc))) from None


class _GuardTransport(x402AsyncTransport):
    """The SDK's paying transport, telling the guard which URL it pays for."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        token = _REQUEST_URL.set(str(request.url))
        try:
            return await super().handle_async_request(request)
        finally:
            _REQUEST_URL.reset(token)


def _payment_id(payload: PaymentPayload | PaymentPayloadV1) -> str:
    """A short stable id of one signed payment (its signature and nonce are inside)."""
    canonical = json.dumps(payload.payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _resource_url(payment_required: PaymentRequired | PaymentRequiredV1) -> str | None:
    url = _REQUEST_URL.get()
    if url is None and isinstance(payment_required, PaymentRequired):
        url = payment_required.resource.url if payment_required.resource else None
    return url


class WalletGuard:
    """Holds the key; signs x402 payments only within ``policy``; logs every decision.

    Safe for concurrent requests of one agent (one lock around the budget and rate state).
    ``clock`` (seconds since the epoch) drives the rolling windows and the audit timestamps.
    """

    def __init__(self, account: LocalAccount, policy: WalletPolicy, audit_path: Path | str,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._killed = False
        self._book = SpendBook(policy.budget_per_period, policy.period_s,
                               policy.max_payments_per_minute)
        self._pending = _Pending()
        self._log = AuditLog(Path(audit_path))
        self._replay()
        self.address: str = account.address
        self._client = self._build_client(account)

    def _build_client(self, account: LocalAccount) -> x402Client:
        client = _GuardedClient(self._unmatched)
        signer = EthAccountSigner(account)  # what the schemes would wrap a LocalAccount in
        client.register("eip155:*", UptoEvmClientScheme(signer))
        client.register("eip155:*", ExactEvmClientScheme(signer))
        client.set_spend_controls(self.policy.spend_controls())
        client.register_policy(self._acceptable)
        client.on_before_payment_creation(self._before_payment)
        client.on_after_payment_creation(self._after_payment)
        client.on_payment_creation_failure(self._payment_failed)
        client.on_payment_response(self._payment_response)
        return client

    # ---------------------------------------------------------------- public

    @property
    def x402_client(self) -> x402Client:
        """The guarded SDK client (for ``x402HttpxClient`` and friends)."""
        return self._client

    @property
    def audit_path(self) -> Path:
        return self._log.path

    @property
    def killed(self) -> bool:
        return self._killed

    def kill(self) -> None:
        """Refuse every payment from now on (payments already signed are not recalled)."""
        with self._lock:
            self._killed = True

    def revive(self) -> None:
        with self._lock:
            self._killed = False

    def spent_in_period(self) -> int:
        """Settled amounts (atomic units) signed within the last ``period_s``."""
        with self._lock:
            return self._book.spent(self._clock())

    def reserved(self) -> int:
        """Signed but unresolved: authorized maxima (atomic units) within the period."""
        with self._lock:
            return self._book.reserved(self._clock())

    def transport(self, inner: httpx.AsyncBaseTransport | None = None,
                  ) -> httpx.AsyncBaseTransport:
        """An httpx transport that pays 402s through the guard, over ``inner``."""
        return _GuardTransport(self._client, transport=inner)

    def client(self, **httpx_kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` paying through the guard; ``transport=`` is the inner one."""
        inner = httpx_kwargs.pop("transport", None)
        return httpx.AsyncClient(transport=self.transport(inner), **httpx_kwargs)

    # ---------------------------------------------------------------- SDK hooks

    def _acceptable(self, version: int, offers: list[Any]) -> list[Any]:
        """Selection policy: keep the offers the static checks allow."""
        return [r for r in offers if self.policy.refusal(Offer.of(r)) is None]

    def _unmatched(self, payment_required: PaymentRequired | PaymentRequiredV1,
                   sdk_message: str) -> str:
        """No offer survived selection: log and explain the refusal of the first one."""
        offers = [Offer.of(r) for r in payment_required.accepts]
        reasons = [r for r in (self.policy.refusal(o) for o in offers) if r is not None]
        reason = reasons[0] if reasons else f"no acceptable offer: {sdk_message}"
        offer = offers[0] if offers else Offer("", "", "", "0", "", None)
        self._audit(REFUSED, offer, offer.atomic_amount() or 0, self._clock(),
                    url=_resource_url(payment_required), reason=reason)
        return reason

    def _before_payment(self, context: PaymentCreationContext) -> AbortResult | None:
        offer = Offer.of(context.selected_requirements)
        url = _resource_url(context.payment_required)
        with self._lock:
            now_s = self._clock()
            reason = "the kill switch is on" if self._killed else self.policy.refusal(offer)
            amount = offer.atomic_amount() or 0
            if reason is None:
                reason = self._book.refusal(amount, now_s)
            if reason is None:
                ticket = self._book.reserve(amount, now_s)
                self._pending.by_request.setdefault(id(context.payment_required), []).append(
                    _Reservation(ticket, offer, amount, url))
                return None
        self._audit(REFUSED, offer, amount, now_s, url=url, reason=reason)
        return AbortResult(reason=reason)

    def _after_payment(self, context: PaymentCreatedContext) -> None:
        payment = _payment_id(context.payment_payload)
        with self._lock:
            reservation = self._take_by_request(id(context.payment_required))
            if reservation is None:
                return
            self._pending.by_payment[payment] = reservation
            now_s = self._clock()
        self._audit(SIGNED, reservation.offer, reservation.amount, now_s,
                    url=reservation.url, payment=payment)

    def _payment_failed(self, context: PaymentCreationFailureContext) -> None:
        with self._lock:
            reservation = self._take_by_request(id(context.payment_required))
            if reservation is None:
                return
            self._book.release(reservation.ticket)
            now_s = self._clock()
        self._audit(RELEASED, reservation.offer, reservation.amount, now_s, url=reservation.url,
                    reason=f"signing failed: {type(context.error).__name__}: {context.error}")

    def _payment_response(self, context: PaymentResponseContext) -> None:
        payment = _payment_id(context.payment_payload)
        settlement = context.settle_response
        with self._lock:
            reservation = self._pending.by_payment.pop(payment, None)
            if reservation is None:
                return  # not ours, or already resolved
            now_s = self._clock()
            if settlement is None or not settlement.success:
                self._book.release(reservation.ticket)
                event, amount = RELEASED, reservation.amount
                reason: str | None = (
                    (settlement.error_reason or "settlement failed") if settlement
                    else "the server answered 402 to the signed payment")
            else:
                claimed = atomic(settlement.amount)
                amount = reservation.amount if claimed is None else min(claimed,
                                                                        reservation.amount)
                self._book.settle(reservation.ticket, amount)
                event, reason = SETTLED, _settle_note(claimed, reservation.amount)
        self._audit(event, reservation.offer, amount, now_s, url=reservation.url, reason=reason,
                    payment=payment, transaction=settlement.transaction if settlement else None)

    # ---------------------------------------------------------------- internals

    def _take_by_request(self, key: int) -> _Reservation | None:
        waiting = self._pending.by_request.get(key)
        if not waiting:
            return None
        reservation = waiting.pop(0)
        if not waiting:
            del self._pending.by_request[key]
        return reservation

    def _audit(self, event: str, offer: Offer, amount: int, at_s: float, *, url: str | None,
               reason: str | None = None, payment: str | None = None,
               transaction: str | None = None) -> None:
        self._log.append(AuditEntry(
            at_s=at_s, event=event, payee=offer.pay_to, network=offer.network,
            asset=offer.asset, amount=amount, scheme=offer.scheme, reason=reason, url=url,
            id=payment, transaction=transaction or None))

    def _replay(self) -> None:
        """Restore the period's commitments from the audit log (a guard's memory across runs).
        A payment signed but never resolved stays reserved until it leaves the period."""
        horizon_s = self._clock() - self.policy.period_s
        tickets: dict[str, int] = {}
        try:
            for entry in read_entries(self._log.path):
                if entry.at_s <= horizon_s or entry.id is None:
                    continue
                if entry.event == SIGNED:
                    tickets[entry.id] = self._book.restore(entry.amount, entry.at_s, True)
                elif entry.event == SETTLED and entry.id in tickets:
                    self._book.settle(tickets.pop(entry.id), entry.amount)
                elif entry.event == RELEASED and entry.id in tickets:
                    self._book.release(tickets.pop(entry.id))
        except (AuditLogError, OSError) as exc:
            raise WalletError(f"audit log {self._log.path}: {exc}") from None


def _settle_note(claimed: int | None, maximum: int) -> str | None:
    if claimed is None:
        return "no settled amount in PAYMENT-RESPONSE: counted at the authorized amount"
    if claimed > maximum:
        return f"settled amount {claimed} is over the authorized {maximum}: counted at {maximum}"
    return None


# ---------------------------------------------------------------- keys


def load_account(path: Path | str) -> LocalAccount:
    """The key in a JSON key file ``{"address": "0x…", "private_key": "0x…"}``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise WalletError(f"{path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WalletError(f"{path}: not a JSON key file") from None
    key = data.get("private_key") if isinstance(data, dict) else None
    if not isinstance(key, str):
        raise WalletError(f"{path}: no \"private_key\" string")
    try:
        account: LocalAccount = Account.from_key(key)
    except (ValueError, TypeError):
        raise WalletError(f"{path}: private_key is not a valid secp256k1 key") from None
    address = data.get("address")
    if address is not None and parse_address(address, f"{path}: address") != (
            account.address.lower()):
        raise WalletError(f"{path}: address {address} does not match the private key")
    return account


def save_account(account: LocalAccount, path: Path | str) -> None:
    """Write a key file readable by its owner only (0o600); never overwrites one."""
    text = json.dumps({"address": account.address,
                       "private_key": "0x" + bytes(account.key).hex()}) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WalletError(f"{path}: already exists (a key file is never overwritten)") from None
    except OSError as exc:
        raise WalletError(f"{path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)


__all__ = [
    "DEFAULT_PAYMENTS_PER_MINUTE_MAX",
    "DEFAULT_PERIOD_S",
    "DEFAULT_TIMEOUT_S_MAX",
    "Offer",
    "PaymentRefused",
    "WalletError",
    "WalletGuard",
    "WalletPolicy",
    "load_account",
    "save_account",
]

"""Admission: who is calling, may they, and what may it cost — before any upstream is called.

In: an API key (hashed, looked up, cached for :data:`KEY_CACHE_S`), a request body, the price
book. Out: a :class:`Ticket` holding a reservation on every level of the key's budget, or a
:class:`Refusal` (HTTP status, error type, message) that changed nothing but the record of it.
:meth:`Admission.settle` ends a ticket: the real (or locally counted) usage is priced and
captured — never more than was reserved — or the reservation is voided, and the request's
record is written in the same transaction.

Rate limits are token buckets per key, in this process: requests per minute, and tokens per
minute counted at the worst-case estimate when admitted and trued up to the real usage when
settled. (With several workers each enforces its own buckets.)
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx

from tokenomy._invariant import invariant
from tokenomy.exchange.accounts import credit_account
from tokenomy.gateway.credits import CreditHold, plan, tier_of, uncovered, used
from tokenomy.gateway.writer import LedgerWriter
from tokenomy.ledger.budgets import Budget, BudgetError, asset_of, format_major
from tokenomy.ledger.charges import hold_of, levels, reserve_transfers, resolve_transfers
from tokenomy.ledger.types import CreateTransferResult
from tokenomy.meter.errors import UnknownModelError
from tokenomy.meter.models import ModelRules, resolve
from tokenomy.meter.usage import Usage
from tokenomy.pricing.errors import PricingError
from tokenomy.pricing.quote import Quote, quote
from tokenomy.pricing.records import Pricing
from tokenomy.store.gateway_sql import KeyRecord, RequestRecord
from tokenomy.store.ledger_sql import SQLLedger

if TYPE_CHECKING:
    from x402.schemas import SettleResponse

    from tokenomy.gateway.paywall import Payment
    from tokenomy.settlement.facilitator import LedgerFacilitator

KEY_CACHE_S = 2.0  # a revoked key stops working within this long
KEY_CACHE_MAX = 100_000
BUCKETS_MAX = 100_000
UNKNOWN_MODEL_OUTPUT_MAX = 32_768  # worst-case output of a model the meter does not know
# On the loop, a commit runs inline while at most this many requests are busy (not waiting for
# their upstream), rather than wait for the loop's next turn to batch: paced at 300 requests/s
# most commits then run inline, while at saturation (~50 busy) they still batch.
BUSY_INLINE_MAX = 4
R = CreateTransferResult


@dataclass(frozen=True, slots=True)
class Refusal(Exception):
    """A request turned away before any upstream call; nothing was charged."""

    status: int
    type: str
    message: str
    detail: dict[str, str] = field(default_factory=dict)
    retry_after_s: int | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    key: KeyRecord
    chain: tuple[Budget, ...]  # the key's budget and its ancestors, leaf first


@dataclass(slots=True)
class Ticket:
    """One admitted request: its reservation and what settling it needs."""

    request_id: str
    caller: Caller
    api: str
    model: str
    stream: bool
    estimate: Usage
    reserved: Quote
    started_ns: int
    started_s: float  # monotonic
    idempotency_key: str = ""
    tokens_charged: int = 0  # counted against the key's tokens-per-minute bucket
    settled: bool = False
    payment: Payment | None = None  # an x402 payment: its hold is the reservation
    credits: list[CreditHold] = field(default_factory=list)  # prepaid tokens held first


@dataclass(frozen=True, slots=True)
class Settled:
    cost: int  # metered, minor units
    captured: int  # posted (≤ reserved)
    stu: Decimal
    quote: Quote | None
    receipt: SettleResponse | None = None  # an x402 payment's settlement


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def rules_for(model: str) -> ModelRules:
    """The meter's rules for ``model``; an unknown model is counted with the generic
    estimator and a large output cap (its price is the pricing policy's call)."""
    try:
        return resolve(model)
    except UnknownModelError:
        return ModelRules(model, "unknown", "openai", "generic_estimate",
                          UNKNOWN_MODEL_OUTPUT_MAX)


class Bucket:
    """A token bucket: ``capacity`` per minute, refilled continuously."""

    __slots__ = ("capacity", "level", "stamp")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity, self.level, self.stamp = capacity, float(capacity), now

    def take(self, amount: int, now: float) -> float:
        """Take ``amount`` (0 s) or answer how many seconds until it could be taken."""
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.capacity / 60)
        self.stamp = now
        if amount <= self.level:
            self.level -= amount
            return 0.0
        return (min(amount, self.capacity) - self.level) * 60 / self.capacity

    def give(self, amount: int) -> None:
        self.level = min(self.capacity, self.level + amount)


class Admission:
    """Authentication, rate limits, estimates, quotes, reservations and settlement."""

    def __init__(self, store: SQLLedger, writer: LedgerWriter, pricing: Pricing,
                 reservation_timeout_s: int, clock_ns: Callable[[], int] = time.time_ns,
                 monotonic: Callable[[], float] = time.monotonic,
                 facilitator: LedgerFacilitator | None = None,
                 upstream_waiting: Callable[[], int] = lambda: 0) -> None:
        self.store, self.writer, self.pricing = store, writer, pricing
        self.facilitator = facilitator
        self.reservation_timeout_s = reservation_timeout_s
        self.clock_ns, self.monotonic = clock_ns, monotonic
        self._keys: dict[str, tuple[float, Caller | None]] = {}
        self.in_flight = 0  # requests between arrival and their answer (set by the proxy)
        self.upstream_waiting = upstream_waiting  # of those, how many wait for their upstream
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def alone(self) -> bool:
        """Too few requests to batch this request's commit with, so it may run inline. On the
        loop (SQLite, one worker): at most :data:`BUSY_INLINE_MAX` requests are busy (those in
        flight and not waiting for their upstream, this one included). With a writer thread
        (PostgreSQL, several workers): no other request is in flight at all, since an inline
        commit there can wait on another process's lock."""
        if self.writer.on_loop:
            return self.in_flight - self.upstream_waiting() <= BUSY_INLINE_MAX
        return self.in_flight <= 1

    def quiet(self) -> bool:
        """No other request is in flight: an inline commit may sync inline too."""
        return self.in_flight <= 1

    # -- who ---------------------------------------------------------------------------
    async def authenticate(self, secret: str) -> Caller:
        digest = hash_secret(secret)
        now = self.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and cached[0] > now:
            caller = cached[1]
        else:
            caller = await asyncio.to_thread(self._load_caller, digest)
            if len(self._keys) >= KEY_CACHE_MAX:
                self._keys.clear()
            self._keys[digest] = (now + KEY_CACHE_S, caller)
        if caller is None:
            raise Refusal(401, "invalid_api_key", "the API key is unknown or revoked")
        return caller

    def _load_caller(self, digest: str) -> Caller | None:
        key = self.store.find_key(digest)
        if key is None or not key.active:
            return None
        try:
            chain = levels(self.store, key.budget)
        except BudgetError:
            return None
        return Caller(key, tuple(chain))

    # -- how fast ----------------------------------------------------------------------
    def limit(self, caller: Caller, tokens: int) -> int:
        """Take one request and ``tokens`` from the key's buckets, or refuse with 429."""
        key, now = caller.key, self.monotonic()
        waits = []
        for kind, capacity, amount in (("rpm", key.rpm, 1), ("tpm", key.tpm, tokens)):
            if capacity <= 0:
                continue
            if amount > capacity:  # could never pass: say so rather than "retry later"
                raise Refusal(429, "rate_limit_exceeded",
                              f"this request may use {amount} tokens (worst case), more than "
                              f"key {key.name!r} may use per minute ({capacity}); lower its "
                              "max tokens", retry_after_s=60)
            bucket = self._bucket(key.id, kind, capacity, now)
            wait = bucket.take(amount, now)
            if wait > 0:
                waits.append((kind, wait))
            elif kind == "rpm" and waits:  # nothing was taken from tpm: give this back
                bucket.give(amount)
        if waits:
            if key.rpm > 0 and waits[0][0] == "tpm":  # rpm was taken: give it back
                self._bucket(key.id, "rpm", key.rpm, now).give(1)
            kind, wait = max(waits, key=lambda w: w[1])
            what = "requests" if kind == "rpm" else "tokens"
            raise Refusal(429, "rate_limit_exceeded",
                          f"key {key.name!r} is over its {what} per minute limit "
                          f"({key.rpm if kind == 'rpm' else key.tpm})",
                          retry_after_s=max(1, math.ceil(wait)))
        return tokens if key.tpm > 0 else 0

    def _bucket(self, key_id: str, kind: str, capacity: int, now: float) -> Bucket:
        bucket = self._buckets.get((key_id, kind))
        if bucket is None or bucket.capacity != capacity:
            if len(self._buckets) >= BUCKETS_MAX:
                self._buckets.clear()
            bucket = self._buckets[(key_id, kind)] = Bucket(capacity, now)
        return bucket

    def refund_tokens(self, ticket: Ticket, used: int) -> None:
        extra = ticket.tokens_charged - used
        if extra > 0 and ticket.caller.key.tpm > 0:
            self._bucket(ticket.caller.key.id, "tpm", ticket.caller.key.tpm,
                         self.monotonic()).give(extra)

    # -- how much ----------------------------------------------------------------------
    def price(self, usage: Usage, model: str, ledger: int) -> Quote:
        """The quote of ``usage`` now; a model priced in another currency than the budget
        holds is refused (no silent conversion)."""
        try:
            q = quote(self.pricing.book, usage, model, datetime.now(UTC), "standard",
                      self.pricing.policy)
        except PricingError as exc:
            raise Refusal(400, "model_not_priced", str(exc)) from None
        held = asset_of(ledger)
        if held.code == "USDC" and q.currency.code == "USD":  # a USD stablecoin: at par
            down = 10 ** (q.currency.scale - held.scale)
            return q._replace(currency=held, total=-(-q.total // down))
        if q.currency.code != held.code:
            raise Refusal(400, "currency_mismatch",
                          f"{model} is priced in {q.currency.code}; this key's budget holds "
                          f"{held.code}")
        return q

    async def reserve(self, ticket: Ticket) -> None:
        """Reserve the worst case on every level, or raise a 402 :class:`Refusal`; prepaid
        credits first, when the key spends an exchange member's (:mod:`.credits`)."""
        chain = ticket.caller.chain
        owner = ticket.caller.key.exchange_owner
        if owner and tier_of(ticket.model) is not None:
            await self._hold_credits(ticket, owner)
        transfers = reserve_transfers(chain, max(ticket.reserved.total, 1), ticket.request_id,
                                      self.reservation_timeout_s)
        results = await self.writer.submit(transfers, durable=False,  # see commit_batch
                                           alone=self.alone(), quiet=self.quiet())
        if all(r is R.OK for r in results):
            return
        if ticket.credits:  # refused: the credits held go back
            await self.writer.submit([h.resolve(0) for h in ticket.credits])
            ticket.credits = []
        hold = await asyncio.to_thread(hold_of, self.store, chain, transfers, results,
                                       "reserve", ticket.request_id)
        if hold.ok:
            return
        ledger = chain[0].ledger
        asset = asset_of(ledger)
        left = format_major(hold.available or 0, ledger)
        need = format_major(ticket.reserved.total, ledger)
        raise Refusal(402, "insufficient_budget",
                      f"budget {hold.level!r} cannot cover this request: it needs up to "
                      f"{need} {asset.code} (worst case) and {left} {asset.code} is left",
                      {"budget": hold.level or "", "available": left, "required": need,
                       "currency": asset.code, "result": hold.result.value})

    async def _hold_credits(self, ticket: Ticket, owner: int) -> None:
        """Hold the member's credits for the estimate; the cash reservation covers the rest."""
        tier = tier_of(ticket.model)
        grades = [f"{tier}-IN", f"{tier}-OUT"]
        accounts = await asyncio.to_thread(self.store.lookup_accounts,
                                           [credit_account(owner, g) for g in grades])
        by_id = {a.id: a.available_credit for a in accounts}
        available = {g: by_id.get(credit_account(owner, g), 0) for g in grades}
        holds = plan(owner, ticket.model, ticket.estimate, available, ticket.request_id)
        if not holds:
            return
        results = await self.writer.submit([h.hold(self.reservation_timeout_s) for h in holds],
                                           durable=False, alone=self.alone(),
                                           quiet=self.quiet())
        ticket.credits = [h for h, r in zip(holds, results, strict=True) if r is R.OK]
        if ticket.credits:
            rest = uncovered(ticket.estimate, {h.grade: h.tokens for h in ticket.credits})
            ticket.reserved = self.price(rest, ticket.model, ticket.caller.chain[0].ledger)

    async def settle(self, ticket: Ticket, usage: Usage | None, outcome: str, status: int,
                     upstream: str, error: str = "",
                     response: tuple[int, str, str] | None = None,
                     release: bool = True) -> Settled:
        """Capture the metered cost of ``usage`` (None: nothing was delivered, release) and
        record the request, in one transaction. ``release=False`` keeps an x402 hold for
        the next upstream to try."""
        invariant(not ticket.settled, f"request {ticket.request_id} is settled twice")
        ticket.settled = True
        chain, rid = ticket.caller.chain, ticket.request_id
        q: Quote | None = None
        cost = captured = 0
        stu = Decimal(0)
        covered = used(ticket.credits, usage) if usage is not None else {}
        credit_transfers = [h.resolve(covered.get(h.grade, 0)) for h in ticket.credits]
        if usage is not None and usage.total > 0:
            try:
                q = self.price(uncovered(usage, covered) if covered else usage, ticket.model,
                               chain[0].ledger)
                cost = q.total
                stu = self.pricing.stu.convert(usage, q.entry.quality)
            except Refusal:  # the price changed to unknown mid-request: hold what was reserved
                cost = ticket.reserved.total
            captured = min(cost, ticket.reserved.total)
        payment = ticket.payment
        receipt: SettleResponse | None = None
        if payment is not None and captured and payment.auth.scheme == "exact":
            captured = payment.auth.amount  # exact pays what it authorized
        if payment is not None and payment.remote is not None:  # settles there
            transfers = []
            if captured or release:
                receipt = await self._settle_remote(payment, captured)
                if not receipt.success:
                    error = error or f"remote settle: {receipt.error_reason}"
        elif payment is not None:
            assert self.facilitator is not None
            transfers = ([self.facilitator.capture_transfer(payment.auth, captured)]
                         if captured or release else [])
        else:
            transfers = (resolve_transfers(chain, rid, captured, "capture") if captured > 0
                         else resolve_transfers(chain, rid, 0, "release"))
        now = self.clock_ns()
        record = RequestRecord(
            rid, ticket.caller.key.id, chain[0].name, ticket.api, ticket.model, upstream,
            ticket.stream, status, outcome,
            usage.to_json_text() if usage is not None else "{}",
            bool(usage is not None and usage.estimated), ticket.reserved.total, cost, captured,
            ticket.reserved.currency.code, (q or ticket.reserved).version,
            bool((q or ticket.reserved).provisional), str(stu),
            (now - ticket.started_ns) // 1000, ticket.started_ns, now, ticket.idempotency_key,
            error)
        done: tuple[tuple[str, str, int, str, str], ...] = ()
        if response is not None and ticket.idempotency_key:
            done = ((ticket.caller.key.id, ticket.idempotency_key, *response),)
        results = await self.writer.submit([*transfers, *credit_transfers], (record,), done,
                                           alone=self.alone(), quiet=self.quiet())
        self.refund_tokens(ticket, usage.total if usage is not None else 0)
        if payment is not None and transfers:
            assert self.facilitator is not None
            receipt = self.facilitator.settlement_of(results[0], transfers[0], payment.auth)
            if payment.version == 1:  # the network as the v1 client names it
                receipt = receipt.model_copy(update={"network": payment.payload.get_network()})
        return Settled(cost, captured, stu, q, receipt)

    async def _settle_remote(self, payment: Payment, amount: int) -> SettleResponse:
        """Settle at the remote facilitator (0: nothing to settle; the authorization lapses)."""
        from x402.schemas import PaymentPayload, SettleResponse

        assert payment.remote is not None and isinstance(payment.payload, PaymentPayload)
        if amount == 0:
            return SettleResponse(success=True, payer=payment.auth.payer, transaction="",
                                  network=payment.requirements.network, amount="0")
        bill = payment.requirements.model_copy(update={"amount": str(amount)})
        try:
            return await payment.remote.settle(payment.payload, bill)
        except (ValueError, httpx.HTTPError) as exc:
            return SettleResponse(success=False, error_reason="unexpected_settle_error",
                                  error_message=str(exc), payer=payment.auth.payer,
                                  transaction="", network=payment.requirements.network)

    async def record_refusal(self, caller: Caller | None, request_id: str, api: str,
                             model: str, stream: bool, refusal: Refusal, started_ns: int,
                             reserved: int = 0) -> None:
        """The record of a request refused before any upstream call (no money moves)."""
        now = self.clock_ns()
        outcome = {402: "refused", 429: "rate_limited"}.get(refusal.status, "rejected")
        record = RequestRecord(
            request_id, caller.key.id if caller else "", caller.chain[0].name if caller else "",
            api, model if isinstance(model, str) else "", "", stream, refusal.status, outcome,
            "{}", False, reserved, 0, 0, "", "", False, "0", (now - started_ns) // 1000,
            started_ns, now, "", refusal.message)
        await self.writer.submit((), (record,), durable=False)


__all__ = [
    "Admission",
    "Caller",
    "Refusal",
    "Settled",
    "Ticket",
    "hash_secret",
    "rules_for",
]

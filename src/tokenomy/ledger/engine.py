"""The ledger's state machine: batches of accounts and transfers in, result codes out.

Pure: the store hands in a :class:`Snapshot` of everything a batch can touch (the accounts it
names, the transfers whose ids it uses or posts, their pending status, the retired ids) and a
starting timestamp; the engine returns the result of every event and the state to write. The
same code runs under SQLite, PostgreSQL and the in-memory store, so they cannot disagree.

Semantics and validation order follow TigerBeetle's reference model (``reference_model.zig``):

* a transfer moves ``amount`` from ``debit_account_id`` to ``credit_account_id``, same ledger;
* ``pending`` reserves (``debits_pending``/``credits_pending``); ``post_pending_transfer``
  captures ≤ the reservation and releases the rest (``AMOUNT_MAX`` = all of it);
  ``void_pending_transfer`` releases all; a pending transfer with a ``timeout`` expires at
  ``timestamp + timeout`` seconds, and a post or void after that answers
  ``pending_transfer_expired``;
* ``linked`` chains succeed or fail as one: on the first failure the chain's effects are undone,
  the failing event gets its code and the others ``linked_event_failed``;
* the id is the idempotency key: a replay answers ``exists`` (or
  ``exists_with_different_<field>``) and changes nothing; an id that failed for a transient
  reason (see :data:`TRANSIENT`) is retired and answers ``id_already_failed``;
* ``balancing_debit``/``balancing_credit`` move at most what the limit allows;
* ``debits_must_not_exceed_credits`` / ``credits_must_not_exceed_debits`` are never broken
  (``exceeds_credits`` / ``exceeds_debits``), counting pending amounts.

The module is a little over 500 lines for one reason: the validation order above is one
sequence of checks on one hot loop, and splitting it would put the order in two places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from tokenomy._invariant import invariant
from tokenomy.ledger.types import (
    AMOUNT_MAX,
    BATCH_MAX,
    NS_PER_S,
    TRANSIENT,
    U64_MAX,
    U128_MAX,
    Account,
    AccountFlags,
    CreateTransferResult,
    PendingStatus,
    Transfer,
    TransferFlags,
)

R = CreateTransferResult
_OK, _EXISTS = R.OK, R.EXISTS
_TIMESTAMP = attrgetter("timestamp")
F = TransferFlags
# Flag bits as plain ints: ``int & IntFlag`` runs IntFlag's slow path on every test.
_LINKED = int(F.LINKED)
_PENDING = int(F.PENDING)
_POST = int(F.POST_PENDING_TRANSFER)
_VOID = int(F.VOID_PENDING_TRANSFER)
_BALANCING_DEBIT = int(F.BALANCING_DEBIT)
_BALANCING_CREDIT = int(F.BALANCING_CREDIT)
_RESERVED_TRANSFER = int(F.CLOSING_DEBIT | F.CLOSING_CREDIT | F.IMPORTED)
_POST_OR_VOID = _POST | _VOID
_BALANCING = _BALANCING_DEBIT | _BALANCING_CREDIT
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_CLOSED = int(AccountFlags.CLOSED)


class BatchTooLargeError(ValueError):
    """More events than :data:`BATCH_MAX` in one batch."""


@dataclass(slots=True)
class Snapshot:
    """What a batch may read. Keys the store did not load are taken as absent."""

    accounts: dict[int, Account] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)
    pending: dict[int, tuple[PendingStatus, int]] = field(default_factory=dict)  # → expires_at
    failed: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """What to write after a transfer batch."""

    results: tuple[CreateTransferResult, ...]
    created: tuple[Transfer, ...]  # in order, with timestamps
    accounts: dict[int, Account]  # final state of every account whose balances changed
    pending: dict[int, tuple[PendingStatus, int]]  # new or changed pending statuses
    failed: tuple[int, ...]  # ids retired by this batch


def _requested_amount(t: Transfer, pending: Transfer | None) -> int:
    """What a post or void asks to move: ``AMOUNT_MAX`` on a post and 0 on a void mean the
    pending amount (TigerBeetle ≥ 0.16); anything else is taken as written."""
    if pending is None:
        return t.amount
    if t.flags & _VOID and t.amount == 0:
        return pending.amount
    if t.flags & _POST and t.amount == AMOUNT_MAX:
        return pending.amount
    return t.amount


def _exists(t: Transfer, e: Transfer, pending: Transfer | None) -> CreateTransferResult:
    """A replay: ``exists`` if it asks for what was done, else which field differs.
    ``pending`` is the transfer a post or void resolves (its fields fill the zeros)."""
    if t.flags != e.flags:
        return R.EXISTS_WITH_DIFFERENT_FLAGS
    if t.pending_id != e.pending_id:
        return R.EXISTS_WITH_DIFFERENT_PENDING_ID
    if t.timeout != e.timeout:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT
    resolving = bool(t.flags & _POST_OR_VOID)
    # A post/void may leave accounts, ledger and code zero (taken from the pending transfer).
    if t.debit_account_id != e.debit_account_id and not (resolving and t.debit_account_id == 0):
        return R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id != e.credit_account_id and not (
            resolving and t.credit_account_id == 0):
        return R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    if t.flags & _BALANCING:
        # A balancing transfer moved at most what it asked; asking for less is different.
        if (t.amount or AMOUNT_MAX) < e.amount:
            return R.EXISTS_WITH_DIFFERENT_AMOUNT
    elif _requested_amount(t, pending) != e.amount:
        return R.EXISTS_WITH_DIFFERENT_AMOUNT
    # On a post/void, zero user data means "inherit the pending transfer's".
    if t.user_data_128 != e.user_data_128 and not (resolving and t.user_data_128 == 0):
        return R.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if t.user_data_64 != e.user_data_64 and not (resolving and t.user_data_64 == 0):
        return R.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if t.user_data_32 != e.user_data_32 and not (resolving and t.user_data_32 == 0):
        return R.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if t.ledger != e.ledger and not (resolving and t.ledger == 0):
        return R.EXISTS_WITH_DIFFERENT_LEDGER
    if t.code != e.code and not (resolving and t.code == 0):
        return R.EXISTS_WITH_DIFFERENT_CODE
    return R.EXISTS


class _Batch:
    """Working state of one transfer batch, with an undo log for linked chains."""

    __slots__ = ("accounts", "balances", "created", "failed", "pending", "snapshot", "undo")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.accounts = snapshot.accounts
        self.balances: dict[int, list[int]] = {}  # id → [dp, dpo, cp, cpo]
        self.created: dict[int, Transfer] = {}
        self.pending: dict[int, tuple[PendingStatus, int]] = {}
        self.failed: list[int] = []
        # ("moved", drb, crb, pending, posted) | ("created", id) | ("pending", id, before)
        self.undo: list[tuple[Any, ...]] = []

    # -- reads --------------------------------------------------------------------------
    def account(self, account_id: int) -> Account | None:
        return self.accounts.get(account_id)

    def balance(self, account: Account) -> list[int]:
        found = self.balances.get(account.id)
        if found is None:
            found = [account.debits_pending, account.debits_posted, account.credits_pending,
                     account.credits_posted]
            self.balances[account.id] = found
        return found

    def transfer(self, transfer_id: int) -> Transfer | None:
        return self.created.get(transfer_id) or self.snapshot.transfers.get(transfer_id)

    def status(self, transfer_id: int) -> tuple[PendingStatus, int] | None:
        return self.pending.get(transfer_id) or self.snapshot.pending.get(transfer_id)

    # -- writes (undoable) --------------------------------------------------------------
    def move(self, drb: list[int], crb: list[int], pending: int, posted: int) -> None:
        """Debit the account of balances ``drb`` and credit that of ``crb``: ``pending`` to
        their pending fields (negative: a release), ``posted`` to their posted fields."""
        drb[0] += pending
        drb[1] += posted
        crb[2] += pending
        crb[3] += posted
        self.undo.append(("moved", drb, crb, pending, posted))

    def create(self, t: Transfer) -> None:
        self.undo.append(("created", t.id))
        self.created[t.id] = t

    def set_status(self, transfer_id: int, status: PendingStatus, expires_at: int) -> None:
        self.undo.append(("pending", transfer_id, self.pending.get(transfer_id)))
        self.pending[transfer_id] = (status, expires_at)

    def rollback(self, mark: int) -> None:
        while len(self.undo) > mark:
            entry = self.undo.pop()
            kind = entry[0]
            if kind == "moved":
                _, drb, crb, pending, posted = entry
                drb[0] -= pending
                drb[1] -= posted
                crb[2] -= pending
                crb[3] -= posted
            elif kind == "created":
                del self.created[entry[1]]
            elif entry[2] is None:
                del self.pending[entry[1]]
            else:
                self.pending[entry[1]] = entry[2]


def _limits(dr: Account, drb: list[int], cr: Account, crb: list[int],
            amount: int, pending: bool) -> CreateTransferResult | None:
    """Overflow and balance-limit checks for debiting ``dr`` / crediting ``cr`` by amount, in
    TigerBeetle's order: the pending fields (pending transfers only), the posted fields (every
    transfer: a reservation must be postable), then the totals, then the limits."""
    if pending and drb[0] + amount > U128_MAX:
        return R.OVERFLOWS_DEBITS_PENDING
    if pending and crb[2] + amount > U128_MAX:
        return R.OVERFLOWS_CREDITS_PENDING
    if drb[1] + amount > U128_MAX:
        return R.OVERFLOWS_DEBITS_POSTED
    if crb[3] + amount > U128_MAX:
        return R.OVERFLOWS_CREDITS_POSTED
    if drb[0] + drb[1] + amount > U128_MAX:
        return R.OVERFLOWS_DEBITS
    if crb[2] + crb[3] + amount > U128_MAX:
        return R.OVERFLOWS_CREDITS
    if dr.flags & _DMNEC and drb[0] + drb[1] + amount > drb[3]:
        return R.EXCEEDS_CREDITS
    if cr.flags & _CMNED and crb[2] + crb[3] + amount > crb[1]:
        return R.EXCEEDS_DEBITS
    return None


def _post_or_void(batch: _Batch, t: Transfer) -> CreateTransferResult:
    if t.pending_id == 0:
        return R.PENDING_ID_MUST_NOT_BE_ZERO
    if t.pending_id == U128_MAX:
        return R.PENDING_ID_MUST_NOT_BE_INT_MAX
    if t.pending_id == t.id:
        return R.PENDING_ID_MUST_BE_DIFFERENT
    if t.timeout != 0:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    p = batch.transfer(t.pending_id)
    if p is None:
        return R.PENDING_TRANSFER_NOT_FOUND
    if not p.flags & _PENDING:
        return R.PENDING_TRANSFER_NOT_PENDING
    if t.debit_account_id and t.debit_account_id != p.debit_account_id:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id and t.credit_account_id != p.credit_account_id:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
    if t.ledger and t.ledger != p.ledger:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER
    if t.code and t.code != p.code:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CODE
    posting = bool(t.flags & _POST)
    amount = _requested_amount(t, p)
    if amount > p.amount:
        return R.EXCEEDS_PENDING_TRANSFER_AMOUNT
    if not posting and amount != p.amount:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
    state = batch.status(p.id)
    invariant(state is not None, f"pending transfer {p.id} has no status")
    assert state is not None
    status, expires_at = state
    if status is PendingStatus.POSTED:
        return R.PENDING_TRANSFER_ALREADY_POSTED
    if status is PendingStatus.VOIDED:
        return R.PENDING_TRANSFER_ALREADY_VOIDED
    if status is PendingStatus.EXPIRED or (expires_at and expires_at <= t.timestamp):
        return R.PENDING_TRANSFER_EXPIRED
    dr, cr = batch.account(p.debit_account_id), batch.account(p.credit_account_id)
    invariant(dr is not None and cr is not None, f"pending {p.id} names a missing account")
    assert dr is not None and cr is not None
    drb, crb = batch.balance(dr), batch.balance(cr)
    invariant(drb[0] >= p.amount and crb[2] >= p.amount, f"pending {p.id} not reserved")
    if posting and (drb[1] + amount > U128_MAX or crb[3] + amount > U128_MAX):
        return R.OVERFLOWS_DEBITS_POSTED if drb[1] + amount > U128_MAX else (
            R.OVERFLOWS_CREDITS_POSTED)
    posted = amount if posting else 0
    batch.move(drb, crb, -p.amount, posted)
    batch.set_status(p.id, PendingStatus.POSTED if posting else PendingStatus.VOIDED,
                     expires_at)
    batch.create(replace(t, debit_account_id=p.debit_account_id,
                         credit_account_id=p.credit_account_id, ledger=p.ledger,
                         code=p.code, amount=amount,
                         user_data_128=t.user_data_128 or p.user_data_128,
                         user_data_64=t.user_data_64 or p.user_data_64,
                         user_data_32=t.user_data_32 or p.user_data_32))
    return R.OK


def _check_shape(t: Transfer) -> CreateTransferResult | None:
    """The checks that read no state, for an ordinary or pending transfer."""
    if t.debit_account_id == 0:
        return R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.debit_account_id == U128_MAX:
        return R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
    if t.credit_account_id == 0:
        return R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
    if t.credit_account_id == U128_MAX:
        return R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
    if t.debit_account_id == t.credit_account_id:
        return R.ACCOUNTS_MUST_BE_DIFFERENT
    if t.pending_id != 0:
        return R.PENDING_ID_MUST_BE_ZERO
    if t.timeout != 0 and not t.flags & _PENDING:
        return R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    if t.amount == 0 and not t.flags & _BALANCING:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    if t.ledger == 0:
        return R.LEDGER_MUST_NOT_BE_ZERO
    if t.code == 0:
        return R.CODE_MUST_NOT_BE_ZERO
    return None


def _transfer(batch: _Batch, t: Transfer) -> CreateTransferResult:
    shape = _check_shape(t)
    if shape is not None:
        return shape
    accounts = batch.accounts
    dr, cr = accounts.get(t.debit_account_id), accounts.get(t.credit_account_id)
    if dr is None:
        return R.DEBIT_ACCOUNT_NOT_FOUND
    if cr is None:
        return R.CREDIT_ACCOUNT_NOT_FOUND
    if dr.ledger != cr.ledger:
        return R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
    if t.ledger != dr.ledger:
        return R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
    if dr.flags & _CLOSED:
        return R.DEBIT_ACCOUNT_ALREADY_CLOSED
    if cr.flags & _CLOSED:
        return R.CREDIT_ACCOUNT_ALREADY_CLOSED
    drb, crb = batch.balance(dr), batch.balance(cr)
    flags = t.flags
    amount = t.amount if t.amount else AMOUNT_MAX
    if flags & _BALANCING:
        if flags & _BALANCING_DEBIT:
            amount = min(amount, max(0, drb[3] - drb[0] - drb[1]))
        if flags & _BALANCING_CREDIT:
            amount = min(amount, max(0, crb[1] - crb[2] - crb[3]))
    pending = bool(flags & _PENDING)
    if pending and t.timeout and t.timestamp + t.timeout * NS_PER_S > U64_MAX:
        return R.OVERFLOWS_TIMEOUT
    refused = _limits(dr, drb, cr, crb, amount, pending)
    if refused is not None:
        return refused
    if pending:
        batch.move(drb, crb, amount, 0)
        expires_at = t.timestamp + t.timeout * NS_PER_S if t.timeout else 0
        batch.set_status(t.id, PendingStatus.PENDING, expires_at)
    else:
        batch.move(drb, crb, 0, amount)
    batch.create(t if amount == t.amount else replace(t, amount=amount))
    return _OK


def _one(batch: _Batch, t: Transfer) -> CreateTransferResult:
    if t.flags & _RESERVED_TRANSFER:
        return R.RESERVED_FLAG
    if t.id == 0:
        return R.ID_MUST_NOT_BE_ZERO
    if t.id == U128_MAX:
        return R.ID_MUST_NOT_BE_INT_MAX
    existing = batch.transfer(t.id)
    if existing is not None:
        pending = batch.transfer(existing.pending_id) if existing.pending_id else None
        return _exists(t, existing, pending)
    if t.id in batch.snapshot.failed or t.id in batch.failed:
        return R.ID_ALREADY_FAILED
    flags = t.flags
    if (flags & _PENDING and flags & _POST_OR_VOID) or (
            flags & _POST and flags & _VOID) or (
            flags & _BALANCING and flags & _POST_OR_VOID):
        return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if flags & _POST_OR_VOID:
        return _post_or_void(batch, t)
    return _transfer(batch, t)


# The engine builds a Transfer per event and an Account per changed balance. A frozen
# dataclass's __init__ sets each field through ``object.__setattr__``; setting the slots
# through their descriptors costs half. Only for values the engine already holds as valid.
_new = object.__new__
_T = {f.name: getattr(Transfer, f.name).__set__ for f in fields(Transfer)}
_A = {f.name: getattr(Account, f.name).__set__ for f in fields(Account)}
invariant(len(_T) == 13 and len(_A) == 12, "_stamped and _with_balances set every field")
(_t_id, _t_debit, _t_credit, _t_amount, _t_ledger, _t_code, _t_flags, _t_pending_id,
 _t_timeout, _t_ud128, _t_ud64, _t_ud32, _t_timestamp) = (
    _T["id"], _T["debit_account_id"], _T["credit_account_id"], _T["amount"], _T["ledger"],
    _T["code"], _T["flags"], _T["pending_id"], _T["timeout"], _T["user_data_128"],
    _T["user_data_64"], _T["user_data_32"], _T["timestamp"])
(_a_id, _a_ledger, _a_code, _a_flags, _a_dp, _a_dpo, _a_cp, _a_cpo, _a_ud128, _a_ud64,
 _a_ud32, _a_timestamp) = (
    _A["id"], _A["ledger"], _A["code"], _A["flags"], _A["debits_pending"], _A["debits_posted"],
    _A["credits_pending"], _A["credits_posted"], _A["user_data_128"], _A["user_data_64"],
    _A["user_data_32"], _A["timestamp"])


def _stamped(t: Transfer, timestamp: int) -> Transfer:
    """``t`` with the ledger's timestamp and plain-int flags (cheaper than ``replace``)."""
    s = _new(Transfer)
    _t_id(s, t.id)
    _t_debit(s, t.debit_account_id)
    _t_credit(s, t.credit_account_id)
    _t_amount(s, t.amount)
    _t_ledger(s, t.ledger)
    _t_code(s, t.code)
    _t_flags(s, int(t.flags))
    _t_pending_id(s, t.pending_id)
    _t_timeout(s, t.timeout)
    _t_ud128(s, t.user_data_128)
    _t_ud64(s, t.user_data_64)
    _t_ud32(s, t.user_data_32)
    _t_timestamp(s, timestamp)
    return s


def _with_balances(a: Account, b: list[int]) -> Account:
    """``a`` with the balances ``b`` (debits pending, posted, credits pending, posted)."""
    s = _new(Account)
    _a_id(s, a.id)
    _a_ledger(s, a.ledger)
    _a_code(s, a.code)
    _a_flags(s, a.flags)
    _a_dp(s, b[0])
    _a_dpo(s, b[1])
    _a_cp(s, b[2])
    _a_cpo(s, b[3])
    _a_ud128(s, a.user_data_128)
    _a_ud64(s, a.user_data_64)
    _a_ud32(s, a.user_data_32)
    _a_timestamp(s, a.timestamp)
    return s


def chains(n: int, linked: Sequence[bool]) -> list[tuple[int, int]]:
    """[start, end) of each chain; a chain left open at the end is its own chain."""
    chains, start = [], 0
    for i in range(n):
        if not linked[i]:
            chains.append((start, i + 1))
            start = i + 1
    if start < n:
        chains.append((start, n))
    return chains


def execute_transfers(snapshot: Snapshot, transfers: Sequence[Transfer],
                      timestamp: int) -> TransferOutcome:
    """Apply a batch; ``timestamp`` is the first event's (ns), each next one is +1."""
    if len(transfers) > BATCH_MAX:
        raise BatchTooLargeError(f"at most {BATCH_MAX} transfers per batch, got {len(transfers)}")
    invariant(timestamp > 0, "the ledger's clock starts after 0")
    batch = _Batch(snapshot)
    n = len(transfers)
    results: list[CreateTransferResult] = [_OK] * n
    stamped = list(map(_stamped, transfers, range(timestamp, timestamp + n)))
    linked = [bool(t.flags & _LINKED) for t in stamped]
    undo, last = batch.undo, n - 1
    for start, end in chains(n, linked):
        mark = len(undo)
        for i in range(start, end):
            if i == last and linked[i]:
                result = R.LINKED_EVENT_CHAIN_OPEN
            else:
                result = _one(batch, stamped[i])
            # result codes are enum members: identity is equality
            if result is not _OK and (result is not _EXISTS or end - start > 1):
                _fail_chain(batch, results, start, end, i, result, mark, stamped)
                break
            results[i] = result
    created = tuple(sorted(batch.created.values(), key=_TIMESTAMP))
    changed = {}
    for account_id, b in batch.balances.items():
        before = snapshot.accounts[account_id]
        if (b[0] != before.debits_pending or b[1] != before.debits_posted
                or b[2] != before.credits_pending or b[3] != before.credits_posted):
            changed[account_id] = _with_balances(before, b)
    return TransferOutcome(tuple(results), created, changed, batch.pending,
                           tuple(batch.failed))


def _fail_chain(batch: _Batch, results: list[CreateTransferResult], start: int, end: int,
                at: int, result: CreateTransferResult, mark: int,
                stamped: Sequence[Transfer]) -> None:
    """Undo a chain; the failing event keeps its code, the others ``linked_event_failed``.
    (An ``exists`` inside a multi-event chain fails it: a chain is applied whole or not.)"""
    batch.rollback(mark)
    for j in range(start, end):
        results[j] = R.LINKED_EVENT_FAILED
    results[at] = result
    last = len(stamped) - 1
    if end - 1 == last and stamped[last].flags & _LINKED:
        results[last] = R.LINKED_EVENT_CHAIN_OPEN  # whatever failed before it
    if (result in TRANSIENT and end - start == 1) or result in TRANSIENT:
        batch.failed.append(stamped[at].id)


def expire(snapshot: Snapshot, due: Sequence[Transfer]) -> TransferOutcome:
    """Release pending transfers whose timeout has passed (the sweeper's work)."""
    batch = _Batch(snapshot)
    for p in due:
        state = batch.status(p.id)
        invariant(state is not None and state[0] is PendingStatus.PENDING,
                  f"only pending transfers expire ({p.id})")
        dr, cr = batch.account(p.debit_account_id), batch.account(p.credit_account_id)
        assert dr is not None and cr is not None and state is not None
        batch.move(batch.balance(dr), batch.balance(cr), -p.amount, 0)
        batch.set_status(p.id, PendingStatus.EXPIRED, state[1])
    changed = {account_id: _with_balances(snapshot.accounts[account_id], b)
               for account_id, b in batch.balances.items()}
    return TransferOutcome((), (), changed, batch.pending, ())

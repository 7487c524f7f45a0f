"""Charges against budgets: reserve on every level in one linked chain, then capture ≤ the
reservation or release it. In: a store, a budget path, a caller-supplied request id and integer
amounts (minor units). Out: :class:`Hold` values; every transfer id derives from the request id,
so a retry is a replay (``exists``), never a second charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenomy._invariant import invariant
from tokenomy.ledger.budgets import (
    CODE_CHARGE,
    LEVELS_MAX,
    REQUEST_ID_LENGTH_MAX,
    Budget,
    BudgetError,
    BudgetNotFoundError,
    check_name,
    derive_id,
    format_major,
    linked_chain,
    spend_account_id,
)
from tokenomy.ledger.types import U32_MAX, U128_MAX, CreateTransferResult, Transfer, TransferFlags

R = CreateTransferResult
F = TransferFlags
# Plain ints in the transfers (Transfer.flags is an int: the engine tests bits per transfer,
# and an IntFlag's operators are Python-level enum code)
_PENDING = int(F.PENDING)
_POST = int(F.POST_PENDING_TRANSFER)
_VOID = int(F.VOID_PENDING_TRANSFER)

if TYPE_CHECKING:
    from tokenomy.ledger.protocol import LedgerStore


# -- reserve, capture, release -----------------------------------------------------------------


def levels(store: LedgerStore, name: str) -> list[Budget]:
    """The budget and its ancestors, leaf first."""
    check_name(name)
    chain = []
    path: str | None = name
    while path is not None:
        b = store.get_budget(path)
        if b is None:
            raise BudgetNotFoundError(f"budget {path!r} does not exist")
        chain.append(b)
        path = b.parent
    invariant(0 < len(chain) <= LEVELS_MAX, f"{name!r} has {len(chain)} levels")
    return chain


@dataclass(frozen=True, slots=True)
class Hold:
    """The outcome of a reserve, capture or release over every level of a budget."""

    budget: str
    request_id: str
    action: str  # reserve | capture | release
    ledger: int
    result: CreateTransferResult  # ok, exists (a replay), or the failing level's code
    level: str | None = None  # the level that failed
    available: int | None = None  # what that level had left (minor units)

    @property
    def ok(self) -> bool:
        return self.result in (R.OK, R.EXISTS)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "budget": self.budget, "request_id": self.request_id,
                "action": self.action, "result": self.result.value, "level": self.level,
                "available": None if self.available is None else format_major(
                    self.available, self.ledger)}


def _check_request(request_id: str, amount: int, field: str) -> None:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= REQUEST_ID_LENGTH_MAX:
        raise BudgetError(f"request_id must be 1..{REQUEST_ID_LENGTH_MAX} characters")
    if isinstance(amount, bool) or not isinstance(amount, int) or not (
            0 <= amount <= U128_MAX):
        raise BudgetError(f"{field} must be an integer 0..{U128_MAX}, got {amount!r}")


def _run_chain(store: LedgerStore, chain: Sequence[Budget], transfers: list[Transfer],
               action: str, request_id: str) -> Hold:
    results = store.create_transfers(transfers)
    return hold_of(store, chain, transfers, results, action, request_id)


def hold_of(store: LedgerStore, chain: Sequence[Budget], transfers: Sequence[Transfer],
            results: Sequence[CreateTransferResult], action: str, request_id: str) -> Hold:
    """The :class:`Hold` that ``results`` (of the chain ``transfers``) amount to; a refusal
    reads the failing level's account to say what it had left."""
    invariant(len(results) == len(transfers) == len(chain), "one result per level")
    name, ledger = chain[0].name, chain[0].ledger
    if all(r is R.OK for r in results):
        return Hold(name, request_id, action, ledger, R.OK)
    replay = results[0] is R.EXISTS and all(r is R.LINKED_EVENT_FAILED for r in results[1:])
    if replay and len(store.lookup_transfers([t.id for t in transfers])) == len(transfers):
        return Hold(name, request_id, action, ledger, R.EXISTS)
    at = next(i for i, r in enumerate(results) if r not in (R.OK, R.LINKED_EVENT_FAILED))
    found = store.lookup_accounts([chain[at].account_id])
    invariant(len(found) == 1, f"budget account of {chain[at].name!r} is missing")
    return Hold(name, request_id, action, ledger, results[at], chain[at].name,
                max(0, found[0].available_credit))


def reserve(store: LedgerStore, budget_name: str, amount: int, request_id: str,
            timeout_s: int = 0) -> Hold:
    """Pending transfers of ``amount`` on every level, leaf to root: all or none.

    The ids come from ``(request_id, level)``: a replay answers ``exists``. A refusal such as
    ``exceeds_credits`` retires those ids (TigerBeetle's rule), so a retry after new funds
    needs a new ``request_id``.
    """
    chain = levels(store, budget_name)
    transfers = reserve_transfers(chain, amount, request_id, timeout_s)
    return _run_chain(store, chain, transfers, "reserve", request_id)


def reserve_transfers(chain: Sequence[Budget], amount: int, request_id: str,
                      timeout_s: int = 0) -> list[Transfer]:
    """The linked pending chain :func:`reserve` submits (for callers that batch it)."""
    _check_request(request_id, amount, "amount")
    if amount == 0:
        raise BudgetError("amount must be positive")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int) or not (
            0 <= timeout_s <= U32_MAX):
        raise BudgetError(f"timeout_s must be an integer 0..{U32_MAX}, got {timeout_s!r}")
    return linked_chain([Transfer(derive_id("reserve", request_id, b.name), b.account_id,
                                  spend_account_id(b.ledger), amount, b.ledger, CODE_CHARGE,
                                  _PENDING, timeout=timeout_s) for b in chain])


def resolve_transfers(chain: Sequence[Budget], request_id: str, amount: int,
                      action: str) -> list[Transfer]:
    """The linked chain that captures ``amount`` (``action="capture"``) or releases
    (``"release"``, amount 0) the reservation of ``request_id`` on every level."""
    invariant(action in ("capture", "release"), f"unknown action {action!r}")
    _check_request(request_id, amount, "actual" if action == "capture" else "amount")
    flag = _POST if action == "capture" else _VOID
    return linked_chain([Transfer(derive_id(action, request_id, b.name), b.account_id,
                                  spend_account_id(b.ledger), amount, b.ledger, CODE_CHARGE,
                                  flag, pending_id=derive_id("reserve", request_id, b.name))
                         for b in chain])


def capture(store: LedgerStore, budget_name: str, request_id: str, actual: int) -> Hold:
    """Post ``actual`` (≤ the reservation) on every level; the rest goes back."""
    _check_request(request_id, actual, "actual")
    chain = levels(store, budget_name)
    transfers = resolve_transfers(chain, request_id, actual, "capture")
    return _run_chain(store, chain, transfers, "capture", request_id)


def release(store: LedgerStore, budget_name: str, request_id: str) -> Hold:
    """Void the reservation on every level."""
    _check_request(request_id, 0, "amount")
    chain = levels(store, budget_name)
    transfers = resolve_transfers(chain, request_id, 0, "release")
    return _run_chain(store, chain, transfers, "release", request_id)


__all__ = [
    "Hold",
    "capture",
    "hold_of",
    "levels",
    "release",
    "reserve",
    "reserve_transfers",
    "resolve_transfers",
]

"""Creating accounts: a batch of accounts in, one result code each out (TigerBeetle's rules).

An account is created once; a replay answers ``exists`` or ``exists_with_different_<field>``.
Balances start at zero; ``debits_must_not_exceed_credits`` and its mirror exclude each other;
``linked`` chains are all-or-nothing, as for transfers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from tokenomy.ledger.engine import BatchTooLargeError, chains
from tokenomy.ledger.types import (
    BATCH_MAX,
    U128_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
)

A = CreateAccountResult
_DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
_CMNED = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS


def _account_exists(a: Account, e: Account) -> CreateAccountResult:
    if a.flags != e.flags:
        return A.EXISTS_WITH_DIFFERENT_FLAGS
    if a.user_data_128 != e.user_data_128:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if a.user_data_64 != e.user_data_64:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if a.user_data_32 != e.user_data_32:
        return A.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if a.ledger != e.ledger:
        return A.EXISTS_WITH_DIFFERENT_LEDGER
    if a.code != e.code:
        return A.EXISTS_WITH_DIFFERENT_CODE
    return A.EXISTS


def _one_account(a: Account, existing: Mapping[int, Account],
                 created: Mapping[int, Account]) -> CreateAccountResult:
    if a.flags & AccountFlags.IMPORTED:
        return A.RESERVED_FLAG
    if a.id == 0:
        return A.ID_MUST_NOT_BE_ZERO
    if a.id == U128_MAX:
        return A.ID_MUST_NOT_BE_INT_MAX
    found = created.get(a.id) or existing.get(a.id)
    if found is not None:
        return _account_exists(a, found)
    if a.flags & _DMNEC and a.flags & _CMNED:
        return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
    if a.debits_pending:
        return A.DEBITS_PENDING_MUST_BE_ZERO
    if a.debits_posted:
        return A.DEBITS_POSTED_MUST_BE_ZERO
    if a.credits_pending:
        return A.CREDITS_PENDING_MUST_BE_ZERO
    if a.credits_posted:
        return A.CREDITS_POSTED_MUST_BE_ZERO
    if a.ledger == 0:
        return A.LEDGER_MUST_NOT_BE_ZERO
    if a.code == 0:
        return A.CODE_MUST_NOT_BE_ZERO
    return A.OK


def execute_accounts(existing: Mapping[int, Account], accounts: Sequence[Account],
                     timestamp: int) -> tuple[tuple[CreateAccountResult, ...],
                                              tuple[Account, ...]]:
    """Results of creating ``accounts`` given the ``existing`` ones, and the new accounts."""
    if len(accounts) > BATCH_MAX:
        raise BatchTooLargeError(f"at most {BATCH_MAX} accounts per batch, got {len(accounts)}")
    results: list[CreateAccountResult] = [A.OK] * len(accounts)
    created: dict[int, Account] = {}
    linked = [bool(a.flags & AccountFlags.LINKED) for a in accounts]
    for start, end in chains(len(accounts), linked):
        chain: list[Account] = []
        for i in range(start, end):
            a = replace(accounts[i], flags=int(accounts[i].flags), timestamp=timestamp + i)
            if i == len(accounts) - 1 and linked[i]:
                result = A.LINKED_EVENT_CHAIN_OPEN
            else:
                result = _one_account(a, existing, created)
            if result is A.OK:
                created[a.id] = a
                chain.append(a)
                continue
            if result is A.EXISTS and end - start == 1:
                results[i] = result
                continue
            for undone in chain:
                del created[undone.id]
            for j in range(start, end):
                results[j] = A.LINKED_EVENT_FAILED
            results[i] = result
            if end == len(accounts) and linked[end - 1]:
                results[end - 1] = A.LINKED_EVENT_CHAIN_OPEN
            break
    return tuple(results), tuple(sorted(created.values(), key=lambda a: a.timestamp))

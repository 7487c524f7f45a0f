"""Accounts, transfers, flags and result codes — TigerBeetle's data model, in Python.

Amounts and balances are unsigned 128-bit integers (``0 <= x <= AMOUNT_MAX``) in the minor
units of the account's ledger (USD nano-dollars, USDC micro-units, token credits…). Accounts
are immutable but for their four balances; transfers are immutable, full stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag, StrEnum

U128_MAX = 2**128 - 1
AMOUNT_MAX = U128_MAX  # on a post: "the full pending amount"
U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
U16_MAX = 2**16 - 1
BATCH_MAX = 8_190  # events per batch, as TigerBeetle
NS_PER_S = 1_000_000_000


class AccountFlags(IntFlag):
    NONE = 0
    LINKED = 1 << 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3
    IMPORTED = 1 << 4  # reserved: not supported
    CLOSED = 1 << 5


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING_TRANSFER = 1 << 2
    VOID_PENDING_TRANSFER = 1 << 3
    BALANCING_DEBIT = 1 << 4
    BALANCING_CREDIT = 1 << 5
    CLOSING_DEBIT = 1 << 6  # reserved: not supported
    CLOSING_CREDIT = 1 << 7  # reserved: not supported
    IMPORTED = 1 << 8  # reserved: not supported


ACCOUNT_FLAG_NAMES = {f.name.lower(): f for f in AccountFlags if f.name and f != 0}
TRANSFER_FLAG_NAMES = {f.name.lower(): f for f in TransferFlags if f.name and f != 0}
_RESERVED_ACCOUNT = AccountFlags.IMPORTED
_RESERVED_TRANSFER = (TransferFlags.CLOSING_DEBIT | TransferFlags.CLOSING_CREDIT
                      | TransferFlags.IMPORTED)


def account_flags_of(names: list[str] | tuple[str, ...]) -> AccountFlags:
    flags = AccountFlags.NONE
    for name in names:
        flags |= ACCOUNT_FLAG_NAMES[name]
    return flags


def transfer_flags_of(names: list[str] | tuple[str, ...]) -> TransferFlags:
    flags = TransferFlags.NONE
    for name in names:
        flags |= TRANSFER_FLAG_NAMES[name]
    return flags


def flag_names(flags: int, names: dict[str, AccountFlags] | dict[str, TransferFlags]
               ) -> list[str]:
    return [name for name, flag in names.items() if flags & flag]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    ledger: int
    code: int
    flags: int = 0  # AccountFlags bits (a plain int: flag tests are on the hot path)
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    timestamp: int = 0  # set by the ledger

    @property
    def balance_credit(self) -> int:
        """Posted credits − posted debits (credit-normal accounts: budgets, liabilities)."""
        return self.credits_posted - self.debits_posted

    @property
    def available_credit(self) -> int:
        """What a ``debits_must_not_exceed_credits`` account can still be debited."""
        return self.credits_posted - self.debits_posted - self.debits_pending


@dataclass(frozen=True, slots=True)
class Transfer:
    id: int
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int = 0
    ledger: int = 0
    code: int = 0
    flags: int = 0  # TransferFlags bits (a plain int: flag tests are on the hot path)
    pending_id: int = 0
    timeout: int = 0  # seconds; only for pending transfers
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    timestamp: int = 0  # set by the ledger (ns, strictly increasing)


class PendingStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class CreateAccountResult(StrEnum):
    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_USER_DATA_128 = "exists_with_different_user_data_128"
    EXISTS_WITH_DIFFERENT_USER_DATA_64 = "exists_with_different_user_data_64"
    EXISTS_WITH_DIFFERENT_USER_DATA_32 = "exists_with_different_user_data_32"
    EXISTS_WITH_DIFFERENT_LEDGER = "exists_with_different_ledger"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS = "exists"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    DEBITS_PENDING_MUST_BE_ZERO = "debits_pending_must_be_zero"
    DEBITS_POSTED_MUST_BE_ZERO = "debits_posted_must_be_zero"
    CREDITS_PENDING_MUST_BE_ZERO = "credits_pending_must_be_zero"
    CREDITS_POSTED_MUST_BE_ZERO = "credits_posted_must_be_zero"
    LEDGER_MUST_NOT_BE_ZERO = "ledger_must_not_be_zero"
    CODE_MUST_NOT_BE_ZERO = "code_must_not_be_zero"


class CreateTransferResult(StrEnum):
    OK = "ok"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    RESERVED_FLAG = "reserved_flag"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    ID_MUST_NOT_BE_INT_MAX = "id_must_not_be_int_max"
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_PENDING_ID = "exists_with_different_pending_id"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = "exists_with_different_debit_account_id"
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = "exists_with_different_credit_account_id"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_USER_DATA_128 = "exists_with_different_user_data_128"
    EXISTS_WITH_DIFFERENT_USER_DATA_64 = "exists_with_different_user_data_64"
    EXISTS_WITH_DIFFERENT_USER_DATA_32 = "exists_with_different_user_data_32"
    EXISTS_WITH_DIFFERENT_LEDGER = "exists_with_different_ledger"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS = "exists"
    ID_ALREADY_FAILED = "id_already_failed"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "debit_account_id_must_not_be_zero"
    DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX = "debit_account_id_must_not_be_int_max"
    CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO = "credit_account_id_must_not_be_zero"
    CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX = "credit_account_id_must_not_be_int_max"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    PENDING_ID_MUST_NOT_BE_ZERO = "pending_id_must_not_be_zero"
    PENDING_ID_MUST_NOT_BE_INT_MAX = "pending_id_must_not_be_int_max"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    AMOUNT_MUST_NOT_BE_ZERO = "amount_must_not_be_zero"
    LEDGER_MUST_NOT_BE_ZERO = "ledger_must_not_be_zero"
    CODE_MUST_NOT_BE_ZERO = "code_must_not_be_zero"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER = "accounts_must_have_the_same_ledger"
    TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS = (
        "transfer_must_have_the_same_ledger_as_accounts")
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = (
        "pending_transfer_has_different_debit_account_id")
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = (
        "pending_transfer_has_different_credit_account_id")
    PENDING_TRANSFER_HAS_DIFFERENT_LEDGER = "pending_transfer_has_different_ledger"
    PENDING_TRANSFER_HAS_DIFFERENT_CODE = "pending_transfer_has_different_code"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    DEBIT_ACCOUNT_ALREADY_CLOSED = "debit_account_already_closed"
    CREDIT_ACCOUNT_ALREADY_CLOSED = "credit_account_already_closed"
    OVERFLOWS_DEBITS_PENDING = "overflows_debits_pending"
    OVERFLOWS_CREDITS_PENDING = "overflows_credits_pending"
    OVERFLOWS_DEBITS_POSTED = "overflows_debits_posted"
    OVERFLOWS_CREDITS_POSTED = "overflows_credits_posted"
    OVERFLOWS_DEBITS = "overflows_debits"
    OVERFLOWS_CREDITS = "overflows_credits"
    OVERFLOWS_TIMEOUT = "overflows_timeout"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"


# Failures that depend on state that may change later: the id is retired, and a retry with it
# answers ``id_already_failed`` (TigerBeetle ≥ 0.16), so "retry when funds arrive" needs a new id.
TRANSIENT = frozenset({
    CreateTransferResult.DEBIT_ACCOUNT_NOT_FOUND,
    CreateTransferResult.CREDIT_ACCOUNT_NOT_FOUND,
    CreateTransferResult.PENDING_TRANSFER_NOT_FOUND,
    CreateTransferResult.EXCEEDS_CREDITS,
    CreateTransferResult.EXCEEDS_DEBITS,
    CreateTransferResult.DEBIT_ACCOUNT_ALREADY_CLOSED,
    CreateTransferResult.CREDIT_ACCOUNT_ALREADY_CLOSED,
})

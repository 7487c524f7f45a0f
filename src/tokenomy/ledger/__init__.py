"""The ledger: double-entry, two-phase, idempotent — TigerBeetle's semantics, in Python.

In: batches of accounts and transfers (caller-supplied 128-bit ids), a clock. Out: one result
code per event, immutable transfers, four running balances per account, and invariants that
can be checked at any time. Pure: storage is the store's business (``tokenomy.store``), and
:class:`MemoryLedger` keeps it in dicts.
"""

from tokenomy.ledger.accounts import execute_accounts
from tokenomy.ledger.engine import (
    BatchTooLargeError,
    Snapshot,
    TransferOutcome,
    execute_transfers,
    expire,
)
from tokenomy.ledger.invariants import check
from tokenomy.ledger.memory import MemoryLedger
from tokenomy.ledger.types import (
    AMOUNT_MAX,
    BATCH_MAX,
    TRANSIENT,
    U128_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
    TransferFlags,
)

__all__ = [
    "AMOUNT_MAX",
    "BATCH_MAX",
    "TRANSIENT",
    "U128_MAX",
    "Account",
    "AccountFlags",
    "BatchTooLargeError",
    "CreateAccountResult",
    "CreateTransferResult",
    "MemoryLedger",
    "PendingStatus",
    "Snapshot",
    "Transfer",
    "TransferFlags",
    "TransferOutcome",
    "check",
    "execute_accounts",
    "execute_transfers",
    "expire",
]

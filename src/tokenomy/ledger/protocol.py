"""What every ledger store offers (memory, SQLite, PostgreSQL): one interface, one behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tokenomy.ledger.budgets import Budget
from tokenomy.ledger.types import Account, CreateAccountResult, CreateTransferResult, Transfer

LIST_LIMIT_MAX = 10_000  # accounts one list call may return


class LedgerStore(Protocol):
    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        """One batch (≤ BATCH_MAX), one transaction, all results."""
        ...

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        """One batch (≤ BATCH_MAX), one durable transaction; expires due pendings first."""
        ...

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]: ...

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]: ...

    def list_accounts(self, ledger: int | None = None, after_id: int = 0,
                      limit: int = 1_000) -> list[Account]:
        """Accounts with id > ``after_id`` in id order (keyset pagination)."""
        ...

    def expire_pending(self, now: int | None = None) -> int:
        """Release pending transfers due at ``now`` (ns; default the store's clock)."""
        ...

    def migrate(self) -> int:
        """Bring the schema up to date (a no-op when it is); answer its version."""
        ...

    def verify(self) -> list[str]:
        """Every invariant violation (empty when the ledger is sound)."""
        ...

    def put_budget(self, budget: Budget) -> None:
        """Insert or replace a budget definition (by name)."""
        ...

    def get_budget(self, name: str) -> Budget | None: ...

    def list_budgets(self) -> list[Budget]: ...

    def close(self) -> None: ...

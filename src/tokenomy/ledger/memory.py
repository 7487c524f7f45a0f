"""An in-memory ledger: the engine with dicts for storage. For tests, demos and embedding
where durability is not wanted; the SQLite and PostgreSQL stores run the same engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tokenomy.ledger.accounts import execute_accounts
from tokenomy.ledger.budgets import Budget
from tokenomy.ledger.engine import Snapshot, execute_transfers, expire
from tokenomy.ledger.invariants import check
from tokenomy.ledger.protocol import LIST_LIMIT_MAX
from tokenomy.ledger.types import (
    Account,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
)


class MemoryLedger:
    """Accounts, an append-only journal and pending statuses, in dicts."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock  # ns; the ledger makes its timestamps strictly increasing
        self.accounts: dict[int, Account] = {}
        self.transfers: dict[int, Transfer] = {}
        self.pending: dict[int, tuple[PendingStatus, int]] = {}
        self.failed: set[int] = set()
        self.last_timestamp = 0
        self.budgets: dict[str, Budget] = {}

    def _timestamp(self, count: int) -> int:
        start = max(self.clock(), self.last_timestamp + 1)
        self.last_timestamp = start + max(count, 1) - 1
        return start

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        results, created = execute_accounts(self.accounts, accounts,
                                            self._timestamp(len(accounts)))
        for a in created:
            self.accounts[a.id] = a
        return list(results)

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        start = self._timestamp(len(transfers))
        self.expire_pending(start - 1)
        snapshot = Snapshot(self.accounts, self.transfers, self.pending, self.failed)
        outcome = execute_transfers(snapshot, transfers, start)
        for t in outcome.created:
            self.transfers[t.id] = t
        self.accounts.update(outcome.accounts)
        self.pending.update(outcome.pending)
        self.failed.update(outcome.failed)
        return list(outcome.results)

    def expire_pending(self, now: int | None = None) -> int:
        """Release every pending transfer whose timeout has passed at ``now`` (ns)."""
        moment = self.clock() if now is None else now
        due = [self.transfers[i] for i, (status, expires_at) in self.pending.items()
               if status is PendingStatus.PENDING and 0 < expires_at <= moment]
        if not due:
            return 0
        outcome = expire(Snapshot(self.accounts, self.transfers, self.pending), due)
        self.accounts.update(outcome.accounts)
        self.pending.update(outcome.pending)
        return len(due)

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        return [self.accounts[i] for i in ids if i in self.accounts]

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        return [self.transfers[i] for i in ids if i in self.transfers]

    def list_accounts(self, ledger: int | None = None, after_id: int = 0,
                      limit: int = 1_000) -> list[Account]:
        chosen = sorted(i for i, a in self.accounts.items()
                        if i > after_id and (ledger is None or a.ledger == ledger))
        return [self.accounts[i] for i in chosen[: min(limit, LIST_LIMIT_MAX)]]

    def put_budget(self, budget: Budget) -> None:
        self.budgets[budget.name] = budget

    def get_budget(self, name: str) -> Budget | None:
        return self.budgets.get(name)

    def list_budgets(self) -> list[Budget]:
        return [self.budgets[name] for name in sorted(self.budgets)]

    def close(self) -> None:
        """Nothing to release."""

    def migrate(self) -> int:
        """No schema in memory."""
        return 0

    def verify(self) -> list[str]:
        statuses = {i: status for i, (status, _) in self.pending.items()}
        return check(self.accounts.values(), self.transfers.values(), statuses)

"""Budget reports: granted, spent, reserved and remaining per budget — who spends how much of
theirs. In: a store and the instant ``at`` (ns). Out: :class:`BudgetLine` values whose numbers
are the budget accounts' balances, read directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenomy._invariant import invariant
from tokenomy.ledger.budgets import (
    Budget,
    BudgetNotFoundError,
    asset_of,
    check_name,
    format_major,
    period_start,
)
from tokenomy.ledger.types import BATCH_MAX, Account
from tokenomy.money.amount import format_minor

if TYPE_CHECKING:
    from tokenomy.ledger.protocol import LedgerStore


# -- report ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget's standing: granted, spent, reserved and remaining (minor units)."""

    budget: Budget
    granted: int  # credits_posted: every grant so far
    spent: int  # debits_posted: captured charges and expired (swept) grants
    reserved: int  # debits_pending: open reservations
    period_start: str | None

    @property
    def remaining(self) -> int:
        return self.granted - self.spent - self.reserved

    @property
    def used_hundredths_pct(self) -> int:
        """(spent + reserved) / granted in hundredths of a percent, rounded half-even."""
        if self.granted == 0:
            return 0
        q, r = divmod((self.spent + self.reserved) * 10_000, self.granted)
        return q + 1 if 2 * r > self.granted or (2 * r == self.granted and q % 2) else q

    def to_json(self) -> dict[str, Any]:
        b = self.budget

        def money(minor: int) -> str:
            return format_major(minor, b.ledger)

        return {"name": b.name, "kind": b.kind, "owner": b.owner,
                "asset": asset_of(b.ledger).code, "ledger": b.ledger, "period": b.period,
                "rollover": b.rollover, "amount": money(b.amount),
                "granted": money(self.granted), "spent": money(self.spent),
                "reserved": money(self.reserved), "remaining": money(self.remaining),
                "used_pct": format_minor(self.used_hundredths_pct, 2),
                "period_start": self.period_start, "account_id": str(b.account_id)}


def _line(b: Budget, account: Account, at: int) -> BudgetLine:
    invariant(account.id == b.account_id, f"account {account.id} is not {b.name!r}'s")
    start = period_start(b.period, at)
    return BudgetLine(b, account.credits_posted, account.debits_posted, account.debits_pending,
                      None if start is None else start.isoformat())


def show(store: LedgerStore, name: str, at: int) -> BudgetLine:
    check_name(name)
    b = store.get_budget(name)
    if b is None:
        raise BudgetNotFoundError(f"budget {name!r} does not exist")
    found = store.lookup_accounts([b.account_id])
    invariant(len(found) == 1, f"budget account of {name!r} is missing")
    return _line(b, found[0], at)


def report(store: LedgerStore, at: int) -> list[BudgetLine]:
    """Every budget's standing, by name (who spends how much of their budget)."""
    budgets = store.list_budgets()
    accounts: dict[int, Account] = {}
    for start in range(0, len(budgets), BATCH_MAX):
        ids = [b.account_id for b in budgets[start:start + BATCH_MAX]]
        accounts.update((a.id, a) for a in store.lookup_accounts(ids))
    lines = []
    for b in budgets:
        invariant(b.account_id in accounts, f"budget account of {b.name!r} is missing")
        lines.append(_line(b, accounts[b.account_id], at))
    return lines


__all__ = ["BudgetLine", "report", "show"]

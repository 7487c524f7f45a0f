"""Budgets: accounts that must not be debited beyond their grants.

A budget is an account with ``debits_must_not_exceed_credits`` on an asset's ledger, funded by
grant transfers from a funding account. Budgets form a hierarchy named by paths
(``acme`` → ``acme/research`` → ``acme/research/alice`` → ``acme/research/alice/agent-7``), and a
charge reserves on every level in one linked chain, so no level can be overspent.
"""

from __future__ import annotations

from dataclasses import dataclass

PERIODS = ("none", "daily", "monthly", "yearly")
KINDS = ("org", "team", "user", "agent", "run")


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget's definition (its balances live in its ledger account)."""

    name: str  # a path: "acme/research/alice"
    account_id: int
    ledger: int  # the asset's ledger (USD = 1, USDC = 2, …)
    amount: int  # granted per period, in the ledger's minor units
    period: str = "none"  # none | daily | monthly | yearly
    rollover: bool = False  # unused grant rolls over (True) or expires at period end
    kind: str = "team"  # org | team | user | agent | run
    owner: str = ""  # the engineer or agent it belongs to, for reports

    @property
    def parent(self) -> str | None:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else None

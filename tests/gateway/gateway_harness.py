"""The gateway under test, as the tests see it: its URL, its store, keys and budgets."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from tokenomy.gateway.keys import create_key
from tokenomy.ledger.budget_report import BudgetLine, show
from tokenomy.ledger.budgets import LEDGER_USD, parse_major
from tokenomy.store.gateway_sql import RequestRecord
from tokenomy.store.ledger_sql import SQLLedger


@dataclass
class Gateway:
    base: str
    workdir: Path
    database_url: str
    store: SQLLedger
    _names: int = 0

    def key(self, budget_usd: str = "10", rpm: int = 0, tpm: int = 0) -> tuple[str, str]:
        """A new key with its own budget; returns (secret, budget name)."""
        self._names += 1
        name = f"k{self._names}-{time.time_ns() % 10**9}"
        secret, _ = create_key(self.store, name, name, time.time_ns(), secrets.token_urlsafe,
                               parse_major(budget_usd, LEDGER_USD), rpm=rpm, tpm=tpm)
        return secret, name

    def budget(self, name: str) -> BudgetLine:
        return show(self.store, name, time.time_ns())

    def records(self, budget: str) -> list[RequestRecord]:
        return [r for r in self.store.list_requests(limit=10_000) if r.budget == budget]

    def wait_records(self, budget: str, count: int, timeout_s: float = 10) -> list[RequestRecord]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.records(budget)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

"""The gateway under test, as the tests see it: its URL, its store, keys and budgets."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serving import free_port, serve
from tokenomy.gateway.keys import create_key
from tokenomy.ledger.budget_report import BudgetLine, show
from tokenomy.ledger.budgets import LEDGER_USD, parse_major
from tokenomy.store import open_gateway_store
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


USER_BOOK = """
provider = "test"
currency = "USD"
name = "test"
source = "tests"

[[model]]
id = "sim-slow"
quality = "economy"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "0.10"
  output = "0.40"

[[model]]
id = "sim-alt"
quality = "standard"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "1.00"
  output = "2.00"
"""

CONFIG = """
[gateway]
upstream_timeout_s = 3
reservation_timeout_s = 60
upstream_client = "{upstream_client}"

[pricing]
books = ["test-book.toml"]
unpriced = "{unpriced}"

[[upstream]]
name = "sim-openai"
kind = "openai"
base_url = "{fast}/v1"
models = ["sim-small", "sim-large"]

[[upstream]]
name = "sim-anthropic"
kind = "anthropic"
base_url = "{fast}"
models = ["sim-small", "sim-large"]

[[upstream]]
name = "slow"
kind = "openai"
base_url = "{slow}/v1"
models = ["sim-slow"]

[[upstream]]
name = "slow-anthropic"
kind = "anthropic"
base_url = "{slow}"
models = ["sim-slow"]

[[upstream]]
name = "dead"
kind = "openai"
base_url = "http://127.0.0.1:{dead_port}/v1"
models = ["sim-alt"]

[[upstream]]
name = "alt"
kind = "openai"
base_url = "{fast}/v1"
models = ["sim-alt", "sim-unpriced"]

[[model_group]]
name = "auto-cheap"
models = ["sim-large", "sim-small"]
routing = "cheapest"

[[model_group]]
name = "auto-good"
models = ["sim-small", "sim-large"]
quality = "frontier"
"""


@contextmanager
def running_gateway(workdir: Path, url: str, fast: str, slow: str, unpriced: str = "block",
                    workers: int = 1, extra: str = "", upstream_client: str = "builtin",
                    ) -> Iterator[Gateway]:
    """``tokenomy serve --config`` on ``url`` in front of the simulators (``extra``: more
    TOML tables for the config file)."""
    (workdir / "test-book.toml").write_text(USER_BOOK)
    (workdir / "tokenomy.toml").write_text(CONFIG.format(
        fast=fast, slow=slow, unpriced=unpriced, dead_port=free_port(),
        upstream_client=upstream_client) + extra)
    store = open_gateway_store(url, time.time_ns)
    args = ["--config", str(workdir / "tokenomy.toml"), "--workers", str(workers)]
    try:
        with serve(workdir, url, args) as base:
            yield Gateway(base, workdir, url, store)
    finally:
        store.close()

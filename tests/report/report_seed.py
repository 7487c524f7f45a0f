"""A seeded Tokenomy for the report tests: ``tokenomy serve`` (a subprocess) in front of the
upstream simulator, real requests through the official ``openai`` SDK, budgets (an org, two
teams, per-engineer budgets), an open reservation, feedback, and exchange orders and trades.

Two providers of different origin: the bundled simulator book (``US``) prices ``sim-small`` and
``sim-large``; a user book of a made-up provider ``simcn`` (``CN``) prices ``sim-cn``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from serving import serve, serve_in_thread
from tokenomy.gateway.keys import create_key
from tokenomy.ledger.budgets import parse_major, set_budget
from tokenomy.ledger.charges import reserve
from tokenomy.store import open_gateway_store
from tokenomy.upstream import SimulatorConfig, create_simulator

CN_BOOK = """
provider = "simcn"
country = "CN"
currency = "USD"
name = "cn-test"
source = "tests"

[[model]]
id = "sim-cn"
quality = "economy"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "0.05"
  output = "0.20"
"""

CONFIG = """
[pricing]
books = ["cn-book.toml"]

[factory]
measurements = ["measured.json", "missing.json"]

[[upstream]]
name = "sim"
kind = "openai"
base_url = "{sim}/v1"
models = ["sim-small", "sim-large", "sim-cn"]
"""

# (key, model, prompt) per request, in order; alice repeats a long prompt (cache reads).
LONG = "Summarize the quarterly token spend of the research team. " * 40
TRAFFIC = (("alice", "sim-small", LONG), ("alice", "sim-small", LONG),
           ("alice", "sim-small", "Hello there"), ("alice", "sim-cn", "你好，世界"),
           ("bob", "sim-large", "Plan the migration"), ("bob", "sim-cn", "Translate this"),
           ("bob", "sim-large", "Another question"))
# A saved `tokenomy factory measure` (two batch sizes, RAPL) for the factory page.
MEASURED = json.dumps({
    "kind": "tokenomy.factory.measurement", "version": 1, "endpoint": "http://sim/v1",
    "model": "sim-small", "assumptions": {},
    "results": [{"batch": 1, "joules_per_token": "0.5", "tokens_per_s": "40",
                 "energy_method": "rapl"},
                {"batch": 8, "joules_per_token": "0.125", "tokens_per_s": "300",
                 "energy_method": "rapl"}]})
MODEL_ORIGIN = {"sim-small": "US", "sim-large": "US", "sim-cn": "CN"}
HELD_NANO = 250_000_000  # bob's open reservation: 0.25 USD


@dataclass
class Seeded:
    base: str
    workdir: Path
    database_url: str
    request_ids: dict[str, list[str]] = field(default_factory=dict)  # key → ids in order
    useless: str = ""  # the request marked useless
    trades: int = 0

    @property
    def db_path(self) -> Path:
        return self.workdir / "tokenomy.db"

    def sql(self, query: str) -> list[tuple[object, ...]]:
        """An independent read of the database file (not through the store code)."""
        with sqlite3.connect(self.db_path) as db:
            return db.execute(query).fetchall()


def _budgets(url: str) -> dict[str, str]:
    store = open_gateway_store(url, time.time_ns)
    try:
        now = time.time_ns()
        set_budget(store, "acme", parse_major("100", 1), kind="org", at=now)
        set_budget(store, "acme/research", parse_major("40", 1), kind="team", at=now)
        set_budget(store, "acme/infra", parse_major("30", 1), kind="team", at=now)
        secrets_by_key = {}
        for key, team in (("alice", "research"), ("bob", "infra")):
            secret, _ = create_key(store, key, f"acme/{team}/{key}", time.time_ns(),
                                   secrets.token_urlsafe, parse_major("10", 1))
            secrets_by_key[key] = secret
        held = reserve(store, "acme/infra/bob", HELD_NANO, "held-by-a-test", 0)
        assert held.ok, held
        return secrets_by_key
    finally:
        store.close()


def _traffic(seeded: Seeded, keys: dict[str, str]) -> None:
    clients = {k: OpenAI(base_url=f"{seeded.base}/v1", api_key=s, max_retries=0)
               for k, s in keys.items()}
    for key, model, prompt in TRAFFIC:
        raw = clients[key].chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=20)
        raw.parse()
        seeded.request_ids.setdefault(key, []).append(raw.headers["x-tokenomy-request-id"])


def _feedback(seeded: Seeded) -> None:
    seeded.useless = seeded.request_ids["alice"][2]
    for rid, outcome in ((seeded.useless, "useless"), (seeded.request_ids["alice"][0], "useful")):
        response = httpx.post(f"{seeded.base}/api/feedback",
                              json={"request_id": rid, "outcome": outcome}, timeout=30)
        assert response.status_code == 201, response.text


def _orders(seeded: Seeded) -> None:
    listed = httpx.get(f"{seeded.base}/api/exchange/instruments", timeout=30).json()
    future = next(i["symbol"] for i in listed["instruments"]
                  if i["kind"] == "future" and i["contract"] == "TKF")
    orders = [("TKF-SPOT", 1, 1, "sell", "15.00", 5), ("TKF-SPOT", 2, 1, "buy", "15.00", 2),
              ("TKF-SPOT", 2, 2, "buy", "14.50", 3), (future, 1, 3, "sell", "16.00", 1),
              (future, 2, 4, "buy", "16.00", 1)]
    for route, body in (("deposits", {"owner": 1, "amount": "1000", "id": "seed"}),
                        ("deposits", {"owner": 2, "amount": "1000", "id": "seed"}),
                        ("credits", {"owner": 1, "grade": "FRONTIER-OUT", "tokens": 10**8,
                                     "id": "seed"})):  # clearing holds buying power
        funded = httpx.post(f"{seeded.base}/api/exchange/{route}", json=body, timeout=30)
        assert funded.status_code == 200, funded.text
    for symbol, owner, coid, side, price, quantity in orders:
        response = httpx.post(f"{seeded.base}/api/exchange/orders", timeout=30, json={
            "symbol": symbol, "owner": owner, "client_order_id": coid, "side": side,
            "price": price, "quantity": quantity})
        assert response.status_code == 200, response.text
    seeded.trades = 2


def _wait_records(seeded: Seeded, count: int) -> None:
    deadline = time.monotonic() + 20
    while seeded.sql("SELECT COUNT(*) FROM gateway_requests")[0][0] < count:  # type: ignore
        assert time.monotonic() < deadline, "the gateway did not record its requests"
        time.sleep(0.05)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    app = create_simulator(SimulatorConfig(tokens_per_s=0,
                                           models=("sim-small", "sim-large", "sim-cn")))
    workdir = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{workdir / 'tokenomy.db'}"
    with serve_in_thread(app) as sim:
        (workdir / "cn-book.toml").write_text(CN_BOOK)
        (workdir / "measured.json").write_text(MEASURED)
        (workdir / "tokenomy.toml").write_text(CONFIG.format(sim=sim))
        keys = _budgets(url)
        with serve(workdir, url, ["--config", str(workdir / "tokenomy.toml")]) as base:
            seeded = Seeded(base, workdir, url)
            _traffic(seeded, keys)
            _wait_records(seeded, len(TRAFFIC))
            _feedback(seeded)
            _orders(seeded)
            yield seeded

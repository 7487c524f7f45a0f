"""``tokenomy index show`` reads the grade's executed spot trades from the exchange journal."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from tokenomy.cli import app
from tokenomy.exchange import NewOrder, Side
from tokenomy.exchange.contracts import bundled_specs, instruments
from tokenomy.ledger.budgets import LEDGER_USD
from tokenomy.store import open_gateway_store
from tokenomy.store.exchange_clearing import ClearedBook, deposit, issue_credits


def test_enough_spot_volume_makes_the_index_a_vwap(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tokenomy.db'}"
    runner = CliRunner()
    before = json.loads(runner.invoke(app, ["index", "show", "FRONTIER-OUT", "--json",
                                            "--database-url", url]).stdout)
    assert before["method"] == "list_prices"  # no database yet: list prices
    store = open_gateway_store(url, time.time_ns)
    try:
        deposit(store, 1, LEDGER_USD, 10**9 * 10**9, "cash")
        issue_credits(store, 2, "FRONTIER-OUT", 10**9, "capacity")
        spot = next(i for i in instruments(bundled_specs(), date.today())
                    if i.symbol == "TKF-SPOT")
        book = ClearedBook.open(store, spot, 1500)
        now = time.time_ns()
        book.submit(NewOrder(2, 1, Side.SELL, 1400, 60, now=now))
        book.submit(NewOrder(2, 2, Side.SELL, 1420, 60, now=now))
        book.submit(NewOrder(1, 1, Side.BUY, 1420, 120, now=now))  # 60 @ 14.00, 60 @ 14.20
    finally:
        store.close()
    shown = runner.invoke(app, ["index", "show", "FRONTIER-OUT", "--json", "--database-url", url])
    assert shown.exit_code == 0, shown.stderr
    value = json.loads(shown.stdout)
    assert value["method"] == "trades" and value["value"] == "14.1000"
    assert value["volume"] == 120
    other = json.loads(runner.invoke(app, ["index", "show", "ECONOMY-OUT", "--json",
                                           "--database-url", url]).stdout)
    assert other["method"] == "list_prices"  # another grade's trades do not count

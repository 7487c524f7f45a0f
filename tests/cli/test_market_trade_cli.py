"""``tokenomy market order|cancel|book|trades|positions`` against the session's real server.

Each test trades its own book (TKFC futures and TKS-Z… options are not traded by other tests)
with its own owner ids; the CLI runs in-process (CliRunner), the server in a subprocess.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from serving import free_port
from tokenomy.cli import app

TIMEOUT_S = 30


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["market", *args])


def _owner(request: pytest.FixtureRequest, n: int) -> str:
    return str(int(hashlib.sha256(request.node.name.encode()).hexdigest()[:12], 16) * 1_000 + n)


def _fund(server: str, *owners: str) -> None:
    """USD, USDC and frontier output credits: clearing holds buying power for every order."""
    for owner in owners:
        for route, body in (("deposits", {"owner": int(owner), "amount": "100000", "id": "u"}),
                            ("deposits", {"owner": int(owner), "amount": "100000", "id": "c",
                                          "currency": "USDC"}),
                            ("credits", {"owner": int(owner), "grade": "FRONTIER-OUT",
                                         "tokens": 10**10, "id": "f"})):
            response = httpx.post(f"{server}/api/exchange/{route}", json=body,
                                  timeout=TIMEOUT_S)
            assert response.status_code == 200, response.text


def _symbols(server: str, contract: str, kind: str) -> list[str]:
    listed = httpx.get(f"{server}/api/exchange/instruments", timeout=TIMEOUT_S).json()
    return [i["symbol"] for i in listed["instruments"]
            if i["contract"] == contract and i["kind"] == kind]


def test_order_book_trades_cancel_round_trip(server: str,
                                            request: pytest.FixtureRequest) -> None:
    symbol = _symbols(server, "TKFC", "future")[0]
    maker, taker = _owner(request, 1), _owner(request, 2)
    _fund(server, maker, taker)
    url = ("--url", server)
    sell = _run("order", symbol, "sell", "4", "--price", "15.005", "--owner", maker,
                "--client-order-id", "1", *url, "--json")
    assert sell.exit_code == 0, sell.stderr
    (accepted,) = json.loads(sell.stdout)["events"]
    assert accepted["type"] == "accepted" and accepted["price"] == "15.005"
    resend = _run("order", symbol, "sell", "4", "--price", "15.005", "--owner", maker,
                  "--client-order-id", "1", *url, "--json")
    assert json.loads(resend.stdout)["events"] == [accepted]  # idempotent on the id
    buy = _run("order", symbol, "buy", "1", "--type", "market", "--owner", taker, *url)
    assert buy.exit_code == 0, buy.stderr
    assert "fill" in buy.stdout and "1 @ 15.005" in buy.stdout
    book = _run("book", symbol, "--levels", "3", *url)
    assert book.exit_code == 0, book.stderr
    assert "15.005" in book.stdout and f"{symbol} (seq" in book.stdout
    as_json = json.loads(_run("book", symbol, *url, "--json").stdout)
    assert as_json["ask"] == {"price": "15.005", "quantity": 3, "orders": 1}
    tape = _run("trades", symbol, "--limit", "5", *url, "--json")
    assert [t["price"] for t in json.loads(tape.stdout)["trades"]] == ["15.005"]
    assert "15.005" in _run("trades", symbol, *url).stdout
    cancelled = _run("cancel", symbol, str(accepted["order_id"]), "--owner", maker, *url)
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    again = _run("cancel", symbol, str(accepted["order_id"]), "--owner", maker, *url)
    assert again.exit_code == 2 and "unknown_order" in again.stderr


def test_option_book_shows_the_model(server: str) -> None:
    future = _symbols(server, "TKS", "future")[2]
    option = next(s for s in _symbols(server, "TKS", "option") if s.startswith(future + "-P"))
    shown = _run("book", option, "--url", server)
    assert shown.exit_code == 0, shown.stderr
    assert "Black-76" in shown.stdout and "future_source" in shown.stdout
    model = json.loads(_run("book", option, "--url", server, "--json").stdout)["model"]
    assert model["option_type"] == "put" and model["future_source"] == "reference"


@pytest.mark.parametrize("args, message", [
    (("book", "NOPE-Z99"), "unknown_symbol"),
    (("trades", "NOPE"), "unknown_symbol"),
    (("order", "TKFC-SPOT", "buy", "1", "--price", "15.001"), "off_tick"),
    (("order", "TKFC-SPOT", "buy", "1"), "--price is required"),
    (("order", "TKFC-SPOT", "buy", "1", "--price", "abc"), "invalid_price"),
    (("order", "TKFC-SPOT", "hold", "1", "--price", "15"), "hold"),
    (("order", "TKFC-SPOT", "buy", "0", "--price", "15"), "Invalid value"),
    (("order", "TKFC-SPOT", "buy", "1", "--price", "15", "--tif", "forever"), "forever"),
    (("cancel", "TKFC-SPOT", "1"), "--owner"),
    (("book", "TKFC-SPOT", "--levels", "0"), "--levels"),
])
def test_bad_input_exits_2_with_a_message(server: str, args: tuple[str, ...],
                                          message: str) -> None:
    result = _run(*args, "--url", server)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert httpx.get(f"{server}/api/exchange/book/TKFC-SPOT",
                     timeout=TIMEOUT_S).json()["seq"] == 0  # nothing reached the book


def test_unreachable_server_exits_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("book", "TKF-SPOT"), ("positions", "--owner", "1"),
                 ("order", "TKF-SPOT", "buy", "1", "--price", "15")):
        result = _run(*args, "--url", url)
        assert result.exit_code == 2 and "cannot reach" in result.stderr, args


def test_positions_is_asked_of_the_server(server: str,
                                         request: pytest.FixtureRequest) -> None:
    long, short = _owner(request, 1), _owner(request, 2)
    _fund(server, long, short)
    symbol = _symbols(server, "TKFC", "future")[1]
    url = ("--url", server)
    assert _run("order", symbol, "sell", "2", "--price", "15.000", "--owner", short,
                *url).exit_code == 0
    assert _run("order", symbol, "buy", "2", "--price", "15.000", "--owner", long,
                *url).exit_code == 0
    answer = httpx.get(f"{server}/api/exchange/positions", params={"owner": long},
                       timeout=TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    result = _run("positions", "--owner", long, *url, "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown == answer.json()
    assert [p["net"] for p in shown["positions"] if p["symbol"] == symbol] == [2]
    table = _run("positions", "--owner", long, *url)
    assert table.exit_code == 0 and "positions" in table.stdout and "USD" in table.stdout
    bad = _run("positions", "--owner", "0", *url)
    assert bad.exit_code == 2


def test_clearing_commands(server: str, request: pytest.FixtureRequest) -> None:
    long, short = _owner(request, 1), _owner(request, 2)
    url = ("--url", server)
    paid = _run("deposit", "250.50", "--owner", long, "--id", "d1", *url)
    assert paid.exit_code == 0 and "ok: 250.50 USD" in paid.stdout, paid.stderr
    again = _run("deposit", "250.50", "--owner", long, "--id", "d1", *url, "--json")
    assert json.loads(again.stdout)["result"] == "exists"  # idempotent on --id
    minted = _run("credits", "STANDARD-OUT", "3000000", "--owner", short, "--id", "c1", *url)
    assert minted.exit_code == 0 and "3,000,000 STANDARD-OUT" in minted.stdout
    _fund(server, short)
    symbol = _symbols(server, "TKS", "future")[1]  # a book no other test trades
    assert _run("order", symbol, "sell", "2", "--price", "5.00", "--owner", short,
                *url).exit_code == 0
    assert _run("order", symbol, "buy", "2", "--price", "5.00", "--owner", long,
                *url).exit_code == 0
    settled = _run("settle", symbol, *url, "--json")
    assert settled.exit_code == 0, settled.stderr
    assert json.loads(settled.stdout)["method"] == "vwap"
    done = _run("expire", symbol, "--price", "5.50", *url)
    assert done.exit_code == 0 and "open interest 0" in done.stdout
    shown = json.loads(_run("positions", "--owner", long, *url, "--json").stdout)
    usd = next(c for c in shown["cash"] if c["currency"] == "USD")
    assert usd["balance"] == "240.5"  # 250.50 − 2 × $5.00 paid on delivery
    for args in (("deposit", "abc", "--owner", long, "--id", "x"),
                 ("credits", "GOLD", "1", "--owner", long, "--id", "x"),
                 ("settle", "TKF-SPOT"), ("expire", "NOPE")):
        bad = _run(*args, *url)
        assert bad.exit_code == 2 and "error:" in bad.stderr, args

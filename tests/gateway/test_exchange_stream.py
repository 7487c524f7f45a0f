"""The market-data websocket against a real server on loopback (``websockets`` as the client).

The session's ``tokenomy serve`` is shared, so each test watches books no other test trades
(TKS and TKE instruments). The slow-client test serves its own app in a thread, with a feed
whose queue holds two messages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from serving import serve_in_thread
from tokenomy.config import Settings
from tokenomy.gateway import create_app
from tokenomy.gateway.exchange_stream import SYMBOLS_MAX
from tokenomy.gateway.market_feed import SLOW_CLIENT_CLOSE_CODE, MarketFeed

TIMEOUT_S = 30


def _owner(request: pytest.FixtureRequest, n: int = 1) -> int:
    return int(hashlib.sha256(request.node.name.encode()).hexdigest()[:12], 16) * 1_000 + n


def _fund(server: str, *owners: int) -> None:
    """Cash and credits for ``owners``: clearing holds buying power for every order."""
    for owner in owners:
        for route, body in (("deposits", {"owner": owner, "amount": "100000", "id": "f"}),
                            ("credits", {"owner": owner, "grade": "STANDARD-OUT",
                                         "tokens": 10**9, "id": "f"}),
                            ("credits", {"owner": owner, "grade": "FRONTIER-OUT",
                                         "tokens": 10**9, "id": "f"})):
            response = httpx.post(f"{server}/api/exchange/{route}", json=body,
                                  timeout=TIMEOUT_S)
            assert response.status_code == 200, response.text


def _ws(server: str, symbols: str) -> ClientConnection:
    return connect(f"{server.replace('http', 'ws', 1)}/api/exchange/stream?symbols={symbols}",
                   open_timeout=TIMEOUT_S)


def _recv(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(ws.recv(timeout=TIMEOUT_S))
    assert isinstance(message, dict)
    return message


def _order(server: str, **fields: Any) -> httpx.Response:
    body = {"client_order_id": 1, "quantity": 1, **fields}
    return httpx.post(f"{server}/api/exchange/orders", json=body, timeout=TIMEOUT_S)


def _futures(server: str, contract: str) -> list[str]:
    listed = httpx.get(f"{server}/api/exchange/instruments", timeout=TIMEOUT_S).json()
    return [i["symbol"] for i in listed["instruments"]
            if i["contract"] == contract and i["kind"] == "future"]


def test_snapshot_then_book_and_trades(server: str, request: pytest.FixtureRequest) -> None:
    maker, taker = _owner(request, 1), _owner(request, 2)
    watched, other = "TKS-SPOT", "TKE-SPOT"
    _fund(server, maker, taker)
    first = _order(server, symbol=watched, owner=maker, side="sell", price="5.10", quantity=5)
    assert first.status_code == 200, first.text
    with _ws(server, f"{watched},{other}") as ws:
        snapshots = {m["symbol"]: m for m in (_recv(ws), _recv(ws))}
        assert set(snapshots) == {watched, other}
        snap = snapshots[watched]
        assert snap["type"] == "snapshot" and snap["seq"] >= 1
        assert snap["ask"] == {"price": "5.10", "quantity": 5, "orders": 1}
        assert snap["bid"] is None and snap["bids"] == []
        # a command on an unwatched book sends nothing: the next message is the watched one's
        unwatched = _futures(server, "TKS")[4]
        _order(server, symbol=unwatched, owner=maker, side="buy", price="4.60")
        _order(server, symbol=watched, owner=taker, side="buy", price="5.20", quantity=2,
               time_in_force="ioc")
        trade, book = _recv(ws), _recv(ws)
        assert trade["type"] == "trade" and trade["symbol"] == watched
        assert (trade["price"], trade["quantity"], trade["taker_side"]) == ("5.10", 2, "buy")
        assert (trade["maker_owner"], trade["taker_owner"]) == (maker, taker)
        assert book["type"] == "book" and book["prev_seq"] == snap["seq"]
        assert book["seq"] >= trade["seq"] > snap["seq"]
        assert book["ask"] == {"price": "5.10", "quantity": 3, "orders": 1}
        rest = httpx.get(f"{server}/api/exchange/book/{watched}", timeout=TIMEOUT_S).json()
        assert {k: rest[k] for k in ("seq", "bid", "ask", "bids", "asks")} == \
            {k: book[k] for k in ("seq", "bid", "ask", "bids", "asks")}


def test_sequence_numbers_chain_with_no_gap(server: str, request: pytest.FixtureRequest) -> None:
    owner = _owner(request)
    _fund(server, owner)
    symbol = _futures(server, "TKS")[0]
    with _ws(server, symbol) as ws:
        last = _recv(ws)["seq"]
        placed = []
        for n in range(1, 6):
            response = _order(server, symbol=symbol, owner=owner, client_order_id=n,
                              side="buy", price=f"4.{n + 4}0")
            placed.append(response.json()["events"][0]["order_id"])
        rejected = httpx.delete(f"{server}/api/exchange/orders/{symbol}/999999",
                                params={"owner": owner}, timeout=TIMEOUT_S)
        assert rejected.status_code == 422  # a rejection has a seq too: a book message
        mass = httpx.post(f"{server}/api/exchange/mass-cancel",
                          json={"symbol": symbol, "owner": owner}, timeout=TIMEOUT_S)
        assert mass.status_code == 200, mass.text
        books = [_recv(ws) for _ in range(7)]
        for message in books:
            assert message["type"] == "book" and message["prev_seq"] == last
            assert message["seq"] > last
            last = message["seq"]
        assert [b["bid"]["price"] for b in books[:5]] == ["4.50", "4.60", "4.70", "4.80", "4.90"]
        assert books[-1]["bids"] == [] and len(placed) == 5


TOO_MANY = ",".join(["TKS-SPOT"] + [f"X{i}" for i in range(SYMBOLS_MAX)])


@pytest.mark.parametrize("symbols", ["", "NOPE-Z99", "TKS-SPOT,NOPE", TOO_MANY])
def test_bad_symbols_get_an_error_and_1008(server: str, symbols: str) -> None:
    with _ws(server, symbols) as ws:
        message = _recv(ws)
        assert message["type"] == "error" and set(message["error"]) == {"type", "message"}
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


@pytest.fixture()
def tiny_feed_server(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'tokenomy.db'}"))
    app.state.market_feed = MarketFeed(queue_max=2)
    with serve_in_thread(app) as base:
        yield base


def test_slow_client_is_dropped_with_its_close_code(tiny_feed_server: str) -> None:
    server, symbol = tiny_feed_server, "TKF-SPOT"
    _fund(server, 1, 2)
    for n, price in ((1, "15.00"), (2, "15.01")):
        _order(server, symbol=symbol, owner=1, client_order_id=n, side="sell", price=price)
    with _ws(server, symbol) as ws:
        assert _recv(ws)["type"] == "snapshot"
        small = _order(server, symbol=symbol, owner=2, client_order_id=1, side="buy",
                       price="14.00")  # one message: fits the queue of two
        assert small.status_code == 200
        assert _recv(ws)["type"] == "book"
        # two fills and the book: three messages at once, more than the queue holds
        big = _order(server, symbol=symbol, owner=2, client_order_id=2, side="buy",
                     price="15.01", quantity=2)
        assert big.status_code == 200 and len(big.json()["events"]) == 3
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == SLOW_CLIENT_CLOSE_CODE
    assert "slow client" in closed.value.rcvd.reason
    # the book itself went on: the trades are there
    tape = httpx.get(f"{server}/api/exchange/trades", params={"symbol": symbol},
                     timeout=TIMEOUT_S).json()
    assert [t["price"] for t in tape["trades"]] == ["15.00", "15.01"]

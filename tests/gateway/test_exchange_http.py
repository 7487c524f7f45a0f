"""Order entry and market data over HTTP, against a real ``tokenomy serve`` on loopback.

The server (and its journal) is shared by the session, so each test trades its own symbol with
its own owner ids. Prices are decimal strings both ways; a rejection is a 422 with the events,
bad input a 400 ``{"error": {"type", "message"}}`` that journals nothing.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

TIMEOUT_S = 30


def _no_float(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction is on the wire: {text}")


def _body(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=_no_float)


def _owners(request: pytest.FixtureRequest, count: int, server: str = "") -> list[int]:
    """``count`` owner ids no other test uses; on ``server``, each funded with $1,000,000 and
    1e12 credits of every grade (clearing holds buying power for every order)."""
    base = int(hashlib.sha256(request.node.name.encode()).hexdigest()[:12], 16) * 1_000
    owners = [base + i for i in range(1, count + 1)]
    for owner in owners if server else ():
        _post(server, "deposits", {"owner": owner, "amount": "1000000", "id": "fund"})
        for grade in ("FRONTIER", "STANDARD", "ECONOMY"):
            for kind in ("IN", "OUT"):
                _post(server, "credits", {"owner": owner, "grade": f"{grade}-{kind}",
                                          "tokens": 10**12, "id": "fund"})
    return owners


def _post(server: str, route: str, body: Any, status: int = 200) -> Any:
    response = httpx.post(f"{server}/api/exchange/{route}", json=body, timeout=TIMEOUT_S)
    assert response.status_code == status, response.text
    return _body(response)


def _futures(server: str, contract: str) -> list[str]:
    """The listed futures of ``contract`` (one book per test: they share the server)."""
    listed = _body(httpx.get(f"{server}/api/exchange/instruments", timeout=TIMEOUT_S))
    return [i["symbol"] for i in listed["instruments"]
            if i["contract"] == contract and i["kind"] == "future"]


def _order(server: str, body: Any) -> httpx.Response:
    return httpx.post(f"{server}/api/exchange/orders", json=body, timeout=TIMEOUT_S)


def _book(server: str, symbol: str) -> Any:
    response = httpx.get(f"{server}/api/exchange/book/{symbol}", timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    return _body(response)


def test_instruments_are_listed(server: str) -> None:
    response = httpx.get(f"{server}/api/exchange/instruments", timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    listed = _body(response)["instruments"]
    spot = next(i for i in listed if i["symbol"] == "TKF-SPOT")
    assert spot["kind"] == "spot" and spot["tick"] == "0.01" and spot["contract"] == "TKF"
    assert {i["kind"] for i in listed} == {"spot", "future", "option"}


def test_cross_fills_at_the_makers_price(server: str, request: pytest.FixtureRequest) -> None:
    maker, taker = _owners(request, 2, server)
    symbol = "TKF-SPOT"
    sell = {"symbol": symbol, "owner": maker, "client_order_id": 1, "side": "sell",
            "price": "15.01", "quantity": 5}
    placed = _order(server, sell)
    assert placed.status_code == 200, placed.text
    (accepted,) = _body(placed)["events"]
    assert accepted["type"] == "accepted" and accepted["price"] == "15.01"
    book = _book(server, symbol)
    assert book["ask"] == {"price": "15.01", "quantity": 5, "orders": 1}
    assert {"price": "15.01", "quantity": 5, "orders": 1} in book["asks"]
    buy = {"symbol": symbol, "owner": taker, "client_order_id": 1, "side": "buy",
           "price": "15.50", "quantity": 3, "type": "limit", "time_in_force": "ioc"}
    crossed = _order(server, buy)
    assert crossed.status_code == 200, crossed.text
    events = _body(crossed)["events"]
    assert [e["type"] for e in events] == ["accepted", "fill"]
    fill = events[1]
    assert fill["trade"]["price"] == "15.01" and fill["trade"]["quantity"] == 3
    assert (fill["maker_leaves"], fill["taker_leaves"]) == (2, 0)
    assert fill["trade"]["maker_owner"] == maker and fill["trade"]["taker_owner"] == taker
    assert _book(server, symbol)["ask"] == {"price": "15.01", "quantity": 2, "orders": 1}
    tape = _body(httpx.get(f"{server}/api/exchange/trades",
                           params={"symbol": symbol, "limit": 10}, timeout=TIMEOUT_S))
    assert tape["trades"][-1]["trade_id"] == fill["trade"]["trade_id"]
    assert tape["trades"][-1]["price"] == "15.01"
    cancel = httpx.delete(f"{server}/api/exchange/orders/{symbol}/{accepted['order_id']}",
                          params={"owner": maker}, timeout=TIMEOUT_S)
    assert cancel.status_code == 200, cancel.text
    (cancelled,) = _body(cancel)["events"]
    assert cancelled["type"] == "cancelled" and cancelled["quantity"] == 2
    assert cancelled["reason"] == "requested"
    assert _book(server, symbol)["asks"] == []
    again = httpx.delete(f"{server}/api/exchange/orders/{symbol}/{accepted['order_id']}",
                         params={"owner": maker}, timeout=TIMEOUT_S)
    assert again.status_code == 422
    assert _body(again)["error"]["type"] == "unknown_order"


def test_fok_that_cannot_fill_is_rejected(server: str, request: pytest.FixtureRequest) -> None:
    (owner,) = _owners(request, 1, server)
    symbol = _futures(server, "TKF")[0]
    body = {"symbol": symbol, "owner": owner, "client_order_id": 7, "side": "buy",
            "price": "16.00", "quantity": 10, "time_in_force": "fok"}
    response = _order(server, body)
    assert response.status_code == 422, response.text
    answer = _body(response)
    assert answer["error"]["type"] == "fok_not_fillable"
    assert [e["type"] for e in answer["events"]] == ["rejected"]
    assert answer["events"][0]["reason"] == "fok_not_fillable"
    assert _book(server, symbol)["bids"] == []


def test_off_tick_and_unknown_symbol(server: str, request: pytest.FixtureRequest) -> None:
    (owner,) = _owners(request, 1, server)
    symbol = _futures(server, "TKF")[1]
    body = {"symbol": symbol, "owner": owner, "client_order_id": 1, "side": "buy",
            "price": "15.015", "quantity": 1}
    off = _order(server, body)
    assert off.status_code == 400, off.text
    assert _body(off)["error"]["type"] == "off_tick" and "0.01" in _body(off)["error"]["message"]
    unknown = _order(server, {**body, "symbol": "NOPE-Z99", "price": "15.01"})
    assert unknown.status_code == 404 and _body(unknown)["error"]["type"] == "unknown_symbol"
    for path in ("/api/exchange/book/NOPE-Z99", "/api/exchange/trades?symbol=NOPE"):
        assert httpx.get(f"{server}{path}", timeout=TIMEOUT_S).status_code == 404
    assert _book(server, symbol)["seq"] == 0  # nothing was journaled


def test_bad_bodies_change_nothing(server: str, request: pytest.FixtureRequest) -> None:
    (owner,) = _owners(request, 1, server)
    symbol = _futures(server, "TKF")[2]
    good = {"symbol": symbol, "owner": owner, "client_order_id": 1, "side": "buy",
            "price": "15.00", "quantity": 1}
    bads: list[Any] = [
        [good], "x", None, {}, {**good, "quantity": 0}, {**good, "quantity": -3},
        {**good, "quantity": 1.5}, {**good, "quantity": "1"}, {**good, "owner": True},
        {**good, "owner": 0}, {**good, "owner": 2**64}, {**good, "side": "hold"},
        {**good, "price": 15.0}, {**good, "price": "abc"}, {**good, "price": "-1"},
        {**good, "price": "0"}, {**good, "price": "1e3"}, {**good, "type": "stop"},
        {**good, "time_in_force": "forever"}, {**good, "post_only": "yes"},
        {**good, "extra": 1}, {k: v for k, v in good.items() if k != "side"},
        {k: v for k, v in good.items() if k != "price"},
        {**good, "type": "market", "time_in_force": "ioc"},
    ]
    for bad in bads:
        response = _order(server, bad)
        assert response.status_code == 400, (bad, response.text)
        assert set(_body(response)["error"]) == {"type", "message"}
    broken = httpx.post(f"{server}/api/exchange/orders", content=b"{", timeout=TIMEOUT_S,
                        headers={"content-type": "application/json"})
    assert broken.status_code == 400 and _body(broken)["error"]["type"] == "invalid_json"
    for path in (f"/api/exchange/book/{symbol}?levels=0", f"/api/exchange/book/{symbol}?levels=x",
                 f"/api/exchange/trades?symbol={symbol}&limit=-1"):
        assert httpx.get(f"{server}{path}", timeout=TIMEOUT_S).status_code == 400, path
    for query in ("", "?owner=abc", "?owner=0"):
        response = httpx.delete(f"{server}/api/exchange/orders/{symbol}/1{query}",
                                timeout=TIMEOUT_S)
        assert response.status_code == 400, (query, response.text)
    assert _book(server, symbol)["seq"] == 0  # nothing was journaled


def _replace(server: str, symbol: str, order_id: object, body: Any) -> httpx.Response:
    return httpx.post(f"{server}/api/exchange/orders/{symbol}/{order_id}/replace", json=body,
                      timeout=TIMEOUT_S)


def test_replace_keeps_or_loses_priority(server: str, request: pytest.FixtureRequest) -> None:
    first, second, taker = _owners(request, 3, server)
    symbol = _futures(server, "TKF")[3]
    ids = []
    for owner in (first, second):
        placed = _order(server, {"symbol": symbol, "owner": owner, "client_order_id": 1,
                                 "side": "sell", "price": "16.00", "quantity": 4})
        ids.append(_body(placed)["events"][0]["order_id"])
    smaller = _replace(server, symbol, ids[0], {"owner": first, "price": "16.00", "quantity": 3})
    assert smaller.status_code == 200, smaller.text
    (replaced,) = _body(smaller)["events"]
    assert replaced["type"] == "replaced" and replaced["kept_priority"] is True
    assert (replaced["price"], replaced["quantity"], replaced["leaves"]) == ("16.00", 3, 3)
    moved = _replace(server, symbol, ids[0], {"owner": first, "price": "15.99", "quantity": 3})
    assert _body(moved)["events"][0]["kept_priority"] is False
    back = _replace(server, symbol, ids[0], {"owner": first, "price": "16.00", "quantity": 3})
    assert _body(back)["events"][0]["kept_priority"] is False  # now behind the second order
    take = _order(server, {"symbol": symbol, "owner": taker, "client_order_id": 1,
                           "side": "buy", "price": "16.00", "quantity": 1,
                           "time_in_force": "ioc"})
    assert _body(take)["events"][1]["trade"]["maker_owner"] == second
    assert _book(server, symbol)["ask"] == {"price": "16.00", "quantity": 6, "orders": 2}


def test_bad_replace_changes_nothing(server: str, request: pytest.FixtureRequest) -> None:
    (owner,) = _owners(request, 1, server)
    symbol = _futures(server, "TKF")[4]
    placed = _order(server, {"symbol": symbol, "owner": owner, "client_order_id": 1,
                             "side": "buy", "price": "14.00", "quantity": 2})
    order_id = _body(placed)["events"][0]["order_id"]
    good = {"owner": owner, "price": "14.01", "quantity": 2}
    bads: list[Any] = [None, [good], {}, {**good, "price": "14.001"}, {**good, "price": 14},
                       {**good, "price": "0"}, {**good, "quantity": 0}, {**good, "owner": 0},
                       {**good, "extra": 1}, {k: v for k, v in good.items() if k != "owner"}]
    for bad in bads:
        response = _replace(server, symbol, order_id, bad)
        assert response.status_code == 400, (bad, response.text)
        assert set(_body(response)["error"]) == {"type", "message"}
    assert _replace(server, symbol, "x", good).status_code == 400
    unknown_symbol = _replace(server, "NOPE-Z99", order_id, good)
    assert unknown_symbol.status_code == 404
    assert _body(unknown_symbol)["error"]["type"] == "unknown_symbol"
    seq = _book(server, symbol)["seq"]
    for who, target in ((owner + 1, order_id), (owner, order_id + 10_000)):
        wrong = _replace(server, symbol, target, {**good, "owner": who})
        assert wrong.status_code == 422 and _body(wrong)["error"]["type"] == "unknown_order"
    book = _book(server, symbol)
    assert book["bid"] == {"price": "14.00", "quantity": 2, "orders": 1}
    assert book["seq"] == seq + 2  # the two rejections, nothing else


def test_mass_cancel_one_side_then_all(server: str, request: pytest.FixtureRequest) -> None:
    owner, other = _owners(request, 2, server)
    symbol = _futures(server, "TKF")[5]
    for n, (who, side, price) in enumerate([(owner, "buy", "14.00"), (owner, "buy", "14.10"),
                                            (owner, "sell", "16.00"), (other, "buy", "14.20")]):
        placed = _order(server, {"symbol": symbol, "owner": who, "client_order_id": n + 1,
                                 "side": side, "price": price, "quantity": 1})
        assert placed.status_code == 200, placed.text
    url = f"{server}/api/exchange/mass-cancel"
    for bad in ({"symbol": symbol, "owner": owner, "side": "both"}, {"symbol": symbol},
                {"symbol": symbol, "owner": -1}, {"symbol": symbol, "owner": owner, "x": 1}):
        assert httpx.post(url, json=bad, timeout=TIMEOUT_S).status_code == 400, bad
    missing = httpx.post(url, json={"symbol": "NOPE", "owner": owner}, timeout=TIMEOUT_S)
    assert missing.status_code == 404
    buys = httpx.post(url, json={"symbol": symbol, "owner": owner, "side": "buy"},
                      timeout=TIMEOUT_S)
    assert buys.status_code == 200, buys.text
    events = _body(buys)["events"]
    assert [(e["type"], e["reason"]) for e in events] == [("cancelled", "mass_cancel")] * 2
    book = _book(server, symbol)
    assert book["bids"] == [{"price": "14.20", "quantity": 1, "orders": 1}]
    assert book["asks"] == [{"price": "16.00", "quantity": 1, "orders": 1}]
    rest = httpx.post(url, json={"symbol": symbol, "owner": owner}, timeout=TIMEOUT_S)
    assert len(_body(rest)["events"]) == 1 and _book(server, symbol)["asks"] == []


def test_option_book_quotes_against_the_model(server: str,
                                              request: pytest.FixtureRequest) -> None:
    maker, taker = _owners(request, 2, server)
    listed = _body(httpx.get(f"{server}/api/exchange/instruments", timeout=TIMEOUT_S))
    future = _futures(server, "TKE")[1]
    call = next(i["symbol"] for i in listed["instruments"]
                if i["underlying"] == future and i["option_type"] == "call"
                and i["strike"] == "0.60")
    assert "model" not in _book(server, future)
    model = _book(server, call)["model"]
    assert (model["future"], model["future_source"]) == ("0.600000", "reference")
    assert (model["volatility"], model["rate"]) == ("0.600000", "0.040000")
    assert model["option_type"] == "call" and model["strike"] == "0.600000"
    assert 0 < Decimal(model["price"]) < Decimal("0.6") and 0 < Decimal(model["delta"]) < 1
    assert model["bid_implied_volatility"] is None
    for n, side, price in ((1, "buy", "0.610"), (2, "sell", "0.630")):
        placed = _order(server, {"symbol": future, "owner": maker, "client_order_id": n,
                                 "side": side, "price": price, "quantity": 1})
        assert placed.status_code == 200, placed.text
    bid = _order(server, {"symbol": call, "owner": taker, "client_order_id": 1, "side": "buy",
                          "price": model["price"][:5], "quantity": 1})
    assert bid.status_code == 200, bid.text
    again = _book(server, call)["model"]
    assert (again["future"], again["future_source"]) == ("0.620000", "mid")
    assert Decimal(again["price"]) > Decimal(model["price"])  # F rose: the call is worth more
    assert again["bid_implied_volatility"] is not None
    assert again["ask_implied_volatility"] is None
    assert Decimal(again["bid_implied_volatility"]) < Decimal("0.6")  # bid below the value


# -- clearing over HTTP -----------------------------------------------------------------------


def _positions(server: str, owner: int) -> Any:
    response = httpx.get(f"{server}/api/exchange/positions", params={"owner": owner},
                         timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    return _body(response)


def test_futures_clear_settle_and_expire_over_http(server: str,
                                                   request: pytest.FixtureRequest) -> None:
    long, short = _owners(request, 2, server)
    symbol = _futures(server, "TKS")[-1]  # standard output tokens: index $5.00, band ±10 %
    sell = {"symbol": symbol, "owner": short, "client_order_id": 1, "side": "sell",
            "price": "5.00", "quantity": 3}
    buy = {**sell, "owner": long, "side": "buy", "price": "5.05"}
    assert _order(server, sell).status_code == 200
    assert _order(server, buy).status_code == 200
    mine = _positions(server, long)
    [row] = [p for p in mine["positions"] if p["symbol"] == symbol]
    assert row["net"] == 3 and row["margin_posted"] != "0" and row["margin_call"] == "0"
    assert [p["net"] for p in _positions(server, short)["positions"]
            if p["symbol"] == symbol] == [-3]
    settled = _post(server, "settlements", {"symbol": symbol})
    assert settled["method"] == "vwap" and settled["price"] == "5.00"
    settled = _post(server, "settlements", {"symbol": symbol, "price": "5.20"})
    [row] = [p for p in _positions(server, long)["positions"] if p["symbol"] == symbol]
    assert Decimal(row["variation_margin"]) == Decimal("0.60")  # 3 × $0.20 × 1M tokens
    done = _post(server, "expiries", {"symbol": symbol, "price": "5.10"})
    assert done["open_interest"] == 0
    mine = _positions(server, long)
    usd = next(c for c in mine["cash"] if c["currency"] == "USD")
    assert Decimal(usd["balance"]) == 999_985  # paid $5.00 × 3M tokens on delivery
    std = next(c for c in mine["credits"] if c["grade"] == "STANDARD-OUT")
    assert std["tokens"] == 10**12 + 3 * 10**6


def test_clearing_refusals_are_422_and_change_nothing(server: str,
                                                      request: pytest.FixtureRequest) -> None:
    (owner,) = _owners(request, 1, server)
    poor = owner + 500  # never funded
    symbol = _futures(server, "TKE")[-1]  # its own book: index $0.55, band ±15 %
    body = {"symbol": symbol, "owner": owner, "client_order_id": 1, "side": "buy",
            "price": "25.000", "quantity": 1}
    answer = _order(server, body)
    assert answer.status_code == 422 and _body(answer)["error"]["type"] == "price_outside_band"
    answer = _order(server, {**body, "owner": poor, "price": "0.550"})
    assert answer.status_code == 422
    assert _body(answer)["error"]["type"] == "insufficient_buying_power"
    assert _book(server, symbol)["bids"] == []
    bad = [({"owner": owner, "amount": "1.5", "id": "x", "currency": "EUR"}, "deposits"),
           ({"owner": owner, "amount": "abc", "id": "x"}, "deposits"),
           ({"owner": 0, "amount": "1", "id": "x"}, "deposits"),
           ({"owner": owner, "grade": "GOLD", "tokens": 1, "id": "x"}, "credits"),
           ({"owner": owner, "grade": "ECONOMY-IN", "tokens": 0, "id": "x"}, "credits"),
           ({"symbol": "TKF-SPOT"}, "settlements"), ({"symbol": "TKF-SPOT"}, "expiries")]
    for payload, route in bad:
        _post(server, route, payload, 400)
    # A withdrawal beyond the cash is refused by the ledger.
    refused = _post(server, "deposits", {"owner": owner, "amount": "-2000000", "id": "w"}, 422)
    assert refused["error"]["type"] == "exceeds_credits"
    assert _post(server, "deposits", {"owner": owner, "amount": "-10", "id": "w2"})["result"] \
        == "ok"


def test_expiry_settles_at_the_index_by_default(server: str,
                                                request: pytest.FixtureRequest) -> None:
    long, short = _owners(request, 2, server)
    symbol = _futures(server, "TKFI")[-1]  # frontier input tokens: index $3.00 per 1M
    sell = {"symbol": symbol, "owner": short, "client_order_id": 1, "side": "sell",
            "price": "2.900", "quantity": 2}
    assert _order(server, sell).status_code == 200
    assert _order(server, {**sell, "owner": long, "side": "buy"}).status_code == 200
    done = _post(server, "expiries", {"symbol": symbol})
    assert (done["method"], done["price"]) == ("index", "3.000")
    [row] = [p for p in _positions(server, long)["positions"] if p["symbol"] == symbol]
    assert row["net"] == 0 and row["expired"] is True
    # 2 contracts × 10M tokens × $0.10 gained, as variation margin to the final price
    assert Decimal(row["variation_margin"]) == 2
    refused = _order(server, {**sell, "client_order_id": 2})
    assert refused.status_code == 422
    assert _body(refused)["error"]["type"] == "instrument_expired"

"""The ledger and budgets over HTTP, against a real ``tokenomy serve`` on loopback.

The server (and its SQLite file) is shared by the session, so each test works on its own ids
(``_ids``) and its own budget root. Result codes are answers (200, in the list); bad input is a
4xx ``{"error": {"type", "message"}}`` and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from tokenomy.ledger.types import BATCH_MAX

TIMEOUT_S = 30


def _no_float(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction is on the wire: {text}")


def _body(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=_no_float)


def _ids(request: pytest.FixtureRequest, count: int) -> list[str]:
    """``count`` account/transfer ids no other test uses."""
    base = int(hashlib.sha256(request.node.name.encode()).hexdigest()[:20], 16) * 1_000
    return [str(base + i) for i in range(1, count + 1)]


def _post(server: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{server}{path}", json=body, timeout=TIMEOUT_S)


def _account(server: str, account_id: str) -> Any:
    response = httpx.get(f"{server}/api/ledger/accounts/{account_id}", timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    return _body(response)


def test_accounts_and_transfers(server: str, request: pytest.FixtureRequest) -> None:
    op, cust, t1, t2, t3 = _ids(request, 5)
    accounts = [{"id": op, "ledger": 1, "code": 7},
                {"id": int(cust), "ledger": 1, "code": 7,
                 "flags": ["debits_must_not_exceed_credits"]}]
    created = _post(server, "/api/ledger/accounts", accounts)
    assert created.status_code == 200, created.text
    assert _body(created) == [{"id": op, "result": "ok"}, {"id": cust, "result": "ok"}]
    assert _body(_post(server, "/api/ledger/accounts", accounts[:1])) == [
        {"id": op, "result": "exists"}]
    transfers = [
        {"id": t1, "debit_account_id": op, "credit_account_id": cust, "amount": "700",
         "ledger": 1, "code": 1},
        {"id": t2, "debit_account_id": cust, "credit_account_id": op, "amount": 250,
         "ledger": 1, "code": 2, "flags": ["pending"], "timeout": 3600},
        {"id": t3, "debit_account_id": cust, "credit_account_id": op, "amount": 10**30,
         "ledger": 1, "code": 1},
    ]
    moved = _post(server, "/api/ledger/transfers", transfers)
    assert moved.status_code == 200, moved.text
    assert [r["result"] for r in _body(moved)] == ["ok", "ok", "exceeds_credits"]
    body = _account(server, cust)
    assert body["id"] == cust and body["flags"] == ["debits_must_not_exceed_credits"]
    assert (body["credits_posted"], body["debits_pending"], body["debits_posted"]) == (
        "700", "250", "0")
    assert isinstance(body["timestamp"], str)
    missing = httpx.get(f"{server}/api/ledger/accounts/{int(t3) + 999}", timeout=TIMEOUT_S)
    assert missing.status_code == 404
    assert _body(missing)["error"]["type"] == "account_not_found"
    verified = httpx.get(f"{server}/api/ledger/verify", timeout=TIMEOUT_S)
    assert _body(verified) == {"ok": True, "violations": []}


@pytest.mark.parametrize(("body", "status", "kind"), [
    ({"id": "1"}, 422, "invalid_request"),  # not a list
    ([{"id": "x", "ledger": 1, "code": 1}], 422, "invalid_request"),
    ([{"id": 1, "ledger": 1, "code": 1, "extra": 1}], 422, "invalid_request"),
    ([{"id": 1.5, "ledger": 1, "code": 1}], 422, "invalid_request"),
])
def test_bad_accounts_change_nothing(server: str, body: Any, status: int, kind: str) -> None:
    before = _body(httpx.get(f"{server}/api/ledger/verify", timeout=TIMEOUT_S))
    response = _post(server, "/api/ledger/accounts", body)
    assert response.status_code == status, response.text
    assert _body(response)["error"]["type"] == kind
    assert _body(httpx.get(f"{server}/api/ledger/verify", timeout=TIMEOUT_S)) == before


def test_bad_transfers_change_nothing(server: str, request: pytest.FixtureRequest) -> None:
    a, b, t1, t2 = _ids(request, 4)
    _post(server, "/api/ledger/accounts", [{"id": a, "ledger": 1, "code": 7},
                                           {"id": b, "ledger": 1, "code": 7}])
    good = {"id": t1, "debit_account_id": a, "credit_account_id": b, "amount": 5,
            "ledger": 1, "code": 1}
    for bad in ({**good, "id": t2, "amount": -1}, {**good, "id": t2, "amount": 2**128},
                {**good, "id": t2, "amount": 2.5}, {**good, "id": t2, "amount": True},
                {**good, "id": t2, "flags": ["bogus"]}, {**good, "id": t2, "memo": "hi"}):
        response = _post(server, "/api/ledger/transfers", [good, bad])
        assert response.status_code == 422, response.text
        assert "item 1" in _body(response)["error"]["message"]
    assert _account(server, b)["credits_posted"] == "0"  # the good one was not applied either
    broken = httpx.post(f"{server}/api/ledger/transfers", content=b"[{", timeout=TIMEOUT_S,
                        headers={"content-type": "application/json"})
    assert broken.status_code == 400 and _body(broken)["error"]["type"] == "invalid_json"
    too_many = _post(server, "/api/ledger/transfers", [good] * (BATCH_MAX + 1))
    assert too_many.status_code == 413 and _body(too_many)["error"]["type"] == (
        "batch_too_large")
    assert _account(server, b)["credits_posted"] == "0"
    bad_id = httpx.get(f"{server}/api/ledger/accounts/abc", timeout=TIMEOUT_S)
    assert bad_id.status_code == 422


def test_budget_hierarchy(server: str) -> None:
    root = "http-hier"
    url = f"{server}/api/budgets"
    for name, body in ((root, {"amount": "1000", "kind": "org"}),
                       (f"{root}/research", {"amount": "300.00", "period": "monthly"}),
                       (f"{root}/research/alice", {"amount": "500", "kind": "user",
                                                   "owner": "alice", "period": "yearly"})):
        for _ in range(2):  # idempotent
            response = httpx.put(f"{url}/{name}", json=body, timeout=TIMEOUT_S)
            assert response.status_code == 200, response.text
            assert _body(response)["granted"] == body["amount"].removesuffix(".00")
    alice = f"{url}/{root}/research/alice"
    over = _post(server, f"/api/budgets/{root}/research/alice/reserve",
                 {"request_id": "q1", "amount": "400"})
    assert over.status_code == 200
    assert _body(over) == {"ok": False, "budget": f"{root}/research/alice", "request_id": "q1",
                           "action": "reserve", "result": "exceeds_credits",
                           "level": f"{root}/research", "available": "300"}
    assert _body(httpx.get(alice, timeout=TIMEOUT_S))["reserved"] == "0"
    held = _post(server, f"/api/budgets/{root}/research/alice/reserve",
                 {"request_id": "q2", "amount": "0.25", "timeout_s": 600})
    assert _body(held)["ok"] is True and _body(held)["result"] == "ok"
    done = _post(server, f"/api/budgets/{root}/research/alice/capture",
                 {"request_id": "q2", "amount": "0.1"})
    assert _body(done)["ok"] is True
    for name in (root, f"{root}/research", f"{root}/research/alice"):
        line = _body(httpx.get(f"{url}/{name}", timeout=TIMEOUT_S))
        assert (line["spent"], line["reserved"]) == ("0.1", "0")
    _post(server, f"/api/budgets/{root}/research/alice/reserve",
          {"request_id": "q3", "amount": "1"})
    released = _post(server, f"/api/budgets/{root}/research/alice/release", {"request_id": "q3"})
    assert _body(released)["ok"] is True
    report = _body(httpx.get(url, timeout=TIMEOUT_S))["budgets"]
    mine = {line["name"]: line for line in report if line["name"].startswith(root)}
    assert mine[f"{root}/research/alice"]["owner"] == "alice"
    assert mine[f"{root}/research"]["remaining"] == "299.9"
    assert mine[root]["used_pct"] == "0.01"


@pytest.mark.parametrize(("method", "path", "body", "status", "kind"), [
    ("PUT", "http-bad", {"amount": 100}, 422, "invalid_request"),  # a number, not a string
    ("PUT", "http-bad", {"amount": "-1"}, 422, "invalid_budget"),
    ("PUT", "http-bad", {"amount": "1", "asset": "EUR"}, 422, "invalid_budget"),
    ("PUT", "http-bad", {"amount": "1", "colour": "red"}, 422, "invalid_request"),
    ("PUT", "http-bad", {"amount": "1", "rollover": "yes"}, 422, "invalid_request"),
    ("PUT", "http-bad/child", {"amount": "1"}, 404, "budget_not_found"),
    ("PUT", "http bad", {"amount": "1"}, 422, "invalid_budget"),
    ("GET", "http-nobody", None, 404, "budget_not_found"),
    ("POST", "http-nobody/reserve", {"request_id": "r", "amount": "1"}, 404,
     "budget_not_found"),
])
def test_bad_budget_requests(server: str, method: str, path: str, body: Any, status: int,
                             kind: str) -> None:
    response = httpx.request(method, f"{server}/api/budgets/{path}", json=body,
                             timeout=TIMEOUT_S)
    assert response.status_code == status, response.text
    assert _body(response)["error"]["type"] == kind
    names = [line["name"] for line in _body(httpx.get(f"{server}/api/budgets",
                                                      timeout=TIMEOUT_S))["budgets"]]
    assert not any(name.startswith(("http-bad", "http bad")) for name in names)


def test_budget_conflict_is_409(server: str) -> None:
    url = f"{server}/api/budgets/http-conflict"
    assert httpx.put(url, json={"amount": "5"}, timeout=TIMEOUT_S).status_code == 200
    response = httpx.put(url, json={"amount": "5", "asset": "USDC"}, timeout=TIMEOUT_S)
    assert response.status_code == 409 and _body(response)["error"]["type"] == (
        "budget_conflict")
    assert _body(httpx.get(url, timeout=TIMEOUT_S))["asset"] == "USD"


def test_the_server_sweeps_expired_reservations(server: str,
                                                request: pytest.FixtureRequest) -> None:
    """A pending transfer with a 1 s timeout and no batch after it: the server's sweeper
    releases it on its own (polled with a generous deadline; nothing asserts a duration)."""
    source, budget, reservation = _ids(request, 3)
    assert [r["result"] for r in _body(_post(server, "/api/ledger/accounts", [
        {"id": source, "ledger": 1, "code": 11},
        {"id": budget, "ledger": 1, "code": 10, "flags": ["debits_must_not_exceed_credits"]},
    ]))] == ["ok", "ok"]
    grant, hold = str(int(reservation) + 1), reservation
    results = _body(_post(server, "/api/ledger/transfers", [
        {"id": grant, "debit_account_id": source, "credit_account_id": budget, "amount": 100,
         "ledger": 1, "code": 1},
        {"id": hold, "debit_account_id": budget, "credit_account_id": source, "amount": 60,
         "ledger": 1, "code": 2, "flags": ["pending"], "timeout": 1},
    ]))
    assert [r["result"] for r in results] == ["ok", "ok"]
    assert _account(server, budget)["debits_pending"] == "60"
    deadline = time.monotonic() + 30
    while _account(server, budget)["debits_pending"] != "0":
        assert time.monotonic() < deadline, "the reservation was never released"
        time.sleep(0.2)
    assert _account(server, budget)["debits_posted"] == "0"

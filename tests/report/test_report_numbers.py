"""The report numbers of a seeded gateway equal an independent computation: SQL on the
database file and the ledger's own balances; feedback's 4xx cases; the CLI's outputs."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
import pytest
from report_seed import HELD_NANO, MODEL_ORIGIN, Seeded

from tokenomy.ledger.budgets import budget_account_id
from tokenomy.report.factory_panel import modelled
from tokenomy.store import open_ledger

TIMEOUT_S = 30


def _get(seeded: Seeded, path: str) -> Any:
    response = httpx.get(f"{seeded.base}{path}", timeout=TIMEOUT_S)
    assert response.status_code == 200, response.text
    return response.json()


def _ledger_debits(seeded: Seeded, budget: str) -> tuple[int, int]:
    """(debits_posted, debits_pending) of the budget's account, read from the ledger."""
    ledger = open_ledger(seeded.database_url, lambda: 1)
    try:
        account = ledger.lookup_accounts([budget_account_id(budget)])[0]
    finally:
        ledger.close()
    return account.debits_posted, account.debits_pending


def test_spend_by_account_equals_the_ledger_and_the_request_table(seeded: Seeded) -> None:
    rows = {r["group"]: r for r in _get(seeded, "/api/report/spend?by=account")["rows"]}
    direct = dict(seeded.sql("SELECT budget, SUM(captured_minor) FROM gateway_requests "
                             "GROUP BY budget"))
    assert set(rows) == {"acme/research/alice", "acme/infra/bob"}
    for budget, row in rows.items():
        assert row["cost_nano"] == direct[budget] > 0
        assert Decimal(row["cost_usd"]) == Decimal(direct[budget]).scaleb(-9)
        assert _ledger_debits(seeded, budget)[0] == row["cost_nano"]  # posted = captured
    assert rows["acme/research/alice"]["requests"] == 4


def test_tokens_by_origin_compare_china_and_us(seeded: Seeded) -> None:
    expected: dict[str, int] = defaultdict(int)
    for model, usage in seeded.sql("SELECT model, usage_json FROM gateway_requests"):
        expected[MODEL_ORIGIN[str(model)]] += sum(json.loads(str(usage))["tokens"].values())
    rows = {r["group"]: r["tokens"] for r in
            _get(seeded, "/api/report/spend?by=origin")["rows"]}
    assert rows == dict(expected) and set(rows) == {"US", "CN"}


def test_class_slices_sum_to_the_request_cost_exactly(seeded: Seeded) -> None:
    by_class = _get(seeded, "/api/report/spend?by=class")
    total = seeded.sql("SELECT SUM(captured_minor) FROM gateway_requests")[0][0]
    assert sum(r["cost_nano"] for r in by_class["rows"]) == total == by_class["total"][
        "cost_nano"]
    assert {"input", "output"} <= {r["group"] for r in by_class["rows"]}


def test_budgets_show_burn_and_the_open_reservation(seeded: Seeded) -> None:
    budgets = {b["name"]: b for b in _get(seeded, "/api/report/budgets")["budgets"]}
    bob = budgets["acme/infra/bob"]
    posted, pending = _ledger_debits(seeded, "acme/infra/bob")
    assert pending == HELD_NANO and bob["open_reservations"] == 1
    assert Decimal(bob["open_reserved"]) == Decimal(HELD_NANO).scaleb(-9)
    assert Decimal(bob["spent"]) == Decimal(posted).scaleb(-9)
    assert bob["burn_nano_per_hour"] > 0 and bob["exhausted_at"] is not None
    # the org budget is charged on every level: its window cost is both teams'
    assert budgets["acme"]["window_cost_nano"] == sum(
        budgets[b]["window_cost_nano"] for b in ("acme/research/alice", "acme/infra/bob"))
    engineers = _get(seeded, "/api/report/budgets")["engineers"]
    assert sorted(e["owner"] for e in engineers) == ["alice", "bob"]


def test_goodput_leaves_out_the_useless_response(seeded: Seeded) -> None:
    data = _get(seeded, "/api/report/goodput")
    rows = {(r["team"], r["model"]): r for r in data["rows"]}
    small = rows[("acme/research", "sim-small")]
    tokens = {str(rid): sum(json.loads(str(u))["tokens"].values()) for rid, u in
              seeded.sql("SELECT id, usage_json FROM gateway_requests WHERE model = 'sim-small'")}
    assert small["billed_tokens"] == sum(tokens.values())
    assert small["good_tokens"] == small["billed_tokens"] - tokens[seeded.useless]
    assert Decimal(small["goodput"]) == (Decimal(small["good_tokens"]) / small[
        "billed_tokens"]).quantize(Decimal("0.0001"))
    assert rows[("acme/infra", "sim-large")]["goodput"] == "1.0000"


def test_market_has_the_trades_the_book_and_the_curve(seeded: Seeded) -> None:
    market = _get(seeded, "/api/report/market")
    assert len(market["trades"]) == seeded.trades
    spot = next(b for b in market["books"] if b["symbol"] == "TKF-SPOT")
    assert spot["asks"] == [{"price": "15.00", "quantity": 3, "orders": 1}]
    assert spot["bids"] == [{"price": "14.50", "quantity": 3, "orders": 1}]
    priced = [p for p in market["curve"] if p["price"] is not None]
    assert [p["price"] for p in priced] == ["16.00"] and priced[0]["source"] == "last_trade"
    assert {i["grade"] for i in market["index"]} >= {"FRONTIER-OUT", "ECONOMY-IN"}
    factory = _get(seeded, "/api/report/factory")
    assert factory["rows"][:len(modelled())] == list(modelled())  # the model's rows first
    assert [(m["name"], m["tokens_per_joule"], m["source"]) for m in factory["measurements"]] == [
        ("sim-small · batch 1 · http://sim/v1", "2.000", "measured (rapl)"),
        ("sim-small · batch 8 · http://sim/v1", "8.000", "measured (rapl)")]
    assert len(factory["problems"]) == 1 and "missing.json" in factory["problems"][0]


@pytest.mark.parametrize(("body", "status", "kind"), [
    ({"request_id": "req_nope", "outcome": "useful"}, 404, "request_not_found"),
    ({"request_id": "REQ", "outcome": "brilliant"}, 422, "invalid_feedback"),
    ({"request_id": "REQ"}, 422, "invalid_request"),
    ({"request_id": 7, "outcome": "useful"}, 422, "invalid_request"),
])
def test_bad_feedback_is_a_4xx_json_error(seeded: Seeded, body: dict[str, Any], status: int,
                                          kind: str) -> None:
    if body.get("request_id") == "REQ":
        body = {**body, "request_id": seeded.request_ids["bob"][0]}
    response = httpx.post(f"{seeded.base}/api/feedback", json=body, timeout=TIMEOUT_S)
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == kind and response.json()["error"]["message"]


def test_feedback_is_idempotent_per_request_and_outcome(seeded: Seeded) -> None:
    rid = seeded.request_ids["bob"][1]
    first = httpx.post(f"{seeded.base}/api/feedback", timeout=TIMEOUT_S,
                       json={"request_id": rid, "outcome": "useful"})
    again = httpx.post(f"{seeded.base}/api/feedback", timeout=TIMEOUT_S,
                       json={"request_id": rid, "outcome": "useful"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert seeded.sql(f"SELECT COUNT(*) FROM report_feedback WHERE request_id = '{rid}'") == [
        (1,)]


def test_bad_window_or_dimension_is_a_422(seeded: Seeded) -> None:
    for query in ("by=colour", "since=yesterday", "since=2030-01-01&until=2029-01-01"):
        response = httpx.get(f"{seeded.base}/api/report/spend?{query}", timeout=TIMEOUT_S)
        assert response.status_code == 422, query
        assert response.json()["error"]["type"] == "invalid_report"


# -- the CLI -------------------------------------------------------------------------------


def _cli(cli: Any, seeded: Seeded, *args: str) -> Any:
    return cli(["report", *args, "--database-url", seeded.database_url], cwd=seeded.workdir)


def test_cli_spend_json_and_csv_equal_the_direct_sums(cli: Any, seeded: Seeded) -> None:
    done = _cli(cli, seeded, "spend", "--by", "model", "--since", "1d", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout, parse_float=lambda t: pytest.fail(f"a float: {t}"))
    direct = dict(seeded.sql("SELECT model, SUM(captured_minor) FROM gateway_requests "
                             "GROUP BY model"))
    assert {r["group"]: r["cost_nano"] for r in data["rows"]} == direct
    as_csv = _cli(cli, seeded, "spend", "--by", "model", "--since", "1d", "--csv")
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["group"]: Decimal(r["cost_usd"]) for r in rows} == {
        m: Decimal(v).scaleb(-9) for m, v in direct.items()}


def test_cli_goodput_budgets_and_index(cli: Any, seeded: Seeded) -> None:
    goodput = json.loads(_cli(cli, seeded, "goodput", "--json").stdout)
    assert goodput["total"]["billed_tokens"] > goodput["total"]["good_tokens"] > 0
    budgets = _cli(cli, seeded, "budgets", "--csv")
    assert budgets.returncode == 0 and "acme/infra/bob" in budgets.stdout
    index = json.loads(_cli(cli, seeded, "index", "--json").stdout)
    assert len(index["index"]) == 6
    table = _cli(cli, seeded, "spend", "--by", "origin")
    assert table.returncode == 0 and "CN" in table.stdout and "US" in table.stdout


def test_cli_focus_export_conserves_billed_cost(cli: Any, seeded: Seeded) -> None:
    out = seeded.workdir / "focus.csv"
    done = _cli(cli, seeded, "focus", "--since", "1d", "--output", str(out))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ChargePeriodStart",
                   "ChargePeriodEnd", "ServiceName", "ResourceId", "SkuId", "ConsumedQuantity",
                   "ConsumedUnit", "PricingQuantity", "PricingUnit", "BillingCurrency",
                   "ProviderName", "PublisherName", "InvoiceIssuerName", "ChargeCategory",
                   "ChargeDescription", "Tags"):
        assert column in rows[0]
    billed = sum(Decimal(r["BilledCost"]) for r in rows)
    total = seeded.sql("SELECT SUM(captured_minor) FROM gateway_requests")[0][0]
    assert billed == Decimal(total).scaleb(-9) == sum(Decimal(r["EffectiveCost"]) for r in rows)
    assert {r["ProviderName"] for r in rows} == {"simulator", "simcn"}


@pytest.mark.parametrize("args", [
    ["spend", "--by", "colour"], ["spend", "--since", "last tuesday"],
    ["goodput", "--since", "2030-01-01", "--until", "2029-01-01"], ["spend", "--json", "--csv"],
    ["focus", "--until", "nope"],
])
def test_cli_bad_input_exits_2_with_a_message(cli: Any, seeded: Seeded,
                                              args: list[str]) -> None:
    done = _cli(cli, seeded, *args)
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
    assert done.stdout == ""

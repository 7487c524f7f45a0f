"""Pricing over HTTP, against a real ``tokenomy serve`` on loopback (bundled book, block policy).

    gpt-4o             2024-05-13  input 5.00  output 15.00             (launch price)
                       2024-10-02  input 2.50  cache_read 1.25  output 10.00  batch ×0.5
    claude-sonnet-4-5  2025-09-29  input 3.00  5m write 3.75  1h write 6.00  read 0.30
                                   output 15.00
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from subprocess import CompletedProcess
from typing import Any

import httpx

Cli = Callable[..., CompletedProcess[str]]


def _no_float(text: str) -> Any:
    raise AssertionError(f"a JSON number with a fraction is on the wire: {text}")


def _body(response: httpx.Response) -> Any:
    """The JSON body; a float anywhere fails the test (money is strings)."""
    return json.loads(response.text, parse_float=_no_float)


def _quote(server: str, body: Any) -> httpx.Response:
    return httpx.post(f"{server}/api/pricing/quote", json=body, timeout=30)


GPT_LAUNCH = {"id": "g1", "provider": "openai", "api": "chat", "model": "gpt-4o",
              "at": "2024-06-01T00:00:00Z",
              "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}}
GPT_CUT = {"id": "g2", "provider": "openai", "api": "chat", "model": "gpt-4o",
           "at": "2025-06-01", "service_tier": "batch",
           "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                     "prompt_tokens_details": {"cached_tokens": 400}}}
SONNET = {"id": "s1", "provider": "anthropic", "api": "messages", "model": "claude-sonnet-4-5",
          "at": "2025-10-15T12:00:00Z",
          "usage": {"input_tokens": 1000, "cache_read_input_tokens": 2000,
                    "cache_creation_input_tokens": 3000,
                    "cache_creation": {"ephemeral_5m_input_tokens": 1000,
                                       "ephemeral_1h_input_tokens": 2000},
                    "output_tokens": 500}}


def test_quote_one_record(server: str) -> None:
    response = _quote(server, GPT_LAUNCH)
    assert response.status_code == 200, response.text
    line = _body(response)
    assert line["id"] == "g1" and line["model"] == "gpt-4o"
    assert line["cost_usd"] == "0.008"  # 1000 × 5 + 200 × 15 per 1M
    assert line["price_version"] == "openai/gpt-4o@2024-05-13"
    assert line["provisional"] is False and isinstance(line["stu"], str)
    assert line["lines"] == [
        {"class": "input", "modality": "text", "tokens": 1000, "rate_usd_per_mtok": "5",
         "cost_usd": "0.005"},
        {"class": "output", "modality": "text", "tokens": 200, "rate_usd_per_mtok": "15",
         "cost_usd": "0.003"},
    ]


def test_quote_a_list_gives_results_and_totals(server: str) -> None:
    response = _quote(server, [GPT_LAUNCH, GPT_CUT, SONNET])
    assert response.status_code == 200, response.text
    body = _body(response)
    launch, cut, sonnet = body["results"]
    assert launch["cost_usd"] == "0.008"
    # Batch at the 2024-10-02 price: 600 × 1.25 + 400 × 0.625 + 200 × 5.
    assert cut["cost_usd"] == "0.002" and cut["service_tier"] == "batch"
    assert {(i["class"], i["rate_usd_per_mtok"]) for i in cut["lines"]} == {
        ("input", "1.25"), ("cache_read", "0.625"), ("output", "5")}
    # 1000 × 3 + 2000 × 0.30 + 1000 × 3.75 + 2000 × 6 + 500 × 15.
    assert sonnet["cost_usd"] == "0.02685"
    assert {(i["class"], i.get("ttl"), i["cost_usd"]) for i in sonnet["lines"]} == {
        ("input", None, "0.003"), ("cache_read", None, "0.0006"),
        ("cache_write", "5m", "0.00375"), ("cache_write", "1h", "0.012"),
        ("output", None, "0.0075")}
    assert body["total_cost_usd"] == "0.03685" and body["records"] == 3 and body["errors"] == 0
    assert Decimal(body["total_cost_usd"]) == sum(Decimal(r["cost_usd"]) for r in body["results"])
    assert "error" not in body

    empty = _quote(server, [])
    assert empty.status_code == 200
    assert _body(empty) == {"results": [], "total_cost_usd": "0", "records": 0, "errors": 0}


def test_quote_a_list_with_bad_records_returns_every_line(server: str) -> None:
    unknown = {**GPT_LAUNCH, "id": "u1", "model": "gpt-99-turbo"}
    response = _quote(server, [GPT_LAUNCH, unknown, "not a record", SONNET])
    assert response.status_code == 422
    body = _body(response)
    assert [r["id"] for r in body["results"]] == ["g1", "u1", None, "s1"]
    assert body["results"][0]["cost_usd"] == "0.008"
    assert body["results"][1]["error"]["type"] == "unpriced"
    assert "gpt-99-turbo" in body["results"][1]["error"]["message"]
    assert body["results"][2]["error"]["type"] == "invalid_request"
    assert body["results"][3]["cost_usd"] == "0.02685"
    assert body["total_cost_usd"] == "0.03485"
    assert body["records"] == 4 and body["errors"] == 2
    assert body["error"]["type"] == "invalid_record" and "2 of 4" in body["error"]["message"]


def test_quote_one_bad_record_is_422_with_its_error(server: str) -> None:
    response = _quote(server, {**GPT_LAUNCH, "model": "gpt-99-turbo"})
    assert response.status_code == 422
    body = _body(response)
    assert body["id"] == "g1" and body["error"]["type"] == "unpriced"
    assert "tokenomy prices" in body["error"]["message"]
    too_early = _quote(server, {**SONNET, "at": "2024-01-01"})
    assert too_early.status_code == 422 and "no price in force" in too_early.text
    bad_at = _quote(server, {**GPT_LAUNCH, "at": "last tuesday"})
    assert bad_at.status_code == 422 and "last tuesday" in bad_at.text


def test_quote_rejects_a_body_that_is_not_json(server: str) -> None:
    response = httpx.post(f"{server}/api/pricing/quote", content=b"{not json",
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_json"
    scalar = _quote(server, "a string")
    assert scalar.status_code == 422 and scalar.json()["error"]["type"] == "invalid_request"


def test_prices_of_one_model_at_a_date(server: str) -> None:
    response = httpx.get(f"{server}/api/pricing/prices",
                         params={"model": "gpt-4o", "at": "2024-06-01"})
    assert response.status_code == 200, response.text
    body = _body(response)
    assert body["model"] == "gpt-4o" and body["at"] == "2024-06-01T00:00:00+00:00"
    assert body["entry"]["version"] == "openai/gpt-4o@2024-05-13"
    assert body["entry"]["rates_per_mtok"] == {"input": "5.00", "output": "15.00"}
    assert [h["version"] for h in body["history"]] == ["openai/gpt-4o@2024-05-13",
                                                       "openai/gpt-4o@2024-10-02"]

    listing = _body(httpx.get(f"{server}/api/pricing/prices", params={"at": "2024-06-01"}))
    models = {m["model"]: m["version"] for m in listing["models"]}
    assert models["gpt-4o"] == "openai/gpt-4o@2024-05-13"
    assert "claude-sonnet-4-5" not in models

    unknown = httpx.get(f"{server}/api/pricing/prices", params={"model": "nosuchmodel"})
    assert unknown.status_code == 422 and unknown.json()["error"]["type"] == "unpriced"
    bad_at = httpx.get(f"{server}/api/pricing/prices", params={"model": "gpt-4o", "at": "x"})
    assert bad_at.status_code == 422


def test_stu_table_matches_the_cli(server: str, cli: Cli) -> None:
    table = _body(httpx.get(f"{server}/api/pricing/stu"))
    assert table["version"].startswith("stu-")
    assert set(table["weights"]) == {"frontier", "standard", "economy", "all"}
    assert all(w["input/text"] == "1.0000" for w in table["weights"].values())
    local = json.loads(cli(["stu", "table", "--json"]).stdout)
    assert table["weights"] == local["weights"] and table["models"] == local["models"]


def test_openapi_schema_lists_the_pricing_routes(server: str) -> None:
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert "post" in paths["/api/pricing/quote"]
    assert "get" in paths["/api/pricing/prices"]
    assert "get" in paths["/api/pricing/stu"]

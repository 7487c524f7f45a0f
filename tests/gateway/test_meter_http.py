"""The meter over HTTP, against a real ``tokenomy serve`` on loopback."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
from PIL import Image


def _png(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _post(server: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{server}{path}", json=body, timeout=30)


def test_healthz_reports_the_sqlite_store(server: str) -> None:
    body = httpx.get(f"{server}/healthz").json()
    assert body["status"] == "ok" and body["store"] == "sqlite" and body["schema_version"] >= 1


def test_openapi_schema_lists_the_meter_routes(server: str) -> None:
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    for route in ("/healthz", "/api/meter/count", "/api/meter/normalize", "/api/meter/estimate",
                  "/api/meter/models"):
        assert route in paths


def test_count_text_and_an_image(server: str) -> None:
    response = _post(server, "/api/meter/count", {
        "model": "gpt-4o",
        "items": [{"name": "a.txt", "text": "hello world"},
                  {"name": "x.png", "data_base64": _png(1024, 1024), "detail": "high"}],
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["input_tokens"]["text"] == 2
    assert body["input_tokens"]["image"] == 765  # OpenAI's documented example
    assert body["total_input_tokens"] == 767
    assert [i["method"] for i in body["items"]] == ["exact", "formula"]


def test_normalize_one_record(server: str) -> None:
    record = {"id": "r1", "provider": "anthropic", "api": "messages", "model": "claude-sonnet-4-5",
              "usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
                        "cache_creation_input_tokens": 50, "output_tokens": 7}}
    response = _post(server, "/api/meter/normalize", record)
    assert response.status_code == 200, response.text
    line = response.json()
    assert line["id"] == "r1"
    assert line["tokens"] == {"input": 10, "cache_read": 100, "cache_write": 50, "output": 7,
                              "reasoning": 0}
    assert line["cache_write_ttl"]["5m"] == 50
    assert line["estimated"] is False


def test_normalize_a_list_keeps_going_past_a_bad_record(server: str) -> None:
    good = {"id": 1, "provider": "openai", "api": "chat", "model": "gpt-4o",
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}
    bad = {"id": 2, "provider": "openai", "api": "chat", "model": "gpt-4o",
           "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                     "prompt_tokens_details": {"cached_tokens": 9}}}
    response = _post(server, "/api/meter/normalize", [good, bad])
    assert response.status_code == 422
    body = response.json()
    assert body["records"] == 2 and body["errors"] == 1
    assert body["results"][0]["tokens"]["input"] == 5
    assert body["results"][1]["error"]["type"] == "invalid_usage"
    assert "cached_tokens" in body["results"][1]["error"]["message"]


def test_bad_input_is_a_4xx_json_error(server: str) -> None:
    not_json = httpx.post(f"{server}/api/meter/normalize", content=b"{oops",
                          headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_json"
    unknown = _post(server, "/api/meter/count", {"model": "gpt-99", "items": []})
    assert unknown.status_code == 422
    assert "tokenomy models" in unknown.json()["error"]["message"]
    missing = _post(server, "/api/meter/count", {"items": [{"name": "x"}]})
    assert missing.status_code == 422 and "exactly one" in missing.json()["error"]["message"]
    garbage = _post(server, "/api/meter/count",
                    {"items": [{"name": "x.bin", "data_base64": "AAEC/w=="}]})
    assert garbage.status_code == 422 and "error" in garbage.json()


def test_estimate_reserves_the_output_cap(server: str) -> None:
    response = _post(server, "/api/meter/estimate", {
        "api": "chat",
        "request": {"model": "gpt-4o", "max_tokens": 100,
                    "messages": [{"role": "user", "content": "hello world"}]},
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tokens"]["output"] == 100
    # OpenAI cookbook: 3 per message + "user" (1) + "hello world" (2) + 3 reply priming
    assert body["tokens"]["input"] == 3 + 1 + 2 + 3
    assert body["estimated"] is True


def test_models_route_lists_the_table(server: str) -> None:
    models = httpx.get(f"{server}/api/meter/models").json()["models"]
    names = {m["model"] for m in models}
    assert {"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "deepseek-chat"} <= names

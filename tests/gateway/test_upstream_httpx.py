"""The gateway on the httpx upstream client (``[gateway] upstream_client = "httpx"``), end to
end through the official openai SDK. The client alone runs the built-in client's scripted-server
checks (test_upstream_http, ``BOTH``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import openai
import pytest
from gateway_harness import Gateway, running_gateway


@pytest.fixture(scope="module")
def httpx_gateway(tmp_path_factory: pytest.TempPathFactory, simulator: str,
                  slow_simulator: str) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("httpx-gateway")
    with running_gateway(workdir, f"sqlite:///{workdir / 'tokenomy.db'}", simulator,
                         slow_simulator, upstream_client="httpx") as gateway:
        yield gateway


def test_the_gateway_on_httpx_meters_and_charges_json_and_streams(
        httpx_gateway: Gateway) -> None:
    key, budget = httpx_gateway.key("1")
    client = openai.OpenAI(base_url=f"{httpx_gateway.base}/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="sim-small", messages=[{"role": "user", "content": "hello"}], max_tokens=8)
    assert raw.parse().usage is not None and raw.parse().usage.completion_tokens == 8
    cost = Decimal(raw.headers["x-tokenomy-cost-usd"])
    stream = client.chat.completions.create(
        model="sim-small", messages=[{"role": "user", "content": "hello"}], max_tokens=8,
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    records = httpx_gateway.wait_records(budget, 2)
    assert [r.outcome for r in records] == ["ok", "ok"] and not any(r.estimated for r in records)
    line = httpx_gateway.budget(budget)
    assert line.reserved == 0 and line.spent == sum(r.captured_minor for r in records) > 0
    assert cost > 0


def test_the_gateway_on_httpx_charges_nothing_for_an_upstream_500_or_timeout(
        httpx_gateway: Gateway) -> None:
    key, budget = httpx_gateway.key("1")
    client = openai.OpenAI(base_url=f"{httpx_gateway.base}/v1", api_key=key, max_retries=0)
    for directive in ("[sim:error=500]", "[sim:hang]"):  # the config's read timeout is 3 s
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(
                model="sim-small", messages=[{"role": "user", "content": directive}],
                max_tokens=8)
        assert failed.value.status_code == 502
    records = httpx_gateway.wait_records(budget, 2)
    assert [r.outcome for r in records] == ["upstream_error", "upstream_error"]
    assert all(r.captured_minor == 0 for r in records)
    line = httpx_gateway.budget(budget)
    assert (line.spent, line.reserved) == (0, 0)

"""Budgets under concurrency: 200 requests at once against a budget that covers 50.

Every request asks for exactly 30 output tokens and the simulator writes exactly 30, so each
success captures what it reserved minus at most a token of chat overhead: the first 50
reservations always fit, a 51st never does. On SQLite (one worker) and PostgreSQL (two worker
processes sharing the database).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest
from gateway_harness import Gateway

REQUESTS, AFFORDABLE = 200, 50
BODY = {"model": "sim-small", "max_tokens": 30,
        "messages": [{"role": "user", "content": "race [sim:tokens=30]"}]}


def worst_case_nano(gateway: Gateway) -> int:
    key, _ = gateway.key("1")
    raw = openai.OpenAI(base_url=f"{gateway.base}/v1", api_key=key, max_retries=0
                        ).chat.completions.with_raw_response.create(**BODY)  # type: ignore
    return int(Decimal(raw.headers["x-tokenomy-reserved-usd"]) * 10**9)


async def race(gateway: Gateway, key: str) -> list[int]:
    async def one(client: openai.AsyncOpenAI) -> int:
        try:
            await client.chat.completions.create(**BODY)  # type: ignore[call-overload]
            return 200
        except openai.APIStatusError as exc:
            return exc.status_code

    async with openai.AsyncOpenAI(base_url=f"{gateway.base}/v1", api_key=key, max_retries=0,
                                  timeout=60) as client:
        return await asyncio.gather(*(one(client) for _ in range(REQUESTS)))


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_exactly_the_affordable_requests_succeed(store: str,
                                                 request: pytest.FixtureRequest) -> None:
    gateway: Gateway = request.getfixturevalue("gateway" if store == "sqlite" else "pg_gateway")
    each = worst_case_nano(gateway)
    budget_nano = AFFORDABLE * each
    key, budget = gateway.key(str(Decimal(budget_nano).scaleb(-9)))
    statuses = asyncio.run(race(gateway, key))
    assert statuses.count(200) == AFFORDABLE
    assert statuses.count(402) == REQUESTS - AFFORDABLE
    line = gateway.budget(budget)
    assert line.reserved == 0  # no reservation left open
    assert 0 < line.spent <= budget_nano == line.granted
    records = gateway.wait_records(budget, REQUESTS)
    assert len(records) == REQUESTS
    assert sorted({r.outcome for r in records}) == ["ok", "refused"]
    assert sum(r.captured_minor for r in records) == line.spent
    assert gateway.store.verify() == []

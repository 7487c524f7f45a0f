"""Prepaid token credits: a key bound to an exchange member spends its credits of the model's
grade before its cash budget — through a real gateway, the official ``openai`` SDK and a
simulated upstream serving ``gpt-4o-mini`` (certified ECONOMY)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from gateway_harness import Gateway, running_gateway

from serving import serve_in_thread
from tokenomy.exchange.accounts import credit_account
from tokenomy.gateway.credits import tier_of, uncovered, used
from tokenomy.gateway.keys import create_key
from tokenomy.ledger.budgets import LEDGER_USD, parse_major
from tokenomy.meter import Usage
from tokenomy.store.exchange_clearing import issue_credits
from tokenomy.upstream import SimulatorConfig, create_simulator

MODEL = "gpt-4o-mini"
OWNER = 4242


@pytest.fixture(scope="module")
def credit_gateway(tmp_path_factory: pytest.TempPathFactory, simulator: str,
                   slow_simulator: str) -> Iterator[Gateway]:
    app = create_simulator(SimulatorConfig(tokens_per_s=0, output_tokens=20, models=(MODEL,)))
    with serve_in_thread(app) as certified:
        workdir = tmp_path_factory.mktemp("credits")
        extra = f"""
[[upstream]]
name = "certified"
kind = "openai"
base_url = "{certified}/v1"
models = ["{MODEL}"]
"""
        with running_gateway(workdir, f"sqlite:///{workdir / 'tokenomy.db'}", simulator,
                             slow_simulator, extra=extra) as gateway:
            yield gateway


def credit_key(gateway: Gateway, owner: int) -> tuple[str, str]:
    name = f"credits-{owner}-{time.time_ns() % 10**9}"
    secret, _ = create_key(gateway.store, name, name, time.time_ns(), secrets.token_urlsafe,
                           parse_major("10", LEDGER_USD), exchange_owner=owner)
    return secret, name


def credits_left(gateway: Gateway, owner: int, grade: str) -> tuple[int, int]:
    [account] = gateway.store.lookup_accounts([credit_account(owner, grade)])
    return account.credits_posted - account.debits_posted, account.debits_pending


def ask(gateway: Gateway, secret: str, max_tokens: int = 50) -> object:
    client = openai.OpenAI(base_url=f"{gateway.base}/v1", api_key=secret, max_retries=0)
    return client.chat.completions.create(
        model=MODEL, max_tokens=max_tokens,
        messages=[{"role": "user", "content": "Count to twenty, please."}])


def test_credits_are_spent_before_cash(credit_gateway: Gateway) -> None:
    gateway = credit_gateway
    issue_credits(gateway.store, OWNER, "ECONOMY-IN", 1_000_000, "grant")
    issue_credits(gateway.store, OWNER, "ECONOMY-OUT", 1_000_000, "grant")
    secret, budget = credit_key(gateway, OWNER)
    reply = ask(gateway, secret)
    usage = reply.usage  # type: ignore[attr-defined]
    [record] = gateway.wait_records(budget, 1)
    assert record.cost_minor == 0 and record.captured_minor == 0  # all covered by credits
    assert credits_left(gateway, OWNER, "ECONOMY-IN") == (1_000_000 - usage.prompt_tokens, 0)
    assert credits_left(gateway, OWNER, "ECONOMY-OUT") == (
        1_000_000 - usage.completion_tokens, 0)
    assert gateway.budget(budget).spent == 0


def test_cash_pays_for_what_credits_do_not_cover(credit_gateway: Gateway) -> None:
    gateway = credit_gateway
    owner = OWNER + 1
    issue_credits(gateway.store, owner, "ECONOMY-OUT", 5, "a-few")  # 5 output tokens only
    secret, budget = credit_key(gateway, owner)
    reply = ask(gateway, secret)
    usage = reply.usage  # type: ignore[attr-defined]
    assert usage.completion_tokens > 5
    [record] = gateway.wait_records(budget, 1)
    assert credits_left(gateway, owner, "ECONOMY-OUT") == (0, 0)
    assert record.cost_minor > 0 and record.captured_minor == record.cost_minor
    # Nothing covered the input; the output less 5 tokens: compare with a key without credits.
    plain, plain_budget = gateway.key("10")
    ask(gateway, plain)
    [full] = gateway.wait_records(plain_budget, 1)
    assert 0 < record.cost_minor < full.cost_minor


def test_a_key_without_credits_or_an_uncertified_model_pays_cash(
        credit_gateway: Gateway) -> None:
    gateway = credit_gateway
    secret, budget = credit_key(gateway, OWNER + 2)  # a member holding no credits
    ask(gateway, secret)
    [record] = gateway.wait_records(budget, 1)
    assert record.cost_minor > 0
    assert tier_of("sim-small") is None and tier_of(MODEL) == "ECONOMY"


def test_a_refused_request_releases_the_credits(credit_gateway: Gateway) -> None:
    gateway = credit_gateway
    owner = OWNER + 3
    issue_credits(gateway.store, owner, "ECONOMY-IN", 3, "tiny")  # covers almost nothing
    name = f"poor-{time.time_ns() % 10**9}"
    secret, _ = create_key(gateway.store, name, name, time.time_ns(), secrets.token_urlsafe,
                           parse_major("0.000000001", LEDGER_USD), exchange_owner=owner)
    response = httpx.post(f"{gateway.base}/v1/chat/completions",
                          headers={"authorization": f"Bearer {secret}"},
                          json={"model": MODEL, "max_tokens": 500,
                                "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert response.status_code == 402, response.text
    assert credits_left(gateway, owner, "ECONOMY-IN") == (3, 0)


def test_the_split_is_exact() -> None:
    usage = Usage.build(input=100, output=40, reasoning=10, cache_read=7)
    holds_used = {"ECONOMY-IN": 60, "ECONOMY-OUT": 45}
    rest = uncovered(usage, holds_used)
    assert rest.tokens("input") == 40 and rest.tokens("output") == 0
    assert rest.tokens("reasoning") == 5 and rest.tokens("cache_read") == 7
    assert used([], usage) == {}


def test_keys_record_their_exchange_owner(credit_gateway: Gateway, tmp_path: Path) -> None:
    secret, name = credit_key(credit_gateway, 77)
    found = credit_gateway.store.get_key(name)
    assert found is not None and found.exchange_owner == 77 and secret

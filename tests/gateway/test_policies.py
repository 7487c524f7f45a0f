"""Unpriced models follow the pricing policy; keys are made and revoked from the CLI."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import openai
import pytest
from gateway_harness import Gateway

from serving import tokenomy_command

HELLO = [{"role": "user", "content": "hello"}]


def test_an_unpriced_model_is_blocked_before_any_upstream_call(gateway: Gateway) -> None:
    key, budget = gateway.key("1")
    with pytest.raises(openai.APIStatusError) as caught:
        openai.OpenAI(base_url=f"{gateway.base}/v1", api_key=key, max_retries=0
                      ).chat.completions.create(model="sim-unpriced", messages=HELLO)
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "model_not_priced"
    assert "sim-unpriced" in caught.value.body["message"]
    assert gateway.budget(budget).spent == 0


def test_an_unpriced_model_is_held_at_the_provisional_rate(pg_gateway: Gateway) -> None:
    key, budget = pg_gateway.key("1")
    raw = openai.OpenAI(base_url=f"{pg_gateway.base}/v1", api_key=key, max_retries=0
                        ).chat.completions.with_raw_response.create(
        model="sim-unpriced", messages=HELLO, max_tokens=10)
    assert raw.status_code == 200
    [record] = pg_gateway.wait_records(budget, 1)
    assert record.provisional and record.cost_minor > 0  # never a silent $0
    assert pg_gateway.budget(budget).spent == record.cost_minor


def cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOMY_")}
    env["TOKENOMY_DATABASE_URL"] = database_url
    return subprocess.run([*tokenomy_command(), *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_keys_create_list_revoke_from_the_cli(gateway: Gateway) -> None:
    made = cli(["keys", "create", "--name", "cli-user", "--budget-usd", "2.50", "--json"],
               gateway.database_url)
    assert made.returncode == 0, made.stderr
    line = json.loads(made.stdout)
    assert line["key"].startswith("tk-") and int(line["account_id"]) > 0
    assert gateway.budget("cli-user").granted == 2_500_000_000
    headers = {"authorization": f"Bearer {line['key']}"}
    body = {"model": "sim-small", "messages": HELLO, "max_tokens": 5}
    assert httpx.post(f"{gateway.base}/v1/chat/completions", json=body,
                      headers=headers).status_code == 200
    listed = cli(["keys", "list", "--json"], gateway.database_url)
    assert line["key"] not in listed.stdout and "cli-user" in listed.stdout
    again = cli(["keys", "create", "--name", "cli-user", "--budget-usd", "1"],
                gateway.database_url)
    assert again.returncode == 2 and "exists" in again.stderr
    bad = cli(["keys", "create", "--name", "x", "--budget-usd", "-1"], gateway.database_url)
    assert bad.returncode == 2 and "negative" in bad.stderr
    missing = cli(["keys", "create", "--name", "y", "--budget", "no/such"],
                  gateway.database_url)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    revoked = cli(["keys", "revoke", "cli-user", "--json"], gateway.database_url)
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
    assert cli(["keys", "revoke", "nobody"], gateway.database_url).returncode == 2

"""x402 through the gateway, the official SDK client as the peer, on real sockets.

    agent (x402Client + x402HttpxClient, key from eth_account) → tokenomy serve → simulator
    no API key → 402 PAYMENT-REQUIRED (upto first, then exact) → signed retry → served,
    settled in the ledger's USDC: upto pays the metered cost, exact the worst case.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from gateway_harness import Gateway
from x402 import x402Client
from x402.http import decode_payment_required_header, decode_payment_response_header
from x402.http.clients.httpx import x402HttpxClient
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.mechanisms.evm.upto.client import UptoEvmScheme
from x402.schemas import PaymentRequired

from tokenomy.settlement.facilitator import LedgerFacilitator
from tokenomy.settlement.network import LOCAL

BODY = {"model": "sim-small", "max_tokens": 40,
        "messages": [{"role": "user", "content": "how much is a token?"}]}


@pytest.fixture(autouse=True)
def ledger_invariants_hold(gateway: Gateway) -> Any:
    """After every test here: balances equal the journal, debits equal credits, no limit
    broken (``tokenomy ledger verify``)."""
    yield
    assert gateway.store.verify() == []


def agent(schemes: tuple[str, ...] = ("upto", "exact")) -> tuple[LocalAccount, x402Client]:
    account = Account.create()
    signer = EthAccountSigner(account)
    client = x402Client()
    for scheme in schemes:
        client.register("eip155:*", UptoEvmScheme(signer) if scheme == "upto"
                        else ExactEvmClientScheme(signer))
    client.set_spend_controls(False)  # the SDK's default allows only public USDC
    return account, client


def funded(gateway: Gateway, micro_usdc: int, schemes: tuple[str, ...] = ("upto", "exact"),
           ) -> tuple[LocalAccount, x402Client, LedgerFacilitator]:
    account, client = agent(schemes)
    facilitator = LedgerFacilitator(gateway.store)
    if micro_usdc:
        facilitator.fund(account.address, micro_usdc, f"test-{secrets.token_hex(8)}")
    return account, client, facilitator


async def paid_post(gateway: Gateway, client: x402Client, body: dict[str, Any]) -> httpx.Response:
    async with x402HttpxClient(client, base_url=gateway.base, timeout=30) as http:
        return await http.post("/v1/chat/completions", json=body)


def offer_of(response: httpx.Response) -> PaymentRequired:
    decoded = decode_payment_required_header(response.headers["payment-required"])
    assert isinstance(decoded, PaymentRequired)
    return decoded


def test_no_key_gets_an_x402_offer_upto_first(gateway: Gateway, http: httpx.Client) -> None:
    r = http.post("/v1/chat/completions", json=BODY)
    assert r.status_code == 402
    offer = offer_of(r)
    assert [a.scheme for a in offer.accepts] == ["upto", "exact"]
    upto, exact = offer.accepts
    assert upto.network == exact.network == LOCAL.network
    assert upto.asset == LOCAL.asset and upto.pay_to == LOCAL.pay_to
    assert upto.extra["facilitatorAddress"] == LOCAL.facilitator
    assert exact.extra == {"name": LOCAL.asset_name, "version": LOCAL.asset_version}
    # the worst case: prompt + 40 output tokens of sim-small, in micro-USDC, rounded up
    assert int(upto.amount) == int(exact.amount) >= 1
    assert r.json()["reason"] == "payment_required"  # the body is v1's (test_paywall_v1)
    assert r.json()["x402Version"] == 1 and r.json()["accepts"][0]["scheme"] == "exact"


def test_upto_pays_the_metered_cost(gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000)
    r = asyncio.run(paid_post(gateway, client, BODY))
    assert r.status_code == 200, r.text
    receipt = decode_payment_response_header(r.headers["payment-response"])
    assert receipt.success and receipt.payer == account.address
    paid = int(receipt.amount or 0)
    assert 0 < paid < Decimal(r.headers["x-tokenomy-reserved-usd"]) * 10**6  # micro-USDC
    assert facilitator.balance(account.address) == (1_000_000 - paid, 0)
    assert r.json()["usage"]["completion_tokens"] > 0
    assert gateway.store.verify() == []


def test_exact_pays_the_worst_case(gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000, schemes=("exact",))
    r = asyncio.run(paid_post(gateway, client, BODY))
    assert r.status_code == 200, r.text
    receipt = decode_payment_response_header(r.headers["payment-response"])
    offer = offer_of(httpx.post(f"{gateway.base}/v1/chat/completions", json=BODY))
    assert receipt.success and receipt.amount == offer.accepts[1].amount
    assert facilitator.balance(account.address)[0] == 1_000_000 - int(offer.accepts[1].amount)


async def signed_header(gateway: Gateway, client: x402Client,
                        body: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=gateway.base) as http:
        first = await http.post("/v1/chat/completions", json=body)
    payload = await client.create_payment_payload(offer_of(first))
    return base64.b64encode(payload.model_dump_json(by_alias=True,
                                                    exclude_none=True).encode()).decode()


def test_a_replayed_payment_is_refused_and_charges_nothing(gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000)
    header = asyncio.run(signed_header(gateway, client, BODY))
    first = httpx.post(f"{gateway.base}/v1/chat/completions", json=BODY,
                       headers={"payment-signature": header}, timeout=30)
    assert first.status_code == 200
    after_first = facilitator.balance(account.address)
    again = httpx.post(f"{gateway.base}/v1/chat/completions", json=BODY,
                       headers={"payment-signature": header}, timeout=30)
    assert again.status_code == 402
    receipt = decode_payment_response_header(again.headers["payment-response"])
    assert not receipt.success and receipt.error_reason == "invalid_exact_evm_nonce_already_used"
    assert facilitator.balance(account.address) == after_first


def test_five_concurrent_duplicates_settle_once_and_call_the_upstream_once(
        gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000)
    header = asyncio.run(signed_header(gateway, client, BODY))

    async def five() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.base, timeout=30) as http:
            answers = await asyncio.gather(*(
                http.post("/v1/chat/completions", json=BODY,
                          headers={"payment-signature": header}) for _ in range(5)))
        return sorted(a.status_code for a in answers)

    assert asyncio.run(five()) == [200, 402, 402, 402, 402]
    served = gateway.wait_records(f"x402/{account.address.lower()}", 1)
    assert [r.outcome for r in served] == ["ok"]  # one upstream call
    spent = 1_000_000 - facilitator.balance(account.address)[0]
    assert spent == served[0].captured_minor and facilitator.balance(account.address)[1] == 0


def test_insufficient_funds_and_mismatches_are_refused(gateway: Gateway) -> None:
    _, client, _ = funded(gateway, 0)  # a wallet with nothing in it
    r = asyncio.run(paid_post(gateway, client, BODY))
    assert r.status_code == 402
    assert decode_payment_response_header(r.headers["payment-response"]).error_reason == \
        "insufficient_funds"
    account, client, facilitator = funded(gateway, 1_000_000)
    header = asyncio.run(signed_header(gateway, client, BODY))
    cheaper = {**BODY, "max_tokens": 5}  # a different request: the signed amount is wrong
    r = httpx.post(f"{gateway.base}/v1/chat/completions", json=cheaper,
                   headers={"payment-signature": header}, timeout=30)
    assert r.status_code == 402 and r.json()["reason"] == "payment_mismatch"
    tampered = json.loads(base64.b64decode(header))
    tampered["payload"]["signature"] = "0x" + "11" * 65
    r = httpx.post(f"{gateway.base}/v1/chat/completions", json=BODY, timeout=30,
                   headers={"payment-signature": base64.b64encode(
                       json.dumps(tampered).encode()).decode()})
    assert r.status_code == 402
    assert decode_payment_response_header(r.headers["payment-response"]).error_reason == \
        "invalid_permit2_signature"
    bad = httpx.post(f"{gateway.base}/v1/chat/completions", json=BODY, timeout=30,
                     headers={"payment-signature": "not base64 json"})
    assert bad.status_code == 400
    assert facilitator.balance(account.address) == (1_000_000, 0)


def test_an_upstream_failure_releases_the_hold(gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000)
    failing = {**BODY, "messages": [{"role": "user", "content": "[sim:error=500]"}]}
    r = asyncio.run(paid_post(gateway, client, failing))
    assert r.status_code == 502
    assert facilitator.balance(account.address) == (1_000_000, 0)
    assert gateway.store.verify() == []


def test_a_paid_stream_carries_its_receipt_in_the_final_event(gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000)
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    r = asyncio.run(paid_post(gateway, client, body))
    assert r.status_code == 200
    events = [e for e in r.text.split("\n\n") if e.startswith("data: {")]
    final = json.loads(events[-1][len("data: "):])
    receipt = final["tokenomy"]["payment_response"]
    assert receipt["success"] and int(receipt["amount"]) > 0
    assert facilitator.balance(account.address)[0] == 1_000_000 - int(receipt["amount"])


@pytest.mark.parametrize("path", ["/api/x402/verify", "/api/x402/settle"])
def test_the_facilitator_api_refuses_what_is_not_a_payment(gateway: Gateway, path: str) -> None:
    for body in (b"[]", b"{}", b"not json", b'{"x402Version": 1}'):
        r = httpx.post(f"{gateway.base}{path}", content=body)
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_payment"


def test_the_facilitator_api_verifies_and_settles_once(gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 50_000)
    supported = httpx.get(f"{gateway.base}/api/x402/supported").json()
    assert {k["scheme"] for k in supported["kinds"]} == {"upto", "exact"}
    offer = offer_of(httpx.post(f"{gateway.base}/v1/chat/completions", json=BODY))
    payload = asyncio.run(client.create_payment_payload(offer))
    requirements = payload.accepted.model_dump(by_alias=True, exclude_none=True)
    body = {"x402Version": 2, "paymentRequirements": requirements,
            "paymentPayload": payload.model_dump(by_alias=True, exclude_none=True)}
    verified = httpx.post(f"{gateway.base}/api/x402/verify", json=body).json()
    assert verified["isValid"] is True and verified["payer"] == account.address
    assert facilitator.balance(account.address)[1] == int(offer.accepts[0].amount)
    settle_body = {**body, "paymentRequirements": {**requirements, "amount": "7"}}
    first = httpx.post(f"{gateway.base}/api/x402/settle", json=settle_body).json()
    second = httpx.post(f"{gateway.base}/api/x402/settle", json=settle_body).json()
    assert first["success"] and first == second  # idempotent
    assert facilitator.balance(account.address) == (50_000 - 7, 0)


def test_wallet_commands_make_fund_and_show_a_wallet(gateway: Gateway, tmp_path: Any) -> None:
    import subprocess

    from serving import tokenomy_command

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"TOKENOMY_DATABASE_URL": gateway.database_url, "PATH": "/usr/bin:/bin"}
        return subprocess.run([*tokenomy_command(), *args], capture_output=True, text=True,
                               env=env, cwd=tmp_path, timeout=120, check=False)

    made = cli("wallet", "create", "--out", "key.json", "--json")
    assert made.returncode == 0, made.stderr
    address = json.loads(made.stdout)["address"]
    key = json.loads((tmp_path / "key.json").read_text())
    assert key["address"] == address and (tmp_path / "key.json").stat().st_mode & 0o077 == 0
    assert cli("wallet", "create", "--out", "key.json").returncode == 2  # never overwrite
    for _ in range(2):  # the same --id funds once
        funded_line = cli("wallet", "fund", address, "1.25", "--id", "grant-1", "--json")
        assert funded_line.returncode == 0, funded_line.stderr
    shown = json.loads(cli("wallet", "balance", address, "--json").stdout)
    assert (shown["available"], shown["held"]) == ("1.25", "0")
    assert cli("wallet", "fund", address, "1.0000001").returncode == 2  # 6 decimals at most
    assert cli("wallet", "balance", "0x12").returncode == 2
    account = Account.from_key(key["private_key"])
    client = x402Client()
    client.register("eip155:*", UptoEvmScheme(EthAccountSigner(account)))
    client.set_spend_controls(False)
    assert asyncio.run(paid_post(gateway, client, BODY)).status_code == 200
    after = json.loads(cli("wallet", "balance", address, "--json").stdout)
    assert Decimal(after["available"]) < Decimal("1.25")


def test_the_wallet_guard_pays_the_gateway_and_refuses_an_attacker(gateway: Gateway,
                                                                    tmp_path: Any) -> None:
    """An agent told to pay more, or to pay someone else, fails at the guard: nothing is
    signed, nothing moves."""
    from tokenomy.settlement.network import LOCAL_PAY_TO
    from tokenomy.settlement.wallet import PaymentRefused, WalletGuard, WalletPolicy

    account = Account.create()
    facilitator = LedgerFacilitator(gateway.store)
    facilitator.fund(account.address, 1_000_000, f"guard-{secrets.token_hex(4)}")
    policy = WalletPolicy(allowed_payees={LOCAL_PAY_TO}, max_per_payment=100,
                          budget_per_period=1_000)
    guard = WalletGuard(account, policy, tmp_path / "audit.jsonl")

    async def pay(body: dict[str, Any]) -> httpx.Response:
        async with guard.client(base_url=gateway.base, timeout=30) as http:
            return await http.post("/v1/chat/completions", json=body)

    ok = asyncio.run(pay(BODY))
    assert ok.status_code == 200
    spent = int(decode_payment_response_header(ok.headers["payment-response"]).amount or 0)
    assert guard.spent_in_period() == spent and guard.reserved() == 0
    with pytest.raises(PaymentRefused, match="cap"):  # a bill bigger than the cap
        asyncio.run(pay({**BODY, "max_tokens": 4_000}))
    stranger = WalletGuard(account, WalletPolicy(allowed_payees={"0x" + "99" * 20},
                                                 max_per_payment=100, budget_per_period=1_000),
                           tmp_path / "other.jsonl")

    async def pay_stranger() -> httpx.Response:
        async with stranger.client(base_url=gateway.base, timeout=30) as http:
            return await http.post("/v1/chat/completions", json=BODY)

    with pytest.raises(PaymentRefused, match="payee"):  # the gateway is not on its list
        asyncio.run(pay_stranger())
    assert facilitator.balance(account.address) == (1_000_000 - spent, 0)
    events = [json.loads(line)["event"] for line in (tmp_path / "audit.jsonl").read_text()
              .splitlines()]
    assert events == ["signed", "settled", "refused"]


@pytest.fixture(scope="module")
def remote_gateway(tmp_path_factory: pytest.TempPathFactory, gateway: Gateway,
                   simulator: str, slow_simulator: str) -> Any:
    """A second gateway whose [x402] facilitator is the first one's /api/x402."""
    from gateway_harness import running_gateway

    workdir = tmp_path_factory.mktemp("remote-x402")
    with running_gateway(workdir, f"sqlite:///{workdir / 'remote.db'}", simulator,
                         slow_simulator,
                         extra=f'\n[x402]\nfacilitator_url = "{gateway.base}/api/x402"\n'
                         ) as remote:
        yield remote


def test_a_remote_facilitator_verifies_and_settles(gateway: Gateway,
                                                   remote_gateway: Gateway) -> None:
    account, client, facilitator = funded(gateway, 1_000_000)  # the wallet is remote
    r = asyncio.run(paid_post(remote_gateway, client, BODY))
    assert r.status_code == 200, r.text
    receipt = decode_payment_response_header(r.headers["payment-response"])
    assert receipt.success and int(receipt.amount or 0) > 0
    assert facilitator.balance(account.address) == (1_000_000 - int(receipt.amount or 0), 0)
    header = asyncio.run(signed_header(remote_gateway, client, BODY))
    answers = [httpx.post(f"{remote_gateway.base}/v1/chat/completions", json=BODY, timeout=30,
                          headers={"payment-signature": header}).status_code for _ in range(2)]
    assert answers == [200, 402]  # the remote path claims each nonce once too


def test_behind_a_remote_facilitator_v1_is_not_offered(remote_gateway: Gateway) -> None:
    """v1 is the local facilitator's only: the body offers nothing, X-PAYMENT is a 400."""
    r = httpx.post(f"{remote_gateway.base}/v1/chat/completions", json=BODY, timeout=30)
    assert r.status_code == 402 and r.json()["x402Version"] == 1
    assert r.json()["accepts"] == [] and offer_of(r).accepts  # v2 still offered
    v1 = {"x402Version": 1, "scheme": "exact", "network": "tokenomy-local",
          "payload": {"signature": "0x", "authorization": {}}}
    refused = httpx.post(f"{remote_gateway.base}/v1/chat/completions", json=BODY, timeout=30,
                         headers={"x-payment": base64.b64encode(json.dumps(v1).encode())
                                  .decode()})
    assert refused.status_code == 400 and "local facilitator only" in refused.text

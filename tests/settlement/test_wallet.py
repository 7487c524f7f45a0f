"""The agent wallet guard against a stand-in x402 server on a real socket.

The stand-in (Starlette on uvicorn in a thread) answers an unpaid request with 402 and a v2
``PAYMENT-REQUIRED`` header offering ``upto`` then ``exact`` on the local network; a request
that carries ``PAYMENT-SIGNATURE`` is recorded and answered 200 with a ``PAYMENT-RESPONSE``
whose settled amount the test chooses (or 402 with a failed one). It stands in for the client
side only: the real paywall and facilitator are tested on their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from x402.http import (
    decode_payment_signature_header,
    encode_payment_required_header,
    encode_payment_response_header,
)
from x402.schemas import (
    PaymentPayload,
    PaymentRequired,
    PaymentRequirements,
    PaymentResponseContext,
    ResourceInfo,
    SettleResponse,
)

from serving import serve_in_thread
from tokenomy.settlement.network import (
    LOCAL_ASSET,
    LOCAL_ASSET_NAME,
    LOCAL_ASSET_VERSION,
    LOCAL_FACILITATOR,
    LOCAL_NETWORK,
    LOCAL_PAY_TO,
)
from tokenomy.settlement.wallet import (
    PaymentRefused,
    WalletError,
    WalletGuard,
    WalletPolicy,
    load_account,
    save_account,
)

ACCOUNT = Account.from_key("0x" + "11" * 32)
ATTACKER = "0x000000000000000000000000000000000000dEaD"
START_S = 1_800_000_000.0


def offer(scheme: str, amount: int = 3000, pay_to: str = LOCAL_PAY_TO,
          network: str = LOCAL_NETWORK, asset: str = LOCAL_ASSET,
          timeout_s: int = 60) -> PaymentRequirements:
    extra = {"name": LOCAL_ASSET_NAME, "version": LOCAL_ASSET_VERSION}
    if scheme == "upto":
        extra["facilitatorAddress"] = LOCAL_FACILITATOR
    return PaymentRequirements(scheme=scheme, network=network, asset=asset, amount=str(amount),
                               pay_to=pay_to, max_timeout_seconds=timeout_s, extra=extra)


def both(**kwargs: object) -> list[PaymentRequirements]:
    return [offer("upto", **kwargs), offer("exact", **kwargs)]  # type: ignore[arg-type]


@dataclass
class StandIn:
    """What the stand-in server asks for and what it received."""

    accepts: list[PaymentRequirements] = field(default_factory=both)
    settled: int | None = None  # PAYMENT-RESPONSE amount; None: the authorized amount
    settle_ok: bool = True
    paid_status: int = 200  # 402: the signature is answered with a new PAYMENT-REQUIRED
    received: list[PaymentPayload] = field(default_factory=list)
    on_paid: Callable[[], None] | None = None  # runs while the payer awaits the answer

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    async def endpoint(self, request: Request) -> Response:
        header = request.headers.get("payment-signature")
        if header is not None:
            payload = decode_payment_signature_header(header)
            assert isinstance(payload, PaymentPayload)
            self.received.append(payload)
        if header is None or self.paid_status == 402:
            required = PaymentRequired(
                x402_version=2, error="Payment required", accepts=self.accepts,
                resource=ResourceInfo(url=str(request.url), description="tokens",
                                      mime_type="application/json"))
            header = encode_payment_required_header(required)
            return JSONResponse({}, status_code=402, headers={"PAYMENT-REQUIRED": header})
        if self.on_paid is not None:
            self.on_paid()
        if self.paid_status >= 500:
            return JSONResponse({"error": "boom"}, status_code=self.paid_status)
        accepted = self.received[-1].accepted
        amount = accepted.amount if self.settled is None else str(self.settled)
        settlement = SettleResponse(
            success=self.settle_ok, transaction="local:1" if self.settle_ok else "",
            network=accepted.network, amount=amount if self.settle_ok else None,
            error_reason=None if self.settle_ok else "insufficient_funds")
        return JSONResponse({"answer": 42}, status_code=200 if self.settle_ok else 402,
                            headers={"PAYMENT-RESPONSE": encode_payment_response_header(settlement)
                                     })


Server = tuple["StandIn", str]
MakeGuard = Callable[..., WalletGuard]
Payment = tuple[int, int, bool, int]  # amount, settled % (over 100: failed), answered, delay s


class FakeClock:
    def __init__(self) -> None:
        self.now_s = START_S

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture(scope="module")
def stand_in_server() -> Iterator[tuple[StandIn, str]]:
    state = StandIn()
    app = Starlette(routes=[Route("/paid", state.endpoint, methods=["GET", "POST"])])
    with serve_in_thread(app) as base:
        yield state, f"{base}/paid"


@pytest.fixture
def server(stand_in_server: tuple[StandIn, str]) -> tuple[StandIn, str]:
    state, url = stand_in_server
    state.reset()
    return state, url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_guard(tmp_path: Path, clock: FakeClock) -> Callable[..., WalletGuard]:
    def make(audit: str = "audit.jsonl", **limits: object) -> WalletGuard:
        policy = WalletPolicy(**{"allowed_payees": {LOCAL_PAY_TO}, "max_per_payment": 5000,
                                 "budget_per_period": 100_000, **limits})  # type: ignore[arg-type]
        return WalletGuard(ACCOUNT, policy, tmp_path / audit, clock)
    return make


def pay(guard: WalletGuard, url: str) -> httpx.Response:
    async def go() -> httpx.Response:
        async with guard.client(timeout=30) as http:
            return await http.post(url, json={"prompt": "hi"})
    return asyncio.run(go())


def refusal(guard: WalletGuard, url: str) -> str:
    with pytest.raises(PaymentRefused) as caught:
        pay(guard, url)
    return caught.value.reason


def audit(guard: WalletGuard) -> list[dict[str, str]]:
    return [json.loads(line) for line in guard.audit_path.read_text().splitlines()]


# ---------------------------------------------------------------- paying within policy


def test_a_payment_within_policy_is_reserved_signed_sent_and_trued_down(
        server: Server, make_guard: MakeGuard) -> None:
    """upto, max 3000, the server settles 411: 3000 is reserved while the server holds the
    signature, then the reservation becomes 411 spent."""
    state, url = server
    state.settled = 411
    guard = make_guard()
    seen: list[tuple[int, int]] = []
    state.on_paid = lambda: seen.append((guard.spent_in_period(), guard.reserved()))

    response = pay(guard, url)

    assert response.status_code == 200 and response.json() == {"answer": 42}
    assert [p.accepted.scheme for p in state.received] == ["upto"]
    assert seen == [(0, 3000)]
    assert (guard.spent_in_period(), guard.reserved()) == (411, 0)
    signed, settled = audit(guard)
    assert (signed["event"], signed["amount"], signed["scheme"]) == ("signed", "3000", "upto")
    assert (settled["event"], settled["amount"], settled["id"]) == ("settled", "411", signed["id"])
    assert signed["payee"] == LOCAL_PAY_TO and signed["url"] == url
    assert signed["network"] == LOCAL_NETWORK and signed["asset"] == LOCAL_ASSET


def test_exact_is_paid_at_its_amount(server: Server, make_guard: MakeGuard) -> None:
    state, url = server
    state.accepts = [offer("exact", amount=2500)]
    guard = make_guard()
    assert pay(guard, url).status_code == 200
    assert (guard.spent_in_period(), guard.reserved()) == (2500, 0)
    assert [e["event"] for e in audit(guard)] == ["signed", "settled"]


def test_a_mixed_offer_pays_the_acceptable_one(server: Server, make_guard: MakeGuard) -> None:
    state, url = server
    state.accepts = [offer("upto", pay_to=ATTACKER), offer("exact", amount=1000)]
    guard = make_guard()
    assert pay(guard, url).status_code == 200
    assert [(p.accepted.scheme, p.accepted.pay_to) for p in state.received] == [
        ("exact", LOCAL_PAY_TO)]


# ---------------------------------------------------------------- refusals before signing


def test_an_attackers_payee_is_refused_before_signing(server: Server,
                                                      make_guard: MakeGuard) -> None:
    state, url = server
    state.accepts = both(pay_to=ATTACKER)
    guard = make_guard()
    assert "payee" in refusal(guard, url)
    assert state.received == []
    [line] = audit(guard)
    assert line["event"] == "refused" and line["payee"] == ATTACKER and "payee" in line["reason"]
    assert (guard.spent_in_period(), guard.reserved()) == (0, 0)


@pytest.mark.parametrize(("accepts", "words"), [
    (both(amount=5001), "per-payment cap"),
    (both(network="eip155:8453"), "network eip155:8453"),
    (both(asset="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"), "asset"),
    (both(timeout_s=3600), "lifetime 3600 s"),
], ids=["over-cap", "wrong-network", "wrong-asset", "lifetime"])
def test_offers_outside_the_policy_are_refused(server: Server, make_guard: MakeGuard,
                                               accepts: list[PaymentRequirements],
                                               words: str) -> None:
    state, url = server
    state.accepts = accepts
    guard = make_guard()
    assert words in refusal(guard, url)
    assert state.received == []
    assert [e["event"] for e in audit(guard)] == ["refused"]


def test_an_empty_payee_allowlist_refuses_everything(server: Server, make_guard: MakeGuard) -> None:
    _, url = server
    guard = make_guard(allowed_payees=set())
    assert "allowlist is empty" in refusal(guard, url)


def test_the_payment_that_would_overrun_the_budget_is_refused(server: Server,
                                                              make_guard: MakeGuard) -> None:
    state, url = server
    state.accepts = [offer("exact", amount=2000)]
    guard = make_guard(budget_per_period=5000)
    assert pay(guard, url).status_code == 200
    assert pay(guard, url).status_code == 200
    assert "budget" in refusal(guard, url)
    assert len(state.received) == 2
    assert (guard.spent_in_period(), guard.reserved()) == (4000, 0)


def test_the_budget_is_a_rolling_period(server: Server, make_guard: MakeGuard,
                                        clock: FakeClock) -> None:
    state, url = server
    state.accepts = [offer("exact", amount=2000)]
    guard = make_guard(budget_per_period=2000, period_s=3600)
    pay(guard, url)
    assert "budget" in refusal(guard, url)
    clock.advance(3601)
    assert pay(guard, url).status_code == 200


def test_rate_limit(server: Server, make_guard: MakeGuard, clock: FakeClock) -> None:
    _, url = server
    guard = make_guard(max_payments_per_minute=2)
    pay(guard, url)
    pay(guard, url)
    assert "rate limit" in refusal(guard, url)
    clock.advance(61)
    assert pay(guard, url).status_code == 200


def test_kill_switch(server: Server, make_guard: MakeGuard) -> None:
    state, url = server
    guard = make_guard()
    guard.kill()
    assert refusal(guard, url) == "the kill switch is on"
    assert state.received == []
    guard.revive()
    assert pay(guard, url).status_code == 200


def test_concurrent_payments_never_overrun_the_budget(server: Server,
                                                      make_guard: MakeGuard) -> None:
    """Ten payments at once with a budget for four: the check and the reservation are one
    step, so exactly four are signed."""
    state, url = server
    state.accepts = [offer("exact", amount=1000)]
    guard = make_guard(budget_per_period=4000)

    async def one(http: httpx.AsyncClient) -> str:
        try:
            await http.get(url)
        except PaymentRefused as exc:
            return exc.reason
        return "paid"

    async def go() -> list[str]:
        async with guard.client(timeout=30) as http:
            return await asyncio.gather(*(one(http) for _ in range(10)))

    outcomes = asyncio.run(go())
    assert outcomes.count("paid") == 4 and len(state.received) == 4
    assert guard.spent_in_period() == 4000


# ---------------------------------------------------------------- outcomes after signing


def test_a_failed_settlement_releases_the_reservation(server: Server,
                                                      make_guard: MakeGuard) -> None:
    state, url = server
    state.settle_ok = False
    guard = make_guard()
    response = pay(guard, url)
    assert response.status_code == 402
    assert (guard.spent_in_period(), guard.reserved()) == (0, 0)
    signed, released = audit(guard)
    assert (signed["event"], released["event"]) == ("signed", "released")
    assert released["reason"] == "insufficient_funds" and released["id"] == signed["id"]


def test_a_signed_payment_answered_with_402_is_released(server: Server,
                                                      make_guard: MakeGuard) -> None:
    state, url = server
    state.paid_status = 402
    guard = make_guard()
    assert pay(guard, url).status_code == 402
    assert len(state.received) == 1  # signed once, not re-signed
    assert (guard.spent_in_period(), guard.reserved()) == (0, 0)
    assert audit(guard)[-1]["reason"] == "the server answered 402 to the signed payment"


def test_a_paid_request_without_an_answer_stays_reserved(server: Server,
                                                         make_guard: MakeGuard) -> None:
    """The payee holds a valid signature: until it says what it did, the maximum counts."""
    state, url = server
    state.paid_status = 500
    guard = make_guard()
    assert pay(guard, url).status_code == 500
    assert (guard.spent_in_period(), guard.reserved()) == (0, 3000)


def test_a_settlement_over_the_maximum_counts_at_the_maximum(server: Server,
                                                             make_guard: MakeGuard) -> None:
    state, url = server
    state.settled = 9999
    guard = make_guard()
    pay(guard, url)
    assert guard.spent_in_period() == 3000
    assert "over the authorized 3000" in audit(guard)[-1]["reason"]


def test_a_new_guard_remembers_the_period_from_the_audit_log(server: Server,
                                                             make_guard: MakeGuard) -> None:
    state, url = server
    state.settled = 411
    pay(make_guard(budget_per_period=3500), url)
    state.paid_status = 500
    pay(make_guard(budget_per_period=3500), url)  # max 3000 reserved, never answered
    again = make_guard(budget_per_period=3500)
    assert (again.spent_in_period(), again.reserved()) == (411, 3000)
    assert "budget" in refusal(again, url)


def test_a_torn_last_line_is_skipped_and_an_edited_line_is_refused(tmp_path: Path,
                                                                   clock: FakeClock) -> None:
    policy = WalletPolicy(allowed_payees={LOCAL_PAY_TO}, max_per_payment=1, budget_per_period=1)
    path = tmp_path / "audit.jsonl"
    path.write_text('{"at": "2026-01-01T00:00:00+00:00", "event": "sig')
    WalletGuard(ACCOUNT, policy, path, clock)
    path.write_text('{"event": "signed", "amount": 12}\n')
    with pytest.raises(WalletError, match="audit log"):
        WalletGuard(ACCOUNT, policy, path, clock)


# ---------------------------------------------------------------- keys and policy


def test_key_file_round_trip_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "agent-key.json"
    save_account(ACCOUNT, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"address", "private_key"}
    assert load_account(path).address == ACCOUNT.address
    with pytest.raises(WalletError, match="never overwritten"):
        save_account(Account.create(), path)


def test_a_key_file_whose_address_does_not_match_is_refused_without_echoing_the_key(
        tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    secret = "0x" + "22" * 32
    path.write_text(json.dumps({"address": ACCOUNT.address, "private_key": secret}))
    with pytest.raises(WalletError, match="does not match") as caught:
        load_account(path)
    path.write_text(json.dumps({"private_key": secret[:-2] + "zz"}))
    with pytest.raises(WalletError, match="not a valid") as bad:
        load_account(path)
    assert "22" * 8 not in str(caught.value) + str(bad.value)


def test_policy_rejects_what_it_cannot_enforce() -> None:
    with pytest.raises(WalletError, match="address"):
        WalletPolicy(allowed_payees={"alice"}, max_per_payment=1, budget_per_period=1)
    with pytest.raises(WalletError, match="max_per_payment"):
        WalletPolicy(allowed_payees={LOCAL_PAY_TO}, max_per_payment=-1, budget_per_period=1)
    policy = WalletPolicy(allowed_payees={LOCAL_PAY_TO.upper().replace("0X", "0x")},
                          max_per_payment=1, budget_per_period=1)
    assert policy.allowed_payees == frozenset({LOCAL_PAY_TO.lower()})


# ---------------------------------------------------------------- the invariant


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=st.integers(0, 12_000),
       payments=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 110), st.booleans(),
                                   st.sampled_from([0, 10, 3600, 90_000])), max_size=10))
def test_spent_plus_reserved_never_exceeds_the_budget(budget: int, payments: list[Payment],
                                                      ) -> None:
    """Any sequence of (amount, settled <= amount or failed, answered or not, time passing)."""
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as workdir:
        policy = WalletPolicy(allowed_payees={LOCAL_PAY_TO}, max_per_payment=3000,
                              budget_per_period=budget, max_payments_per_minute=1000)
        guard = WalletGuard(ACCOUNT, policy, Path(workdir) / "audit.jsonl", clock)
        asyncio.run(_pay_sequence(guard, clock, payments, budget))


async def _pay_sequence(guard: WalletGuard, clock: FakeClock,
                        payments: list[Payment], budget: int) -> None:
    client = guard.x402_client
    for amount, settled_pct, answered, later_s in payments:
        clock.advance(later_s)
        required = PaymentRequired(x402_version=2, accepts=both(amount=amount))
        try:
            payload = await client.create_payment_payload(required)
        except PaymentRefused:
            continue
        assert guard.spent_in_period() + guard.reserved() <= budget
        if answered:
            failed = settled_pct > 100
            settlement = SettleResponse(success=not failed, transaction="t", network=LOCAL_NETWORK,
                                        amount=None if failed else str(amount * settled_pct // 100))
            assert isinstance(payload, PaymentPayload)
            await client.handle_payment_response(PaymentResponseContext(
                payment_payload=payload, requirements=payload.accepted,
                settle_response=settlement))
        assert guard.spent_in_period() + guard.reserved() <= budget


# ---------------------------------------------------------------- the command line


def agent_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = ("import typer; from tokenomy.cli import agent; app = typer.Typer(); "
            "agent.register(app); app()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOMY_")}
    return subprocess.run([sys.executable, "-c", code, "agent", "pay", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_refuses_an_attackers_payee_with_exit_2(server: Server, tmp_path: Path) -> None:
    state, url = server
    state.accepts = both(pay_to=ATTACKER)
    save_account(ACCOUNT, tmp_path / "agent-key.json")
    done = agent_cli([url, "--max", "0.01", "--data", '{"prompt": "hi"}'], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "refused" in done.stderr and "payee" in done.stderr
    assert state.received == []
    assert json.loads((tmp_path / "agent-audit.jsonl").read_text())["event"] == "refused"


def test_cli_pays_and_prints_the_settlement(server: Server, tmp_path: Path) -> None:
    state, url = server
    state.settled = 411
    save_account(ACCOUNT, tmp_path / "agent-key.json")
    done = agent_cli([url, "--max", "0.005", "--budget", "1", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == 200 and out["body"] == {"answer": 42}
    assert out["settlement"]["success"] is True and out["settlement"]["amount"] == "411"
    assert (out["spent"], out["reserved"], out["refused"]) == ("411", "0", None)
    assert [p.accepted.scheme for p in state.received] == ["upto"]


def test_cli_refuses_a_cap_with_more_than_six_decimals(tmp_path: Path) -> None:
    done = agent_cli(["http://127.0.0.1:9/", "--max", "0.0000001"], tmp_path)
    assert done.returncode == 2 and "more than 6 decimals" in done.stderr

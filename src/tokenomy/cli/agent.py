"""Agent commands: ``agent pay URL`` makes one request, paying its x402 402 through the wallet
guard (:mod:`tokenomy.settlement.wallet`), which holds the key and refuses before signing.

Exit status: 0 paid (or nothing to pay), 2 the guard refused or the payment failed (reason on
stderr) or bad input, 1 the request itself failed (transport error, HTTP status >= 400).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tokenomy.cli._common import JsonFlag, fail, print_json
from tokenomy.money import USDC, MoneyError, Rounding, parse_decimal, quantize
from tokenomy.money.amount import format_minor
from tokenomy.settlement.network import LOCAL_PAY_TO

if TYPE_CHECKING:
    import httpx
    from x402.schemas import SettleResponse

    from tokenomy.settlement.wallet import WalletGuard

DEFAULT_MAX_USD = "0.10"
DAY_S = 86_400
REQUEST_TIMEOUT_S = 120.0
METHODS = ("GET", "POST")

agent_app = typer.Typer(help="An AI agent's wallet: pay x402 resources within a policy.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    agent_app.command("pay")(pay)
    app.add_typer(agent_app, name="agent")


def micro_usdc(text: str, flag: str) -> int:
    """``"0.05"`` USD → 50_000 micro-USDC, exactly; more than 6 decimals is an error."""
    try:
        value = parse_decimal(text)
    except MoneyError as exc:
        fail(f"{flag}: {exc}")
    if value < 0:
        fail(f"{flag} must not be negative, got {text!r}")
    minor = quantize(value, USDC.scale, Rounding.DOWN)
    if Decimal(minor).scaleb(-USDC.scale) != value:
        fail(f"{flag} {text!r} has more than {USDC.scale} decimals (USDC has {USDC.scale})")
    return minor


def _usdc(minor: int) -> str:
    return f"{format_minor(minor, USDC.scale)} USDC"


def pay(
    url: Annotated[str, typer.Argument(help="The resource to request.")],
    max_usd: Annotated[str, typer.Option(
        "--max", help="Per-payment cap in USD (for upto: the authorized maximum).")
    ] = DEFAULT_MAX_USD,
    key_file: Annotated[Path, typer.Option(
        "--key-file", help="The agent's key file (tokenomy wallet create --out FILE).")
    ] = Path("agent-key.json"),
    allow_payee: Annotated[list[str] | None, typer.Option(
        "--allow-payee", help=f"A payee address it may pay (repeatable; default {LOCAL_PAY_TO}).")
    ] = None,
    budget_usd: Annotated[str | None, typer.Option(
        "--budget", help="Budget per rolling 24 h in USD (default: --max).")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="GET | POST (default: POST with --data, else GET).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="A JSON request body.")] = None,
    audit: Annotated[Path, typer.Option(
        "--audit", help="The append-only audit log (also the day's memory of spending).")
    ] = Path("agent-audit.jsonl"),
    as_json: JsonFlag = False,
) -> None:
    """Request URL once, paying a 402 through the wallet guard."""
    from tokenomy.settlement.wallet import WalletError, WalletGuard, WalletPolicy, load_account

    cap = micro_usdc(max_usd, "--max")
    budget = cap if budget_usd is None else micro_usdc(budget_usd, "--budget")
    verb = (method or ("POST" if data is not None else "GET")).upper()
    if verb not in METHODS:
        fail(f"--method must be one of {' | '.join(METHODS)}, got {method!r}")
    if data is not None:
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            fail(f"--data is not JSON: {exc.msg} (at {exc.pos})")
    try:
        policy = WalletPolicy(allowed_payees=frozenset(allow_payee or [LOCAL_PAY_TO]),
                              max_per_payment=cap, budget_per_period=budget, period_s=DAY_S)
        guard = WalletGuard(load_account(key_file), policy, audit)
    except WalletError as exc:
        fail(str(exc))
    _pay(guard, verb, url, data, as_json)


def _pay(guard: WalletGuard, verb: str, url: str, data: str | None, as_json: bool) -> None:
    import httpx
    from x402.http.clients.httpx import PaymentError

    from tokenomy.settlement.wallet import PaymentRefused

    try:
        response = asyncio.run(_request(guard, verb, url, data))
    except PaymentRefused as exc:
        _print(guard, as_json, None, "", None, refused=exc.reason)
        fail(f"refused: {exc.reason}")
    except PaymentError as exc:
        fail(f"payment failed: {exc}")
    except httpx.HTTPError as exc:
        fail(f"request failed: {type(exc).__name__}: {exc}", 1)
    settlement, note = _settlement(response)
    _print(guard, as_json, response.status_code, response.text, settlement, note=note)
    if response.status_code == 402 or (settlement is not None and not settlement.success):
        reason = (settlement.error_reason if settlement else None) or "the server answered 402"
        fail(f"payment failed: {reason}")
    if response.status_code >= 400:
        fail(f"the server answered {response.status_code}", 1)


async def _request(guard: WalletGuard, verb: str, url: str, data: str | None,
                   ) -> httpx.Response:
    headers = {"content-type": "application/json"} if data is not None else {}
    async with guard.client(timeout=REQUEST_TIMEOUT_S) as http:
        return await http.request(verb, url, content=data, headers=headers)


def _settlement(response: httpx.Response) -> tuple[SettleResponse | None, str | None]:
    """The decoded PAYMENT-RESPONSE header, or a note on why there is none."""
    from x402.http import PAYMENT_RESPONSE_HEADER, decode_payment_response_header

    header = response.headers.get(PAYMENT_RESPONSE_HEADER)
    if header is None:
        return None, None
    try:
        return decode_payment_response_header(header), None
    except ValueError as exc:
        return None, f"unreadable PAYMENT-RESPONSE header: {type(exc).__name__}"


def _print(guard: WalletGuard, as_json: bool, status: int | None, body: str,
           settlement: SettleResponse | None, *, refused: str | None = None,
           note: str | None = None) -> None:
    spent, reserved = guard.spent_in_period(), guard.reserved()
    if as_json:
        print_json({
            "status": status, "body": _json_or_text(body), "refused": refused,
            "settlement": (settlement.model_dump(by_alias=True, exclude_none=True)
                           if settlement else None),
            "note": note, "spent": str(spent), "reserved": str(reserved),
            "audit": str(guard.audit_path),
        })
        return
    if refused is not None:
        typer.echo(f"refused before signing: {refused}")
    else:
        typer.echo(f"status: {status}")
    if settlement is not None:
        amount = settlement.amount
        shown = _usdc(int(amount)) if amount and amount.isdigit() else "amount not stated"
        outcome = "settled" if settlement.success else f"failed ({settlement.error_reason})"
        typer.echo(f"payment: {outcome}, {shown}, transaction {settlement.transaction or '-'} "
                   f"on {settlement.network}")
    if note is not None:
        typer.echo(f"note: {note}")
    typer.echo(f"last 24 h: spent {_usdc(spent)}, reserved {_usdc(reserved)} "
               f"(audit: {guard.audit_path})")
    if body:
        typer.echo(body)


def _json_or_text(body: str) -> Any:
    try:
        return json.loads(body) if body else None
    except json.JSONDecodeError:
        return body


__all__ = ["DEFAULT_MAX_USD", "agent_app", "micro_usdc", "pay", "register"]

"""Wallet commands for x402 payers on the local network: ``create``, ``fund``, ``balance``."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Annotated

import typer

from tokenomy.cli._common import ConfigOpt, JsonFlag, fail, print_json
from tokenomy.cli.keys import DatabaseOpt, _store
from tokenomy.ledger.budgets import LEDGER_USDC, BudgetError, format_major, parse_major

wallet_app = typer.Typer(help="x402 wallets on the local payment network (USDC).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    wallet_app.command("create")(create)
    wallet_app.command("fund")(fund)
    wallet_app.command("balance")(balance)
    app.add_typer(wallet_app, name="wallet")


def _address(text: str) -> str:
    if not (text.startswith("0x") and len(text) == 42):
        fail(f"not an address: {text!r} (0x and 40 hex digits)")
    try:
        int(text[2:], 16)
    except ValueError:
        fail(f"not an address: {text!r} (0x and 40 hex digits)")
    return text


def create(
    out: Annotated[Path, typer.Option("--out", help="Key file to write (mode 0600).")
                   ] = Path("agent-key.json"),
    as_json: JsonFlag = False,
) -> None:
    """Make a new key pair for an agent; the private key goes to --out only."""
    from eth_account import Account

    if out.exists():
        fail(f"{out} exists: refusing to overwrite a key")
    account = Account.create()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"address": account.address, "private_key": account.key.hex()}, f)
    if as_json:
        print_json({"address": account.address, "key_file": str(out)})
    else:
        typer.echo(f"address {account.address} (private key in {out}, mode 0600)")


def fund(
    address: Annotated[str, typer.Argument(help="The payer's address (0x…).")],
    amount: Annotated[str, typer.Argument(help="USDC, e.g. 5.00 (6 decimals at most).")],
    grant_id: Annotated[str | None, typer.Option(
        "--id", help="Idempotency id: the same id funds once (default: a new one).")] = None,
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Grant USDC to a wallet (a ledger grant; on the local network only)."""
    from tokenomy.settlement.facilitator import LedgerFacilitator

    address = _address(address)
    try:
        micro = parse_major(amount, LEDGER_USDC, "AMOUNT")
    except BudgetError as exc:
        fail(str(exc))
    if micro == 0:
        fail("AMOUNT must be positive")
    with _store(database_url, config) as store:
        f = LedgerFacilitator(store)
        result = f.fund(address, micro, grant_id or f"{time.time_ns()}-{secrets.token_hex(8)}")
        available, held = f.balance(address)
    if result.value not in ("ok", "exists"):
        fail(f"the grant failed: {result.value}")
    line = {"address": address, "funded": format_major(micro, LEDGER_USDC),
            "available": format_major(available, LEDGER_USDC),
            "held": format_major(held, LEDGER_USDC), "result": result.value}
    if as_json:
        print_json(line)
    else:
        done = "funded" if result.value == "ok" else "already funded by this --id"
        typer.echo(f"{address}: {done} {line['funded']} USDC; {line['available']} available")


def balance(
    address: Annotated[str, typer.Argument(help="The payer's address (0x…).")],
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A wallet's available and held USDC."""
    from tokenomy.settlement.facilitator import LedgerFacilitator

    address = _address(address)
    with _store(database_url, config) as store:
        available, held = LedgerFacilitator(store).balance(address)
    line = {"address": address, "available": format_major(available, LEDGER_USDC),
            "held": format_major(held, LEDGER_USDC), "asset": "USDC",
            "network": "local"}
    if as_json:
        print_json(line)
    else:
        typer.echo(f"{address}: {line['available']} USDC available, {line['held']} held")


__all__ = ["register"]

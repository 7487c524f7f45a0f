"""Key commands: ``keys create``, ``keys list``, ``keys revoke``."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import ConfigOpt, JsonFlag, fail, print_json, settings
from tokenomy.ledger.budgets import LEDGER_USD, PERIODS, BudgetError, parse_major
from tokenomy.store.gateway_sql import KeyRecord
from tokenomy.store.ledger_sql import SQLLedger

keys_app = typer.Typer(help="API keys for the gateway, each bound to a budget.",
                       no_args_is_help=True)
DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", help="Store URL (default $TOKENOMY_DATABASE_URL or tokenomy.toml).")]


def register(app: typer.Typer) -> None:
    keys_app.command("create")(create)
    keys_app.command("list")(list_keys)
    keys_app.command("revoke")(revoke)
    app.add_typer(keys_app, name="keys")


@contextmanager
def _store(database_url: str | None, config: ConfigOpt) -> Iterator[SQLLedger]:
    from tokenomy.store import StoreError, open_gateway_store

    try:
        store = open_gateway_store(database_url or settings(config).database_url, time.time_ns)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def _line(record: KeyRecord) -> dict[str, object]:
    from tokenomy.gateway.keys import account_of

    return {"key_id": record.id, "name": record.name, "budget": record.budget,
            "account_id": str(account_of(record)), "rpm": record.rpm, "tpm": record.tpm,
            "exchange_owner": record.exchange_owner,
            "created_at": _instant(record.created_at),
            "revoked_at": _instant(record.revoked_at) if record.revoked_at else None}


def _instant(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="seconds")


def create(
    name: Annotated[str, typer.Option("--name", help="A unique name for the key.")],
    budget: Annotated[str | None, typer.Option(
        "--budget", "--account", help="The budget path it charges (default: the key's name).")
    ] = None,
    budget_usd: Annotated[str | None, typer.Option(
        "--budget-usd", help="Create (or update) the budget with this grant, e.g. 25.00.")
    ] = None,
    period: Annotated[str, typer.Option("--period", help=" | ".join(PERIODS))] = "none",
    rpm: Annotated[int, typer.Option("--rpm", help="Requests per minute (0 = no limit).")] = 0,
    tpm: Annotated[int, typer.Option("--tpm", help="Tokens per minute (0 = no limit).")] = 0,
    exchange_owner: Annotated[int, typer.Option(
        "--exchange-owner", help="An exchange member whose token credits it spends first.")
    ] = 0,
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key (the secret is printed once; only its hash is kept)."""
    from tokenomy.gateway.keys import KeyError_, create_key

    try:
        amount = None if budget_usd is None else parse_major(budget_usd, LEDGER_USD,
                                                             "--budget-usd")
    except BudgetError as exc:
        fail(str(exc))
    with _store(database_url, config) as store:
        try:
            secret, record = create_key(store, name, budget or name, time.time_ns(),
                                        secrets.token_urlsafe, amount, period, rpm, tpm,
                                        exchange_owner)
        except KeyError_ as exc:
            fail(str(exc))
    line = {"key": secret, **_line(record)}
    if as_json:
        print_json(line)
        return
    typer.echo(f"key {record.id} ({record.name}) charges budget {record.budget}")
    typer.echo(f"secret (shown once): {secret}")


def list_keys(as_json: JsonFlag = False, database_url: DatabaseOpt = None,
              config: ConfigOpt = None) -> None:
    """Every key (never its secret)."""
    with _store(database_url, config) as store:
        lines = [_line(k) for k in store.list_keys()]
    if as_json:
        for line in lines:
            print_json(line)
        return
    table = Table("key_id", "name", "budget", "rpm", "tpm", "created", "revoked")
    for line in lines:
        table.add_row(*(str(line[c] or "") for c in ("key_id", "name", "budget", "rpm", "tpm",
                                                      "created_at", "revoked_at")))
    Console().print(table)


def revoke(
    key: Annotated[str, typer.Argument(help="The key's id (key_…) or name.")],
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke a key (the gateway refuses it within seconds)."""
    with _store(database_url, config) as store:
        record = store.revoke_key(key, time.time_ns())
    if record is None:
        fail(f"no key {key!r}")
    if as_json:
        print_json(_line(record))
    else:
        typer.echo(f"revoked {record.id} ({record.name})")


__all__ = ["register"]

"""Ledger and budget commands: ``tokenomy ledger …`` and ``tokenomy budget …``.

``ledger accounts create`` and ``ledger transfer`` read JSON lines (or one JSON list) on stdin
and print one ``{"id", "result"}`` line per event; they exit 1 when any result is neither
``ok`` nor ``exists``. Bad input (not JSON, a bad field) exits 2 before anything is written.
Money in budget commands is a decimal string in major units (``--amount 100.00``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import ConfigOpt, JsonFlag, fail, print_json, settings
from tokenomy.ledger.budget_report import BudgetLine, report, show
from tokenomy.ledger.budgets import (
    KINDS,
    PERIODS,
    BudgetError,
    format_major,
    ledger_of,
    parse_major,
    renew,
    set_budget,
)
from tokenomy.ledger.protocol import LIST_LIMIT_MAX, LedgerStore
from tokenomy.ledger.types import (
    BATCH_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.ledger.wire import (
    WireError,
    account_json,
    parse_account,
    parse_id,
    parse_transfer,
    results_json,
)

EVENTS_MAX = 100 * BATCH_MAX  # events one command reads from stdin

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", help="Store URL (default $TOKENOMY_DATABASE_URL or sqlite:///./tokenomy.db).")]

ledger_app = typer.Typer(help="The double-entry ledger: accounts, transfers, balances.",
                         no_args_is_help=True)
accounts_app = typer.Typer(help="Ledger accounts.", no_args_is_help=True)
budget_app = typer.Typer(help="Budgets: grants per period, a hierarchy, who spends what.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    accounts_app.command("create")(accounts_create)
    accounts_app.command("list")(accounts_list)
    ledger_app.add_typer(accounts_app, name="accounts")
    ledger_app.command("transfer")(transfer)
    ledger_app.command("balance")(balance)
    ledger_app.command("verify")(verify)
    app.add_typer(ledger_app, name="ledger")
    budget_app.command("set")(budget_set)
    budget_app.command("show")(budget_show)
    budget_app.command("report")(budget_report)
    budget_app.command("renew")(budget_renew)
    app.add_typer(budget_app, name="budget")


def open_ledger_store(url: str) -> LedgerStore:
    """The ledger store named by ``url``; the clock is the wall clock (ns)."""
    from tokenomy.store import StoreError, open_ledger

    try:
        return open_ledger(url, time.time_ns)
    except StoreError as exc:
        fail(str(exc))


@contextmanager
def _ledger(database_url: str | None, config: ConfigOpt) -> Iterator[LedgerStore]:
    store = open_ledger_store(database_url or settings(config).database_url)
    try:
        yield store
    finally:
        store.close()


# -- reading events ----------------------------------------------------------------------------

T = TypeVar("T", Account, Transfer)


def _read_events(parse: Callable[[object], T]) -> list[T]:
    """Every event on stdin (JSON lines, or one JSON list), all parsed before any is applied."""
    text = sys.stdin.read()
    items: list[tuple[str, object]] = []
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            fail(f"stdin is not JSON: {exc.msg} (line {exc.lineno})")
        if not isinstance(data, list):
            fail("stdin: expected one JSON list or JSON lines")
        items = [(f"item {i}", item) for i, item in enumerate(data)]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((f"line {number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    fail(f"line {number}: not JSON: {exc.msg}")
    if len(items) > EVENTS_MAX:
        fail(f"at most {EVENTS_MAX} events per command, got {len(items)}")
    events = []
    for where, item in items:
        try:
            events.append(parse(item))
        except WireError as exc:
            fail(f"{where}: {exc}")
    return events


def _batches(events: Sequence[T], linked: Callable[[T], bool]) -> list[Sequence[T]]:
    """Batches of ≤ BATCH_MAX events that never split a linked chain."""
    batches: list[Sequence[T]] = []
    start = cut = 0  # cut: where the last complete chain ends
    for i, event in enumerate(events):
        if not linked(event):
            cut = i + 1
        if i + 1 - start == BATCH_MAX:
            if cut == start:
                fail(f"a linked chain starting at event {start} is longer than {BATCH_MAX}")
            batches.append(events[start:cut])
            start = cut
    if start < len(events):
        batches.append(events[start:])
    return batches


def _apply(events: Sequence[T], linked: Callable[[T], bool],
           create: Callable[[Sequence[T]], Sequence[CreateAccountResult]
                            | Sequence[CreateTransferResult]]) -> None:
    failed = 0
    for batch in _batches(events, linked):
        for line in results_json(batch, create(batch)):
            failed += line["result"] not in ("ok", "exists")
            print_json(line)
    if failed:
        typer.echo(f"error: {failed} of {len(events)} event(s) failed", err=True)
        raise typer.Exit(1)


# -- ledger commands ---------------------------------------------------------------------------


def accounts_create(database_url: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Create accounts (JSON lines or a JSON list on stdin); one result line each."""
    accounts = _read_events(parse_account)
    with _ledger(database_url, config) as store:
        _apply(accounts, lambda a: bool(a.flags & AccountFlags.LINKED), store.create_accounts)


def transfer(database_url: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Create transfers (JSON lines or a JSON list on stdin), ≤ 8,190 per transaction."""
    transfers = _read_events(parse_transfer)
    with _ledger(database_url, config) as store:
        _apply(transfers, lambda t: bool(t.flags & TransferFlags.LINKED), store.create_transfers)


def accounts_list(
    ledger: Annotated[int | None, typer.Option("--ledger", help="Only this ledger.")] = None,
    after: Annotated[str, typer.Option("--after", help="Accounts with a larger id.")] = "0",
    limit: Annotated[int, typer.Option("--limit", help=f"At most {LIST_LIMIT_MAX}.")] = 1000,
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List accounts in id order with their balances."""
    if not 0 < limit <= LIST_LIMIT_MAX:
        fail(f"--limit must be 1..{LIST_LIMIT_MAX}")
    try:
        after_id = 0 if after == "0" else parse_id(after, "--after")
    except WireError as exc:
        fail(str(exc))
    with _ledger(database_url, config) as store:
        accounts = store.list_accounts(ledger, after_id, limit)
    if as_json:
        print_json({"accounts": [account_json(a) for a in accounts]})
        return
    table = Table(title=f"{len(accounts)} accounts")
    for column in ("id", "ledger", "code", "flags", "debits pending", "debits posted",
                   "credits pending", "credits posted"):
        table.add_column(column, justify="left" if column in ("id", "flags") else "right")
    for a in accounts:
        j = account_json(a)
        table.add_row(j["id"], str(a.ledger), str(a.code), ", ".join(j["flags"]),
                      j["debits_pending"], j["debits_posted"], j["credits_pending"],
                      j["credits_posted"])
    Console().print(table)


def balance(
    account_id: Annotated[str, typer.Argument(metavar="ID", help="The account id.")],
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One account and its four balances."""
    try:
        wanted = parse_id(account_id)
    except WireError as exc:
        fail(str(exc))
    with _ledger(database_url, config) as store:
        found = store.lookup_accounts([wanted])
    if not found:
        fail(f"no account {wanted}")
    body = account_json(found[0])
    if as_json:
        print_json(body)
        return
    table = Table(title=f"Account {body['id']} (ledger {body['ledger']}, code {body['code']})")
    table.add_column("balance")
    table.add_column("minor units", justify="right")
    for key in ("debits_pending", "debits_posted", "credits_pending", "credits_posted"):
        table.add_row(key, body[key])
    Console().print(table)


def verify(as_json: JsonFlag = False, database_url: DatabaseOpt = None,
           config: ConfigOpt = None) -> None:
    """Check every ledger invariant; exit 1 listing the violations."""
    with _ledger(database_url, config) as store:
        violations = store.verify()
    if as_json:
        print_json({"ok": not violations, "violations": violations})
    elif not violations:
        typer.echo("ok: every invariant holds")
    for violation in violations if not as_json else []:
        typer.echo(violation)
    if violations:
        typer.echo(f"error: {len(violations)} violation(s)", err=True)
        raise typer.Exit(1)


# -- budget commands ---------------------------------------------------------------------------


def budget_set(
    name: Annotated[str, typer.Argument(help="A path: acme/research/alice.")],
    amount: Annotated[str, typer.Option("--amount", help="Grant per period, e.g. 100.00.")],
    asset: Annotated[str, typer.Option("--asset", help="USD or USDC.")] = "USD",
    period: Annotated[str, typer.Option("--period", help=" | ".join(PERIODS))] = "none",
    rollover: Annotated[bool, typer.Option(
        "--rollover", help="Unused grant rolls over (default: it expires).")] = False,
    kind: Annotated[str, typer.Option("--kind", help=" | ".join(KINDS))] = "team",
    owner: Annotated[str, typer.Option("--owner", help="Who it belongs to.")] = "",
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create or update a budget and grant its current period (idempotent)."""
    try:
        ledger = ledger_of(asset)
        minor = parse_major(amount, ledger, "--amount")
    except BudgetError as exc:
        fail(str(exc))
    with _ledger(database_url, config) as store:
        now = time.time_ns()
        try:
            set_budget(store, name, minor, ledger, period, rollover, kind, owner, now)
        except BudgetError as exc:
            fail(str(exc))
        _print_lines([show(store, name, now)], as_json, one=True)


def budget_show(
    name: Annotated[str, typer.Argument(help="A budget path.")],
    as_json: JsonFlag = False,
    database_url: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One budget's standing."""
    with _ledger(database_url, config) as store:
        try:
            line = show(store, name, time.time_ns())
        except BudgetError as exc:
            fail(str(exc))
    _print_lines([line], as_json, one=True)


def budget_report(as_json: JsonFlag = False, database_url: DatabaseOpt = None,
                  config: ConfigOpt = None) -> None:
    """Every budget: granted, spent, reserved, remaining, % used, owner."""
    with _ledger(database_url, config) as store:
        lines = report(store, time.time_ns())
    _print_lines(lines, as_json, one=False)


def budget_renew(as_json: JsonFlag = False, database_url: DatabaseOpt = None,
                 config: ConfigOpt = None) -> None:
    """Grant every periodic budget its new period (run it daily; repeating is a no-op)."""
    with _ledger(database_url, config) as store:
        done = renew(store, time.time_ns())
        ledgers = {b.name: b.ledger for b in store.list_budgets()}
    rows = [{"name": r.name, "period_start": r.period_start,
             "granted": format_major(r.granted, ledgers[r.name]),
             "swept": format_major(r.swept, ledgers[r.name])} for r in done]
    if as_json:
        print_json({"renewed": rows})
        return
    typer.echo(f"renewed {len(rows)} budget(s)")
    for row in rows:
        typer.echo(f"{row['name']}: {row['period_start']} granted {row['granted']}, "
                   f"swept {row['swept']}")


def _print_lines(lines: Sequence[BudgetLine], as_json: bool, one: bool) -> None:
    rows: list[dict[str, Any]] = [line.to_json() for line in lines]
    if as_json:
        print_json(rows[0] if one else {"budgets": rows})
        return
    table = Table(title="Budgets" if not one else f"Budget {rows[0]['name']}")
    columns = ("name", "kind", "owner", "asset", "period", "granted", "spent", "reserved",
               "remaining", "used %")
    for column in columns:
        table.add_column(column, justify="right" if column in columns[5:] else "left",
                         no_wrap=column == "name")
    for r in rows:
        period = r["period"] + (" (rollover)" if r["rollover"] else "")
        table.add_row(r["name"], r["kind"], r["owner"], r["asset"], period, r["granted"],
                      r["spent"], r["reserved"], r["remaining"], r["used_pct"])
    Console().print(table)


__all__ = ["open_ledger_store", "register"]

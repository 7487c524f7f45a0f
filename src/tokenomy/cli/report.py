"""Report commands: ``report spend|budgets|goodput|index`` (tables, ``--json``, ``--csv``) and
``report focus`` (a FinOps FOCUS CSV export)."""

from __future__ import annotations

import csv
import io
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import BookOpt, ConfigOpt, JsonFlag, fail, print_json, settings

report_app = typer.Typer(help="Reports: spend, budgets, good-put, the index; FOCUS export.",
                         no_args_is_help=True)
SinceOpt = Annotated[str, typer.Option(
    "--since", help="Start (inclusive): ISO date/datetime (UTC) or a span ago: 7d, 12h, 30m.")]
UntilOpt = Annotated[str, typer.Option("--until", help="End (exclusive); default now.")]
ByOpt = Annotated[str, typer.Option(
    "--by", help="account, team, key, model, provider, modality, class, origin or day.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", help="Store URL (default $TOKENOMY_DATABASE_URL or tokenomy.toml).")]
DEFAULT_SPAN_S = 30 * 86_400  # the window when --since is not given: 30 days


def register(app: typer.Typer) -> None:
    report_app.command("spend")(spend)
    report_app.command("budgets")(budgets)
    report_app.command("goodput")(goodput)
    report_app.command("index")(index)
    report_app.command("focus")(focus)
    app.add_typer(report_app, name="report")


@contextmanager
def _reports(database_url: str | None, config: Path | None,
             books: list[Path] | None) -> Iterator[Any]:
    from tokenomy.cli._common import now, read_books
    from tokenomy.pricing import load_book
    from tokenomy.pricing.errors import PricingError
    from tokenomy.pricing.stu import build_table
    from tokenomy.report import Reports
    from tokenomy.store import StoreError, open_gateway_store

    conf = settings(config)
    try:
        book = load_book(read_books([*conf.pricing_books, *(books or [])]))
        table = build_table(book, now())
    except PricingError as exc:
        fail(str(exc))
    try:
        store = open_gateway_store(database_url or conf.database_url, time.time_ns)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield Reports(store, book, table)
    finally:
        store.close()


def _window(since: str, until: str) -> Any:
    from tokenomy.report import ReportInputError
    from tokenomy.report.service import parse_window

    try:
        return parse_window(since, until, time.time_ns(), DEFAULT_SPAN_S)
    except ReportInputError as exc:
        fail(str(exc))


def _check_by(by: str) -> str:
    from tokenomy.report import ReportInputError
    from tokenomy.report.views import check_dimension

    try:
        return check_dimension(by)
    except ReportInputError as exc:
        fail(str(exc))


def _formats(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        fail("--json and --csv exclude each other")


def _emit(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str,
          as_csv: bool) -> None:
    """``rows`` as CSV (every column's key as header) or as a rich table."""
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([key for key, _ in columns])
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in columns])
        sys.stdout.write(out.getvalue())
        return
    table = Table(title=title)
    for i, (_, header) in enumerate(columns):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*("—" if row.get(k) is None else str(row.get(k)) for k, _ in columns))
    Console().print(table)


def _run(call: Any) -> Any:
    from tokenomy.report import ReportInputError
    from tokenomy.store import StoreError
    from tokenomy.store.report_sql import ReportTooLargeError

    try:
        return call()
    except (ReportInputError, ReportTooLargeError, StoreError) as exc:
        fail(str(exc))


SPEND_COLUMNS = (("group", "group"), ("requests", "requests"), ("ok_requests", "ok"),
                 ("tokens", "tokens"), ("stu", "STU"), ("cost_usd", "cost USD"),
                 ("cost_per_success_usd", "USD / ok request"))


def spend(since: SinceOpt = "", until: UntilOpt = "", by: ByOpt = "model",
          as_json: JsonFlag = False, as_csv: CsvFlag = False, database_url: DatabaseOpt = None,
          config: ConfigOpt = None, book: BookOpt = None) -> None:
    """Spend, tokens, STU and cost per successful request, grouped by one dimension."""
    _formats(as_json, as_csv)
    window, by = _window(since, until), _check_by(by)
    with _reports(database_url, config, book) as reports:
        data = _run(lambda: reports.spend(window, by))
    if as_json:
        print_json(data)
        return
    total = data["total"]
    _emit([*data["rows"], {"group": "total", "requests": total["requests"],
                           "tokens": total["tokens"], "stu": total["stu"],
                           "cost_usd": total["cost_usd"]}] if not as_csv else data["rows"],
          [(k, by if k == "group" else h) for k, h in SPEND_COLUMNS],
          f"Spend by {by}, {data['window']['since']} → {data['window']['until']}", as_csv)


BUDGET_COLUMNS = (("name", "budget"), ("kind", "kind"), ("owner", "owner"),
                  ("granted", "granted"), ("spent", "spent"), ("reserved", "reserved"),
                  ("remaining", "remaining"), ("used_pct", "% used"),
                  ("burn_usd_per_hour", "burn USD/h"), ("exhausted_at", "exhausted at"),
                  ("open_reservations", "open res."), ("window_tokens", "tokens"))


def budgets(since: SinceOpt = "", until: UntilOpt = "", as_json: JsonFlag = False,
            as_csv: CsvFlag = False, database_url: DatabaseOpt = None,
            config: ConfigOpt = None, book: BookOpt = None) -> None:
    """Budgets: consumption, burn rate over the window, time to exhaustion, open reservations."""
    _formats(as_json, as_csv)
    window = _window(since, until)
    with _reports(database_url, config, book) as reports:
        data = _run(lambda: reports.budgets(window))
    if as_json:
        print_json(data)
        return
    _emit(data["budgets"], BUDGET_COLUMNS, "Budgets", as_csv)


GOODPUT_COLUMNS = (("team", "team"), ("model", "model"), ("billed_tokens", "billed tokens"),
                   ("good_tokens", "good tokens"), ("goodput", "good-put"),
                   ("requests", "requests"), ("good_requests", "good requests"))


def goodput(since: SinceOpt = "", until: UntilOpt = "", as_json: JsonFlag = False,
            as_csv: CsvFlag = False, database_url: DatabaseOpt = None,
            config: ConfigOpt = None, book: BookOpt = None) -> None:
    """Good-put: tokens of successful, non-retried, non-abandoned, not-useless responses ÷
    all billed tokens, by team and model."""
    _formats(as_json, as_csv)
    window = _window(since, until)
    with _reports(database_url, config, book) as reports:
        data = _run(lambda: reports.goodput(window))
    if as_json:
        print_json(data)
        return
    rows = data["rows"] if as_csv else [*data["rows"], data["total"]]
    _emit(rows, GOODPUT_COLUMNS, "Good-put", as_csv)


INDEX_COLUMNS = (("grade", "grade"), ("value", "USD / 1M tokens"), ("method", "method"),
                 ("volume", "volume"), ("inputs", "inputs"))


def index(as_json: JsonFlag = False, as_csv: CsvFlag = False,
          database_url: DatabaseOpt = None, config: ConfigOpt = None,
          book: BookOpt = None) -> None:
    """The token price index per grade now (trades in the exchange journal, else list prices)."""
    _formats(as_json, as_csv)
    with _reports(database_url, config, book) as reports:
        data = _run(lambda: reports.market(time.time_ns()))
    if as_json:
        print_json({"at": data["at"], "unit": data["unit"], "index": data["index"]})
        return
    _emit(data["index"], INDEX_COLUMNS, f"Token price index at {data['at']}", as_csv)


def focus(since: SinceOpt = "", until: UntilOpt = "",
          output: Annotated[Path | None, typer.Option(
              "--output", help="Write the CSV here (default: stdout).")] = None,
          database_url: DatabaseOpt = None, config: ConfigOpt = None,
          book: BookOpt = None) -> None:
    """FinOps FOCUS 1.x CSV: one row per request × token class × modality, with the
    prompt-cache chargeback in EffectiveCost."""
    from tokenomy.report.focus import focus_csv

    window = _window(since, until)
    with _reports(database_url, config, book) as reports:
        rows = _run(lambda: reports.focus(window))
    text = focus_csv(rows)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: {exc.strerror or exc}")
    typer.echo(f"wrote {len(rows)} FOCUS rows to {output}", err=True)


__all__ = ["register"]

"""Index commands: ``index show GRADE [--at] [--history] [--json]``.

The token price index (docs/token-price-index.md) from the grade's executed spot trades in the
exchange journal (the settings' database, or ``--database-url``; none when it does not exist)
and the price book's list prices. The clock is read here only: ``--at`` defaults to now.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tokenomy.cli._common import (
    BookOpt,
    ConfigOpt,
    JsonFlag,
    fail,
    now,
    print_json,
    read_books,
    settings,
)
from tokenomy.exchange.index import (
    MONTHLY,
    IndexInputError,
    IndexTrade,
    IndexValue,
    compute_index,
    index_history,
    parse_grade,
)
from tokenomy.meter.errors import MeterError
from tokenomy.pricing import BookError, PriceBook, load_book
from tokenomy.pricing.records import parse_instant

HISTORY_START = datetime(2024, 1, 1, tzinfo=UTC)

def register(app: typer.Typer) -> None:
    index_app = typer.Typer(help="The token price index, per grade.", no_args_is_help=True)
    index_app.command("show")(index_show)
    app.add_typer(index_app, name="index")


def _book(config: Path | None, books: list[Path] | None) -> PriceBook:
    chosen = settings(config)
    try:
        return load_book(read_books([*chosen.pricing_books, *(books or [])]))
    except BookError as exc:
        fail(str(exc))


def _trades(database_url: str | None, config: Path | None, grade: str,
            until: datetime) -> list[IndexTrade]:
    """The grade's spot trades from the exchange journal (none when there is no database)."""
    from tokenomy.store import StoreError, open_gateway_store, parse_url
    from tokenomy.store.exchange_index import grade_trades

    url = database_url or settings(config).database_url
    try:
        parsed = parse_url(url)
        if parsed.scheme == "sqlite" and not Path(parsed.target).exists():
            return []
        store = open_gateway_store(url, time.time_ns)
    except StoreError as exc:
        fail(str(exc))
    try:
        return grade_trades(store, until).get(grade, [])
    finally:
        store.close()


def _line(point: IndexValue) -> str:
    stale = f" (stale since {point.stale_since.date()})" if point.stale_since else ""
    return (f"{point.at.date()}  {point.grade.name:<13} {point.value:>12} USD/1M  "
            f"{point.method.value} ({point.inputs} inputs){stale}")


def index_show(
    grade: Annotated[str, typer.Argument(help="A grade, e.g. FRONTIER-OUT or ECONOMY-IN.")],
    at: Annotated[str | None, typer.Option("--at", help="ISO 8601 date or time (default now).")]
    = None,
    history: Annotated[bool, typer.Option(
        "--history", help="Monthly values from 2024-01-01 to --at.")] = False,
    as_json: JsonFlag = False,
    book: BookOpt = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Where the exchange journal is (default: the settings').")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Show a grade's index value: value, method and constituents (or its monthly history)."""
    try:
        chosen = parse_grade(grade)
        moment = now() if at is None else parse_instant(at, "--at")
    except (IndexInputError, MeterError) as exc:
        fail(str(exc))
    prices = _book(config, book)
    trades = _trades(database_url, config, chosen.name, moment)
    try:
        if history:
            points = index_history(prices, chosen, HISTORY_START, moment, MONTHLY, trades)
        else:
            points = [compute_index(chosen, moment, prices, trades)]
    except IndexInputError as exc:
        fail(str(exc))
    if as_json:
        print_json([p.to_json() for p in points] if history else points[0].to_json())
        return
    for point in points:
        typer.echo(_line(point))
    if not history:
        for member in points[0].constituents:
            typer.echo(f"  {member.model:<40} {member.rate:>12}")

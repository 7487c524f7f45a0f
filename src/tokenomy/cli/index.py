"""Index commands: ``index show GRADE [--at] [--history] [--json]``.

The token price index from the price book's list prices (docs/token-price-index.md). The clock
is read here only: ``--at`` defaults to now. Trades are not read yet (no trade source is wired
in), so the published method is ``list_prices`` or ``stale``.
"""

from __future__ import annotations

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
    config: ConfigOpt = None,
) -> None:
    """Show a grade's index value: value, method and constituents (or its monthly history)."""
    try:
        chosen = parse_grade(grade)
        moment = now() if at is None else parse_instant(at, "--at")
    except (IndexInputError, MeterError) as exc:
        fail(str(exc))
    prices = _book(config, book)
    try:
        if history:
            points = index_history(prices, chosen, HISTORY_START, moment, MONTHLY)
        else:
            points = [compute_index(chosen, moment, prices)]
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

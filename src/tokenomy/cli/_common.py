"""What every command shares: errors to stderr, JSON out, settings, the pricing context."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer

from tokenomy.config import ConfigError, Settings, load_settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Path to tokenomy.toml.")]
BookOpt = Annotated[
    list[Path] | None,
    typer.Option("--book", help="A user price book layered on top (repeatable)."),
]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings(config: Path | None) -> Settings:
    try:
        return load_settings(config_path=config)
    except ConfigError as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def jsonl(stream: TextIO) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or the JSONDecodeError) for each non-blank line."""
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, exc


@dataclass(frozen=True, slots=True)
class Lines:
    rows: list[dict[str, Any]]  # the result lines (empty with --json: those were printed)
    count: int  # input lines read (blank ones skipped)
    failed: int  # of which ended in an error line


def each_line(as_json: bool, handle: Callable[[Any], dict[str, Any]]) -> Lines:
    """Run ``handle`` on every JSON line of stdin. With ``--json`` each result is printed at
    once (streaming); otherwise they are returned for a table. A line that is not JSON becomes
    an ``invalid_json`` error line; the rest go on."""
    rows: list[dict[str, Any]] = []
    failed = count = 0
    for number, item in jsonl(sys.stdin):
        if isinstance(item, json.JSONDecodeError):
            line: dict[str, Any] = {"id": None, "error": {
                "type": "invalid_json", "message": f"line {number}: {item.msg}"}}
        else:
            line = handle(item)
        count += 1
        failed += "error" in line
        if as_json:
            print_json(line)
        else:
            rows.append(line)
    return Lines(rows, count, failed)


def exit_if_failed(failed: int) -> None:
    """Non-zero exit (1) when any record failed; the others were still processed."""
    if failed:
        typer.echo(f"error: {failed} record(s) failed", err=True)
        raise typer.Exit(1)


def now() -> datetime:
    return datetime.now(UTC)


def read_books(paths: Sequence[Path | str]) -> dict[str, str]:
    """``{path: TOML text}`` of user price books, or a clean exit naming the bad file."""
    books = {}
    for path in paths:
        try:
            books[str(path)] = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
    return books

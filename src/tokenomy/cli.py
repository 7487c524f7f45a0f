"""The command line: ``tokenomy <noun> <verb>``. A thin shell over the package.

Every read command takes ``--json``. Errors go to stderr with a non-zero exit: 1 when some
records failed, 2 for bad usage or input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.config import ConfigError, Settings, load_settings
from tokenomy.meter.errors import MeterError
from tokenomy.meter.estimate import API_FAMILIES, estimate_request
from tokenomy.meter.media import Detail
from tokenomy.meter.models import MODELS, known, resolve
from tokenomy.meter.records import CountItem, count_items, error_line, normalize_record

app = typer.Typer(help="Tokenomy: meter, price, hold, trade and pay for AI tokens.",
                  no_args_is_help=True, add_completion=False)
usage_app = typer.Typer(help="Provider usage objects.", no_args_is_help=True)
app.add_typer(usage_app, name="usage")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Path to tokenomy.toml.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config_path=config)
    except ConfigError as exc:
        _fail(str(exc))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8402).")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Store URL (default $TOKENOMY_DATABASE_URL or sqlite:///./tokenomy.db).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the HTTP server (FastAPI on uvicorn)."""
    import uvicorn

    from tokenomy.gateway import create_app
    from tokenomy.store import StoreError, parse_url

    settings = _settings(config).with_overrides(host=host, port=port, database_url=database_url)
    try:
        parse_url(settings.database_url)
    except StoreError as exc:
        _fail(str(exc))
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@app.command()
def count(
    files: Annotated[list[Path], typer.Argument(help="Text, image, audio, video or PDF files.")],
    model: Annotated[
        str | None, typer.Option(help="Model whose rules count (default gpt-4o).")
    ] = None,
    detail: Annotated[
        Detail, typer.Option(help="Image detail (OpenAI tile models).")
    ] = Detail.AUTO,
    as_json: JsonFlag = False,
    config: ConfigOpt = None,
) -> None:
    """Count the input tokens of files: text raw (no chat overhead), media by the model's rules."""
    model = model or _settings(config).default_model
    items = []
    for path in files:
        try:
            items.append(CountItem(str(path), path.read_bytes(), detail))
        except OSError as exc:
            _fail(f"{path}: {exc.strerror or exc}")
    try:
        result = count_items(model, items)
    except MeterError as exc:
        _fail(str(exc))
    if as_json:
        _print_json(result)
        return
    table = Table(title=f"Input tokens for {result['model']}")
    for column in ("path", "modality", "tokens", "method"):
        table.add_column(column, justify="right" if column == "tokens" else "left")
    for item in result["items"]:
        table.add_row(item["path"], item["modality"], f"{item['tokens']:,}", item["method"])
    table.add_section()
    table.add_row("total", "", f"{result['total_input_tokens']:,}", "")
    Console().print(table)


def _jsonl(stream: TextIO) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, exc


@usage_app.command("normalize")
def usage_normalize(as_json: JsonFlag = False) -> None:
    """Normalize provider usage objects (JSON lines on stdin) to canonical usage."""
    failed = 0
    rows: list[dict[str, Any]] = []
    for number, record in _jsonl(sys.stdin):
        if isinstance(record, json.JSONDecodeError):
            line = error_line(None, record)
            line["error"].update(type="invalid_json", message=f"line {number}: {record.msg}")
        else:
            line = normalize_record(record)
        failed += "error" in line
        if as_json:
            _print_json(line)
        else:
            rows.append(line)
    if not as_json:
        _usage_table(rows)
    if failed:
        typer.echo(f"error: {failed} record(s) failed", err=True)
        raise typer.Exit(1)


def _usage_table(rows: list[dict[str, Any]]) -> None:
    console = Console()
    classes = ("input", "cache_read", "cache_write", "output", "reasoning")
    table = Table(title="Canonical usage")
    table.add_column("id", no_wrap=True)
    table.add_column("model", no_wrap=True)
    for cls in classes:
        table.add_column(cls, justify="right")
    table.add_column("est.")
    for line in rows:
        if "error" not in line:
            t = line["tokens"]
            table.add_row(str(line["id"]), str(line["model"]), *(f"{t[c]:,}" for c in classes),
                          "yes" if line["estimated"] else "")
    console.print(table)
    for line in rows:
        if "error" in line:
            console.print(f"[red]{line['id']}: {line['error']['message']}[/red]", highlight=False)


@app.command()
def models(
    provider: Annotated[str | None, typer.Option(help="Only this provider's models.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the models the meter knows, with their tokenizers and media rules."""
    try:
        rows = known(provider)
    except MeterError as exc:
        _fail(str(exc))
    if as_json:
        _print_json({"models": [m.to_json() for m in rows]})
        return
    table = Table(title=f"{len(rows)} models")
    for column in ("model", "provider", "tokenizer", "image", "audio", "video", "max output"):
        table.add_column(column)
    for m in rows:
        j = m.to_json()
        table.add_row(m.model, m.provider, m.tokenizer + ("" if j["tokenizer_exact"] else " ≈"),
                      j["image"] or "", "yes" if j["audio"] else "", "yes" if j["video"] else "",
                      f"{m.max_output_tokens:,}")
    Console().print(table)


@app.command()
def estimate(
    api: Annotated[str, typer.Option(help=f"Request family: {', '.join(API_FAMILIES)}.")],
    model: Annotated[str | None, typer.Option(help="Model (default: the body's `model`).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Worst-case usage of a request body read from stdin (what a budget would reserve)."""
    try:
        body = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        _fail(f"stdin is not JSON: {exc.msg}")
    name = model or (body.get("model") if isinstance(body, dict) else None)
    if not isinstance(name, str):
        _fail("name the model with --model or in the body's `model`")
    try:
        usage = estimate_request(api, body, resolve(name))
    except MeterError as exc:
        _fail(str(exc))
    result = {"model": name, "api": api, **usage.to_json()}
    if as_json:
        _print_json(result)
        return
    table = Table(title=f"Worst case for {name} ({api})")
    table.add_column("class")
    table.add_column("tokens", justify="right")
    for cls, n in result["tokens"].items():
        table.add_row(cls, f"{n:,}")
    Console().print(table)


def main() -> None:
    app()


__all__ = ["MODELS", "app", "main"]

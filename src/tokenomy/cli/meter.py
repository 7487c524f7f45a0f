"""Meter commands: ``count``, ``usage normalize``, ``estimate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import (
    ConfigOpt,
    JsonFlag,
    each_line,
    exit_if_failed,
    fail,
    print_json,
    settings,
)
from tokenomy.meter.errors import MeterError
from tokenomy.meter.estimate import API_FAMILIES, estimate_request
from tokenomy.meter.media import Detail
from tokenomy.meter.models import resolve
from tokenomy.meter.records import CountItem, count_items, normalize_record

usage_app = typer.Typer(help="Provider usage objects.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(count)
    app.command()(estimate)
    usage_app.command("normalize")(usage_normalize)
    app.add_typer(usage_app, name="usage")


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
    model = model or settings(config).default_model
    items = []
    for path in files:
        try:
            items.append(CountItem(str(path), path.read_bytes(), detail))
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
    try:
        result = count_items(model, items)
    except MeterError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Input tokens for {result['model']}")
    for column in ("path", "modality", "tokens", "method"):
        table.add_column(column, justify="right" if column == "tokens" else "left")
    for item in result["items"]:
        table.add_row(item["path"], item["modality"], f"{item['tokens']:,}", item["method"])
    table.add_section()
    table.add_row("total", "", f"{result['total_input_tokens']:,}", "")
    Console().print(table)


def usage_normalize(as_json: JsonFlag = False) -> None:
    """Normalize provider usage objects (JSON lines on stdin) to canonical usage."""
    lines = each_line(as_json, normalize_record)
    if not as_json:
        _usage_table(lines.rows)
    exit_if_failed(lines.failed)


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


def estimate(
    api: Annotated[str, typer.Option(help=f"Request family: {', '.join(API_FAMILIES)}.")],
    model: Annotated[str | None, typer.Option(help="Model (default: the body's `model`).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Worst-case usage of a request body read from stdin (what a budget would reserve)."""
    try:
        body = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        fail(f"stdin is not JSON: {exc.msg}")
    name = model or (body.get("model") if isinstance(body, dict) else None)
    if not isinstance(name, str):
        fail("name the model with --model or in the body's `model`")
    try:
        usage = estimate_request(api, body, resolve(name))
    except MeterError as exc:
        fail(str(exc))
    result = {"model": name, "api": api, **usage.to_json()}
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Worst case for {name} ({api})")
    table.add_column("class")
    table.add_column("tokens", justify="right")
    for cls, n in result["tokens"].items():
        table.add_row(cls, f"{n:,}")
    Console().print(table)

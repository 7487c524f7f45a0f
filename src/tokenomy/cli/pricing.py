"""Pricing commands: ``prices`` (show, import, reprice), ``cost``, ``stu``, ``models``."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import (
    BookOpt,
    ConfigOpt,
    JsonFlag,
    each_line,
    exit_if_failed,
    fail,
    now,
    print_json,
    read_books,
    settings,
)
from tokenomy.meter.errors import MeterError
from tokenomy.meter.models import MODELS
from tokenomy.meter.usage import Usage
from tokenomy.money import Asset
from tokenomy.pricing import BookError, PriceBook, PricingError, UnpricedPolicy, load_book
from tokenomy.pricing.records import Priced, Pricing, cost_line, parse_instant, summary_line
from tokenomy.pricing.reprice import Recorded
from tokenomy.pricing.stu import ALL, build_table
from tokenomy.store.usage_records import UsageRow

UnpricedOpt = Annotated[
    str | None,
    typer.Option("--unpriced", help="Unpriced usage: block (error) or hold (provisional rate)."),
]
AtOpt = Annotated[str | None, typer.Option("--at", help="ISO 8601 date or time (default now).")]


PRICES_VERBS = ("show", "import", "reprice")


def default_verb(argv: list[str]) -> list[str]:
    """``tokenomy prices [MODEL] …`` means ``tokenomy prices show [MODEL] …``."""
    if len(argv) >= 1 and argv[0] == "prices":
        rest = argv[1:]
        if not rest or (rest[0] not in PRICES_VERBS and rest[0] not in ("--help", "-h")):
            return ["prices", "show", *rest]
    return argv


prices_app = typer.Typer(help="The price book: show, import, reprice.", no_args_is_help=True)
imports_app = typer.Typer(help="Import price books from other tools.", no_args_is_help=True)
stu_app = typer.Typer(help="The Standard Token Unit.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    prices_app.command("show")(prices_show)
    prices_app.command("reprice")(prices_reprice)
    imports_app.command("litellm")(import_litellm)
    prices_app.add_typer(imports_app, name="import")
    app.add_typer(prices_app, name="prices")
    app.command()(cost)
    app.command()(models)
    stu_app.command("table")(stu_table)
    stu_app.command("convert")(stu_convert)
    app.add_typer(stu_app, name="stu")


def _book(config: Path | None, books: list[Path] | None, extra: Sequence[Path] = ()) -> PriceBook:
    chosen = settings(config)
    try:
        return load_book(read_books([*chosen.pricing_books, *(books or []), *extra]))
    except BookError as exc:
        fail(str(exc))


def _pricing(config: Path | None, books: list[Path] | None, unpriced: str | None,
             extra: Sequence[Path] = ()) -> Pricing:
    mode = unpriced or settings(config).unpriced
    if mode not in ("block", "hold"):
        fail("--unpriced must be 'block' or 'hold'")
    book = _book(config, books, extra)
    moment = now()
    return Pricing(book, UnpricedPolicy("hold" if mode == "hold" else "block"),
                   build_table(book, moment), moment)


def _instant(value: str | None) -> datetime:
    if value is None:
        return now()
    try:
        return parse_instant(value, "--at")
    except MeterError as exc:
        fail(str(exc))


# -- prices ----------------------------------------------------------------------------------


def prices_show(
    model: Annotated[str | None, typer.Argument(help="A model id or alias.")] = None,
    at: AtOpt = None,
    as_json: JsonFlag = False,
    book: BookOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show the prices in force (all models, or one model with its history)."""
    prices = _book(config, book)
    moment = _instant(at)
    if model is not None:
        try:
            entry = prices.entry(model, moment)
        except PricingError as exc:
            fail(str(exc))
        history = [e.to_json() for e in prices.history(model)]
        if as_json:
            print_json({"model": entry.model, "at": moment.isoformat(),
                        "entry": entry.to_json(), "history": history})
            return
        _show_entry(entry.to_json(), history)
        return
    entries = prices.entries_at(moment)
    if as_json:
        print_json({"at": moment.isoformat(), "models": [e.to_json() for e in entries]})
        return
    table = Table(title=f"Prices in force at {moment:%Y-%m-%d %H:%M} UTC (USD per 1M tokens)")
    for column in ("model", "provider", "quality", "input", "cached", "output", "tiers",
                   "version"):
        table.add_column(column, justify="right" if column in ("input", "cached", "output")
                         else "left")
    for e in entries:
        r = e.rates
        table.add_row(e.model, e.provider, e.quality, str(r.get("input", "")),
                      str(r.get("cache_read", "")), str(r.get("output", "")),
                      ", ".join(f">{t.input_tokens // 1000}K" for t in e.tiers),
                      e.version)
    Console().print(table)


def _show_entry(entry: dict[str, Any], history: list[dict[str, Any]]) -> None:
    console = Console()
    console.print(f"[bold]{entry['model']}[/bold] ({entry['provider']}, {entry['country']}, "
                  f"{entry['quality']}) — version {entry['version']}")
    console.print(f"source: {entry['source']}")
    table = Table(title="Rates in force (per 1M tokens)")
    table.add_column("rate")
    table.add_column(entry["currency"], justify="right")
    for key, value in entry["rates_per_mtok"].items():
        table.add_row(key, value)
    for tier in entry["long_context_tiers"]:
        for key, value in tier["rates_per_mtok"].items():
            table.add_row(f"{key} (input > {tier['input_tokens']:,})", value)
    for name, spec in entry["service_tiers"].items():
        table.add_row(name, f"×{spec['multiplier']}" + "".join(
            f", {k} {v}" for k, v in spec.items() if k != "multiplier"))
    for name, value in entry["fees"].items():
        table.add_row(f"fee: {name}", value)
    console.print(table)
    history_table = Table(title="History")
    for column in ("valid from", "valid to", "input", "output", "version"):
        history_table.add_column(column)
    for h in history:
        history_table.add_row(h["valid_from"][:10], (h["valid_to"] or "")[:10],
                              h["rates_per_mtok"].get("input", ""),
                              h["rates_per_mtok"].get("output", ""), h["version"])
    console.print(history_table)


def prices_reprice(
    since: Annotated[str, typer.Option("--since", help="First instant (ISO 8601) to reprice.")],
    new_book: Annotated[Path, typer.Option("--book", help="The book to price history with.")],
    until: Annotated[str | None, typer.Option("--until", help="End (exclusive).")] = None,
    as_json: JsonFlag = False,
    unpriced: UnpricedOpt = None,
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    config: ConfigOpt = None,
) -> None:
    """Dry run: what recorded usage would cost under another book (nothing is changed)."""
    from tokenomy.pricing.reprice import reprice_rows
    from tokenomy.store import StoreError, open_store
    from tokenomy.store.usage_records import since as rows_since

    start, end = _instant(since), _instant(until) if until else None
    pricing = _pricing(config, None, unpriced, [new_book])
    url = database_url or settings(config).database_url
    try:
        store = open_store(url)
    except StoreError as exc:
        fail(str(exc))
    try:
        recorded = (_recorded(row) for row in rows_since(store.connection, start, end))
        lines, summary = reprice_rows(recorded, pricing)
    finally:
        store.close()
    if as_json:
        for line in lines:
            print_json(line)
        print_json(summary)
        return
    table = Table(title=f"Repricing {summary['records']} recorded records under {new_book}")
    for column in ("id", "model", "at", "old", "new", "delta", "new version"):
        table.add_column(column, justify="right" if column in ("old", "new", "delta")
                         else "left")
    for line in lines:
        if "error" in line:
            table.add_row(str(line["id"]), "", "", "", "", "", line["error"]["message"])
        elif line["delta_usd"] != "0":
            table.add_row(str(line["id"]), line["model"], line["at"][:19],
                          line["old_cost_usd"], line["new_cost_usd"], line["delta_usd"],
                          line["new_price_version"])
    Console().print(table)
    typer.echo(f"{summary['changed']} of {summary['records']} records change: "
               f"{summary['old_total_usd']} → {summary['new_total_usd']} USD "
               f"(delta {summary['delta_usd']}); {summary['errors']} errors; dry run")


def import_litellm(
    source: Annotated[Path, typer.Argument(help="LiteLLM's model_prices_and_context_window.json")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the converted books.")] = Path(
        "litellm-books"),
    provider: Annotated[list[str] | None, typer.Option(
        "--provider", help="Only these providers (repeatable).")] = None,
    valid_from: Annotated[str | None, typer.Option(
        "--valid-from", help="Date the imported prices take effect (default today).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Convert LiteLLM's price map into price books, listing every field not mapped."""
    from tokenomy.pricing.importers.litellm import convert

    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{source}: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        fail(f"{source}: not JSON: {exc.msg}")
    if not isinstance(data, dict):
        fail(f"{source}: expected a JSON object of models")
    start = (valid_from or now().date().isoformat())
    results = convert(data, valid_from=start, providers=provider or None)
    out.mkdir(parents=True, exist_ok=True)
    report: list[dict[str, Any]] = []
    for name, result in sorted(results.items()):
        path = out / f"{name}.toml"
        if result.models:  # a provider with nothing importable still lists its unmapped fields
            path.write_text(result.toml, encoding="utf-8")
        report.append({"provider": name, "file": str(path) if result.models else None,
                       "models": result.models,
                       "unmapped": [{"model": m, "field": f} for m, f in result.unmapped]})
    if as_json:
        print_json({"books": report})
        return
    table = Table(title=f"Imported {sum(r['models'] for r in report)} models from {source}")
    for column in ("provider", "models", "unmapped fields", "file"):
        table.add_column(column)
    for r in report:
        table.add_row(r["provider"], str(r["models"]), str(len(r["unmapped"])), r["file"] or "—")
    Console().print(table)
    for r in report:
        for item in r["unmapped"]:
            typer.echo(f"unmapped: {r['provider']}: {item['model']}: {item['field']}")


# -- cost --------------------------------------------------------------------------------------


def cost(
    as_json: JsonFlag = False,
    book: BookOpt = None,
    unpriced: UnpricedOpt = None,
    record: Annotated[bool, typer.Option(
        "--record", help="Store each priced record (by id) for later repricing.")] = False,
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    config: ConfigOpt = None,
) -> None:
    """Price usage records (JSON lines on stdin): exact costs with line items."""
    pricing = _pricing(config, book, unpriced)
    totals: dict[Asset, int] = defaultdict(int)
    kept: list[Priced] = []

    def handle(item: Any) -> dict[str, Any]:
        line, priced = cost_line(item, pricing)
        if priced is not None:
            totals[priced.quote.currency] += priced.quote.total
            if record:
                kept.append(priced)
        return line

    lines = each_line(as_json, handle)
    summary = summary_line(totals, lines.count, lines.failed)
    if record and kept:
        _record(kept, database_url or settings(config).database_url)
    if as_json:
        print_json(summary)
    else:
        _cost_table(lines.rows, summary)
    exit_if_failed(lines.failed)


def _row_of(priced: Priced, recorded_at: datetime) -> UsageRow:
    q = priced.quote
    return UsageRow(
        id=str(priced.record_id), provider=priced.provider, model=priced.model,
        at=priced.at.isoformat(), service_tier=q.service_tier,
        usage_json=json.dumps(priced.usage.to_json(), sort_keys=True), cost_minor=q.total,
        currency=q.currency.code, price_version=q.version, provisional=q.provisional,
        recorded_at=recorded_at.isoformat(),
    )


def _recorded(row: UsageRow) -> Recorded:
    return Recorded(row.id, row.model, parse_instant(row.at), row.service_tier,
                    Usage.from_json(row.usage), row.cost_minor, row.currency, row.price_version)


def _record(priced: list[Priced], url: str) -> None:
    from tokenomy.store import StoreError, open_store
    from tokenomy.store.usage_records import RecordConflictError
    from tokenomy.store.usage_records import record as store_rows

    if any(p.record_id is None for p in priced):
        fail("--record needs an `id` on every record (ids are idempotency keys)")
    if any(not p.at_given for p in priced):
        fail("--record needs an `at` on every record: a replay must price the same instant, "
             "or it would not be the same record")
    try:
        store = open_store(url)
    except StoreError as exc:
        fail(str(exc))
    try:
        store_rows(store.connection, [_row_of(p, now()) for p in priced])
    except RecordConflictError as exc:
        fail(str(exc))
    finally:
        store.close()


def _cost_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    console = Console()
    table = Table(title="Costs (each line rounded half-even to the nano-dollar)")
    for column in ("id", "model", "rule", "USD", "STU"):
        table.add_column(column, justify="right" if column in ("USD", "STU") else "left")
    for line in rows:
        if "error" in line:
            continue
        table.add_row(str(line["id"]), line["model"], line["tier_rule"] or "standard",
                      line.get("cost_usd", line.get("cost")), line["stu"])
    console.print(table)
    for line in rows:
        if "error" in line:
            console.print(f"[red]{line['id']}: {line['error']['message']}[/red]",
                          highlight=False)
    console.print(f"total {summary['total_cost_usd']} USD over {summary['records']} records, "
                  f"{summary['errors']} errors (line items: --json)", highlight=False)


# -- stu -----------------------------------------------------------------------------------------


def stu_table(
    at: AtOpt = None, as_json: JsonFlag = False, book: BookOpt = None, config: ConfigOpt = None,
) -> None:
    """The STU conversion table: weight of each class × modality, per quality tier."""
    table = build_table(_book(config, book), _instant(at))
    if as_json:
        print_json(table.to_json())
        return
    qualities = [*(q for q in table.weights if q != ALL), ALL]
    out = Table(title=f"Standard Token Unit {table.version} (1 STU = 1 uncached text input "
                      "token)")
    out.add_column("class / modality")
    for quality in qualities:
        out.add_column(f"{quality} ({table.models[quality]})", justify="right")
    slots = sorted({slot for w in table.weights.values() for slot in w})
    for cls, modality in slots:
        out.add_row(f"{cls} / {modality}", *(
            str(table.weights[q].get((cls, modality), "—")) for q in qualities))
    Console().print(out)


def stu_convert(
    as_json: JsonFlag = False, book: BookOpt = None, config: ConfigOpt = None,
) -> None:
    """State usage (JSON lines on stdin) in STU, with active context tokens beside it."""
    pricing = _pricing(config, book, "hold")

    def handle(item: Any) -> dict[str, Any]:
        full, priced = cost_line(item, pricing)
        if priced is None:
            return full
        return {"id": full["id"], "model": full["model"], "quality": priced.quote.entry.quality,
                "stu": full["stu"], "active_context_tokens": full["active_context_tokens"],
                "stu_table": pricing.stu.version}

    lines = each_line(as_json, handle)
    rows, failed = lines.rows, lines.failed
    if not as_json:
        out = Table(title=f"Usage in STU ({pricing.stu.version})")
        for column in ("id", "model", "quality", "STU", "active context"):
            out.add_column(column)
        for line in rows:
            if "error" in line:
                out.add_row(str(line["id"]), "", "", "", line["error"]["message"])
            else:
                out.add_row(str(line["id"]), line["model"], line["quality"], line["stu"],
                            line["active_context_tokens"] or "—")
        Console().print(out)
    exit_if_failed(failed)


# -- models --------------------------------------------------------------------------------------


def models(
    provider: Annotated[str | None, typer.Option(help="Only this provider's models.")] = None,
    as_json: JsonFlag = False,
    book: BookOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Every model Tokenomy knows: meter rules and the price in force."""
    prices = _book(config, book)
    moment = now()
    metered = {m.model: m for m in MODELS}
    names = sorted(set(metered) | set(prices.models()))
    rows: list[dict[str, Any]] = []
    for name in names:
        rules = metered.get(name)
        try:
            entry = prices.entry(name, moment)
        except PricingError:
            entry = None
        who = rules.provider if rules else entry.provider if entry else ""
        if provider is not None and who != provider:
            continue
        rows.append({
            "model": name, "provider": who,
            "meter": rules.to_json() if rules else None,
            "price": None if entry is None else {
                "input": str(entry.rates.get("input", "")),
                "output": str(entry.rates.get("output", "")),
                "currency": entry.currency.code, "version": entry.version,
                "quality": entry.quality, "country": entry.country,
            },
        })
    if provider is not None and not rows:
        fail(f"unknown provider {provider!r}; run `tokenomy models` to list the known ones")
    if as_json:
        print_json({"models": rows})
        return
    table = Table(title=f"{len(rows)} models (prices per 1M tokens, in force now)")
    for column in ("model", "provider", "tokenizer", "image", "audio", "input", "output",
                   "quality"):
        table.add_column(column, justify="right" if column in ("input", "output") else "left")
    for row in rows:
        meter, price = row["meter"] or {}, row["price"] or {}
        tokenizer = meter.get("tokenizer", "—")
        if meter and not meter["tokenizer_exact"]:
            tokenizer += " ≈"
        table.add_row(row["model"], row["provider"], tokenizer, meter.get("image") or "",
                      "yes" if meter.get("audio") else "", price.get("input", "unpriced"),
                      price.get("output", ""), price.get("quality", ""))
    Console().print(table)


__all__ = ["register"]

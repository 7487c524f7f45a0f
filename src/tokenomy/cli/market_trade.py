"""Trading from the command line: ``market order|cancel|book|trades|positions`` over HTTP.

Each command talks to a running ``tokenomy serve`` at ``--url`` (default: the configured
``[server]`` host and port, ``http://127.0.0.1:8402``) with httpx, and prints a rich table, or
with ``--json`` the server's JSON as it came (prices as decimal strings). An error — a 4xx/5xx
answer (its ``{"error": {"type", "message"}}`` is shown), a rejected order (the book's reason)
or a server that cannot be reached — is one line on stderr and exit code 2.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import ConfigOpt, JsonFlag, fail, print_json, settings

HTTP_TIMEOUT_S = 30.0
ID_MAX = 2**63 - 1  # as the exchange's ids
LEVELS_MAX = 100
TRADES_MAX = 1_000

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="The server (default: the configured [server] host and port).")]
OwnerOpt = Annotated[int, typer.Option("--owner", min=1, max=ID_MAX, help="The account id.")]


def register(market_app: typer.Typer) -> None:
    market_app.command("order")(order)
    market_app.command("cancel")(cancel)
    market_app.command("book")(book)
    market_app.command("trades")(trades)
    market_app.command("positions")(positions)


def base_url(url: str | None, config: Any) -> str:
    if url is not None:
        return url.rstrip("/")
    chosen = settings(config)
    host = "127.0.0.1" if chosen.host in ("0.0.0.0", "::", "") else chosen.host
    return f"http://{host}:{chosen.port}"


def call(method: str, url: str, *, json: Any = None,
         params: dict[str, Any] | None = None) -> Any:
    """The answer's JSON, or a clean exit 2 naming what went wrong."""
    try:
        response = httpx.request(method, url, json=json, params=params, timeout=HTTP_TIMEOUT_S)
    except httpx.TransportError as exc:
        fail(f"cannot reach {url}: {exc or type(exc).__name__} (is `tokenomy serve` running?)")
    try:
        body = response.json()
    except ValueError:
        fail(f"{method} {url}: HTTP {response.status_code}, not JSON: {response.text[:200]!r}")
    if response.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        kind = error.get("type", "http_error") if isinstance(error, dict) else "http_error"
        message = error.get("message", response.text[:200]) if isinstance(error, dict) else ""
        fail(f"HTTP {response.status_code} {kind}: {message}")
    return body


def order(
    symbol: Annotated[str, typer.Argument(help="The instrument, e.g. TKF-SPOT or TKF-Z26.")],
    side: Annotated[Literal["buy", "sell"], typer.Argument(help="buy or sell.")],
    quantity: Annotated[int, typer.Argument(min=1, help="Contracts.")],
    price: Annotated[str | None, typer.Option(
        "--price", help="Limit price per 1M tokens, a decimal string (limit orders).")] = None,
    kind: Annotated[Literal["limit", "market"], typer.Option("--type")] = "limit",
    tif: Annotated[Literal["gtc", "ioc", "fok", "day", "gtd"], typer.Option(
        "--tif", help="Time in force (a market order: ioc or fok).")] = "gtc",
    post_only: Annotated[bool, typer.Option("--post-only", help="Never take.")] = False,
    owner: Annotated[int, typer.Option("--owner", min=1, max=ID_MAX)] = 1,
    client_order_id: Annotated[int | None, typer.Option(
        "--client-order-id", min=1, max=ID_MAX,
        help="Idempotency id (default: the clock in µs; resend it to retry safely).")] = None,
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Enter an order; prints its events (accepted, fills, cancelled remainder)."""
    if kind == "limit" and price is None:
        fail("--price is required for a limit order")
    if kind == "market" and tif == "gtc":
        tif = "ioc"
    body: dict[str, Any] = {
        "symbol": symbol, "owner": owner, "side": side, "quantity": quantity, "type": kind,
        "time_in_force": tif, "post_only": post_only,
        "client_order_id": client_order_id or time.time_ns() // 1_000}
    if price is not None:
        body["price"] = price
    answer = call("POST", f"{base_url(url, config)}/api/exchange/orders", json=body)
    if as_json:
        print_json(answer)
        return
    events_table(f"{symbol}: {side} {quantity} (client order id {body['client_order_id']})",
                 answer["events"])


def cancel(
    symbol: Annotated[str, typer.Argument(help="The instrument.")],
    order_id: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="The exchange order id.")],
    owner: OwnerOpt, url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Cancel a resting order."""
    answer = call("DELETE", f"{base_url(url, config)}/api/exchange/orders/{symbol}/{order_id}",
                  params={"owner": owner})
    if as_json:
        print_json(answer)
        return
    events_table(f"{symbol}: cancel {order_id}", answer["events"])


def book(
    symbol: Annotated[str, typer.Argument(help="The instrument.")],
    levels: Annotated[int, typer.Option("--levels", min=1, max=LEVELS_MAX)] = 10,
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """L1 and L2 of a book (an option's also with its Black-76 model value)."""
    answer = call("GET", f"{base_url(url, config)}/api/exchange/book/{symbol}",
                  params={"levels": levels})
    if as_json:
        print_json(answer)
        return
    print_book(answer)


def trades(
    symbol: Annotated[str, typer.Argument(help="The instrument.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=TRADES_MAX)] = 20,
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """The latest trades of a book, oldest first."""
    answer = call("GET", f"{base_url(url, config)}/api/exchange/trades",
                  params={"symbol": symbol, "limit": limit})
    if as_json:
        print_json(answer)
        return
    rows_table(f"{symbol}: last {limit} trades", answer["trades"], TRADE_COLUMNS)


def positions(owner: OwnerOpt, url: UrlOpt = None, config: ConfigOpt = None,
              as_json: JsonFlag = False) -> None:
    """An account's positions, cash and credits (one table per list the server returns)."""
    answer = call("GET", f"{base_url(url, config)}/api/exchange/positions",
                  params={"owner": owner})
    if as_json:
        print_json(answer)
        return
    if not isinstance(answer, dict):
        fail(f"unexpected answer: {str(answer)[:200]}")
    console = Console()
    scalars = {k: v for k, v in answer.items() if not isinstance(v, list)}
    console.print("  ".join(f"{k}: {_cell(v)}" for k, v in scalars.items()))
    for key, value in answer.items():
        if isinstance(value, list):
            rows = [v if isinstance(v, dict) else {"value": v} for v in value]
            if key == "positions":  # the columns that fit a terminal, in reading order
                rows = [{POSITION_COLUMNS[k]: r.get(k) for k in POSITION_COLUMNS} for r in rows]
            elif key in ("cash", "credits", "margin"):  # only what is not all zero
                rows = [r for r in rows if any(v not in ("0", 0) for k, v in r.items()
                                               if k not in ("currency", "grade"))]
            if rows or key == "positions":
                rows_table(key, rows)


POSITION_COLUMNS = {"symbol": "symbol", "net": "net", "open_orders": "orders",
                    "settlement_price": "settlement", "last_trade": "last",
                    "margin_posted": "margin", "variation_margin": "variation",
                    "margin_call": "call"}


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


TRADE_COLUMNS = {"trade_id": "trade", "price": "price", "quantity": "qty",
                 "taker_side": "taker side", "maker_order_id": "maker order",
                 "maker_owner": "maker", "taker_order_id": "taker order",
                 "taker_owner": "taker"}


def _detail(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "fill":
        t = event["trade"]
        return (f"trade {t['trade_id']}: {t['quantity']} @ {t['price']} (maker order "
                f"{t['maker_order_id']} leaves {event['maker_leaves']}, taker leaves "
                f"{event['taker_leaves']})")
    if kind in ("cancelled", "rejected"):
        return str(event.get("reason", ""))
    if kind == "replaced":
        kept = "kept" if event.get("kept_priority") else "lost"
        return f"leaves {event.get('leaves')}, priority {kept}"
    return ""


def events_table(title: str, events: list[dict[str, Any]]) -> None:
    table = Table("seq", "event", "order", "side", "price", "qty", "detail", title=title)
    for e in events:
        table.add_row(*(_cell(e.get(k)) for k in ("seq", "type", "order_id", "side", "price",
                                                   "quantity")), _detail(e))
    Console().print(table)


def rows_table(title: str, rows: list[dict[str, Any]],
               only: dict[str, str] | None = None) -> None:
    """A table of dicts: the union of their keys (nested ones as ``a.b``) as columns, or the
    keys of ``only`` under its headers."""
    flat = [_flat(r) for r in rows]
    columns = list(only or dict.fromkeys(k for r in flat for k in r))
    table = Table(title=title)
    for column in columns or ["(none)"]:
        table.add_column((only or {}).get(column, column))
    for r in flat:
        table.add_row(*(_cell(r.get(c)) for c in columns))
    Console().print(table)


def print_book(answer: dict[str, Any]) -> None:
    bids, asks = answer["bids"], answer["asks"]
    table = Table("orders", "bid size", "bid", "ask", "ask size", "orders",
                  title=f"{answer['symbol']} (seq {answer['seq']})")
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else {}
        a = asks[i] if i < len(asks) else {}
        table.add_row(*(_cell(x) for x in (b.get("orders"), b.get("quantity"), b.get("price"),
                                           a.get("price"), a.get("quantity"), a.get("orders"))))
    console = Console()
    console.print(table)
    model = answer.get("model")
    if isinstance(model, dict):
        rows = Table("model (Black-76)", "value")
        for key, value in model.items():
            rows.add_row(key, _cell(value))
        console.print(rows)


__all__ = ["base_url", "call", "events_table", "print_book", "register", "rows_table"]

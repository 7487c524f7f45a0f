"""Clearing from the command line: ``market deposit|credits|settle|expire`` over HTTP.

Thin calls to a running ``tokenomy serve`` (the routes of
:mod:`tokenomy.gateway.exchange_clearing_routes`): cash in or out of a member's account,
token credits minted for a producer, a future's daily settlement (the CME tiers when no price
is given) and a final settlement. Output: one line, or the server's JSON with ``--json``;
errors exit 2 with the server's reason.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tokenomy.cli._common import ConfigOpt, JsonFlag, print_json
from tokenomy.cli.market_trade import ID_MAX, OwnerOpt, UrlOpt, base_url, call

IdOpt = Annotated[str, typer.Option(
    "--id", help="Idempotency id: the same id and fields never move money twice.")]


def register(market_app: typer.Typer) -> None:
    market_app.command("deposit")(deposit)
    market_app.command("credits")(credits)
    market_app.command("settle")(settle)
    market_app.command("expire")(expire)


def _post(route: str, body: dict[str, Any], url: str | None, config: Any,
          as_json: bool) -> dict[str, Any]:
    answer: dict[str, Any] = call("POST", f"{base_url(url, config)}/api/exchange/{route}",
                                  json=body)
    if as_json:
        print_json(answer)
    return answer


def deposit(
    amount: Annotated[str, typer.Argument(help="Major units, e.g. 1000.00 (-50: withdraw).")],
    owner: OwnerOpt,
    key: IdOpt,
    currency: Annotated[str, typer.Option("--currency", help="USD or USDC.")] = "USD",
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Move cash into (or, negative, out of) a member's exchange account."""
    answer = _post("deposits", {"owner": owner, "currency": currency, "amount": amount,
                                "id": key}, url, config, as_json)
    if not as_json:
        typer.echo(f"{answer['result']}: {amount} {answer['currency']} for member {owner}")


def credits(
    grade: Annotated[str, typer.Argument(help="FRONTIER-OUT, STANDARD-IN, …")],
    tokens: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Credits (one per token).")],
    owner: OwnerOpt,
    key: IdOpt,
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Mint token credits of a grade for a producer (what it can sell or deliver)."""
    answer = _post("credits", {"owner": owner, "grade": grade, "tokens": tokens, "id": key},
                   url, config, as_json)
    if not as_json:
        typer.echo(f"{answer['result']}: {tokens:,} {answer['grade']} credits for member {owner}")


def _settlement(route: str, symbol: str, price: str | None, url: str | None, config: Any,
                as_json: bool) -> None:
    body: dict[str, Any] = {"symbol": symbol}
    if price is not None:
        body["price"] = price
    answer = _post(route, body, url, config, as_json)
    if not as_json:
        typer.echo(f"{answer['symbol']} settled at {answer['price']} ({answer['method']}): "
                   f"{answer['transfers']} transfers, open interest {answer['open_interest']}")


def settle(
    symbol: Annotated[str, typer.Argument(help="A future, e.g. TKF-Z26.")],
    price: Annotated[str | None, typer.Option(
        "--price", help="The settlement price (default: VWAP of the closing window, else "
                        "the last trade within the bid/ask, else the prior settlement).")] = None,
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """A future's daily settlement: variation margin for every position."""
    _settlement("settlements", symbol, price, url, config, as_json)


def expire(
    symbol: Annotated[str, typer.Argument(help="A future or an option.")],
    price: Annotated[str | None, typer.Option(
        "--price", help="The final price (default: the grade's index; options: the "
                        "underlying's last settlement).")] = None,
    url: UrlOpt = None, config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Final settlement: physical delivery or cash to the index; an option's payoff."""
    _settlement("expiries", symbol, price, url, config, as_json)


__all__ = ["register"]

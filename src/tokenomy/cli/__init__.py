"""The command line: ``tokenomy <noun> <verb>``. A thin shell over the package.

Every read command takes ``--json``. Errors go to stderr with a non-zero exit: 1 when some
records failed, 2 for bad usage or input.
"""

from __future__ import annotations

import sys

import typer

from tokenomy.cli import (
    agent,
    factory,
    index,
    keys,
    ledger,
    market,
    meter,
    pricing,
    report,
    serve,
    upstream,
    wallet,
)

app = typer.Typer(help="Tokenomy: meter, price, hold, trade and pay for AI tokens.",
                  no_args_is_help=True, add_completion=False)
serve.register(app)
meter.register(app)
pricing.register(app)
ledger.register(app)
keys.register(app)
upstream.register(app)
wallet.register(app)
agent.register(app)
market.register(app)
index.register(app)
report.register(app)
factory.register(app)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    app(args=pricing.default_verb(args), prog_name="tokenomy")


__all__ = ["app", "main"]

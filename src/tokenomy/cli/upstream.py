"""Upstream commands: ``upstream simulate`` (a fake OpenAI/Anthropic API for keyless trials)."""

from __future__ import annotations

from typing import Annotated

import typer

upstream_app = typer.Typer(help="Upstream providers (a simulator for trying Tokenomy).",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    upstream_app.command("simulate")(simulate)
    app.add_typer(upstream_app, name="upstream")


def simulate(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8500,
    tokens_per_s: Annotated[int, typer.Option(
        "--tokens-per-s", help="Generation speed; 0 = no pacing.", min=0)] = 200,
    output_tokens: Annotated[int, typer.Option(
        help="Tokens in a reply when the request's cap allows.", min=0, max=100_000)] = 32,
) -> None:
    """Run a SIMULATED OpenAI- and Anthropic-compatible API (no inference, no keys).

    Point an SDK at http://HOST:PORT/v1 (OpenAI) or http://HOST:PORT (Anthropic), any key.

    Directives such as \\[sim:error=429] in the last user message inject faults.
    """

    import uvicorn

    from tokenomy.upstream import SimulatorConfig, create_simulator

    config = SimulatorConfig(tokens_per_s=tokens_per_s, output_tokens=output_tokens)
    typer.echo(f"simulator on http://{host}:{port} (models: {', '.join(config.models)})",
               err=True)
    uvicorn.run(create_simulator(config), host=host, port=port, log_level="warning",
                access_log=False)

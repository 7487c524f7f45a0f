"""``tokenomy serve``: the gateway and Tokenomy's API. ``--demo`` (what ``make run`` does) also
starts the upstream simulator, points the gateway at it when no upstream is configured, makes
a key with a $5 budget and prints the three lines a new user needs."""

from __future__ import annotations

import atexit
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from tokenomy.cli._common import ConfigOpt, fail, settings
from tokenomy.config import Settings, UpstreamSpec

DEMO_BUDGET = "demo"
DEMO_BUDGET_USD = "5.00"
DEMO_STARTUP_S = 30


def register(app: typer.Typer) -> None:
    app.command()(serve)


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8402).")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url",
        help="Store URL (default $TOKENOMY_DATABASE_URL or sqlite:///./tokenomy.db).")] = None,
    config: ConfigOpt = None,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64, help="Worker processes sharing the one database.")] = 1,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log every HTTP request (the gateway records "
        "every proxied request in the database either way).")] = False,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Also run the upstream simulator and make a demo key ($5 budget).")
    ] = False,
    simulator_port: Annotated[int, typer.Option(
        "--simulator-port", help="Port of the simulator with --demo.")] = 8500,
) -> None:
    """Run the HTTP server: the gateway and Tokenomy's API (FastAPI on uvicorn)."""
    import uvicorn

    from tokenomy.gateway import create_app
    from tokenomy.gateway.app import WORKERS_ENV
    from tokenomy.pricing import BookError
    from tokenomy.store import StoreError, parse_url

    chosen = settings(config).with_overrides(host=host, port=port, database_url=database_url)
    try:
        parse_url(chosen.database_url)
    except StoreError as exc:
        fail(str(exc))
    if demo:
        chosen = _start_demo(chosen, simulator_port)
    try:
        app = create_app(chosen)
    except BookError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror or exc}")
    if workers == 1:
        uvicorn.run(app, host=chosen.host, port=chosen.port, log_level="info",
                    access_log=access_log)
        return
    if demo:
        fail("--demo runs one worker")
    # Workers are separate processes: they read the same settings from the environment.
    os.environ["TOKENOMY_DATABASE_URL"] = chosen.database_url
    os.environ[WORKERS_ENV] = str(workers)
    if chosen.config_path:
        os.environ["TOKENOMY_CONFIG"] = str(Path(chosen.config_path).resolve())
    uvicorn.run("tokenomy.gateway.app:app_from_environment", factory=True, host=chosen.host,
                port=chosen.port, workers=workers, log_level="info", access_log=access_log)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies, however it dies (uvicorn
    re-raises SIGTERM after its graceful shutdown, so the parent's atexit may never run)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _start_demo(chosen: Settings, simulator_port: int) -> Settings:
    """Start the simulator (a child process), route to it, make a key, print how to use it."""
    from tokenomy.gateway.keys import KeyError_, create_key
    from tokenomy.ledger.budgets import LEDGER_USD, parse_major
    from tokenomy.store import open_gateway_store

    simulator = f"http://127.0.0.1:{simulator_port}"
    proc = subprocess.Popen([sys.executable, "-c", "from tokenomy.cli import main; main()",
                             "upstream", "simulate", "--port", str(simulator_port)],
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    atexit.register(_stop, proc)
    deadline = time.monotonic() + DEMO_STARTUP_S
    while True:
        try:
            if httpx.get(f"{simulator}/v1/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            fail(f"the upstream simulator did not start on port {simulator_port}")
        time.sleep(0.1)
    if not chosen.upstreams:
        chosen = chosen.with_overrides(upstreams=(
            UpstreamSpec("simulator", "openai", f"{simulator}/v1", models=("*",)),
            UpstreamSpec("simulator-anthropic", "anthropic", simulator, models=("*",))))
    store = open_gateway_store(chosen.database_url, time.time_ns)
    try:
        name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        secret, _ = create_key(store, name, DEMO_BUDGET, time.time_ns(), secrets.token_urlsafe,
                               parse_major(DEMO_BUDGET_USD, LEDGER_USD))
    except KeyError_ as exc:
        fail(str(exc))
    finally:
        store.close()
    base = f"http://{chosen.host}:{chosen.port}/v1"
    body = '{"model": "sim-small", "messages": [{"role": "user", "content": "Hello!"}]}'
    typer.echo(f"Base URL: {base}   (upstream: the simulator on :{simulator_port})")
    typer.echo(f"API key:  {secret}   (budget {DEMO_BUDGET!r}: ${DEMO_BUDGET_USD})")
    typer.echo(f"Try:      curl -s {base}/chat/completions -H 'Authorization: Bearer {secret}' "
               f"-H 'content-type: application/json' -d '{body}' -D - ")
    return chosen


__all__ = ["register", "serve"]

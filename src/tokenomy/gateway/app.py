"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from x402.http import FacilitatorConfig, HTTPFacilitatorClient

from tokenomy import __version__
from tokenomy._recursion import restore_recursion_limit
from tokenomy.config import Settings
from tokenomy.gateway.admission import Admission
from tokenomy.gateway.errors import install_error_handlers
from tokenomy.gateway.exchange_clearing_routes import clearing_router
from tokenomy.gateway.exchange_routes import exchange_router, exchange_state
from tokenomy.gateway.exchange_stream import exchange_stream_router
from tokenomy.gateway.ledger_routes import install_ledger_error_handlers, ledger_router
from tokenomy.gateway.meter_routes import meter_router
from tokenomy.gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tokenomy.gateway.metrics import Metrics
from tokenomy.gateway.paywall import Paywall
from tokenomy.gateway.pricing_routes import pricing_router
from tokenomy.gateway.proxy import Gateway
from tokenomy.gateway.proxy_routes import ProxyFastPath, proxy_router
from tokenomy.gateway.upstream_http import UpstreamCaller, UpstreamClient
from tokenomy.gateway.upstream_httpx import HttpxUpstreamClient
from tokenomy.gateway.upstreams import UpstreamPool
from tokenomy.gateway.writer import LedgerWriter
from tokenomy.gateway.x402_routes import x402_router
from tokenomy.ledger.protocol import LedgerStore
from tokenomy.pricing import UnpricedPolicy, load_book
from tokenomy.pricing.records import Pricing
from tokenomy.pricing.stu import build_table
from tokenomy.report.http import install_report_error_handlers, report_router
from tokenomy.settlement.facilitator import LedgerFacilitator
from tokenomy.settlement.network import LOCAL_FACILITATOR, PaymentNetwork
from tokenomy.settlement.v1 import register_v1_network
from tokenomy.store import StoreError, open_gateway_store, parse_url
from tokenomy.store.ledger_sqlite import SQLiteLedger

WORKERS_ENV = "TOKENOMY_SERVE_WORKERS"  # set by ``tokenomy serve --workers N`` for its workers


def create_app(settings: Settings, workers: int = 1) -> FastAPI:
    """The app for ``settings``; the store opens (and migrates) when the server starts.
    ``workers``: how many processes serve this app (their ledger commits contend)."""
    restore_recursion_limit()  # see tokenomy._recursion: deep JSON must not crash a thread

    pricing = pricing_context(settings)
    pool = UpstreamPool(settings.upstreams)
    metrics = Metrics(pool)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = open_gateway_store(settings.database_url, time.time_ns)  # creates, migrates
        app.state.ledger = ledger
        app.state.schema_version = ledger.migrate()  # already done: answers the version
        if isinstance(ledger, SQLiteLedger) and ledger.path != ":memory:":
            ledger.checkpoint_in_background()  # no request's commit pays for a checkpoint
        # One process on SQLite commits on its event loop; with several, or with PostgreSQL
        # (a network round trip), a thread commits while the loop goes on. On the loop, a
        # thread syncs the WAL while the loop serves (.writer).
        if isinstance(ledger, SQLiteLedger) and workers == 1:
            writer = LedgerWriter(ledger, on_loop=True,
                                  sync=ledger.sync_wal if ledger.wal else None)
        else:
            writer = LedgerWriter(ledger)
        writer.start()
        # By default a lean HTTP/1.1 client of our own (upstream_http): httpx's pool costs ~3
        # ms of CPU per request under concurrency, this one ~0.05 ms; httpx where configured
        # (it honours the environment's egress proxy).
        client: UpstreamCaller = (HttpxUpstreamClient(settings.upstream_timeout_s)
                                  if settings.upstream_client == "httpx" else
                                  UpstreamClient(settings.upstream_timeout_s))
        x = settings.x402
        register_v1_network()  # the SDK's v1 table learns tokenomy-local (settlement.v1)
        net = PaymentNetwork(x.network, x.asset, x.asset_name, x.asset_version, x.pay_to,
                             LOCAL_FACILITATOR, x.max_timeout_s)
        facilitator = LedgerFacilitator(ledger, net)
        app.state.facilitator = facilitator
        remote = (HTTPFacilitatorClient(FacilitatorConfig(url=x.facilitator_url.rstrip("/")))
                  if x.facilitator_url else None)
        admission = Admission(ledger, writer, pricing, settings.reservation_timeout_s,
                              facilitator=facilitator,
                              upstream_waiting=lambda: client.waiting)
        paywall = Paywall(facilitator, remote) if x.enabled else None
        app.state.gateway = Gateway(admission, pool, client, metrics, settings.routing,
                                    settings.model_groups, paywall)
        sweeper = asyncio.create_task(_sweep(ledger))
        # What startup built (the price book, the app, the tokenizers) lives as long as the
        # server: out of the collector's sight, a collection scans only what requests
        # allocate (fewer, shorter pauses). Garbage is collected first; all goes back after.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper
            await client.aclose()
            if remote is not None:
                await remote.aclose()
            writer.stop()
            ledger.close()

    app = ProxyFastPath(
        title="Tokenomy",
        version=__version__,
        description="Meter, price, hold, trade and pay for AI tokens.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_ledger_error_handlers(app)
    install_report_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        """Liveness and the store in use."""
        try:
            app.state.ledger.lookup_accounts([1])  # a read through the store
            status = "ok"
        except StoreError:
            status = "degraded"
        return {
            "status": status,
            "version": __version__,
            "store": parse_url(settings.database_url).scheme,
            "schema_version": app.state.schema_version,
        }

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    app.include_router(meter_router(settings))
    app.include_router(pricing_router(pricing))
    app.include_router(ledger_router())
    app.state.exchange = exchange_state(pricing.book)
    app.state.factory_measurements = settings.factory_measurements
    app.include_router(exchange_router())
    app.include_router(clearing_router())
    app.include_router(report_router(lambda: pricing))
    app.include_router(exchange_stream_router())
    app.include_router(proxy_router(lambda request: request.app.state.gateway))
    app.include_router(x402_router(lambda request: request.app.state.facilitator))
    return app


SWEEP_INTERVAL_S = 1.0  # how often expired reservations are released while the ledger is idle


async def _sweep(ledger: LedgerStore) -> None:
    """Release pending transfers whose timeout passed (every batch does it too; this covers
    idle periods, so an abandoned reservation never holds a budget past its timeout)."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            await asyncio.to_thread(ledger.expire_pending)
        except StoreError as exc:  # a busy or restarting database: try again next tick
            logging.getLogger("tokenomy.sweeper").warning("expiry sweep failed: %s", exc)


def app_from_environment() -> FastAPI:
    """The app as a worker process builds it (``tokenomy serve --workers N``)."""
    from tokenomy.config import load_settings

    # Without the variable, assume company: the safe choice (a writer thread) for shared stores.
    return create_app(load_settings(), workers=int(os.environ.get(WORKERS_ENV, "2")))


def pricing_context(settings: Settings) -> Pricing:
    """The book (bundled + the settings' user books), the policy and today's STU table."""
    books = {path: Path(path).read_text(encoding="utf-8") for path in settings.pricing_books}
    book = load_book(books)
    now = datetime.now(UTC)
    policy = UnpricedPolicy("hold" if settings.unpriced == "hold" else "block")
    return Pricing(book, policy, build_table(book, now), now)

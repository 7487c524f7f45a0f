"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from tokenomy import __version__
from tokenomy.config import Settings
from tokenomy.gateway.errors import install_error_handlers
from tokenomy.gateway.meter_routes import meter_router
from tokenomy.store import open_store, parse_url


def create_app(settings: Settings) -> FastAPI:
    """The app for ``settings``; the store opens (and migrates) when the server starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url)
        app.state.store = store
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="Tokenomy",
        version=__version__,
        description="Meter, price, hold, trade and pay for AI tokens.",
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        """Liveness and the store in use."""
        store = app.state.store
        return {
            "status": "ok" if store.ping() else "degraded",
            "version": __version__,
            "store": parse_url(settings.database_url).scheme,
            "schema_version": store.schema_version(),
        }

    app.include_router(meter_router(settings))
    return app

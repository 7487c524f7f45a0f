"""``/dashboard`` and ``/api/report/...``: the reports over HTTP, and ``POST /api/feedback``.

The dashboard is static HTML, CSS and JavaScript shipped in this package (``static/``: the
charts are drawn by ``charts.js``, a small SVG module of our own; no CDN, no network). Each
page polls the JSON endpoints every few seconds. Money on the wire is a decimal string (with
the integer ``*_nano`` next to it); a chart turns strings into numbers only to draw.

Authentication: like every other ``/api/...`` route of the app there is none (the settings
have no admin token); serve the dashboard on loopback or an admin network only.

Errors are ``{"error": {"type", "message"}}``: a bad window or dimension 422, feedback for an
unknown request 404, a bad outcome 422.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from tokenomy.gateway.errors import error_body
from tokenomy.pricing.records import Pricing
from tokenomy.report.factory_panel import panel as factory_panel
from tokenomy.report.service import Reports, parse_window
from tokenomy.report.views import ReportInputError, check_dimension
from tokenomy.store.report_sql import FeedbackError, ReportTooLargeError, UnknownRequestError

PAGES = ("spend", "budgets", "goodput", "market", "factory")
STATIC_FILES = {"charts.js": "text/javascript", "dashboard.js": "text/javascript",
                "dashboard.css": "text/css", "LICENSE-charts.txt": "text/plain"}
DEFAULT_SPAN_S = 86_400  # the dashboard's window when none is asked for: the last day


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: StrictStr
    outcome: StrictStr


def _static(name: str) -> str:
    return resources.files("tokenomy.report").joinpath("static", name).read_text("utf-8")


def install_report_error_handlers(app: FastAPI) -> None:
    """Report and feedback errors → 4xx JSON (the one place they are translated)."""

    async def report_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ReportInputError | FeedbackError | ReportTooLargeError)
        status = 404 if isinstance(exc, UnknownRequestError) else 422
        return JSONResponse(error_body(exc.type, str(exc)), status_code=status)

    for kind in (ReportInputError, FeedbackError, ReportTooLargeError):
        app.add_exception_handler(kind, report_error)


def report_router(pricing: Callable[[], Pricing]) -> APIRouter:
    """Routes over ``app.state.ledger`` (opened in the app's lifespan) and the app's book."""
    router = APIRouter()

    def reports(request: Request) -> Reports:
        p = pricing()
        return Reports(request.app.state.ledger, p.book, p.stu)

    def window(since: str, until: str) -> Any:
        return parse_window(since, until, time.time_ns(), DEFAULT_SPAN_S)

    @router.get("/dashboard", response_class=HTMLResponse, tags=["reports"])
    def dashboard_home() -> HTMLResponse:
        """The dashboard's first page (spend)."""
        return HTMLResponse(_static("dashboard.html").replace("{{page}}", "spend"))

    @router.get("/dashboard/static/{name}", tags=["reports"], response_model=None)
    def dashboard_static(name: str) -> Response:
        """The dashboard's scripts and styles (shipped in the package)."""
        if name not in STATIC_FILES:
            return JSONResponse(error_body("not_found", f"no file {name[:80]!r}"),
                                status_code=404)
        return Response(_static(name), media_type=STATIC_FILES[name])

    @router.get("/dashboard/{page}", tags=["reports"], response_model=None)
    def dashboard_page(page: str) -> Response:
        """One dashboard page: spend, budgets, goodput, market or factory."""
        if page not in PAGES:
            return JSONResponse(error_body("not_found", f"no dashboard page {page[:80]!r}"),
                                status_code=404)
        return HTMLResponse(_static("dashboard.html").replace("{{page}}", page))

    @router.get("/api/report/spend", tags=["reports"])
    def spend(request: Request, since: str = "", until: str = "",
              by: str = "model") -> dict[str, Any]:
        """Spend, tokens, STU and cost per successful request by one dimension."""
        return reports(request).spend(window(since, until), check_dimension(by))

    @router.get("/api/report/series", tags=["reports"])
    def series(request: Request, since: str = "", until: str = "",
               by: str = "model") -> dict[str, Any]:
        """Cost, tokens and STU over time (buckets) by one dimension."""
        return reports(request).series(window(since, until), check_dimension(by))

    @router.get("/api/report/budgets", tags=["reports"])
    def budgets(request: Request, since: str = "", until: str = "") -> dict[str, Any]:
        """Budgets: consumption, burn rate, time to exhaustion, open reservations."""
        return reports(request).budgets(window(since, until))

    @router.get("/api/report/goodput", tags=["reports"])
    def goodput(request: Request, since: str = "", until: str = "") -> dict[str, Any]:
        """Good-put by team and model."""
        return reports(request).goodput(window(since, until))

    @router.get("/api/report/market", tags=["reports"])
    def market(request: Request) -> dict[str, Any]:
        """Index per grade, book depth, recent trades and the futures curve."""
        return reports(request).market(time.time_ns())

    @router.get("/api/report/factory", tags=["reports"])
    def factory_page(request: Request) -> dict[str, Any]:
        """Tokens per joule and cost per 1M tokens: the model's, and any measured."""
        return factory_panel(getattr(request.app.state, "factory_measurements", ()))

    @router.post("/api/feedback", tags=["reports"], response_model=None)
    def feedback(request: Request, body: FeedbackIn) -> JSONResponse:
        """Mark a response's outcome (useful, useless, abandoned, retried); idempotent per
        request and outcome: 201 when stored, 200 on a replay."""
        created, found = request.app.state.ledger.record_feedback(
            body.request_id, body.outcome, time.time_ns())
        return JSONResponse({"request_id": found.request_id, "outcome": found.outcome,
                             "created": created}, status_code=201 if created else 200)

    return router


__all__ = ["PAGES", "install_report_error_handlers", "report_router"]

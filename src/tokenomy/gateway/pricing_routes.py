"""``/api/pricing/...``: quotes, prices in force, the STU table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tokenomy.gateway.errors import error_body
from tokenomy.money import Asset
from tokenomy.pricing.records import Pricing, cost_line, parse_instant, summary_line

MAX_RECORDS = 10_000  # per quote request


def pricing_router(pricing: Pricing) -> APIRouter:
    router = APIRouter(prefix="/api/pricing", tags=["pricing"])

    def current() -> Pricing:
        return replace(pricing, now=datetime.now(UTC))

    @router.post("/quote", response_model=None)
    def quote_records(body: dict[str, Any] | list[Any]) -> Any:
        """Price one record (an object) or many (a list) — the `tokenomy cost` shapes.

        One record: 200 with its line, or 422 with the error. A list: `{"results", "total_cost_usd",
        "records", "errors"}`, 200 when all were priced, 422 when any failed.
        """
        context = current()
        if isinstance(body, dict):
            line, priced = cost_line(body, context)
            return line if priced is not None else JSONResponse(line, status_code=422)
        if len(body) > MAX_RECORDS:
            return JSONResponse(
                error_body("too_many_records", f"at most {MAX_RECORDS} records per request"),
                status_code=413,
            )
        lines: list[dict[str, Any]] = []
        totals: dict[Asset, int] = {}
        errors = 0
        for record in body:
            line, priced = cost_line(record, context)
            lines.append(line)
            if priced is None:
                errors += 1
            else:
                totals[priced.quote.currency] = (totals.get(priced.quote.currency, 0)
                                                 + priced.quote.total)
        result: dict[str, Any] = {"results": lines, **summary_line(totals, len(lines), errors)}
        if errors:
            result.update(error_body("invalid_record", f"{errors} of {len(lines)} failed"))
            return JSONResponse(result, status_code=422)
        return result

    @router.get("/prices")
    def prices(model: str | None = None, at: str | None = Query(default=None)) -> Any:
        """The prices in force at `at` (default now): one model with history, or all."""
        moment = parse_instant(at) if at else datetime.now(UTC)
        book = pricing.book
        if model is None:
            return {"at": moment.isoformat(),
                    "models": [e.to_json() for e in book.entries_at(moment)]}
        entry = book.entry(model, moment)
        return {"model": entry.model, "at": moment.isoformat(), "entry": entry.to_json(),
                "history": [e.to_json() for e in book.history(model)]}

    @router.get("/stu")
    def stu() -> dict[str, Any]:
        """The STU conversion table in use."""
        return pricing.stu.to_json()

    return router


__all__ = ["pricing_router"]

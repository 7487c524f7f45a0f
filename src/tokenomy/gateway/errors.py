"""Translating exceptions to JSON errors at exactly one boundary."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tokenomy.meter.errors import MeterError
from tokenomy.pricing.errors import PricingError


def error_body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    async def meter_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MeterError | PricingError)
        return JSONResponse(error_body(exc.type, str(exc)), status_code=422)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        kind = "invalid_json" if "json_invalid" in str(exc.errors()) else "invalid_request"
        return JSONResponse(error_body(kind, problems), status_code=400 if
                            kind == "invalid_json" else 422)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse(error_body("http_error", str(exc.detail)),
                            status_code=exc.status_code)

    app.add_exception_handler(MeterError, meter_error)
    app.add_exception_handler(PricingError, meter_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)

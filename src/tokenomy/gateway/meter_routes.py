"""``/api/meter/...``: count, normalize, estimate and list models over HTTP."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tokenomy.config import Settings
from tokenomy.gateway.errors import error_body
from tokenomy.meter.errors import RequestError
from tokenomy.meter.estimate import API_FAMILIES, estimate_request
from tokenomy.meter.media import Detail
from tokenomy.meter.models import MODELS, resolve
from tokenomy.meter.probe import MediaError, decode_data_url
from tokenomy.meter.records import CountItem, count_items, normalize_record

MAX_RECORDS = 10_000  # per normalize request
MAX_ITEMS = 1_000  # per count request


class CountItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="item", description="a label echoed back as `path`")
    text: str | None = Field(default=None, description="text, counted raw (no chat overhead)")
    data_base64: str | None = Field(default=None, description="file bytes, base64")
    data_url: str | None = Field(default=None, description="a data: URL")
    detail: Detail = Detail.AUTO


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    items: list[CountItemIn] = Field(max_length=MAX_ITEMS)


class EstimateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api: str = Field(description=f"one of {', '.join(API_FAMILIES)}")
    model: str | None = Field(default=None, description="defaults to request.model")
    request: dict[str, Any]


def _item(item: CountItemIn) -> CountItem:
    given = [v for v in (item.text, item.data_base64, item.data_url) if v is not None]
    if len(given) != 1:
        raise RequestError(f"{item.name}: give exactly one of text, data_base64, data_url")
    if item.text is not None:
        return CountItem(item.name, item.text, item.detail)
    if item.data_url is not None:
        try:
            return CountItem(item.name, decode_data_url(item.data_url)[1], item.detail)
        except MediaError as exc:
            raise RequestError(f"{item.name}: {exc}") from None
    try:
        data = base64.b64decode(item.data_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{item.name}: data_base64 is not valid base64") from None
    return CountItem(item.name, data, item.detail)


def meter_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/api/meter", tags=["meter"])

    @router.post("/count")
    def count(body: CountIn) -> dict[str, Any]:
        """Count text and media tokens for a model (default from the settings)."""
        return count_items(body.model or settings.default_model, [_item(i) for i in body.items])

    @router.post("/normalize", response_model=None)
    def normalize(body: dict[str, Any] | list[Any]) -> Any:
        """Normalize one record (an object) or many (a list) to canonical usage.

        One record: 200 with its line, or 422 with the error. A list: 200 with every line
        when all succeed; 422 when any failed, still listing every line.
        """
        if isinstance(body, dict):
            line = normalize_record(body)
            if "error" in line:
                return JSONResponse(line, status_code=422)
            return line
        if len(body) > MAX_RECORDS:
            return JSONResponse(
                error_body("too_many_records", f"at most {MAX_RECORDS} records per request"),
                status_code=413,
            )
        lines = [normalize_record(r) for r in body]
        failed = sum(1 for line in lines if "error" in line)
        result: dict[str, Any] = {"results": lines, "records": len(lines), "errors": failed}
        if failed:
            result.update(error_body("invalid_usage", f"{failed} of {len(lines)} records failed"))
            return JSONResponse(result, status_code=422)
        return result

    @router.post("/estimate")
    def estimate(body: EstimateIn) -> dict[str, Any]:
        """The worst-case usage of a request body (what a budget reserves)."""
        model = body.model or body.request.get("model")
        if not isinstance(model, str):
            raise RequestError("name the model in `model` or in request.model")
        usage = estimate_request(body.api, body.request, resolve(model))
        return {"model": model, "api": body.api, **usage.to_json()}

    @router.get("/models")
    def models() -> dict[str, Any]:
        """Every model the meter knows, with its tokenizer and media rules."""
        return {"models": [m.to_json() for m in MODELS]}

    return router


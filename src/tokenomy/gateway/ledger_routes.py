"""``/api/ledger/...`` and ``/api/budgets/...``: the ledger and budgets over HTTP.

Batches follow TigerBeetle: a list of accounts or transfers in, a list of ``{"id", "result"}``
out, 200 even when a result is a failure code (``exceeds_credits`` is an answer, not an
error). Bad input — a body that is not a list, a bad field, a batch over 8,190 (413) — is a
4xx ``{"error": {"type", "message"}}`` and nothing is written. Budget money is a decimal string
in major units (``"100.00"``).
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from tokenomy.gateway.errors import error_body
from tokenomy.ledger.budget_report import report, show
from tokenomy.ledger.budgets import (
    BudgetConflictError,
    BudgetError,
    BudgetNotFoundError,
    ledger_of,
    parse_major,
    set_budget,
)
from tokenomy.ledger.charges import capture, release, reserve
from tokenomy.ledger.protocol import LedgerStore
from tokenomy.ledger.wire import (
    BatchTooLargeError,
    WireError,
    account_json,
    parse_account,
    parse_batch,
    parse_id,
    parse_transfer,
    results_json,
)


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: StrictStr = Field(description="grant per period, major units: \"100.00\"")
    asset: StrictStr = "USD"
    period: StrictStr = Field(default="none", description="none | daily | monthly | yearly")
    rollover: StrictBool = False
    kind: StrictStr = Field(default="team", description="org | team | user | agent | run")
    owner: StrictStr = ""


class ReserveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: StrictStr
    amount: StrictStr = Field(description="the worst-case cost, major units")
    timeout_s: StrictInt = Field(default=0, description="expire after (0: never)")


class CaptureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: StrictStr
    amount: StrictStr = Field(description="the actual cost (≤ the reservation), major units")


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: StrictStr


def install_ledger_error_handlers(app: FastAPI) -> None:
    """Wire and budget errors → 4xx JSON (the one place they are translated)."""

    async def ledger_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WireError | BudgetError)
        status = (413 if isinstance(exc, BatchTooLargeError)
                  else 404 if isinstance(exc, BudgetNotFoundError)
                  else 409 if isinstance(exc, BudgetConflictError) else 422)
        return JSONResponse(error_body(exc.type, str(exc)), status_code=status)

    app.add_exception_handler(WireError, ledger_error)
    app.add_exception_handler(BudgetError, ledger_error)


def ledger_router() -> APIRouter:
    """Routes over ``app.state.ledger`` (opened in the app's lifespan)."""
    router = APIRouter(prefix="/api")
    lock = threading.Lock()  # one store connection: requests take turns (threadpool routes)

    def store(request: Request) -> LedgerStore:
        ledger: LedgerStore = request.app.state.ledger
        return ledger

    @router.post("/ledger/accounts", tags=["ledger"])
    def create_accounts(request: Request, body: Annotated[Any, Body()]) -> list[dict[str, str]]:
        """Create accounts (a list, ≤ 8,190): one `{"id", "result"}` each."""
        accounts = parse_batch(body, parse_account)
        with lock:
            return results_json(accounts, store(request).create_accounts(accounts))

    @router.post("/ledger/transfers", tags=["ledger"])
    def create_transfers(request: Request, body: Annotated[Any, Body()]) -> list[dict[str, str]]:
        """Create transfers (a list, ≤ 8,190, one transaction): one `{"id", "result"}` each."""
        transfers = parse_batch(body, parse_transfer)
        with lock:
            return results_json(transfers, store(request).create_transfers(transfers))

    @router.get("/ledger/accounts/{account_id}", tags=["ledger"], response_model=None)
    def get_account(request: Request, account_id: str) -> dict[str, Any] | JSONResponse:
        """One account with its four balances (decimal strings)."""
        wanted = parse_id(account_id)
        with lock:
            found = store(request).lookup_accounts([wanted])
        if not found:
            return JSONResponse(error_body("account_not_found", f"no account {wanted}"),
                                status_code=404)
        return account_json(found[0])

    @router.get("/ledger/verify", tags=["ledger"])
    def verify(request: Request) -> dict[str, Any]:
        """Every invariant violation (`ok` when there is none)."""
        with lock:
            violations = store(request).verify()
        return {"ok": not violations, "violations": violations}

    @router.get("/budgets", tags=["budgets"])
    def budgets(request: Request) -> dict[str, Any]:
        """Every budget: granted, spent, reserved, remaining, % used, owner."""
        with lock:
            lines = report(store(request), time.time_ns())
        return {"budgets": [line.to_json() for line in lines]}

    @router.put("/budgets/{name:path}", tags=["budgets"])
    def put_budget(request: Request, name: str, body: BudgetIn) -> dict[str, Any]:
        """Create or update a budget and grant its current period (idempotent)."""
        ledger = ledger_of(body.asset)
        amount = parse_major(body.amount, ledger)
        with lock:
            now = time.time_ns()
            set_budget(store(request), name, amount, ledger, body.period, body.rollover,
                       body.kind, body.owner, now)
            return show(store(request), name, now).to_json()

    @router.get("/budgets/{name:path}", tags=["budgets"])
    def get_budget(request: Request, name: str) -> dict[str, Any]:
        """One budget's standing."""
        with lock:
            return show(store(request), name, time.time_ns()).to_json()

    def _ledger_of(request: Request, name: str) -> int:
        found = store(request).get_budget(name)
        if found is None:
            raise BudgetNotFoundError(f"budget {name!r} does not exist")
        return found.ledger

    @router.post("/budgets/{name:path}/reserve", tags=["budgets"])
    def reserve_route(request: Request, name: str, body: ReserveIn) -> dict[str, Any]:
        """Reserve on every level, leaf to root, all or none (`ok` false names the level)."""
        with lock:
            amount = parse_major(body.amount, _ledger_of(request, name))
            return reserve(store(request), name, amount, body.request_id,
                           body.timeout_s).to_json()

    @router.post("/budgets/{name:path}/capture", tags=["budgets"])
    def capture_route(request: Request, name: str, body: CaptureIn) -> dict[str, Any]:
        """Capture ≤ the reservation on every level; the rest is released."""
        with lock:
            amount = parse_major(body.amount, _ledger_of(request, name))
            return capture(store(request), name, body.request_id, amount).to_json()

    @router.post("/budgets/{name:path}/release", tags=["budgets"])
    def release_route(request: Request, name: str, body: ReleaseIn) -> dict[str, Any]:
        """Release the reservation on every level."""
        with lock:
            return release(store(request), name, body.request_id).to_json()

    return router


__all__ = ["install_ledger_error_handlers", "ledger_router"]

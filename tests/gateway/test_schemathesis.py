"""Generated requests against the served OpenAPI schema: never a 5xx.

schemathesis reads ``/openapi.json`` from the running gateway and sends what hypothesis
generates to every operation — the proxy routes with a valid key (so admission, estimates and
quotes run), Tokenomy's own ``/api`` routes, ``/metrics`` and ``/healthz``. (Driven through
``as_strategy`` per operation: schemathesis's pytest plugin does not support this pytest.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from gateway_harness import Gateway
from hypothesis import HealthCheck, given, settings

from tokenomy.config import Settings
from tokenomy.gateway import create_app

OPERATIONS = sorted((op["method"], path) for path, item in
                    create_app(Settings()).openapi()["paths"].items()
                    for op in ({"method": m} for m in item))


@pytest.fixture(scope="module")
def api_schema(gateway: Gateway) -> Any:
    served = httpx.get(f"{gateway.base}/openapi.json").json()
    return schemathesis.openapi.from_dict(served)


@pytest.fixture(scope="module")
def secret(gateway: Gateway) -> str:
    key, _ = gateway.key("5")
    return key


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_generated_request_gets_a_5xx(method: str, path: str, api_schema: Any,
                                         gateway: Gateway, secret: str) -> None:
    operation = api_schema[path][method.upper()]

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call(base_url=gateway.base, timeout=30,
                             headers={"authorization": f"Bearer {secret}"})
        assert response.status_code < 500, (case.body, response.text[:500])

    check()

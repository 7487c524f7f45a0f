"""Routing order and circuit breakers, without a network."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokenomy.config import UpstreamSpec
from tokenomy.gateway.upstreams import BREAKER_FAILURES, BREAKER_OPEN_S, UpstreamPool


def pool(*specs: UpstreamSpec) -> UpstreamPool:
    return UpstreamPool(specs, env={"KEY_A": "secret-a"})


A = UpstreamSpec("a", "openai", "http://a/v1", "KEY_A", ("m1", "m2"), weight=1,
                 joules_per_token=Decimal("0.5"))
B = UpstreamSpec("b", "openai", "http://b/v1", "", ("m1",), weight=5,
                 joules_per_token=Decimal("0.2"))
C = UpstreamSpec("c", "anthropic", "http://c", "", ("*",))


def names(order: list[tuple[str, object]]) -> list[str]:
    return [f"{m}@{u.name}" for m, u in order]  # type: ignore[attr-defined]


def test_cheapest_orders_by_quote_then_weight() -> None:
    p = pool(A, B)
    cands = [(m, u) for m in ("m1", "m2") for u in p.for_model(m, "openai")]
    prices = {"m1": 300, "m2": 100}
    assert names(p.order(cands, "cheapest", 0.0, prices.get)) == ["m2@a", "m1@b", "m1@a"]


def test_fastest_uses_measured_latency_and_unmeasured_go_last() -> None:
    p = pool(A, B)
    a, b = p.upstreams
    a.succeeded(50.0, 100, 1.0)
    b.succeeded(10.0, 100, 1.0)
    cands = [("m1", a), ("m1", b)]
    assert names(p.order(cands, "fastest", 0.0, lambda m: 1)) == ["m1@b", "m1@a"]
    b.succeeded(500.0, 10, 1.0)  # EWMA moves toward the new sample
    assert b.ttfb_ms is not None and 10.0 < b.ttfb_ms < 500.0


def test_greenest_orders_by_joules_per_token() -> None:
    p = pool(A, B, UpstreamSpec("d", "openai", "http://d/v1", "", ("m1",)))
    cands = [("m1", u) for u in p.for_model("m1", "openai")]
    assert names(p.order(cands, "greenest", 0.0, lambda m: 1)) == ["m1@b", "m1@a", "m1@d"]


def test_the_breaker_opens_after_failures_and_half_opens_later() -> None:
    p = pool(A, B)
    a, b = p.upstreams
    for _ in range(BREAKER_FAILURES):
        a.failed(100.0)
    assert a.state == "open" and not a.available(100.0)
    cands = [("m1", a), ("m1", b)]
    assert names(p.order(cands, "cheapest", 100.0, lambda m: 1))[0] == "m1@b"
    later = 100.0 + BREAKER_OPEN_S
    assert a.available(later)
    a.began(later)
    assert a.state == "half_open" and not a.available(later)  # one trial at a time
    a.succeeded(5.0, 1, 1.0)
    assert a.state == "closed" and a.available(later)


def test_headers_carry_the_upstreams_key_never_the_clients() -> None:
    p = pool(A, C)
    a, c = p.upstreams
    client = {"authorization": "Bearer tk-client", "x-api-key": "tk-client",
              "payment-signature": "x", "x-payment": "y", "user-agent": "sdk/1"}
    sent = a.headers(client)
    assert sent["authorization"] == "Bearer secret-a" and "x-payment" not in sent
    assert "payment-signature" not in sent and sent["user-agent"] == "sdk/1"
    anth = c.headers(client)
    assert "x-api-key" not in anth and "authorization" not in anth
    assert anth["anthropic-version"] == "2023-06-01"
    assert (str(a.url("chat")), str(c.url("messages"))) == ("http://a/v1/chat/completions",
                                                            "http://c/v1/messages")


@pytest.mark.parametrize("model, kind, expected", [
    ("m1", "openai", ["a", "b"]), ("m2", "openai", ["a"]), ("zz", "anthropic", ["c"]),
    ("zz", "openai", []),
])
def test_which_upstreams_serve_a_model(model: str, kind: str, expected: list[str]) -> None:
    assert [u.name for u in pool(A, B, C).for_model(model, kind)] == expected

"""Prometheus metrics of one gateway process (``GET /metrics``), in a registry of its own.

Counters are exported as integers where they count money (``tokenomy_cost_nano_usd_total``:
nano-dollars), tokens or requests; latencies are histograms in seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tokenomy.meter.usage import MODALITIES, TOKEN_CLASSES, Usage

if TYPE_CHECKING:
    from tokenomy.gateway.admission import Ticket
    from tokenomy.gateway.upstreams import UpstreamPool

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                     60, 120, 300)
CONTENT_TYPE = CONTENT_TYPE_LATEST
_SLOTS = [(c.value, m.value) for c in TOKEN_CLASSES for m in MODALITIES]


class Metrics:
    def __init__(self, pool: UpstreamPool | None = None) -> None:
        self.registry = r = CollectorRegistry()
        self.pool = pool
        self.requests = Counter("tokenomy_requests", "Requests served, by outcome",
                                ["api", "model", "upstream", "outcome"], registry=r)
        self.refusals = Counter("tokenomy_refusals", "Requests refused before any upstream call",
                                ["reason"], registry=r)
        self.tokens = Counter("tokenomy_tokens", "Tokens metered, by class and modality",
                              ["class", "modality"], registry=r)
        self.cost = Counter("tokenomy_cost_nano_usd", "Metered cost in nano-dollars",
                            ["model"], registry=r)
        self.open_reservations = Gauge("tokenomy_open_reservations",
                                       "Reservations held by requests in flight", registry=r)
        self.ttfb = Histogram("tokenomy_upstream_latency_seconds",
                              "Upstream time to first byte", ["upstream"],
                              buckets=LATENCY_BUCKETS_S, registry=r)
        self.duration = Histogram("tokenomy_request_duration_seconds",
                                  "Whole request, admission to settlement", ["api"],
                                  buckets=LATENCY_BUCKETS_S, registry=r)
        self.upstream_errors = Counter("tokenomy_upstream_errors",
                                       "Upstream 5xx, timeouts and refused connections",
                                       ["upstream"], registry=r)
        self.breaker = Gauge("tokenomy_upstream_breaker_open",
                             "1 while an upstream's circuit breaker is open", ["upstream"],
                             registry=r)
        # Each labelled child, once found: prometheus_client's labels() validates and locks
        # on every call. The same children as its own (same cardinality), keyed the same.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def reserved(self, delta: int) -> None:
        self.open_reservations.inc(delta)

    def upstream_latency(self, upstream: str, seconds: float) -> None:
        self._child(self.ttfb, upstream).observe(seconds)

    def upstream_error(self, upstream: str) -> None:
        self.upstream_errors.labels(upstream).inc()

    def served(self, ticket: Ticket, upstream: str, outcome: str, usage: Usage | None,
               cost: int, seconds: float) -> None:
        child = self._child
        child(self.requests, ticket.api, ticket.model, upstream, outcome).inc()
        child(self.duration, ticket.api).observe(seconds)
        if cost:
            child(self.cost, ticket.model).inc(cost)
        if usage is not None:
            for (cls, modality), count in zip(_SLOTS, usage.counts, strict=True):
                if count:
                    child(self.tokens, cls, modality).inc(count)

    def render(self) -> bytes:
        if self.pool is not None:
            for u in self.pool.upstreams:
                self.breaker.labels(u.name).set(1 if u.state != "closed" else 0)
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "Metrics"]

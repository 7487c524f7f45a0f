"""Upstreams: which servers can serve a model, in which order to try them, and whether each
is healthy.

In: the settings' ``[[upstream]]`` specs, the routing strategy, measured latencies. Out: an
ordered list of candidate upstreams for a request, and the HTTP pieces to call one (URL path,
headers with the upstream's own key; the client's key and payment headers are never passed
on). Strategies:

* ``cheapest`` — the lowest worst-case quote first (the caller prices each candidate model);
* ``fastest`` — the lowest EWMA of time to first byte, then the highest EWMA tokens per second;
* ``greenest`` — the fewest joules per token (``joules_per_token`` in the spec); unknown last.

Ties keep the configured order (then ``weight``, higher first). A circuit breaker per upstream
opens after :data:`BREAKER_FAILURES` consecutive failures (5xx, timeouts, refused
connections) and lets one trial request through after :data:`BREAKER_OPEN_S`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tokenomy.config import UpstreamSpec

BREAKER_FAILURES = 5
BREAKER_OPEN_S = 30.0
EWMA_ALPHA = 0.2  # weight of the newest sample (latencies are not money: floats are fine)

PATHS: Mapping[tuple[str, str], str] = {
    ("openai", "chat"): "/chat/completions",
    ("openai", "responses"): "/responses",
    ("openai", "embeddings"): "/embeddings",
    ("anthropic", "messages"): "/v1/messages",
}
ANTHROPIC_VERSION = "2023-06-01"
# Headers a client may send that an upstream may see (everything else stays here: the
# client's Authorization / x-api-key, payment headers, cookies, hop-by-hop headers).
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta", "openai-beta", "user-agent")


@dataclass(slots=True)
class Upstream:
    """One upstream and what this process has measured about it."""

    spec: UpstreamSpec
    api_key: str
    ttfb_ms: float | None = None  # EWMA time to first byte
    tokens_per_s: float | None = None  # EWMA output speed
    failures: int = 0  # consecutive
    open_until: float = 0.0  # monotonic seconds; the breaker is open before it
    trial: bool = False  # a half-open trial request is in flight
    _urls: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def serves(self, model: str) -> bool:
        return "*" in self.spec.models or model in self.spec.models

    def available(self, now: float) -> bool:
        return now >= self.open_until and not self.trial

    def url(self, api: str) -> str:
        """The endpoint of ``api`` (the client parses each endpoint once)."""
        found = self._urls.get(api)
        if found is None:
            found = self._urls[api] = self.spec.base_url + PATHS[(self.spec.kind, api)]
        return found

    def headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        out = {"content-type": "application/json", "accept-encoding": "identity"}
        for name in FORWARDED_HEADERS:
            value = client_headers.get(name)
            if value:
                out[name] = value
        if self.spec.kind == "anthropic":
            out.setdefault("anthropic-version", ANTHROPIC_VERSION)
            if self.api_key:
                out["x-api-key"] = self.api_key
        elif self.api_key:
            out["authorization"] = f"Bearer {self.api_key}"
        return out

    # -- health ------------------------------------------------------------------------
    def began(self, now: float) -> None:
        if self.failures >= BREAKER_FAILURES and now >= self.open_until:
            self.trial = True  # half-open: this request decides

    def succeeded(self, ttfb_ms: float, tokens: int, seconds: float) -> None:
        self.failures, self.open_until, self.trial = 0, 0.0, False
        self.ttfb_ms = _ewma(self.ttfb_ms, ttfb_ms)
        if tokens > 0 and seconds > 0:
            self.tokens_per_s = _ewma(self.tokens_per_s, tokens / seconds)

    def failed(self, now: float) -> None:
        self.failures += 1
        self.trial = False
        if self.failures >= BREAKER_FAILURES:
            self.open_until = now + BREAKER_OPEN_S

    @property
    def state(self) -> str:
        if self.failures < BREAKER_FAILURES:
            return "closed"
        return "half_open" if self.trial else "open"


def _ewma(old: float | None, sample: float) -> float:
    return sample if old is None else old + EWMA_ALPHA * (sample - old)


class UpstreamPool:
    """Every configured upstream, with its key read once from the environment."""

    def __init__(self, specs: Sequence[UpstreamSpec], env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.upstreams = [Upstream(s, env.get(s.api_key_env, "") if s.api_key_env else "")
                          for s in specs]

    def for_model(self, model: str, kind: str) -> list[Upstream]:
        return [u for u in self.upstreams if u.spec.kind == kind and u.serves(model)]

    def models(self) -> list[str]:
        """Every model named by some upstream (``*`` upstreams add none)."""
        seen: dict[str, None] = {}
        for u in self.upstreams:
            seen.update((m, None) for m in u.spec.models if m != "*")
        return list(seen)

    def order(self, candidates: Sequence[tuple[str, Upstream]], strategy: str, now: float,
              price: Callable[[str], int | None]) -> list[tuple[str, Upstream]]:
        """(model, upstream) pairs in the order to try them; open breakers go last."""
        position = {id(c): i for i, c in enumerate(candidates)}

        def key(c: tuple[str, Upstream]) -> tuple[object, ...]:
            model, u = c
            head: tuple[object, ...]
            if strategy == "cheapest":
                cost = price(model)
                head = (cost is None, cost or 0)
            elif strategy == "fastest":
                head = (u.ttfb_ms is None, u.ttfb_ms or 0.0, -(u.tokens_per_s or 0.0))
            else:  # greenest
                jpt = u.spec.joules_per_token
                head = (jpt is None, jpt or Decimal(0))
            return (not u.available(now), *head, -u.spec.weight, position[id(c)])

        return sorted(candidates, key=key)


__all__ = [
    "BREAKER_FAILURES",
    "BREAKER_OPEN_S",
    "FORWARDED_HEADERS",
    "PATHS",
    "Upstream",
    "UpstreamPool",
]

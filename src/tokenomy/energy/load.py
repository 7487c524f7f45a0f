"""The load a measurement drives: B concurrent streams of chat completions against any
OpenAI-compatible endpoint (httpx, async), for a fixed window, with the meter running.

Tokens: a request that finishes inside the window counts its ``usage.completion_tokens`` (the
stream asks for usage), or its content chunks when the server sends none; requests still open
at the end of the window are cancelled and count the chunks received so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from tokenomy.energy import Meter
from tokenomy.factory.measure import BatchRun

PROMPT = "Write a long, detailed essay about the economics of producing AI tokens."
POLL_S = 0.1
ERROR_BACKOFF_S = 0.2
WORKERS_MAX = 4096
Progress = Callable[[float, int], None]  # (seconds elapsed, tokens so far)


class LoadError(RuntimeError):
    """The endpoint could not be driven (unreachable, or every request failed)."""


@dataclass(frozen=True, slots=True)
class LoadConfig:
    endpoint: str
    model: str
    seconds: float
    api_key: str | None = None
    max_tokens: int = 256
    timeout_s: float = 120.0

    @property
    def url(self) -> str:
        """``…/chat/completions``; a bare ``http://host:port`` gets ``/v1``."""
        base = self.endpoint.rstrip("/")
        if urlsplit(base).path in ("", "/"):
            base += "/v1"
        return f"{base}/chat/completions"


@dataclass
class _Tally:
    tokens: int = 0
    requests: int = 0
    errors: int = 0
    last_error: str = ""


async def _one_request(client: httpx.AsyncClient, cfg: LoadConfig, tally: _Tally) -> None:
    body = {"model": cfg.model, "stream": True, "max_tokens": cfg.max_tokens,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": PROMPT}]}
    chunks = 0
    usage: int | None = None
    try:
        async with client.stream("POST", cfg.url, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                tally.errors += 1
                tally.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                return
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                event = json.loads(line[5:])
                for choice in event.get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        chunks += 1
                if event.get("usage"):
                    usage = int(event["usage"].get("completion_tokens", 0))
        tally.requests += 1
        tally.tokens += chunks if usage is None else usage
    except asyncio.CancelledError:
        tally.tokens += chunks  # cut at the end of the window: what arrived inside it
        raise
    except (httpx.HTTPError, ValueError) as exc:
        tally.errors += 1
        tally.last_error = f"{type(exc).__name__}: {exc}"


async def _worker(client: httpx.AsyncClient, cfg: LoadConfig, tally: _Tally) -> None:
    while True:
        errors = tally.errors
        await _one_request(client, cfg, tally)
        if tally.errors > errors:
            await asyncio.sleep(ERROR_BACKOFF_S)  # a failing endpoint is not hammered


async def run_batch(cfg: LoadConfig, batch: int, meter: Meter,
                    progress: Progress | None = None) -> BatchRun:
    """``batch`` concurrent streams for ``cfg.seconds`` while ``meter`` reads energy."""
    if not 0 < batch <= WORKERS_MAX:
        raise LoadError(f"batch must be in 1..{WORKERS_MAX}")
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    limits = httpx.Limits(max_connections=batch, max_keepalive_connections=batch)
    tally = _Tally()
    async with httpx.AsyncClient(headers=headers, limits=limits,
                                 timeout=cfg.timeout_s) as client:
        meter.begin()
        started = time.monotonic()
        workers = [asyncio.create_task(_worker(client, cfg, tally)) for _ in range(batch)]
        while (elapsed := time.monotonic() - started) < cfg.seconds:
            await asyncio.sleep(min(POLL_S, max(cfg.seconds - elapsed, 0)))
            meter.poll()
            if progress is not None:
                progress(min(time.monotonic() - started, cfg.seconds), tally.tokens)
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        reading = meter.end()
    if tally.tokens == 0 and tally.errors:
        raise LoadError(f"every request failed at batch {batch}: {tally.last_error}")
    return BatchRun(batch, tally.tokens, tally.requests, tally.errors, reading)


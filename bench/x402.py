"""x402 benchmark: paid requests/s and added latency through the x402 paywall beside keyed
requests, on one gateway and one simulator, in one run; then a check that the money adds up.

Run: ``.venv/bin/python bench/x402.py [--quick] [--concurrency 16]`` (≈ 2 min on 2 CPUs;
``--quick`` ≈ 30 s). Prints a header, a Markdown table, the pre-signing cost, each row's first
error body, the money reconciliation and what the servers logged at WARNING or above.

Servers as in ``bench/gateway.py`` (its helpers start and stop them): the simulator (no pacing,
32-token replies) and ``tokenomy serve`` (1 worker) on a fresh SQLite database, with an API key
and an x402 wallet funded with ``FUND_USDC``. Every request is the same ``sim-small`` chat as
there (JSON). A row keeps exactly C requests in flight over C keep-alive connections
(``_loadgen``'s raw asyncio client), warms up, then measures N requests or stops at a time limit.

(a) keyed: ``Authorization: Bearer KEY``, the reference.
(b) x402 pre-signed: one 402 gave the offer and warm-up + N payloads were signed from it (each
    its own nonce) before the row; only the paid POSTs are timed. This isolates the paywall: the
    SDK's signature check (the same pure-Python ecrecover, per py-spy most of its CPU), the
    ledger hold, the capture.
(c) x402 agent: per request the POST without a key (402), signing its offer, the paid POST, all
    timed, as an agent paying per request sees it. One process signs for all C clients, so
    signing is serial; eth_keys' pure-Python secp256k1 (no coincurve) takes ~5 ms of CPU per
    signature, not ~1 ms, hence C = 16, not gateway.py's 50.
"added" is a percentile minus keyed's at the same concurrency; "gateway says" is its
``x-tokenomy-overhead-us`` (handling time minus the upstream wait) on the paid answer; "CPU"
is user + system time per measured request (the agent's: its 402 too), warm-up included. A paid
request is an error unless it answers 200 with a successful ``PAYMENT-RESPONSE``. Money: the
wallet must end at the funded amount minus the amounts of every successful ``PAYMENT-RESPONSE``
(warm-ups included), with nothing held.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table
from _loadgen import RawHeadConnection, Summary, open_raw, percentiles, raw_header
from gateway import BIN, PATH, PROMPT, Server, cpu_seconds, simulator, tokenomy

CONCURRENCY = 16
PLAN = {False: ((50, 2_000, 15.0), (20, 500, 15.0)),  # (warm-up, N, row seconds) at C, then 1
        True: ((20, 300, 5.0), (10, 100, 5.0))}  # --quick
RUN_SECONDS_MAX = 300  # one row, warm-up included, is cancelled after this
OFFER_SECONDS = 120  # the gateway's maxTimeoutSeconds: a pre-signed payload expires after it
FUND_USDC = "1000"
LOG_LINES_MAX = 20
BODY = json.dumps(PROMPT).encode()  # gateway.py's sim-small chat, max_tokens 32
MODES = {"keyed": "(a) keyed: Authorization: Bearer (reference)",
         "presigned": "(b) x402 pre-signed: the paid POST only",
         "agent": "(c) x402 agent: 402 + sign + paid POST"}


def sdk(module: str) -> Any:
    """A module of the x402 SDK or its dependencies. This script is named x402.py too: its
    folder leaves ``sys.path`` first, else ``import x402`` finds this file (mypy names this file
    x402 as well, so the SDK is ``Any`` here)."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    return importlib.import_module(module)


class Payer:
    """The agent's signer: the SDK's client, ``upto`` on every EVM network, no spend caps."""

    def __init__(self, private_key: str) -> None:
        signer = sdk("x402.mechanisms.evm.signers").EthAccountSigner(
            sdk("eth_account").Account.from_key(private_key))
        self.client, self.http = sdk("x402").x402Client(), sdk("x402.http")
        self.client.register("eip155:*", sdk("x402.mechanisms.evm.upto.client")
                             .UptoEvmScheme(signer))
        self.client.set_spend_controls(False)

    async def sign(self, offer: str) -> str:
        """A ``PAYMENT-SIGNATURE`` value answering a ``PAYMENT-REQUIRED`` one (a fresh nonce)."""
        payload = await self.client.create_payment_payload(
            self.http.decode_payment_required_header(offer))
        return str(self.http.encode_payment_signature_header(payload))


@dataclass(frozen=True, slots=True)
class Job:
    mode: str  # a key of MODES
    port: int
    concurrency: int
    warmup: int
    requests: int  # measured, at most
    seconds_max: float  # no measured request is sent after this
    token: str  # keyed
    payer: Payer  # x402


@dataclass(slots=True)
class Result:
    summary: Summary = field(default_factory=Summary)
    settled_micro: int = 0  # amounts of the successful PAYMENT-RESPONSEs, warm-up included
    cost_usd: Decimal = Decimal(0)  # their x-tokenomy-cost-usd
    paid: int = 0  # successful PAYMENT-RESPONSEs
    first_error: str = ""
    presign_s: float = 0.0  # pre-signed: signing warm-up + N payloads before the row
    trip_ms: dict[int, float] = field(default_factory=dict)  # agent: the 402 round trip
    sign_ms: dict[int, float] = field(default_factory=dict)  # agent: signing its offer
    server_cpu_us: float = 0.0  # per request (per paid request for the agent)


def request(port: int, extra: str = "") -> bytes:
    return (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Content-Type: "
            f"application/json\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY


def book(result: Result, raw: bytes) -> bool:
    """Add a paid answer's receipt to ``result``; False when it carries no settled payment."""
    value = raw_header(raw, b"payment-response")
    settled = json.loads(base64.b64decode(value)) if value else {}
    if settled.get("success") is not True:
        return False
    result.settled_micro += int(settled["amount"])
    result.cost_usd += Decimal(raw_header(raw, b"x-tokenomy-cost-usd") or "0")
    result.paid += 1
    return True


async def _once(job: Job, conn: RawHeadConnection, signed: Iterator[str],
                ) -> tuple[int, bytes, float, float]:
    """One request in the row's mode: status, body, the 402 round trip and signing in s."""
    if job.mode == "keyed":
        status, _, body = await conn.exchange(request(job.port, f"Authorization: Bearer "
                                                                f"{job.token}\r\n"))
        return status, body, 0.0, 0.0
    trip = sign = 0.0
    if job.mode == "presigned":
        signature = next(signed)
    else:
        start = time.perf_counter()
        status, _, body = await conn.exchange(request(job.port))
        if status != 402:
            return status, b"(the POST without a key) " + body, 0.0, 0.0
        offered = time.perf_counter()
        signature = await job.payer.sign(raw_header(conn.raw, b"payment-required"))
        trip, sign = offered - start, time.perf_counter() - offered
    status, _, body = await conn.exchange(request(job.port, f"PAYMENT-SIGNATURE: {signature}\r\n"))
    return status, body, trip, sign


async def _presign(job: Job) -> tuple[list[str], float]:
    """One 402 gives the offer; warm-up + N payloads are signed from it, each its own nonce."""
    start, conn = time.perf_counter(), await open_raw(job.port)
    await conn.exchange(request(job.port))
    offer = raw_header(conn.raw, b"payment-required")
    if conn.transport is not None:
        conn.transport.close()
    payloads = [await job.payer.sign(offer) for _ in range(job.warmup + job.requests)]
    return payloads, time.perf_counter() - start


async def _drive(job: Job) -> Result:
    """Warm up, then measure: C clients, each sending its next request when one returns (one
    closed loop, kept whole as in ``_loadgen._run``)."""
    result, perf = Result(), time.perf_counter
    summary = result.summary
    payloads, result.presign_s = await _presign(job) if job.mode == "presigned" else ([], 0.0)
    signed = iter(payloads)  # signing first: idle keep-alive connections close after 5 s
    conns = [await open_raw(job.port) for _ in range(job.concurrency)]
    seen: dict[str, list[float]] = {"latency": [], "overhead": [], "trip": [], "sign": []}
    issued = in_window = 0
    last = 0.0

    def fail(measured: bool, text: bytes) -> None:
        summary.errors += measured
        shown = ("" if measured else "warm-up: ") + text[:1200].decode(errors="replace")
        result.first_error = result.first_error or shown
        summary.note(shown)

    async def client(slot: int, count: int, measured: bool, deadline: float) -> None:
        nonlocal issued, in_window, last
        while issued < count and perf() < deadline:
            issued += 1
            start = perf()
            try:
                status, body, trip, sign = await _once(job, conns[slot], signed)
            except ConnectionError as exc:
                fail(measured, str(exc).encode())
                with contextlib.suppress(OSError):  # refused: the next request fails at once
                    conns[slot] = await open_raw(job.port)
                continue
            end, raw = perf(), conns[slot].raw
            if status != 200 or (job.mode != "keyed" and not book(result, raw)):
                fail(measured, f"status {status}: ".encode() + body)
            elif measured:
                in_window, last = (in_window + 1, end) if end <= deadline else (in_window, last)
                seen["latency"].append((end - start) * 1e3)
                if job.mode == "agent":
                    seen["trip"].append(trip * 1e3)
                    seen["sign"].append(sign * 1e3)
                if overhead := raw_header(raw, b"x-tokenomy-overhead-us"):
                    seen["overhead"].append(int(overhead) / 1e3)

    async def phase(count: int, measured: bool, deadline: float) -> None:
        nonlocal issued
        issued = 0
        await asyncio.gather(*(client(slot, count, measured, deadline)
                               for slot in range(job.concurrency)))

    cpu_start, begin = resource.getrusage(resource.RUSAGE_SELF), 0.0
    try:
        async with asyncio.timeout(RUN_SECONDS_MAX):
            await phase(job.warmup, False, perf() + RUN_SECONDS_MAX)
            begin = perf()
            await phase(job.requests, True, begin + job.seconds_max)
    except TimeoutError:
        summary.note(f"row stopped at {RUN_SECONDS_MAX} s")
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    summary.per_s = in_window / (last - begin) if last > begin > 0 else 0.0
    summary.requests = len(seen["latency"]) + summary.errors
    summary.latency_ms, summary.overhead_ms = (percentiles(seen["latency"]),
                                               percentiles(seen["overhead"]))
    result.trip_ms, result.sign_ms = percentiles(seen["trip"]), percentiles(seen["sign"])
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    summary.cpu_us_per_request = cpu / max(job.warmup + summary.requests, 1) * 1e6
    return result


def cli(argv: list[str]) -> Any:
    done = subprocess.run([str(BIN / "tokenomy"), *argv, "--json"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"tokenomy {' '.join(argv)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def wallet(gw: Server) -> tuple[str, str]:
    """A new payer funded on the gateway's database: its address and private key."""
    keys = gw.log.parent / "payer.json"
    address = cli(["wallet", "create", "--out", str(keys)])["address"]
    cli(["wallet", "fund", address, FUND_USDC, "--config", config(gw)])
    return address, json.loads(keys.read_text())["private_key"]


def config(gw: Server) -> str:
    return str(gw.log.parent / "tokenomy.toml")  # gateway.tokenomy writes it beside the log


def to_micro(usdc: str) -> int:
    micro = Decimal(usdc).scaleb(6)
    if micro != micro.to_integral_value():
        raise RuntimeError(f"{usdc!r} USDC is not a whole number of micro-USDC")
    return int(micro)


def triple(values: dict[int, float]) -> str:
    return " / ".join(f"{values[p]:.2f}" for p in (50, 95, 99)) if values else "n/a"


def table_row(concurrency: int, mode: str, r: Result, keyed: Result) -> list[str]:
    s, ref = r.summary, keyed.summary.latency_ms
    added = {p: s.latency_ms[p] - ref[p] for p in ref} if s.latency_ms else {}
    return [f"c={concurrency}: {MODES[mode]}", f"{s.per_s:,.0f}", f"{s.requests:,}",
            triple(s.latency_ms), "" if r is keyed else triple(added), triple(s.overhead_ms),
            f"{r.trip_ms[50]:.2f} / {r.sign_ms[50]:.2f}" if r.trip_ms else "",
            f"{s.errors:,}", f"{r.server_cpu_us:,.0f}", f"{s.cpu_us_per_request:,.0f}"]


def run_rows(gw: Server, payer: Payer, args: argparse.Namespace, rows: list[list[str]],
             lines: list[str]) -> list[Result]:
    """Keyed, pre-signed and agent rows at C, then at 1; returns every row's result."""
    results: list[Result] = []
    gc.freeze()  # this process is the load generator too: the SDK's objects stay out of its GC
    for concurrency, (warmup, requests, seconds) in zip((args.concurrency, 1),
                                                        PLAN[args.quick], strict=True):
        for mode in MODES:
            print(f"  c={concurrency}, {mode}: {warmup} + ≤ {requests:,} requests, ≤ "
                  f"{seconds:.0f} s …", file=sys.stderr, flush=True)
            cpu_before = cpu_seconds(gw.process.pid)
            r = uvloop.run(_drive(Job(mode, gw.port, concurrency, warmup, requests, seconds,
                                      gw.token, payer)))
            r.server_cpu_us = ((cpu_seconds(gw.process.pid) - cpu_before)
                               / max(warmup + r.summary.requests, 1) * 1e6)
            results.append(r)
            rows.append(table_row(concurrency, mode, r, results[-1 - list(MODES).index(mode)]))
            if r.presign_s:
                lines.append(f"c={concurrency}: pre-signed {warmup + requests:,} payloads in "
                             f"{r.presign_s:.1f} s ({r.presign_s / (warmup + requests) * 1e3:.2f}"
                             " ms each) before the row, outside the timing")
                if r.presign_s + seconds > OFFER_SECONDS:
                    lines.append(f"  WARNING: pre-signed payloads expire after {OFFER_SECONDS} s")
            if r.first_error:
                lines.append(f"c={concurrency}, {mode}: first error: {r.first_error}")
            if gw.process.poll() is not None:
                lines.append(f"the gateway EXITED with {gw.process.returncode}; log tail:\n"
                             + gw.tail())
                return results
    return results


def reconcile(gw: Server, address: str, results: list[Result]) -> str:
    funded, settled = to_micro(FUND_USDC), sum(r.settled_micro for r in results)
    cost = to_micro(str(sum((r.cost_usd for r in results), Decimal(0))))
    balance = cli(["wallet", "balance", address, "--config", config(gw)])
    available, held = to_micro(balance["available"]), to_micro(balance["held"])
    verdict = "OK" if available == funded - settled and held == 0 else "MISMATCH"
    return (f"money: funded {funded:,} µUSDC − {sum(r.paid for r in results):,} settled "
            f"payments, {settled:,} µUSDC (their x-tokenomy-cost-usd: {cost:,} µUSD) = "
            f"{funded - settled:,} µUSDC expected; the wallet has {available:,} available, "
            f"{held:,} held: {verdict}")


def logged(server: Server) -> list[str]:
    """What a server logged at WARNING or above (neither keeps an access log)."""
    marks = ("WARNING", "ERROR", "CRITICAL", "Traceback", "Exception")
    lines = server.log.read_text(errors="replace").splitlines()
    return [f"  {server.name}: {line}" for line in lines if any(m in line for m in marks)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (≈ 1 min)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="C")
    args = parser.parse_args()
    if args.concurrency < 1:
        parser.error("--concurrency must be ≥ 1")
    started = time.perf_counter()
    plan = "; ".join(f"c={c}: N ≤ {n:,} per row after {w} warm-up, a row stops at {t:.0f} s"
                     for c, (w, n, t) in zip((args.concurrency, 1), PLAN[args.quick],
                                             strict=True))
    print(f"{os.cpu_count()} CPUs ({platform.machine()}, Linux {platform.release()}), load "
          f"average {os.getloadavg()[0]:.2f} at start; python {platform.python_version()}, "
          f"tokenomy {version('tokenomy')}, x402 {version('x402')}, eth-account "
          f"{version('eth-account')} (secp256k1: "
          f"{type(sdk('eth_keys.backends').get_backend()).__name__}), uvicorn "
          f"{version('uvicorn')}, uvloop {version('uvloop')}. {plan}.\n")
    rows: list[list[str]] = []
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tokenomy-bench-x402-") as name:
        tmp = Path(name)
        with simulator(tmp) as sim, tokenomy(tmp, sim.port, workers=1) as gw:
            address, private_key = wallet(gw)
            results = run_rows(gw, Payer(private_key), args, rows, lines)
            money = reconcile(gw, address, results)
            logs = logged(gw) + logged(sim)
    print_table(["scenario", "requests/s", "N", "latency p50 / p95 / p99 ms",
                 "added vs keyed p50 / p95 / p99 ms", "gateway says p50 / p95 / p99 ms",
                 "agent: 402 trip / sign p50 ms", "errors", "gateway CPU µs/req",
                 "load-gen CPU µs/req"], rows)
    print("\n" + "\n".join([*lines, money]))
    print(f"servers logged at WARNING or above: {len(logs)} lines"
          + "".join(f"\n{line}" for line in logs[:LOG_LINES_MAX]))
    print(f"\n(whole run {time.perf_counter() - started:.0f} s; load average "
          f"{os.getloadavg()[0]:.2f} at the end)")
    return 0 if money.endswith(": OK") else 1


if __name__ == "__main__":
    raise SystemExit(main())

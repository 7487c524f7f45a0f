"""Gateway benchmark: requests/s and latency through ``tokenomy serve`` beside direct calls to the
upstream and beside LiteLLM's proxy, on the same simulator, in one run; and the gateway's RSS
over a long run.

Run: ``.venv/bin/python bench/gateway.py [--quick] [--requests N] [--concurrency 50]
[--memory-requests 100000]`` (≈ 6 min on 2 CPUs; ``--quick`` ≈ 1.5 min; needs the ``bench``
extra for LiteLLM's proxy). Prints a header, then Markdown tables: the scenarios, the targets,
the gateway's RSS samples.

Every server is a subprocess on a free loopback port: the simulator (``tokenomy upstream
simulate --tokens-per-s 0``: no pacing, 32-token replies; then one at 200 tokens/s, with its
own servers in front), a proxy that only forwards (``bench/_forward_proxy.py``, uvicorn and
the gateway's upstream client: the floor under any proxy's added latency here), our gateway (a
fresh SQLite database and key per gateway; 1 worker, then 1 worker on the httpx upstream
client, then 2 workers), and LiteLLM's proxy (1 worker, no database, telemetry
and the remote cost map off, ``LITELLM_LOG=WARNING`` so it keeps no access log, as ours keeps
none). The load generator (``bench/_loadgen.py``) is another process keeping exactly C requests
in flight over C keep-alive connections. Every request is the same ``sim-small`` chat with
``max_tokens`` 32; "streaming" adds ``stream_options.include_usage`` and reads to ``[DONE]``.

Each server gets six rows: JSON and streaming at concurrency C against the instant simulator
(throughput: the C clients never wait, so every process runs flat out and latency is mostly
queueing), at concurrency C against a paced simulator (``--tokens-per-s 200``, the
simulator's default: a 32-token answer takes 160 ms, like a fast hosted model, so C clients
make ~300 requests/s, not the machine's limit; the clients start at random moments within
``RAMP_S``, fixed seed, as a load tool's spawn rate would: clients released together would stay
in lockstep), and at concurrency 1 (latency alone). A row warms up, then measures N
requests or stops sending at ``ROW_SECONDS_MAX``; requests/s counts the responses within that
limit. "added" is a percentile through a proxy minus the same percentile direct to the
simulator, same mode and concurrency; "server says" is what each proxy reports about itself
(``x-tokenomy-overhead-us``: handling time minus the wait for the upstream;
``x-litellm-overhead-duration-ms``); "server CPU" is user + system time of the server's
processes (not the simulator's) over the row, per request, warm-up included. Targets (the
issue): added p50 ≤ 1.5 ms and added p99 ≤ 10 ms, judged on every row; requests/s
≥ 2× LiteLLM's at concurrency C (LiteLLM runs 1 worker; the 2-worker rows are compared with
it too). ``--workers 2`` is uvicorn's: both workers accept on one socket, and when the load
generator opened its 50 connections one worker took 48 of them (``ss -tnp``), so those rows are
not two workers' worth. All processes share the machine's cores (2 here): a proxy's
requests/s is bounded by its own CPU plus the simulator's and the load generator's, and
anything else running moves the numbers (the header prints the load average).

Memory: ``--memory-requests`` JSON requests at C through the 1-worker gateway after its rows,
its VmRSS read from ``/proc`` after every 10%; growth is last sample over first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table
from _loadgen import Plan, Summary, run

REQUESTS = 100_000  # measured per row at concurrency C, at most
QUICK_REQUESTS = 5_000
ROW_SECONDS_MAX = 15.0  # a row sends no request after this
QUICK_ROW_SECONDS_MAX = 3.0
WARMUP = 300
QUICK_WARMUP = 100
REQUESTS_1 = 5_000  # concurrency 1: latency without queueing
QUICK_REQUESTS_1 = 200
WARMUP_1 = 50
QUICK_WARMUP_1 = 20
PACED_TOKENS_PER_S = 200  # the simulator's default speed
RAMP_S = 1.0  # paced rows: each client starts at a random moment within this (fixed seed)
WARMUP_PACED = 900  # ~3 s at ~300 requests/s: the ramp is over before measuring …
QUICK_WARMUP_PACED = 400
WARMUP_PACED_S_MAX = 4.0  # … or 4 s, whichever comes first (LiteLLM serves ~10 streams/s)
CONCURRENCY = 50
MEMORY_REQUESTS = 100_000
QUICK_MEMORY_REQUESTS = 10_000
READY_SECONDS_MAX = 120  # LiteLLM's proxy takes ~15 s to import and start on 2 CPUs
STOP_SECONDS_MAX = 15
RUN_SECONDS_MAX = 900  # one load-generator run
OUTPUT_TOKENS = 32
PATH = "/v1/chat/completions"
PROMPT = {"model": "sim-small", "max_tokens": OUTPUT_TOKENS,
          "messages": [{"role": "user", "content": "hello, how much does a token cost?"}]}
STREAM = {"stream": True, "stream_options": {"include_usage": True}}
ADDED_P50_MS_MAX = 1.5
ADDED_P99_MS_MAX = 10.0
RPS_VS_LITELLM_MIN = 2.0
RSS_GROWTH_MAX = 0.10
LOG_TAIL_LINES = 30
BIN = Path(sys.executable).parent


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    token: str = "x"

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(f"    {line}" for line in lines[-LOG_TAIL_LINES:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def serving(name: str, argv: list[str], tmp: Path, health: str, port: int,
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``argv`` in its own session, wait for ``health`` to answer 200, stop the whole
    session (workers included) on the way out, whatever happened."""
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
                                   env=env, start_new_session=True)
    server = Server(name, port, process, log)
    try:
        deadline = time.monotonic() + READY_SECONDS_MAX
        while not ready(f"http://127.0.0.1:{port}{health}"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start (exit {process.poll()}):\n"
                                   + server.tail())
            time.sleep(0.2)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS_MAX)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def simulator(tmp: Path, tokens_per_s: int) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    argv = [str(BIN / "tokenomy"), "upstream", "simulate", "--port", str(port),
            "--tokens-per-s", str(tokens_per_s), "--output-tokens", str(OUTPUT_TOKENS)]
    return serving("simulator", argv, tmp, "/v1/models", port)


def forward(tmp: Path, upstream: int) -> contextlib.AbstractContextManager[Server]:
    """The floor: a proxy that only forwards, with the gateway's upstream client."""
    port = free_port()
    argv = [sys.executable, "-P",  # -P: bench/x402.py must not shadow the x402 package
            str(Path(__file__).with_name("_forward_proxy.py")),
            f"http://127.0.0.1:{upstream}{PATH}", str(port)]
    return serving("forward", argv, tmp, "/healthz", port)


@contextlib.contextmanager
def tokenomy(tmp: Path, upstream: int, workers: int, client: str = "builtin",
             ) -> Iterator[Server]:
    """Our gateway on a fresh SQLite database, with a key whose budget never runs out;
    ``client``: its upstream client (``[gateway] upstream_client``)."""
    name = f"tokenomy-{workers}w" if client == "builtin" else f"tokenomy-{client}"
    home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp))
    url = f"sqlite:///{home / 'tokenomy.db'}"
    config = home / "tokenomy.toml"
    config.write_text(f'[database]\nurl = "{url}"\n\n[gateway]\nupstream_client = "{client}"\n\n'
                      f'[[upstream]]\nname = "sim"\n'
                      f'kind = "openai"\nbase_url = "http://127.0.0.1:{upstream}/v1"\n'
                      f'models = ["sim-small", "sim-large"]\n')
    env = {**os.environ, "TOKENOMY_DATABASE_URL": url}
    created = subprocess.run([str(BIN / "tokenomy"), "keys", "create", "--config", str(config),
                              "--name", "bench", "--budget-usd", "100000", "--json"],
                             cwd=home, env=env, capture_output=True, text=True)
    if created.returncode != 0:
        raise RuntimeError(f"tokenomy keys create failed: {created.stderr.strip()}")
    token = json.loads(created.stdout)["key"]
    port = free_port()
    argv = [str(BIN / "tokenomy"), "serve", "--config", str(config), "--port", str(port),
            "--workers", str(workers)]
    with serving(name, argv, home, "/healthz", port, env) as server:
        yield Server(server.name, port, server.process, server.log, token)


def litellm(tmp: Path, upstream: int) -> contextlib.AbstractContextManager[Server]:
    """LiteLLM's proxy with no database: one model, a master key, nothing phoning home."""
    config = Path(tempfile.mkstemp(prefix="litellm-", suffix=".yaml", dir=tmp)[1])
    config.write_text("model_list:\n  - model_name: sim-small\n    litellm_params:\n"
                      f"      model: openai/sim-small\n      api_base: http://127.0.0.1:{upstream}/v1\n"
                      '      api_key: "x"\ngeneral_settings:\n  master_key: sk-bench\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_", "LITELLM_"))}
    env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY_DISABLED": "true",
            "LITELLM_LOG": "WARNING"}
    port = free_port()
    argv = [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config", str(config),
            "--host", "127.0.0.1", "--port", str(port)]
    return serving("litellm", argv, tmp, "/health/liveliness", port, env)


def body(stream: bool) -> bytes:
    return json.dumps({**PROMPT, **STREAM} if stream else PROMPT).encode()


def cpu_seconds(session: int) -> float:
    """User + system CPU of every live process in a server's session (its workers too)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[3]) == session:  # field 6, the session id
                ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Row:
    summary: Summary
    server_cpu_us: float  # per request: the server's processes, not the load generator's


def measure(server: Server, stream: bool, concurrency: int, warmup: int, requests: int,
            seconds_max: float, rss_pid: int = 0, ramp_s: float = 0.0,
            warmup_s_max: float = RUN_SECONDS_MAX) -> Row:
    token = "sk-bench" if server.name == "litellm" else server.token
    print(f"  {server.name}, {'streaming' if stream else 'non-streaming'}, concurrency "
          f"{concurrency}: {warmup:,} + ≤ {requests:,} requests, ≤ {seconds_max:.0f} s …",
          file=sys.stderr, flush=True)
    cpu_before = cpu_seconds(server.process.pid)
    summary = run(Plan(server.port, PATH, body(stream), token, concurrency, warmup, requests,
                       stream, seconds_max, RUN_SECONDS_MAX, rss_pid, ramp_s, warmup_s_max))
    cpu = cpu_seconds(server.process.pid) - cpu_before
    if server.process.poll() is not None:
        summary.note(f"{server.name} EXITED with {server.process.returncode}")
    if summary.errors or summary.notes:
        print(f"  {server.name}: {summary.errors} errors {summary.notes}; log tail:\n"
              + server.tail(), file=sys.stderr)
    return Row(summary, cpu / max(summary.warmup + summary.requests, 1) * 1e6)


def server_pid(server: Server) -> int:
    """The python process that serves (``tokenomy serve`` with 1 worker execs no wrapper)."""
    cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    if b"serve" not in cmdline or not any(b"python" in part for part in cmdline):
        raise RuntimeError(f"pid {server.process.pid} is not the server: {cmdline!r}")
    return server.process.pid


# -- the tables -------------------------------------------------------------------------------
LABELS = {"simulator": "direct to the simulator (reference)",
          "forward": "forward-only proxy (the floor)",
          "tokenomy-1w": "tokenomy serve, 1 worker",
          "tokenomy-httpx": "tokenomy serve, 1 worker, httpx upstream client",
          "tokenomy-2w": "tokenomy serve, 2 workers",
          "litellm": "LiteLLM proxy, 1 worker (reference)"}
Key = tuple[str, bool, int, bool]  # server, streaming, concurrency, paced upstream


def triple(values: dict[int, float] | None, digits: int = 1) -> str:
    if not values:
        return "n/a"
    return " / ".join(f"{values[p]:.{digits}f}" for p in (50, 95, 99))


def label(key: Key) -> str:
    name, stream, concurrency, paced = key
    return (f"c={concurrency}{' paced' if paced else ''}, {'streaming' if stream else 'JSON'}: "
            f"{LABELS[name]}")


def added(rows: dict[Key, Row], key: Key) -> dict[int, float] | None:
    mine, direct = rows[key].summary, rows.get(("simulator", *key[1:]))
    if direct is None or not mine.latency_ms or not direct.summary.latency_ms:
        return None
    return {p: mine.latency_ms[p] - direct.summary.latency_ms[p] for p in (50, 95, 99)}


def versus_litellm(rows: dict[Key, Row], key: Key) -> float | None:
    ref = rows.get(("litellm", *key[1:]))
    if not key[0].startswith("tokenomy") or ref is None or not ref.summary.per_s:
        return None
    return rows[key].summary.per_s / ref.summary.per_s


def scenario_rows(rows: dict[Key, Row]) -> list[list[str]]:
    table = []
    for key, row in rows.items():
        name = key[0]
        s = row.summary
        ratio = versus_litellm(rows, key)
        errors = f"{s.errors:,}" + (f" ({'; '.join(s.notes)})" if s.notes else "")
        table.append([label(key),
                      f"{s.per_s:,.0f}", f"{s.requests:,}", triple(s.latency_ms, 2),
                      "" if name == "simulator" else triple(added(rows, key), 2),
                      "" if name == "simulator" else triple(s.overhead_ms, 2),
                      "" if ratio is None else f"{ratio:.2f}×", errors,
                      f"{row.server_cpu_us:,.0f}", f"{s.cpu_us_per_request:,.0f}"])
    return table


def target_rows(rows: dict[Key, Row]) -> list[list[str]]:
    table = []
    for key in rows:
        name, _, concurrency, paced = key
        if name not in ("tokenomy-1w", "tokenomy-2w"):  # the default upstream client
            continue
        who = label(key)
        extra = added(rows, key) or {}
        checks = [("added p50", extra.get(50), ADDED_P50_MS_MAX, "≤", "ms"),
                  ("added p99", extra.get(99), ADDED_P99_MS_MAX, "≤", "ms")]
        if concurrency > 1 and not paced:
            checks.append(("requests/s vs LiteLLM", versus_litellm(rows, key),
                           RPS_VS_LITELLM_MIN, "≥", "×"))
        for what, value, bound, sign, unit in checks:
            target = f"{sign} {bound:g}{' ms' if unit == 'ms' else '×'}"
            if value is None:
                table.append([who, what, target, "n/a", ""])
                continue
            met = value <= bound if sign == "≤" else value >= bound
            shown = f"{value:.2f} ms" if unit == "ms" else f"{value:.2f}×"
            table.append([who, what, target, shown, "met" if met else "MISSED"])
    return table


def memory_rows(samples: list[tuple[int, int]]) -> list[list[str]]:
    first = samples[0][1]
    return [[f"{done:,}", f"{kib / 1024:.1f}", f"{(kib - first) / first:+.1%}"]
            for done, kib in samples]


def run_rows(server: Server, args: argparse.Namespace, rows: dict[Key, Row],
             paced: bool = False) -> None:
    """Instant upstream: each mode at concurrency C (throughput, latency under load), then at
    1 (latency alone). Paced upstream: each mode at C, the clients' starts spread."""
    plans = ([(args.concurrency, args.warmup_paced, args.requests, RAMP_S)] if paced else
             [(args.concurrency, args.warmup, args.requests, 0.0),
              (1, args.warmup_1, args.requests_1, 0.0)])
    for concurrency, warmup, requests, ramp_s in plans:
        for stream in (False, True):
            rows[server.name, stream, concurrency, paced] = measure(
                server, stream, concurrency, warmup, requests, args.row_seconds, ramp_s=ramp_s,
                warmup_s_max=WARMUP_PACED_S_MAX if paced else RUN_SECONDS_MAX)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (≈ 2 min)")
    parser.add_argument("--requests", type=int, help="measured per row at concurrency C, at "
                        f"most ({REQUESTS:,}; a row also stops at {ROW_SECONDS_MAX:.0f} s)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="C")
    parser.add_argument("--memory-requests", type=int,
                        help=f"through the gateway for the RSS samples ({MEMORY_REQUESTS:,})")
    parser.add_argument("--no-workers-2", action="store_true", help="skip the 2-worker rows")
    parser.add_argument("--no-httpx", action="store_true",
                        help="skip the rows of the gateway on the httpx upstream client")
    parser.add_argument("--no-paced", action="store_true",
                        help="skip the rows against the paced simulator")
    args = parser.parse_args()
    quick = args.quick
    args.requests = args.requests or (QUICK_REQUESTS if quick else REQUESTS)
    args.memory_requests = args.memory_requests or (QUICK_MEMORY_REQUESTS if quick
                                                    else MEMORY_REQUESTS)
    args.warmup = QUICK_WARMUP if quick else WARMUP
    args.requests_1 = QUICK_REQUESTS_1 if quick else REQUESTS_1
    args.warmup_1 = QUICK_WARMUP_1 if quick else WARMUP_1
    args.warmup_paced = QUICK_WARMUP_PACED if quick else WARMUP_PACED
    args.row_seconds = QUICK_ROW_SECONDS_MAX if quick else ROW_SECONDS_MAX
    if min(args.requests, args.concurrency, args.memory_requests) < 1:
        parser.error("--requests, --concurrency and --memory-requests must be ≥ 1")
    return args


def main() -> int:
    args = parse()
    started = time.perf_counter()
    print(f"{os.cpu_count()} CPUs ({platform.machine()}, Linux {platform.release()}), load "
          f"average {os.getloadavg()[0]:.2f} at start; python {platform.python_version()}, "
          f"tokenomy {version('tokenomy')}, litellm {version('litellm')}, uvicorn "
          f"{version('uvicorn')}, uvloop {version('uvloop')}. Concurrency C = "
          f"{args.concurrency}: N = {args.requests:,} requests per row at most, a row stops at "
          f"{args.row_seconds:.0f} s, after {args.warmup:,} warm-up ({args.warmup_paced:,} "
          f"against the simulator paced at {PACED_TOKENS_PER_S} tokens/s, the clients' starts "
          f"spread over {RAMP_S:g} s); concurrency 1: "
          f"N = {args.requests_1:,} after {args.warmup_1:,}. Memory: "
          f"{args.memory_requests:,} requests at C.\n")
    rows: dict[Key, Row] = {}
    samples: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory(prefix="tokenomy-bench-gateway-") as name:
        tmp = Path(name)
        for paced in (False, True)[:1 if args.no_paced else 2]:
            with simulator(tmp, PACED_TOKENS_PER_S if paced else 0) as sim:
                run_rows(sim, args, rows, paced)
                with tokenomy(tmp, sim.port, workers=1) as gateway:
                    run_rows(gateway, args, rows, paced)
                    if not paced:
                        samples = measure(gateway, False, args.concurrency, args.warmup,
                                          args.memory_requests, RUN_SECONDS_MAX,
                                          rss_pid=server_pid(gateway)).summary.rss_kib
                with forward(tmp, sim.port) as proxy:
                    run_rows(proxy, args, rows, paced)
                if not args.no_httpx:
                    with tokenomy(tmp, sim.port, workers=1, client="httpx") as gateway:
                        run_rows(gateway, args, rows, paced)
                if not args.no_workers_2:
                    with tokenomy(tmp, sim.port, workers=2) as gateway:
                        run_rows(gateway, args, rows, paced)
                try:
                    with litellm(tmp, sim.port) as proxy:
                        run_rows(proxy, args, rows, paced)
                except RuntimeError as exc:  # the other rows stand; ratios to LiteLLM say n/a
                    print(f"LiteLLM's proxy is not available: {exc}", file=sys.stderr)
    print_table(["scenario", "requests/s", "N", "latency p50 / p95 / p99 ms",
                 "added p50 / p95 / p99 ms", "server says p50 / p95 / p99 ms",
                 "req/s vs LiteLLM", "errors", "server CPU µs/req", "load-gen CPU µs/req"],
                scenario_rows(dict(sorted(rows.items(), key=order))))
    print()
    print_table(["scenario", "measure", "target", "measured", "verdict"],
                target_rows(dict(sorted(rows.items(), key=order))))
    if samples:
        print()
        print_table(["requests done", "gateway VmRSS MiB", "vs first sample"],
                    memory_rows(samples))
        growth = (samples[-1][1] - samples[0][1]) / samples[0][1]
        verdict = "met" if growth < RSS_GROWTH_MAX else "MISSED"
        print(f"\nRSS growth from the first sample to the last: {growth:+.1%} (target "
              f"< {RSS_GROWTH_MAX:.0%}: {verdict}); the gateway had served the rows above first")
    print(f"\n(whole run {time.perf_counter() - started:.0f} s; load average "
          f"{os.getloadavg()[0]:.2f} at the end)")
    return 0


def order(item: tuple[Key, Row]) -> tuple[int, bool, bool, int]:
    (name, stream, concurrency, paced), _ = item
    return (-concurrency, paced, stream, list(LABELS).index(name))


if __name__ == "__main__":
    raise SystemExit(main())

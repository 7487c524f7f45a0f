"""A closed-loop HTTP/1.1 load generator: exactly C requests in flight over C keep-alive
connections, in its own process. A plan flows in; a :class:`Summary` (percentiles, errors,
self-reported overhead headers, RSS samples of a server) flows out.

The client is raw asyncio (``asyncio.Protocol`` on uvloop): one pre-encoded request, a response
parsed only as far as needed (status line, ``content-length`` or chunked framing, two headers).
It shares the cores with the servers it measures, so it is made cheap: against the simulator
at concurrency 50 it spent 30 µs of CPU per JSON request and 200 µs per 34-event stream, where
``aiohttp.ClientSession`` (also on uvloop) spent 115 µs and 400 µs (``getrusage``, 2-vCPU VM).

Each client loops without pause: the first ``warmup`` requests sent (or those sent in the
first ``warmup_s_max``) are not recorded, the next ``requests`` are (no barrier between the
two: the measured ones start in the steady state). With ``ramp_s``, each client's first
request waits a random 0..ramp_s (fixed seed).

Any status but 200, a stream without ``[DONE]`` or a closed connection is an error; error
latencies are not recorded.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

HEAD_BYTES_MAX = 64 * 1024  # a response head longer than this is an error
ERROR_NOTES_MAX = 3
RAMP_SEED = 402  # the clients' start offsets are the same in every run
RSS_SAMPLES = 10  # one after every 10% of the measured requests
# Response headers in which a server reports its own time on a request: (header, unit in ms).
OVERHEAD_HEADERS = ((b"x-tokenomy-overhead-us", 1e-3), (b"x-litellm-overhead-duration-ms", 1.0))


@dataclass(frozen=True, slots=True)
class Plan:
    port: int
    path: str
    body: bytes
    token: str
    concurrency: int
    warmup: int  # requests sent before measuring (not recorded)
    requests: int  # measured requests, at most
    stream: bool
    seconds_max: float  # no measured request is sent after this (a row's time limit)
    run_seconds_max: float  # the whole run, warm-up included, is cancelled after this
    rss_pid: int = 0  # sample this process's VmRSS after every 10% of requests; 0: none
    ramp_s: float = 0.0  # each client's first request waits a random 0..ramp_s (fixed seed)
    warmup_s_max: float = 3_600.0  # the warm-up also ends this long after the start


@dataclass(slots=True)
class Summary:
    requests: int = 0  # measured, completed (ok or error)
    errors: int = 0
    seconds: float = 0.0  # from the first measured request to the last response
    per_s: float = 0.0  # responses within the row's time limit / time to the last of them
    latency_ms: dict[int, float] = field(default_factory=dict)  # percentile -> ms
    overhead_ms: dict[int, float] = field(default_factory=dict)  # from the server's header
    overhead_header: str = ""
    cpu_us_per_request: float = 0.0  # the load generator's own CPU
    rss_kib: list[tuple[int, int]] = field(default_factory=list)  # (requests done, VmRSS KiB)
    notes: list[str] = field(default_factory=list)
    timed_out: bool = False
    warmup: int = 0  # warm-up requests sent

    def note(self, text: str) -> None:
        if len(self.notes) < ERROR_NOTES_MAX and text[:160] not in self.notes:
            self.notes.append(text[:160])


def percentiles(values: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> dict[int, float]:
    """Nearest-rank percentiles; empty when there are no values."""
    if not values:
        return {}
    ordered = sorted(values)
    return {p: ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))]
            for p in points}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class _Connection(asyncio.Protocol):
    """One keep-alive connection; :meth:`exchange` sends a request and waits for its response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None
        self._reset()

    def _reset(self) -> None:
        self.head = b""
        self.status = 0
        self.length = -1  # content-length, or -1 for chunked
        self.pos = 0  # chunked: where the next chunk-size line starts

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            end = self._complete()
        except ValueError as exc:
            self.waiter.set_exception(ConnectionError(f"bad response: {exc}"))
            return
        if end:
            body = bytes(self.buf[len(self.head) + 4:end])
            self.waiter.set_result((self.status, self.head, body))
            del self.buf[:end]
            self._reset()

    def _complete(self) -> int:
        """The end offset of a complete response in ``buf``, else 0."""
        buf = self.buf
        if not self.head:
            at = buf.find(b"\r\n\r\n")
            if at < 0:
                if len(buf) > HEAD_BYTES_MAX:
                    raise ValueError("response head too long")
                return 0
            self.head = bytes(buf[:at]).lower()
            self.status = int(self.head[9:12])
            self.pos = at + 4
            self.length = -1
            if b"\r\ntransfer-encoding: chunked" not in self.head:
                self.length = int(header(self.head, b"content-length") or b"0")
        if self.length >= 0:
            end = self.pos + self.length
            return end if len(buf) >= end else 0
        while True:  # chunked: walk the chunks seen so far
            eol = buf.find(b"\r\n", self.pos)
            if eol < 0:
                return 0
            size = int(buf[self.pos:eol].split(b";")[0], 16)
            if size == 0:  # last chunk; no trailers expected
                return eol + 4 if len(buf) >= eol + 4 else 0
            following = eol + 2 + size + 2
            if len(buf) < following:
                return 0
            self.pos = following

    async def exchange(self, request: bytes) -> tuple[int, bytes, bytes]:
        if self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` in a lower-cased response head."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start:end if end >= 0 else len(head)].strip()


class RawHeadConnection(_Connection):
    """A :class:`_Connection` that also keeps each response head as sent, in ``raw`` (until the
    next response), for header values whose case matters: base64 ones, such as x402's."""

    raw = b""

    def _complete(self) -> int:
        fresh = not self.head
        end = super()._complete()
        if fresh and self.head:
            self.raw = bytes(self.buf[:len(self.head)])
        return end


async def open_raw(port: int) -> RawHeadConnection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(RawHeadConnection, "127.0.0.1", port)
    return protocol


def raw_header(raw: bytes, name: bytes) -> str:
    """The value of header ``name`` (lower case) in a response head as sent; '' if absent."""
    at = raw.lower().find(b"\r\n" + name + b":")
    if at < 0:
        return ""
    end = raw.find(b"\r\n", at + 2)
    return raw[at + len(name) + 3:end if end >= 0 else len(raw)].strip().decode()


async def _open(port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(_Connection, "127.0.0.1", port)
    return protocol


async def _run(plan: Plan) -> Summary:
    request = (f"POST {plan.path} HTTP/1.1\r\nHost: 127.0.0.1:{plan.port}\r\n"
               f"Authorization: Bearer {plan.token}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(plan.body)}\r\n\r\n").encode() + plan.body
    summary = Summary()
    latencies: list[float] = []
    overheads: list[float] = []
    marks = [plan.requests * k // RSS_SAMPLES for k in range(1, RSS_SAMPLES + 1)]
    conns = [await _open(plan.port) for _ in range(plan.concurrency)]
    perf = time.perf_counter
    warm, issued = 0, 0  # sent: warm-up requests, measured ones
    in_window, last_in_window = 0, 0.0  # responses before the row's time limit
    measure_from = 0.0
    warm_until = perf() + plan.warmup_s_max  # warm-up ends here if not by count
    stagger = random.Random(RAMP_SEED)
    starts = sorted(stagger.uniform(0, plan.ramp_s) for _ in range(plan.concurrency))

    async def client(slot: int) -> None:
        nonlocal warm, issued, in_window, last_in_window, measure_from
        if plan.ramp_s:
            await asyncio.sleep(starts[slot])
        while issued < plan.requests:
            measured = bool(measure_from) or warm >= plan.warmup or perf() >= warm_until
            if measured:
                measure_from = measure_from or perf()
                if perf() >= measure_from + plan.seconds_max:
                    break
                issued += 1
            else:
                warm += 1
            deadline = measure_from + plan.seconds_max
            start = perf()
            try:
                status, head, body = await conns[slot].exchange(request)
            except ConnectionError as exc:
                error(measured, f"{exc}")
                conns[slot] = await _open(plan.port)
                continue
            end = perf()
            elapsed = end - start
            if measured and end <= deadline:
                in_window, last_in_window = in_window + 1, end
            if status != 200 or (plan.stream and b"data: [DONE]" not in body):
                error(measured, f"status {status}: {body[:120]!r}")
            elif measured:
                latencies.append(elapsed)
                for name, to_ms in OVERHEAD_HEADERS:
                    value = header(head, name)
                    if value is not None:
                        overheads.append(float(value) * to_ms)
                        summary.overhead_header = name.decode()
            if measured and plan.rss_pid and marks and len(latencies) + summary.errors >= marks[0]:
                marks.pop(0)
                summary.rss_kib.append((len(latencies) + summary.errors, rss_kib(plan.rss_pid)))

    def error(measured: bool, text: str) -> None:
        summary.errors += measured
        summary.note(text if measured else f"warm-up: {text}")

    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    try:
        async with asyncio.timeout(plan.run_seconds_max):
            await asyncio.gather(*(client(slot) for slot in range(plan.concurrency)))
    except TimeoutError:
        summary.timed_out = True
        summary.note(f"run stopped at {plan.run_seconds_max:.0f} s")
    summary.seconds = perf() - measure_from if measure_from else 0.0
    if last_in_window > measure_from:
        summary.per_s = in_window / (last_in_window - measure_from)
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    summary.requests = len(latencies) + summary.errors
    summary.latency_ms = {p: v * 1e3 for p, v in percentiles(latencies).items()}
    summary.overhead_ms = percentiles(overheads)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    summary.warmup = warm
    summary.cpu_us_per_request = cpu / max(warm + summary.requests, 1) * 1e6
    return summary


def _child(plan: Plan, queue: multiprocessing.SimpleQueue[Summary]) -> None:
    try:
        import uvloop

        summary = uvloop.run(_run(plan))
    except BaseException as exc:  # reported in the row, never lost with the process
        summary = Summary(errors=1)
        summary.note(f"load generator: {type(exc).__name__}: {exc}")
    queue.put(summary)


def run(plan: Plan) -> Summary:
    """Run ``plan`` in a fresh process (fork) and return what it measured."""
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.SimpleQueue[Summary] = context.SimpleQueue()
    process = context.Process(target=_child, args=(plan, queue), daemon=True)
    process.start()
    summary = queue.get()
    process.join()
    return summary

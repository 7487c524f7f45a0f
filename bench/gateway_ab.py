"""Gateway A/B: an earlier revision's gateway against this working tree's, interleaved.

Run: ``.venv/bin/python bench/gateway_ab.py --before REV [--rounds 3]`` (≈ 2.5 min a round on
2 CPUs). ``REV`` is checked out into a temporary git worktree; each round starts a fresh gateway
of each version in turn (``PYTHONPATH`` picks the source tree; the venv, the simulators, the
load generator and this script are the same for both) in front of the same two simulators:

- instant (``--tokens-per-s 0``): concurrency C JSON and streaming (≤ 5,000 requests or 4 s
  each: requests/s and the gateway's CPU per request), and concurrency 1 JSON (2,000
  requests: added latency);
- paced at 200 tokens/s (``bench/gateway.py``'s paced rows: the clients' starts spread over
  1 s, warm-up ≤ 900 requests or 4 s, then ≤ 10 s): added latency p50 and p99.

"added" is the same percentile direct to the same simulator, measured once at the start.
Prints a Markdown table of medians over the rounds, the ratio after / before, and each
round's values. Nothing is written outside the temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table
from gateway import (
    PACED_TOKENS_PER_S,
    RAMP_S,
    WARMUP_PACED,
    WARMUP_PACED_S_MAX,
    Server,
    measure,
    simulator,
    tokenomy,
)

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 50
ROW_REQUESTS, ROW_SECONDS = 5_000, 4.0
PACED_REQUESTS, PACED_SECONDS = 6_000, 10.0
C1_REQUESTS, C1_WARMUP, C1_SECONDS = 2_000, 100, 6.0
WARMUP = 300

Results = dict[tuple[str, str], list[float]]


def mode(stream: bool) -> str:
    return "streaming" if stream else "JSON"


def instant_rows(gateway: Server, direct_c1: float, version: str, out: Results) -> None:
    for stream in (False, True):
        row = measure(gateway, stream, CONCURRENCY, WARMUP, ROW_REQUESTS, ROW_SECONDS)
        out.setdefault((version, f"c={CONCURRENCY} {mode(stream)} requests/s"), []).append(
            row.summary.per_s)
        out.setdefault((version, f"c={CONCURRENCY} {mode(stream)} gateway CPU µs/request"),
                       []).append(row.server_cpu_us)
    row = measure(gateway, False, 1, C1_WARMUP, C1_REQUESTS, C1_SECONDS)
    out.setdefault((version, "c=1 JSON added p50 ms"), []).append(
        row.summary.latency_ms[50] - direct_c1)


def paced_rows(gateway: Server, direct: dict[bool, dict[int, float]], version: str,
               out: Results) -> None:
    for stream in (False, True):
        row = measure(gateway, stream, CONCURRENCY, WARMUP_PACED, PACED_REQUESTS, PACED_SECONDS,
                      ramp_s=RAMP_S, warmup_s_max=WARMUP_PACED_S_MAX)
        for p in (50, 99):
            out.setdefault((version, f"c={CONCURRENCY} paced {mode(stream)} added p{p} ms"),
                           []).append(row.summary.latency_ms[p] - direct[stream][p])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a git revision (the 'before')")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out: Results = {}
    with tempfile.TemporaryDirectory(prefix="tokenomy-bench-ab-") as name:
        tmp = Path(name)
        before = tmp / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before),
                        args.before], check=True, capture_output=True)
        try:
            versions = {"before": str(before / "src"), "after": str(ROOT / "src")}
            with simulator(tmp, 0) as instant, simulator(tmp, PACED_TOKENS_PER_S) as paced:
                direct_c1 = measure(instant, False, 1, C1_WARMUP, C1_REQUESTS,
                                    C1_SECONDS).summary.latency_ms[50]
                direct = {stream: measure(paced, stream, CONCURRENCY, WARMUP_PACED,
                                          PACED_REQUESTS, PACED_SECONDS, ramp_s=RAMP_S,
                                          warmup_s_max=WARMUP_PACED_S_MAX).summary.latency_ms
                          for stream in (False, True)}
                for number in range(args.rounds):
                    for version, source in versions.items():
                        os.environ["PYTHONPATH"] = source
                        with tokenomy(tmp, instant.port, workers=1) as gateway:
                            instant_rows(gateway, direct_c1, version, out)
                        with tokenomy(tmp, paced.port, workers=1) as gateway:
                            paced_rows(gateway, direct, version, out)
                        print(f"  round {number + 1}: {version} done", file=sys.stderr,
                              flush=True)
        finally:
            os.environ.pop("PYTHONPATH", None)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(before)], capture_output=True)
    measures = sorted({what for _, what in out})
    table = []
    for what in measures:
        b, a = out["before", what], out["after", what]
        mb, ma = statistics.median(b), statistics.median(a)
        table.append([what, f"{mb:,.2f}", f"{ma:,.2f}", f"{ma / mb:.2f}×" if mb else "n/a",
                      " ".join(f"{x:,.2f}" for x in b), " ".join(f"{x:,.2f}" for x in a)])
    print(f"before = {args.before}, after = the working tree; medians of {args.rounds} "
          f"interleaved rounds\n")
    print_table(["measure", "before", "after", "after / before", "before, each round",
                 "after, each round"], table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

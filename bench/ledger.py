"""Ledger benchmark: transfers/s of the SQLite and PostgreSQL stores vs a naive implementation.

Run: ``.venv/bin/python bench/ledger.py`` (≈ 1.5 min on 2 CPUs; PostgreSQL rows need the server
binaries in /usr/lib/postgresql/*/bin, see ``bench/_pg.py``). Prints a Markdown table; the
environment goes to stderr. The reference, run in the same process on the same database engine,
is a NAIVE check-then-update ledger written here: per transfer, SELECT the debit account's
balance, check the limit in Python, UPDATE the debit account, UPDATE the credit account, INSERT
the transfer row — no idempotency, no two-phase, no journal invariants, native BIGINT columns,
plain ``BEGIN`` (on SQLite, concurrent writers then fail with "database is locked").

Each row gets a fresh database (a SQLite file in a temp dir, a new PostgreSQL schema, ANALYZEd
after set-up as a database in service would be) with 1,000 accounts on ledger 1, all
``debits_must_not_exceed_credits``, funded from one source account. Accounts 1..3 get only
100 units and take 10% of the debits and 10% of the credits, so they sit at their limit
(``exceeds_credits`` refusals) and a check-then-update race can overspend them. Transfers go
between random pairs (``random.Random``, seeded per client), ids unique; a row runs a fixed
count of transfers or stops at ``ROW_SECONDS_MAX``. transfers/s counts transfers decided
(accepted or refused) and committed; a transaction lost to an error or a deadlock counts
nothing ("transfers lost"). Multi-client rows run each client in its own process (fork; its own
connection), released together by a barrier: the rate is all clients' transfers over the wall
time from the release to the last client's end. Targets come from the issue and from §6.1 of
``shared/reference/ledger_exchange.md``. After every Tokenomy row ``store.verify()`` must be
empty; in the naive rows each debit UPDATE returns whether it left its account below its limit
("debits overdrew": committed overspends), and the accounts still below it at the end are
counted.

The PostgreSQL rows are round-trip bound: the ``SELECT 1`` round trip printed to stderr is
~20 µs when the client and its backend share a CPU and ~80 µs when they do not (2-vCPU VM), and
those rows move by up to 3× with it between runs; compare rows within one run.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table
from _pg import PgServer, start_server
from tokenomy.ledger.types import (
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.store import StoreError, open_ledger

SEED = 20261101
ACCOUNTS = 1_000  # user accounts 1..ACCOUNTS, all debits_must_not_exceed_credits
SOURCE = ACCOUNTS + 1  # funds them; no limit
TIGHT = 3  # accounts 1..TIGHT get TIGHT_FUNDS, the others FUNDS
TIGHT_FUNDS = 100
FUNDS = 10**12
HOT_SHARE = 0.10  # of transfers debit a tight account, and as many credit one
AMOUNT_HIGH = 100  # amounts are 1..AMOUNT_HIGH
ID_BASE = 10**9  # client c's transfer ids start at (c + 1) * ID_BASE; funding uses 1..ACCOUNTS
PENDING_TIMEOUT_S = 3_600  # reserve+post rows: long enough never to expire during a run
ANALYZE_AFTER_SETUP = True  # see ``analyze``
ROW_SECONDS_MAX = 5.0  # a row stops at this wall time even if its count is not done
BARRIER_SECONDS_MAX = 120
PER_COMMIT_COUNT = 4_000  # transfers in a one-per-commit row (all clients together)
BATCHED_COUNT = 40_000  # at least this many in a batched row (all clients together)
ROUND_TRIPS = 1_000  # ``SELECT 1`` timed to report the PostgreSQL round trip

R = CreateTransferResult
DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
Move = tuple[int, int, int, int]  # transfer id, debit account, credit account, amount


@dataclass(frozen=True, slots=True)
class Case:
    engine: str  # "sqlite" | "postgresql"
    impl: str  # "tokenomy" | "naive"
    batch: int  # transfers per commit
    clients: int = 1
    synchronous: str = "full"  # SQLite only
    pairs: bool = False  # reserve (pending) then post in the next batch
    target_per_s: int = 0  # 0: no target
    target_source: str = ""

    @property
    def label(self) -> str:
        engine = f"SQLite {self.synchronous.upper()}" if self.engine == "sqlite" else "PostgreSQL"
        who = "naive check-then-update (reference)" if self.impl == "naive" else "tokenomy"
        per = "1 per commit" if self.batch == 1 else f"batch {self.batch:,}"
        if self.pairs:
            per = f"reserve+post pairs, batch {self.batch:,}"
        clients = f"{self.clients} clients (processes)" if self.clients > 1 else "1 client"
        return f"{engine}, {clients}, {per}: {who}"

    @property
    def count(self) -> int:
        """Transfers per client."""
        total = PER_COMMIT_COUNT if self.batch == 1 else max(BATCHED_COUNT, 3 * self.batch)
        per_client = -(-total // self.clients)
        return -(-per_client // self.batch) * self.batch


@dataclass(slots=True)
class Tally:
    """One client's (or, summed, one row's) outcome."""

    start: float = 0.0
    end: float = 0.0
    decided: int = 0  # transfers committed with a result (accepted or refused)
    refused: int = 0  # exceeds_credits
    pairs: int = 0  # posts accepted (reserve+post rows)
    deadlocks: int = 0  # transactions lost to a deadlock
    errors: int = 0  # transactions lost to any other error, and unexpected result codes
    lost: int = 0  # transfers in the transactions lost
    overdrawn: int = 0  # naive: committed debits that left their account below its limit
    notes: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.start = min(self.start, other.start)
        self.end = max(self.end, other.end)
        self.decided += other.decided
        self.refused += other.refused
        self.pairs += other.pairs
        self.deadlocks += other.deadlocks
        self.errors += other.errors
        self.lost += other.lost
        self.overdrawn += other.overdrawn
        for text in other.notes:
            self.note(text)

    def results(self, results: Sequence[CreateTransferResult]) -> None:
        self.decided += len(results)
        for r in results:
            if r is R.EXCEEDS_CREDITS:
                self.refused += 1
            elif r is not R.OK:
                self.errors += 1
                self.note(f"result {r}")

    def failure(self, exc: BaseException, transfers: int) -> None:
        self.lost += transfers
        name = type(exc.__cause__ or exc).__name__
        if name in ("DeadlockDetected", "SerializationFailure"):
            self.deadlocks += 1
        else:
            self.errors += 1
            self.note(f"{name}: {exc}")

    def note(self, text: str) -> None:
        if len(self.notes) < 2 and text[:120] not in self.notes:
            self.notes.append(text[:120])


# -- the workload ----------------------------------------------------------------------------
def funds(account: int) -> int:
    return TIGHT_FUNDS if account <= TIGHT else FUNDS


def moves(client: int, n: int) -> list[Move]:
    """``n`` transfers between random pairs; 10% debit a tight account and 10% credit one,
    so the tight accounts hover at their limit."""
    rng = random.Random(SEED * 100 + client)
    out = []
    for k in range(n):
        dr = cr = 0
        while dr == cr:
            dr = rng.randint(1, TIGHT) if rng.random() < HOT_SHARE else rng.randint(1, ACCOUNTS)
            cr = rng.randint(1, TIGHT) if rng.random() < HOT_SHARE else rng.randint(1, ACCOUNTS)
        out.append(((client + 1) * ID_BASE + k, dr, cr, rng.randint(1, AMOUNT_HIGH)))
    return out


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for at in range(0, len(items), size):
        yield items[at:at + size]


# -- Tokenomy --------------------------------------------------------------------------------
def setup_tokenomy(url: str, case: Case) -> None:
    store = open_ledger(url, time.time_ns, synchronous=case.synchronous)
    try:
        accounts = [Account(SOURCE, 1, 1)]
        accounts += [Account(i, 1, 1, DMNEC) for i in range(1, ACCOUNTS + 1)]
        created = store.create_accounts(accounts)
        funding = [Transfer(i, SOURCE, i, funds(i), ledger=1, code=1)
                   for i in range(1, ACCOUNTS + 1)]
        results = store.create_transfers(funding)
    finally:
        store.close()  # type: ignore[attr-defined]
    if {str(r) for r in created} | {str(r) for r in results} != {"ok"}:
        raise RuntimeError("setup failed")


def run_tokenomy(url: str, case: Case, client: int, ready: Callable[[], None]) -> Tally:
    work = moves(client, case.count)
    batches = [[Transfer(i, dr, cr, amount, ledger=1, code=1) for i, dr, cr, amount in chunk]
               for chunk in chunks(work, case.batch)]
    store = open_ledger(url, time.time_ns, synchronous=case.synchronous)
    tally = Tally()
    ready()
    tally.start = time.perf_counter()
    deadline = tally.start + ROW_SECONDS_MAX
    try:
        if case.pairs:
            reserve_then_post(store, work, case.batch, deadline, tally)
        else:
            for batch in batches:
                if time.perf_counter() > deadline:
                    break
                try:
                    tally.results(store.create_transfers(batch))
                except StoreError as exc:
                    tally.failure(exc, len(batch))
        tally.end = time.perf_counter()
    finally:
        store.close()  # type: ignore[attr-defined]
    return tally


def reserve_then_post(store: Any, work: list[Move], batch: int, deadline: float,
                      tally: Tally) -> None:
    """Each batch: post (¾ of) every reservation the previous batch accepted, then reserve
    ``batch / 2`` more — a metering gateway's reserve at request start, post at the end."""
    half = batch // 2
    post_ids = iter(range(work[0][0] + ID_BASE // 2, work[0][0] + ID_BASE))
    open_: list[Transfer] = []
    for chunk in chunks(work, half):
        if time.perf_counter() > deadline:
            break
        posts = [Transfer(next(post_ids), amount=p.amount - p.amount // 4, pending_id=p.id,
                          flags=TransferFlags.POST_PENDING_TRANSFER) for p in open_]
        reserves = [Transfer(i, dr, cr, amount, ledger=1, code=1, flags=TransferFlags.PENDING,
                             timeout=PENDING_TIMEOUT_S) for i, dr, cr, amount in chunk]
        try:
            results = store.create_transfers([*posts, *reserves])
        except StoreError as exc:
            tally.failure(exc, len(posts) + len(reserves))
            open_ = []
            continue
        tally.results(results)
        tally.pairs += sum(r is R.OK for r in results[:len(posts)])
        open_ = [t for t, r in zip(reserves, results[len(posts):], strict=True) if r is R.OK]


def check_tokenomy(url: str) -> str:
    store = open_ledger(url, time.time_ns)
    try:
        problems = store.verify()
    finally:
        store.close()  # type: ignore[attr-defined]
    return "verify ok" if not problems else f"verify: {len(problems)} VIOLATIONS ({problems[0]})"


# -- the naive reference -----------------------------------------------------------------------
NAIVE_TABLES = (
    "CREATE TABLE naive_accounts (id BIGINT PRIMARY KEY, limited BIGINT NOT NULL, "
    "debits_posted BIGINT NOT NULL, credits_posted BIGINT NOT NULL)",
    "CREATE TABLE naive_transfers (id BIGINT PRIMARY KEY, debit_account_id BIGINT NOT NULL, "
    "credit_account_id BIGINT NOT NULL, amount BIGINT NOT NULL, created_at BIGINT NOT NULL)",
)
NAIVE_SELECT = "SELECT debits_posted, credits_posted, limited FROM naive_accounts WHERE id = ?"
# RETURNING is the benchmark's probe, not the naive logic: it tells whether this debit left the
# account below its limit (the row as updated, after every debit committed before it).
NAIVE_DEBIT = ("UPDATE naive_accounts SET debits_posted = debits_posted + ? WHERE id = ? "
               "RETURNING debits_posted > credits_posted AND limited = 1")
NAIVE_CREDIT = "UPDATE naive_accounts SET credits_posted = credits_posted + ? WHERE id = ?"
NAIVE_INSERT = ("INSERT INTO naive_transfers (id, debit_account_id, credit_account_id, amount, "
                "created_at) VALUES (?, ?, ?, ?, ?)")
NAIVE_OVERSPENT = ("SELECT COUNT(*), COALESCE(SUM(debits_posted - credits_posted), 0) "
                   "FROM naive_accounts WHERE limited = 1 AND debits_posted > credits_posted")


class NaiveDB:
    """The one place the naive reference meets a driver: ``?`` SQL on either engine."""

    def __init__(self, engine: str, target: str, synchronous: str = "full") -> None:
        self.pg = engine == "postgresql"
        if self.pg:
            import psycopg

            self.db: Any = psycopg.connect(target, autocommit=False, prepare_threshold=0)
            self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        else:
            self.db = sqlite3.connect(target, isolation_level=None, timeout=60)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self.errors = (sqlite3.Error,)

    def run(self, sql: str, params: Sequence[object] = ()) -> Any:
        if self.pg:
            return self.db.execute(sql.replace("?", "%s"), params)
        return self.db.execute(sql, params)

    def begin(self) -> None:
        if not self.pg:  # psycopg opens a transaction on the first statement
            self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.commit() if self.pg else self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.pg:
            self.db.rollback()
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()


def setup_naive(target: str, case: Case) -> None:
    db = NaiveDB(case.engine, target, case.synchronous)
    try:
        db.begin()
        for statement in NAIVE_TABLES:
            db.run(statement)
        rows = [(i, 1, 0, funds(i)) for i in range(1, ACCOUNTS + 1)]
        rows.append((SOURCE, 0, sum(r[3] for r in rows), 0))
        for row in rows:
            db.run("INSERT INTO naive_accounts VALUES (?, ?, ?, ?)", row)
        db.commit()
    finally:
        db.close()


def run_naive(target: str, case: Case, client: int, ready: Callable[[], None]) -> Tally:
    work = moves(client, case.count)
    db = NaiveDB(case.engine, target, case.synchronous)
    tally = Tally()
    ready()
    tally.start = time.perf_counter()
    deadline = tally.start + ROW_SECONDS_MAX
    for chunk in chunks(work, case.batch):
        if time.perf_counter() > deadline:
            break
        refused = overdrawn = 0
        try:
            db.begin()
            for i, dr, cr, amount in chunk:
                debits, credits, limited = db.run(NAIVE_SELECT, (dr,)).fetchone()
                if limited and debits + amount > credits:
                    refused += 1
                    continue
                overdrawn += bool(db.run(NAIVE_DEBIT, (amount, dr)).fetchone()[0])
                db.run(NAIVE_CREDIT, (amount, cr))
                db.run(NAIVE_INSERT, (i, dr, cr, amount, time.time_ns()))
            db.commit()
        except db.errors as exc:
            db.rollback()
            tally.failure(exc, len(chunk))
            continue
        tally.decided += len(chunk)
        tally.refused += refused
        tally.overdrawn += overdrawn
    tally.end = time.perf_counter()
    db.close()
    return tally


def check_naive(target: str, case: Case) -> str:
    db = NaiveDB(case.engine, target)
    try:
        count, amount = db.run(NAIVE_OVERSPENT).fetchone()
        dr, cr = db.run("SELECT SUM(debits_posted), SUM(credits_posted) "
                        "FROM naive_accounts").fetchone()
    finally:
        db.close()
    at_end = f"{count} accounts below their limit by {amount:,} at the end" if count else ""
    return at_end if dr == cr else f"{at_end}; Σdr {dr} != Σcr {cr}".lstrip("; ")


def round_trip_us(url: str) -> float:
    """Median µs of a ``SELECT 1`` round trip: on a 2-vCPU VM it is ~20 µs when client and
    backend share a CPU and ~80 µs across CPUs, and the PostgreSQL rows move with it."""
    import psycopg

    with psycopg.connect(url, autocommit=True, prepare_threshold=0) as db:
        times = []
        for _ in range(ROUND_TRIPS):
            start = time.perf_counter()
            db.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e6


def analyze(url: str) -> None:
    """Planner statistics for the set-up tables, as a database in service has them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("ANALYZE")


# -- running a row -------------------------------------------------------------------------------
def run_client(target: str, case: Case, client: int, ready: Callable[[], None]) -> Tally:
    run = run_tokenomy if case.impl == "tokenomy" else run_naive
    return run(target, case, client, ready)


def _child(target: str, case: Case, client: int, barrier: Any, queue: Any) -> None:
    try:
        tally = run_client(target, case, client, lambda: barrier.wait(BARRIER_SECONDS_MAX))
    except BaseException as exc:  # reported in the row, never lost with the process
        tally = Tally(errors=1)
        tally.note(f"client {client}: {type(exc).__name__}: {exc}")
        barrier.abort()
    queue.put(tally)


def run_case(case: Case, target: str) -> tuple[Tally, str]:
    """Set up a fresh database at ``target``, run the clients, check what they left."""
    url = f"sqlite:///{target}" if case.engine == "sqlite" else target
    if case.impl == "tokenomy":
        setup_tokenomy(url, case)
    else:
        setup_naive(target, case)
    if case.engine == "postgresql" and ANALYZE_AFTER_SETUP:
        analyze(target)
    total = Tally(start=float("inf"))
    if case.clients == 1:
        total.add(run_client(url if case.impl == "tokenomy" else target, case, 0, lambda: None))
    else:
        context = multiprocessing.get_context("fork")
        barrier, queue = context.Barrier(case.clients), context.SimpleQueue()
        who = url if case.impl == "tokenomy" else target
        processes = [context.Process(target=_child, args=(who, case, c, barrier, queue))
                     for c in range(case.clients)]
        for p in processes:
            p.start()
        for _ in processes:
            total.add(queue.get())
        for p in processes:
            p.join()
    check = check_tokenomy(url) if case.impl == "tokenomy" else check_naive(target, case)
    return total, check


# -- the table -----------------------------------------------------------------------------------
def cases() -> list[Case]:
    sq, pg, tk, nv = "sqlite", "postgresql", "tokenomy", "naive"
    issue, ref = "issue", "§6.1"
    return [
        Case(sq, tk, 1, target_per_s=5_000, target_source=ref),
        Case(sq, tk, 100, target_per_s=40_000, target_source=ref),
        Case(sq, tk, 1_000, target_per_s=50_000, target_source=issue),
        Case(sq, tk, 8_190, target_per_s=50_000, target_source=issue),
        Case(sq, nv, 1),
        Case(sq, nv, 1_000),
        Case(sq, tk, 1, synchronous="normal", target_per_s=10_000, target_source=issue),
        Case(sq, tk, 1_000, synchronous="normal"),
        Case(sq, nv, 1, synchronous="normal"),
        Case(sq, nv, 1_000, synchronous="normal"),
        Case(sq, tk, 1_000, pairs=True),
        Case(sq, tk, 100, clients=4),
        Case(sq, nv, 100, clients=4),
        Case(pg, tk, 1, target_per_s=4_000, target_source=ref),
        Case(pg, tk, 100),
        Case(pg, tk, 1_000),
        Case(pg, tk, 8_190),
        Case(pg, nv, 1),
        Case(pg, nv, 1_000),
        Case(pg, tk, 1_000, pairs=True),
        Case(pg, tk, 1, clients=4, target_per_s=8_000, target_source=issue),
        Case(pg, tk, 100, clients=4, target_per_s=8_000, target_source=issue),
        Case(pg, tk, 1_000, clients=4, target_per_s=8_000, target_source=issue),
        Case(pg, nv, 1, clients=4),
        Case(pg, nv, 100, clients=4),
        Case(pg, nv, 1_000, clients=4),
    ]


def reference_of(case: Case, naive: Sequence[Case]) -> Case | None:
    """The naive row with the same engine, settings and clients: same batch, else 1,000."""
    same = [n for n in naive if (n.engine, n.synchronous, n.clients)
            == (case.engine, case.synchronous, case.clients)]
    for batch in (case.batch, 1_000, 100):
        for n in same:
            if n.batch == batch:
                return n
    return None


def row(case: Case, tally: Tally, check: str, rates: dict[Case, float],
        naive: Sequence[Case]) -> list[str]:
    seconds = max(tally.end - tally.start, 1e-9)
    rate = tally.decided / seconds
    rates[case] = rate
    measure = case.label
    shown = f"{rate:,.0f}"
    if case.pairs:
        shown += f" ({tally.pairs / seconds:,.0f} pairs/s)"
    versus = ""
    ref = reference_of(case, naive) if case.impl == "tokenomy" else None
    if ref is not None and rates.get(ref):
        at = "" if ref.batch == case.batch else f" @{ref.batch:,}/commit"
        versus = f"{rate / rates[ref]:.2f}× naive{at}"
    elif case.impl == "naive":
        versus = "(reference)"
    target = ""
    if case.target_per_s:
        met = "met" if rate >= case.target_per_s else "MISSED"
        target = f"≥ {case.target_per_s:,} ({case.target_source}): {met}"
    parts = [check] if check else []
    if case.impl == "naive":
        parts.insert(0, f"OVERSPENT: {tally.overdrawn} debits overdrew" if tally.overdrawn
                     else "no overspend")
    parts += [f"{tally.deadlocks} deadlocks", f"{tally.errors} errors"]
    if tally.lost:
        parts.append(f"{tally.lost:,} transfers lost")
    parts += [f"{tally.decided:,} in {seconds:.1f} s",
              f"{tally.refused / max(tally.decided, 1):.1%} refused", *tally.notes]
    return [measure, shown, versus, target, "; ".join(parts)]


def main() -> int:
    started = time.perf_counter()
    server: PgServer | None = None
    try:
        server = start_server()
    except Exception as exc:  # the SQLite rows still run; the PostgreSQL rows say why not
        print(f"PostgreSQL did not start: {exc}", file=sys.stderr)
    pg_version = server.version() if server else "not available"
    if server:
        pg_version += f", SELECT 1 round trip {round_trip_us(server.url('postgres')):.0f} µs"
    import psycopg

    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, PostgreSQL "
          f"{pg_version} (unix socket, fsync=on), psycopg {psycopg.__version__}, "
          f"{os.cpu_count()} CPUs; seed {SEED}; a row stops at {ROW_SECONDS_MAX:.0f} s",
          file=sys.stderr)
    all_cases = cases()
    naive = [c for c in all_cases if c.impl == "naive"]
    rates: dict[Case, float] = {}
    done: dict[Case, tuple[Tally, str]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tokenomy-bench-ledger-") as tmp:
            # references first, so each Tokenomy row can be compared as it is printed
            for n, case in enumerate(sorted(all_cases, key=lambda c: c.impl != "naive")):
                if case.engine == "postgresql" and server is None:
                    continue
                target = (str(Path(tmp) / f"row{n}.db") if case.engine == "sqlite"
                          else server.new_schema())  # type: ignore[union-attr]
                print(f"  {case.label} …", file=sys.stderr, flush=True)
                done[case] = run_case(case, target)
    finally:
        if server is not None:
            server.stop()
    table = []
    for case in naive:
        if case in done:
            row(case, *done[case], rates, naive)
    for case in all_cases:
        if case in done:
            table.append(row(case, *done[case], rates, naive))
        else:
            table.append([case.label, "no PostgreSQL server", "", "", ""])
    print_table(["measure", "transfers/s", "vs reference", "target", "check"], table)
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

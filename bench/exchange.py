"""Exchange benchmark: the order book's commands/s and latency vs a naive sorted-list book.

Run: ``.venv/bin/python bench/exchange.py`` (≈ 1 min on 2 CPUs). Prints Markdown tables; the
environment and the stream's make-up go to stderr. The workload is exchange-core's benchmark
mix — 9% GTC orders, 3% IOC orders, 6% cancels, 82% moves (replace to a new price) — on one
book holding ~1,000 resting orders from 1,000 owners, in-process, one command at a time.

The command stream is made before anything is timed, by a seeded ``random.Random`` that picks
live orders from a driver book: a set-up of ``RESTING`` GTC orders, then ``COMMANDS`` commands
drawn from the mix. Prices are ticks around ``MID`` (offsets drawn from an exponential, so
levels are dense near the spread and sparse far out); a move re-draws its order's price (same
quantity), and ``MOVE_CROSS_SHARE`` of moves cross the spread and trade, as IOC orders do —
about 6% of commands trade, as in exchange-core. Trades drain the book, so, like
exchange-core's generator, a move drawn while fewer than ``RESTING`` orders rest becomes a GTC
order: the realized mix (printed) has more GTC orders and fewer moves than the nominal one.
The prepared stream is frozen out of the garbage collector (``gc.freeze``) before timing: it
is input, not the book's state. Every row replays the same set-up untimed, then the timed
commands:

- ``commands/s``: the whole timed stream applied in a loop, best of ``REPEATS`` fresh books;
- latency percentiles: a separate pass timing each ``apply`` with ``perf_counter_ns`` (the
  timer pair itself costs the ``timer`` figure printed to stderr, not subtracted).

The second row is the same book with CPython's cyclic garbage collector disabled while timed:
the difference in ``max µs`` (and p99.9) is what the collector's full passes over the book's
live objects cost (a few ms, a handful of times per 200k commands). A service holding a book
can ``gc.freeze()`` after start-up and raise ``gc.set_threshold`` to keep them rare.

The reference is ``tests/exchange/reference_book.py`` — the differential-test oracle: one list
of resting orders, sorted per use, linear scans. It runs only the first ``REFERENCE_COMMANDS``
commands of the same stream (it needs ~0.1 ms per command), and its events must equal ours on
that prefix ("events equal" below). Targets come from the issue (≥ 300k commands/s, p99 ≤
50 µs). A row is a :class:`Row`: a label and a factory of ``apply(command)`` callables.

The journaled row is a :class:`~tokenomy.store.exchange_journal.JournaledBook` on a fresh
SQLite file (WAL, ``synchronous=FULL``, in a temporary folder) fed through ``apply_many`` in
batches of ``JOURNAL_BATCH``: each batch is one durable transaction (group commit), then
applied. Its latency columns are each command's batch time (journal + apply); its check
reopens the journal and compares the replayed book with a plain one (target: the issue's
≥ 30k journaled commands/s).

The cleared row is a :class:`~tokenomy.store.exchange_clearing.ClearedBook` (TKF-SPOT at
``MID``; every owner funded with cash and credits beforehand, untimed): each command checks,
holds buying power, journals, matches and posts its fills and holds in ONE durable SQLite
transaction — the cost of clearing every command into the ledger as it happens. It runs the
first ``CLEARED_COMMANDS`` commands; its check verifies the ledger and replays the journal.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "exchange"))

from reference_book import ReferenceBook

from _common import print_table
from tokenomy.exchange import (
    Accepted,
    Book,
    BookLimits,
    Cancel,
    Cancelled,
    Command,
    Event,
    Expired,
    Fill,
    NewOrder,
    Rejected,
    Replace,
    Replaced,
    Side,
    TimeInForce,
)
from tokenomy.exchange.accounts import (
    CODE_DEPOSIT,
    CODE_ISSUE,
    CREDIT_LEDGERS,
    cash_account,
    credit_account,
    issuer_account,
    member_accounts,
)
from tokenomy.exchange.contracts import bundled_specs, instruments
from tokenomy.ledger.budgets import LEDGER_USD, derive_id, funding_account_id
from tokenomy.ledger.types import Transfer
from tokenomy.store.exchange_clearing import ClearedBook, ensure_house
from tokenomy.store.exchange_journal import JournaledBook
from tokenomy.store.ledger_sqlite import SQLiteLedger

SEED = 20261128
MID = 100_000  # ticks
OWNERS = 1_000
RESTING = 1_000  # GTC orders entered by the set-up
COMMANDS = 200_000  # timed commands per row (the reference: REFERENCE_COMMANDS)
REFERENCE_COMMANDS = 5_000
MIX = (("gtc", 9), ("ioc", 3), ("cancel", 6), ("move", 82))  # exchange-core's, in percent
OFFSET_MEAN = 300  # ticks from MID to a resting price, on average
MOVE_CROSS_SHARE = 0.035  # moves that cross the spread (and trade)
IOC_REACH = 10  # an IOC order's limit is up to this many ticks through the best price
QUANTITY_HIGH = 100  # GTC quantities are 1..QUANTITY_HIGH
IOC_QUANTITY_HIGH = 50  # IOC quantities are 1..IOC_QUANTITY_HIGH
REPEATS = 3
TARGET_PER_S = 300_000
TARGET_P99_US = 50
JOURNAL_BATCH = 1_000  # commands per group commit (one durable SQLite transaction)
TARGET_JOURNALED_PER_S = 30_000
LIMITS = BookLimits()

Apply = Callable[[Command], tuple[Event, ...]]
ApplyMany = Callable[[Sequence[Command]], list[tuple[Event, ...]]]


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    make: Callable[[], Apply]  # a fresh, empty book's apply
    count: int  # timed commands (a prefix of the stream)
    target: bool = False  # held to the issue's targets
    gc_off: bool = False  # CPython's cyclic garbage collector disabled while timed
    make_many: Callable[[], ApplyMany] | None = None  # batched instead: apply_many, by batch
    batch: int = 1  # commands per apply_many call


class Journals:
    """Fresh SQLite files (synchronous=FULL, as the store opens them) for journaled books."""

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="tokenomy-journal-")
        self.stores: list[SQLiteLedger] = []

    def book(self) -> JournaledBook:
        path = Path(self.folder.name) / f"journal-{len(self.stores)}.db"
        self.stores.append(SQLiteLedger.open(str(path), time.time_ns))
        return JournaledBook.open(self.stores[-1], "BENCH", LIMITS)

    def close(self) -> None:
        for store in self.stores:
            store.close()
        self.folder.cleanup()


JOURNALS = Journals()

CLEARED_COMMANDS = 5_000  # timed commands of the cleared row (one transaction each)
CLEARED_CASH = 10**8 * 10**9  # each owner's deposit: $100M in nano-dollars
CLEARED_CREDITS = 10**13  # each owner's FRONTIER-OUT credits (tokens)


class Cleared:
    """Fresh SQLite files with every owner funded, for cleared books (TKF-SPOT at MID)."""

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="tokenomy-cleared-")
        self.stores: list[SQLiteLedger] = []
        self.books: list[ClearedBook] = []

    def apply(self) -> Apply:
        path = Path(self.folder.name) / f"cleared-{len(self.stores)}.db"
        store = SQLiteLedger.open(str(path), time.time_ns)
        self.stores.append(store)
        ensure_house(store)
        owners = range(1, OWNERS + 1)
        accounts = [a for o in owners for a in member_accounts(o)]
        for at in range(0, len(accounts), 8_000):  # a batch holds at most 8,190
            store.create_accounts(accounts[at:at + 8_000])
        grade = SPOT.spec.grade.name
        store.create_transfers([Transfer(derive_id("bench-cash", str(o)), funding_account_id(
            LEDGER_USD), cash_account(o, LEDGER_USD), CLEARED_CASH, LEDGER_USD, CODE_DEPOSIT)
            for o in owners])
        store.create_transfers([Transfer(derive_id("bench-credits", str(o)),
                                         issuer_account(grade), credit_account(o, grade),
                                         CLEARED_CREDITS, CREDIT_LEDGERS[grade], CODE_ISSUE)
                                for o in owners])
        book = ClearedBook.open(store, SPOT, MID)
        self.books.append(book)
        return lambda command: book.submit(command).events

    def close(self) -> None:
        for store in self.stores:
            store.close()
        self.folder.cleanup()


CLEARED = Cleared()
SPOT = next(i for i in instruments(bundled_specs(), date.today()) if i.symbol == "TKF-SPOT")


@contextmanager
def collector(row: Row) -> Iterator[None]:
    """The cyclic GC off for the block when the row says so (reference counting still frees)."""
    if row.gc_off:
        gc.disable()
    try:
        yield
    finally:
        gc.enable()


ROWS = (
    Row("tokenomy Book (dict of levels, sorted keys, linked FIFO)", lambda: Book(LIMITS).apply,
        COMMANDS, target=True),
    Row("tokenomy Book, cyclic GC off while timed", lambda: Book(LIMITS).apply, COMMANDS,
        gc_off=True),
    Row("naive sorted-list reference book", lambda: ReferenceBook(LIMITS).apply,
        REFERENCE_COMMANDS),
    Row(f"journaled to SQLite (group commit of {JOURNAL_BATCH:,} commands)",
        lambda: JOURNALS.book().apply, COMMANDS, make_many=lambda: JOURNALS.book().apply_many,
        batch=JOURNAL_BATCH),
    Row("cleared: holds, fills and journal in the ledger, one durable transaction each",
        CLEARED.apply, CLEARED_COMMANDS),
)


@dataclass(slots=True)
class Stream:
    setup: list[Command]
    commands: list[Command]
    kinds: list[str]


class Driver:
    """A book and its live orders (for O(1) random picks), to make the stream with."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.book = Book(LIMITS)
        self.live: list[int] = []
        self.slot: dict[int, int] = {}  # order id → index in live
        self.next_client_id = [0] * (OWNERS + 1)
        self.trading = 0  # commands with at least one fill

    def apply(self, command: Command) -> None:
        events = self.book.apply(command)
        touched = set()
        for e in events:
            if isinstance(e, Fill):
                touched.update((e.trade.maker_order_id, e.trade.taker_order_id))
            elif isinstance(e, (Accepted, Cancelled, Replaced, Expired)):
                touched.add(e.order_id)
        self.trading += any(isinstance(e, Fill) for e in events)
        for order_id in sorted(touched):
            alive = self.book.order(order_id) is not None
            if alive and order_id not in self.slot:
                self.slot[order_id] = len(self.live)
                self.live.append(order_id)
            elif not alive and order_id in self.slot:
                index = self.slot.pop(order_id)
                last = self.live.pop()
                if last != order_id:
                    self.live[index] = last
                    self.slot[last] = index

    def price(self, side: Side) -> int:
        offset = 1 + int(self.rng.expovariate(1 / OFFSET_MEAN))
        return MID - offset if side is Side.BUY else MID + offset

    def crossing(self, side: Side) -> int:
        top = self.book.top_of_book()
        best = top.ask if side is Side.BUY else top.bid
        if best is None:
            return MID
        reach = self.rng.randint(0, IOC_REACH)
        return best.price + reach if side is Side.BUY else max(best.price - reach, 1)

    def new_order(self, now: int, tif: TimeInForce) -> NewOrder:
        rng = self.rng
        owner = rng.randint(1, OWNERS)
        self.next_client_id[owner] += 1
        side = rng.choice((Side.BUY, Side.SELL))
        if tif is TimeInForce.IOC:
            return NewOrder(owner, self.next_client_id[owner], side, self.crossing(side),
                            rng.randint(1, IOC_QUANTITY_HIGH), time_in_force=tif,
                            now=now)
        return NewOrder(owner, self.next_client_id[owner], side, self.price(side),
                        rng.randint(1, QUANTITY_HIGH), now=now)

    def command(self, kind: str, now: int) -> Command:
        if kind in ("cancel", "move") and self.live:
            order = self.book.order(self.rng.choice(self.live))
            assert order is not None
            if kind == "cancel":
                return Cancel(order.owner, order.order_id, now)
            crosses = self.rng.random() < MOVE_CROSS_SHARE
            price = self.crossing(order.side) if crosses else self.price(order.side)
            return Replace(order.owner, order.order_id, price, order.quantity, now)
        return self.new_order(now, TimeInForce.IOC if kind == "ioc" else TimeInForce.GTC)


def make_stream() -> tuple[Stream, Driver]:
    rng = random.Random(SEED)
    driver = Driver(rng)
    setup: list[Command] = []
    for _ in range(RESTING):
        setup.append(driver.new_order(0, TimeInForce.GTC))
        driver.apply(setup[-1])
    driver.trading = 0
    names = [name for name, _ in MIX]
    weights = [share for _, share in MIX]
    kinds = rng.choices(names, weights, k=COMMANDS)
    commands: list[Command] = []
    for now, kind in enumerate(kinds, start=1):
        if kind == "move" and len(driver.live) < RESTING:  # as exchange-core's generator:
            kinds[now - 1] = kind = "gtc"  # grow the book back to its size with GTC orders
        commands.append(driver.command(kind, now))
        driver.apply(commands[-1])
    return Stream(setup, commands, kinds), driver


def fresh(row: Row, stream: Stream) -> Apply:
    apply = row.make()
    for command in stream.setup:
        apply(command)
    return apply


def fresh_many(row: Row, stream: Stream) -> ApplyMany:
    """A batched row's ``apply_many`` after the set-up (applied in batches too)."""
    assert row.make_many is not None
    apply_many = row.make_many()
    for at in range(0, len(stream.setup), row.batch):
        apply_many(stream.setup[at:at + row.batch])
    return apply_many


def chunks(row: Row, stream: Stream) -> list[list[Command]]:
    commands = stream.commands[:row.count]
    return [commands[at:at + row.batch] for at in range(0, len(commands), row.batch)]


def throughput(row: Row, stream: Stream) -> float:
    """Commands/s over the row's timed commands, best of REPEATS fresh books."""
    commands = stream.commands[:row.count]
    best = float("inf")
    if row.make_many is not None:
        batches = chunks(row, stream)
        for _ in range(REPEATS):
            apply_many = fresh_many(row, stream)
            with collector(row):
                start = time.perf_counter()
                for batch in batches:
                    apply_many(batch)
                best = min(best, time.perf_counter() - start)
        return len(commands) / best
    for _ in range(REPEATS if row.count > REFERENCE_COMMANDS else 1):
        apply = fresh(row, stream)
        with collector(row):
            start = time.perf_counter()
            for command in commands:
                apply(command)
            best = min(best, time.perf_counter() - start)
    return len(commands) / best


def latencies(row: Row, stream: Stream) -> list[int]:
    """Each command's apply time in ns (a batched row: its batch's, journal and apply)."""
    clock = time.perf_counter_ns
    times: list[int] = []
    if row.make_many is not None:
        apply_many = fresh_many(row, stream)
        with collector(row):
            for batch in chunks(row, stream):
                start = clock()
                apply_many(batch)
                times.extend([clock() - start] * len(batch))
        return times
    apply = fresh(row, stream)
    with collector(row):
        for command in stream.commands[:row.count]:
            start = clock()
            apply(command)
            times.append(clock() - start)
    return times


def events_of(row: Row, stream: Stream, count: int) -> list[tuple[Event, ...]]:
    """The events of the first ``count`` timed commands (untimed)."""
    if row.make_many is not None:
        apply_many = fresh_many(row, stream)
        return [events for batch in chunks(row, stream) for events in apply_many(batch)][:count]
    apply = fresh(row, stream)
    return [apply(command) for command in stream.commands[:count]]


def percentile_us(sorted_ns: Sequence[int], fraction: float) -> float:
    return sorted_ns[min(int(fraction * len(sorted_ns)), len(sorted_ns) - 1)] / 1_000


def timer_ns() -> int:
    clock = time.perf_counter_ns
    spans = []
    for _ in range(100_000):
        start = clock()
        spans.append(clock() - start)
    return sorted(spans)[len(spans) // 2]


def main() -> int:
    started = time.perf_counter()
    stream, driver = make_stream()
    book = driver.book
    levels = book.depth(LIMITS.depth_levels_max)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; seed {SEED}; timer "
          f"{timer_ns()} ns; set-up {RESTING:,} GTC orders; after the stream: {len(book):,} "
          f"resting orders on {len(levels.bids) + len(levels.asks):,} levels; "
          f"{driver.trading / COMMANDS:.1%} of commands trade; "
          f"{len(driver.book.trades()):,} trades kept of {book.trades()[-1].trade_id:,}",
          file=sys.stderr)
    table = []
    per_kind: dict[str, list[int]] = {}
    gc.collect()
    gc.freeze()  # the prepared stream is input, not the book's: keep it out of GC passes
    for row in ROWS:
        print(f"  {row.label} …", file=sys.stderr, flush=True)
        rate = throughput(row, stream)
        times = latencies(row, stream)
        if row.target:
            for kind, spent in zip(stream.kinds, times, strict=False):
                per_kind.setdefault(kind, []).append(spent)
            check = "book.check() clean" if not final_check(stream) else "CHECK FAILED"
        elif row.gc_off:
            check = "the row above without GC pauses"
        elif row.make_many is not None:
            check = journal_check(row, stream)
        elif row.make == CLEARED.apply:
            check = cleared_check(row, stream)
        else:
            same = events_of(row, stream, row.count) == events_of(ROWS[0], stream, row.count)
            check = f"events equal ours on {row.count:,}: {'yes' if same else 'NO'}"
        ordered = sorted(times)
        table.append([
            row.label, f"{row.count:,}", f"{rate:,.0f}",
            f"{percentile_us(ordered, 0.50):.1f}", f"{percentile_us(ordered, 0.99):.1f}",
            f"{percentile_us(ordered, 0.999):.1f}", f"{ordered[-1] / 1_000:.0f}",
            f"≥ {TARGET_PER_S:,}/s, p99 ≤ {TARGET_P99_US} µs" if row.target
            else "(comparison)" if row.gc_off
            else f"≥ {TARGET_JOURNALED_PER_S:,}/s journaled" if row.make_many
            else "(no target)" if row.make == CLEARED.apply else "reference",
            check])
    print_table(["book", "commands", "commands/s", "p50 µs", "p99 µs", "p99.9 µs", "max µs",
                 "target", "check"], table)
    rejected = sum(isinstance(e, Rejected) for events in events_of(ROWS[0], stream, COMMANDS)
                   for e in events)
    print(f"\nPer command, {ROWS[0].label} ({rejected} rejected):\n")
    kinds_table = []
    for name, nominal in MIX:
        spent = per_kind.get(name, [])
        ordered = sorted(spent or [0])
        kinds_table.append([name, f"{nominal}%", f"{len(spent) / COMMANDS:.1%}",
                            f"{len(spent):,}", f"{percentile_us(ordered, 0.50):.1f}",
                            f"{percentile_us(ordered, 0.99):.1f}"])
    print_table(["command", "nominal share", "realized share", "count", "p50 µs", "p99 µs"],
                kinds_table)
    print(f"\n(whole run {time.perf_counter() - started:.0f} s)")
    JOURNALS.close()
    CLEARED.close()
    return 0


def cleared_check(row: Row, stream: Stream) -> str:
    """Events equal the plain book's, the ledger verifies, and the journal replays."""
    same = events_of(row, stream, row.count) == events_of(ROWS[0], stream, row.count)
    store, book = CLEARED.stores[-1], CLEARED.books[-1]
    clean = not store.verify()
    replayed = ClearedBook.open(store, SPOT, MID)
    equal = (replayed.book.resting() == book.book.resting()
             and replayed.clearing.positions == book.clearing.positions)
    return (f"events equal ours: {'yes' if same else 'NO'}; ledger verify: "
            f"{'clean' if clean else 'VIOLATIONS'}; replay equal: {'yes' if equal else 'NO'}")


def journal_check(row: Row, stream: Stream) -> str:
    """Events equal the plain book's, and the journal replays into the same book."""
    same = events_of(row, stream, row.count) == events_of(ROWS[0], stream, row.count)
    store = JOURNALS.stores[-1]  # events_of's book: journaled set-up + the row's commands
    replayed = JournaledBook.open(store, "BENCH", LIMITS).book
    plain = Book(LIMITS)
    for command in (*stream.setup, *stream.commands[:row.count]):
        plain.apply(command)
    equal = (replayed.resting() == plain.resting() and replayed.seq == plain.seq
             and replayed.trades() == plain.trades())
    return (f"events equal ours: {'yes' if same else 'NO'}; replay equal: "
            f"{'yes' if equal else 'NO'}")


def final_check(stream: Stream) -> list[str]:
    """The book's invariants after the whole stream."""
    book = Book(LIMITS)
    for command in (*stream.setup, *stream.commands):
        book.apply(command)
    return book.check()


if __name__ == "__main__":
    raise SystemExit(main())

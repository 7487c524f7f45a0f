"""The exchange journal: commands as JSON, group-committed, replayed into the same book."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pg_fixture import cluster
from tokenomy.exchange import (
    ID_MAX,
    Book,
    BookLimits,
    Cancel,
    Command,
    EndOfDay,
    MassCancel,
    NewOrder,
    OrderType,
    Replace,
    SelfTradePrevention,
    Side,
    Tick,
    TimeInForce,
)
from tokenomy.store import StoreError, open_ledger
from tokenomy.store.exchange_journal import (
    BATCH_MAX,
    CommandDecodeError,
    JournaledBook,
    JournalError,
    decode_command,
    encode_command,
)
from tokenomy.store.ledger_sql import SQLLedger
from tokenomy.store.ledger_sqlite import SQLiteLedger

LIMITS = BookLimits(trades_kept_max=10_000)


def clock() -> int:
    return 1_700_000_000_000_000_000


# -- encoding -----------------------------------------------------------------------------

ints = st.one_of(st.integers(-5, 5), st.integers(-(2**64), 2**64), st.just(ID_MAX))
new_orders = st.builds(
    NewOrder, ints, ints, st.sampled_from(Side), ints, ints, st.sampled_from(OrderType),
    st.sampled_from(TimeInForce), ints, st.booleans(), st.sampled_from(SelfTradePrevention),
    ints, ints)
commands = st.one_of(
    new_orders,
    st.builds(Cancel, ints, ints, ints),
    st.builds(Replace, ints, ints, ints, ints, ints),
    st.builds(MassCancel, ints, st.one_of(st.none(), st.sampled_from(Side)), ints),
    st.builds(EndOfDay, ints),
    st.builds(Tick, ints),
)


@given(commands)
def test_every_command_round_trips_exactly(command: Command) -> None:
    text = encode_command(command)
    decoded = decode_command(text)
    assert decoded == command and type(decoded) is type(command)
    assert " " not in text  # compact
    if isinstance(command, NewOrder):
        assert isinstance(decoded, NewOrder) and decoded.side is command.side


def test_the_encoding_is_a_tagged_list_with_enums_by_value() -> None:
    order = NewOrder(7, 8, Side.SELL, 101, 5, time_in_force=TimeInForce.GTD, expire_at=9,
                     now=3)
    assert encode_command(order) == ('["new",7,8,"sell",101,5,"limit","gtd",9,false,'
                                     '"cancel_newest",0,3]')
    assert encode_command(MassCancel(4, None, 2)) == '["mass_cancel",4,null,2]'
    assert encode_command(Tick(2**70)) == f'["tick",{2**70}]'  # exact, past 64 bits


@pytest.mark.parametrize("text, message", [
    ("{", "not JSON"),
    ('{"tick": 1}', "not a tagged list"),
    ('["warp",1]', "unknown command kind"),
    ('["tick",1,2]', "2 fields, not 1"),
    ('["tick",1.0]', "now must be an integer"),
    ('["tick",true]', "now must be an integer"),
    ('["cancel",1,"2",3]', "order_id must be an integer"),
    ('["mass_cancel",1,"up",3]', "unknown Side"),
    ('["new",1,1,"buy",1,1,"limit","gtc",0,0,"cancel_newest",0,0]', "post_only"),
])
def test_bad_text_is_a_decode_error(text: str, message: str) -> None:
    with pytest.raises(CommandDecodeError, match=message):
        decode_command(text)


def test_a_non_command_is_refused() -> None:
    with pytest.raises(TypeError, match="not an exchange command"):
        encode_command("tick")  # type: ignore[arg-type]


# -- the journaled book -------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLLedger]:
    opened = SQLiteLedger.open(str(tmp_path / "exchange.db"), clock)
    yield opened
    opened.close()


def stream(seed: int, count: int) -> list[Command]:
    """Random commands on a narrow price range (so they trade), ids drawn from those sent."""
    rng = random.Random(seed)
    out: list[Command] = []
    for now in range(1, count + 1):
        roll = rng.random()
        owner = rng.randint(1, 5)
        if roll < 0.45:
            tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC,
                              TimeInForce.DAY, TimeInForce.GTD, TimeInForce.FOK))
            out.append(NewOrder(owner, rng.randint(1, count), rng.choice(tuple(Side)),
                                rng.randint(95, 105), rng.randint(1, 20), time_in_force=tif,
                                expire_at=now + rng.randint(1, 30) if tif is TimeInForce.GTD
                                else 0, stp=rng.choice(tuple(SelfTradePrevention)), now=now))
        elif roll < 0.65:
            out.append(Replace(owner, rng.randint(1, now), rng.randint(95, 105),
                               rng.randint(1, 25), now))
        elif roll < 0.85:
            out.append(Cancel(owner, rng.randint(1, now), now))
        elif roll < 0.92:
            out.append(MassCancel(owner, rng.choice((None, Side.BUY, Side.SELL)), now))
        elif roll < 0.97:
            out.append(Tick(now + rng.randint(0, 5)))
        else:
            out.append(EndOfDay(now))
    return out


def batches(commands: list[Command], rng: random.Random) -> Iterator[list[Command]]:
    at = 0
    while at < len(commands):
        size = rng.choice((1, 2, 7, 50))
        yield commands[at:at + size]
        at += size


def assert_same_book(a: Book, b: Book) -> None:
    assert a.seq == b.seq
    assert a.now == b.now
    assert a.depth(LIMITS.depth_levels_max) == b.depth(LIMITS.depth_levels_max)
    assert a.resting() == b.resting()
    assert a.trades() == b.trades()
    assert a.top_of_book() == b.top_of_book()
    assert not a.check() and not b.check()


def replay_rebuilds(store: SQLLedger, seed: int, name: str) -> None:
    commands = stream(seed, 600)
    journaled = JournaledBook.open(store, name, LIMITS)
    plain = Book(LIMITS)
    for batch in batches(commands, random.Random(seed)):
        assert journaled.apply_many(batch) == [plain.apply(c) for c in batch]
    assert journaled.journaled == len(commands)
    assert plain.trades(), "the stream trades"
    assert_same_book(journaled.book, plain)
    reopened = JournaledBook.open(store, name, LIMITS)
    assert reopened.journaled == len(commands)
    assert_same_book(reopened.book, plain)
    # It carries on where the first left off.
    more: list[Command] = [Tick(10_000), Cancel(1, 1, 10_000), EndOfDay(10_001)]
    assert reopened.apply_many(more) == [plain.apply(c) for c in more]
    assert_same_book(JournaledBook.open(store, name, LIMITS).book, plain)


@pytest.mark.parametrize("seed", range(4))
def test_replaying_the_journal_rebuilds_the_book(store: SQLLedger, seed: int) -> None:
    replay_rebuilds(store, seed, f"TOK-{seed}")


def test_replay_on_postgres() -> None:
    opened = open_ledger(cluster().new_database(), clock)
    assert isinstance(opened, SQLLedger)
    try:
        replay_rebuilds(opened, 11, "TOK-PG")
    finally:
        opened.close()


def test_books_have_separate_journals(store: SQLLedger) -> None:
    a, b = JournaledBook.open(store, "A", LIMITS), JournaledBook.open(store, "B", LIMITS)
    a.apply(NewOrder(1, 1, Side.BUY, 100, 5, now=1))
    b.apply_many([NewOrder(1, 1, Side.SELL, 100, 5, now=1), Tick(2)])
    assert (a.journaled, b.journaled) == (1, 2)
    assert len(JournaledBook.open(store, "A", LIMITS).book) == 1
    assert JournaledBook.open(store, "B", LIMITS).book.resting()[0].side is Side.SELL
    assert len(JournaledBook.open(store, "C", LIMITS).book) == 0


class Died(Exception):
    """The process "dies" between the journal's commit and the book's apply."""


def test_a_batch_journaled_but_never_applied_is_replayed(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    path = str(tmp_path / "crash.db")
    first = SQLiteLedger.open(path, clock)
    book = JournaledBook.open(first, "TOK", LIMITS)
    book.apply(NewOrder(1, 1, Side.SELL, 100, 10, now=1))
    batch: list[Command] = [NewOrder(2, 1, Side.BUY, 100, 4, now=2), Replace(1, 1, 101, 10, 3)]

    def die(command: Command) -> None:
        raise Died

    monkeypatch.setattr(book.book, "apply", die)
    with pytest.raises(Died):
        book.apply_many(batch)
    del book  # discarded: the batch is in the journal only
    first.close()
    second = SQLiteLedger.open(path, clock)
    try:
        reopened = JournaledBook.open(second, "TOK", LIMITS)
        plain = Book(LIMITS)
        for c in [NewOrder(1, 1, Side.SELL, 100, 10, now=1), *batch]:
            plain.apply(c)
        assert reopened.journaled == 3
        assert_same_book(reopened.book, plain)
        assert [t.quantity for t in reopened.book.trades()] == [4]
    finally:
        second.close()


def test_bad_json_in_the_journal_names_its_seq(store: SQLLedger) -> None:
    book = JournaledBook.open(store, "TOK", LIMITS)
    book.apply_many([Tick(1), Tick(2), Tick(3)])
    with store._transaction(store._begin_write):
        store._run("UPDATE exchange_journal SET command = ? WHERE book = ? AND seq = ?",
                   ('["tick",', "TOK", 2))
    with pytest.raises(JournalError, match=r"book 'TOK', seq 2: not JSON"):
        JournaledBook.open(store, "TOK", LIMITS)


def test_a_gap_in_the_journal_is_an_error(store: SQLLedger) -> None:
    JournaledBook.open(store, "TOK", LIMITS).apply_many([Tick(1), Tick(2), Tick(3)])
    with store._transaction(store._begin_write):
        store._run("DELETE FROM exchange_journal WHERE book = ? AND seq = ?", ("TOK", 2))
    with pytest.raises(JournalError, match="seq 3 follows 1"):
        JournaledBook.open(store, "TOK", LIMITS)


def test_a_second_writer_is_refused_and_changes_nothing(store: SQLLedger) -> None:
    one, two = JournaledBook.open(store, "TOK", LIMITS), JournaledBook.open(store, "TOK", LIMITS)
    one.apply(NewOrder(1, 1, Side.BUY, 100, 5, now=1))
    with pytest.raises(StoreError):
        two.apply_many([NewOrder(2, 1, Side.BUY, 99, 5, now=1), Tick(2)])
    assert len(two.book) == 0 and two.journaled == 0
    assert JournaledBook.open(store, "TOK", LIMITS).journaled == 1


def test_batches_and_names_are_bounded(store: SQLLedger) -> None:
    book = JournaledBook.open(store, "TOK", LIMITS)
    with pytest.raises(ValueError, match="a batch is 1"):
        book.apply_many([])
    with pytest.raises(ValueError, match="a batch is 1"):
        book.apply_many([Tick(1)] * (BATCH_MAX + 1))
    with pytest.raises(TypeError):
        book.apply_many([Tick(1), "tick"])  # type: ignore[list-item]
    assert book.journaled == 0
    for name in ("", "x" * 201):
        with pytest.raises(ValueError, match="book name"):
            JournaledBook.open(store, name, LIMITS)


def test_replay_reads_in_pages(store: SQLLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    import tokenomy.store.exchange_journal as journal

    monkeypatch.setattr(journal, "REPLAY_PAGE", 3)
    book = JournaledBook.open(store, "TOK", LIMITS)
    book.apply_many([NewOrder(1, i, Side.BUY, 90 + i, 1, now=i) for i in range(1, 10)])
    reopened = JournaledBook.open(store, "TOK", LIMITS)
    assert reopened.journaled == 9 and reopened.book.resting() == book.book.resting()


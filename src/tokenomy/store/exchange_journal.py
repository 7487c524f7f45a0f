"""The exchange's command journal: every command a book applies, in the store, in order.

In: a ledger store (:class:`~tokenomy.store.ledger_sql.SQLLedger`, SQLite or PostgreSQL: the
journal shares its connection and transactions, as the gateway's tables do), a book's name and
its limits. Out: a :class:`JournaledBook`, whose :meth:`~JournaledBook.apply_many` writes a
batch of commands to ``exchange_journal`` in ONE durable transaction (group commit) and only
then applies them to the in-memory :class:`~tokenomy.exchange.Book`. :meth:`JournaledBook.open`
rebuilds the book by replaying its journal in order: the book is deterministic, so the same
commands give the same book (L2, L3, sequence numbers, trades) — a process that died between
the commit and the apply loses nothing.

A command is stored as compact JSON, a list tagged by its kind, ints exact, enums by value::

    ["new",owner,client_order_id,"buy",price,quantity,"limit","gtc",expire_at,false,
     "cancel_newest",reference_price,now]
    ["cancel",owner,order_id,now]          ["replace",owner,order_id,price,quantity,now]
    ["mass_cancel",owner,"sell"|null,now]  ["end_of_day",now]    ["tick",now]

and the clearing's commands (a book's journal read alone skips them)::

    ["open",reference,now]  ["settle",price,now]  ["expire",price,now]

Errors: :class:`CommandDecodeError` (a ``ValueError``) for text that is not a command;
:class:`JournalError` (a :class:`~tokenomy.store.url.StoreError`) for a journal that cannot be
replayed — an undecodable row or a gap — naming the book and the row's ``seq``.

One writer per book: two objects appending to the same book collide on the key
``(book, seq)``; the loser's batch fails with a ``StoreError`` and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from tokenomy.exchange import (
    DEFAULT_LIMITS,
    Book,
    BookLimits,
    Cancel,
    Command,
    EndOfDay,
    Event,
    MassCancel,
    NewOrder,
    OrderType,
    Replace,
    SelfTradePrevention,
    Side,
    Tick,
    TimeInForce,
)
from tokenomy.exchange.clearing import ClearingCommand, Expire, Open, Settle
from tokenomy.store.url import StoreError

if TYPE_CHECKING:
    from tokenomy.store.ledger_sql import SQLLedger

BATCH_MAX = 10_000  # commands one apply_many may journal (one transaction)
REPLAY_PAGE = 10_000  # journal rows read per query while replaying
BOOK_NAME_MAX = 200  # characters

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
INSERT = "INSERT INTO exchange_journal (book, seq, command, at) VALUES (?, ?, ?, ?)"
SELECT_PAGE = ("SELECT seq, command FROM exchange_journal WHERE book = ? AND seq > ? "
               "ORDER BY seq LIMIT ?")


class CommandDecodeError(ValueError):
    """Text that is not a journaled command."""


class JournalError(StoreError):
    """A journal that cannot be replayed: its message names the book and the row's seq."""


# -- encoding -----------------------------------------------------------------------------


def encode_command(command: Command | ClearingCommand) -> str:
    """The command as compact JSON (see the module docstring)."""
    c = command
    if isinstance(c, Replace):  # the most frequent first
        row: list[Any] = ["replace", c.owner, c.order_id, c.price, c.quantity, c.now]
    elif isinstance(c, NewOrder):
        row = ["new", c.owner, c.client_order_id, c.side.value, c.price, c.quantity,
               c.order_type.value, c.time_in_force.value, c.expire_at, c.post_only,
               c.stp.value, c.reference_price, c.now]
    elif isinstance(c, Cancel):
        row = ["cancel", c.owner, c.order_id, c.now]
    elif isinstance(c, MassCancel):
        row = ["mass_cancel", c.owner, None if c.side is None else c.side.value, c.now]
    elif isinstance(c, EndOfDay):
        row = ["end_of_day", c.now]
    elif isinstance(c, Tick):
        row = ["tick", c.now]
    elif isinstance(c, Settle):
        row = ["settle", c.price, c.now]
    elif isinstance(c, Expire):
        row = ["expire", c.price, c.now]
    elif isinstance(c, Open):
        row = ["open", c.reference, c.now]
    else:
        raise TypeError(f"not an exchange command: {type(command).__name__}")
    return _dumps(row)


def _int(value: object, field: str) -> int:
    if type(value) is not int:  # bool is an int subclass, float is not exact: neither
        raise CommandDecodeError(f"{field} must be an integer, not {value!r}")
    return value


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: object, field: str) -> _E:
    if type(value) is not str:
        raise CommandDecodeError(f"{field} must be a string, not {value!r}")
    try:
        return kind(value)
    except ValueError:
        raise CommandDecodeError(f"{field}: unknown {kind.__name__} {value!r}") from None


_ARITY = {"new": 13, "cancel": 4, "replace": 6, "mass_cancel": 4, "end_of_day": 2, "tick": 2,
          "settle": 3, "expire": 3, "open": 3}


def decode_command(text: str) -> Command | ClearingCommand:
    """The command ``text`` encodes; :class:`CommandDecodeError` when it encodes none."""
    try:
        row = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CommandDecodeError(f"not JSON: {exc}") from None
    if not isinstance(row, list) or not row or not isinstance(row[0], str):
        raise CommandDecodeError(f"not a tagged list: {text[:80]!r}")
    kind = row[0]
    if kind not in _ARITY:
        raise CommandDecodeError(f"unknown command kind {kind!r}")
    if len(row) != _ARITY[kind]:
        raise CommandDecodeError(f"{kind}: {len(row) - 1} fields, not {_ARITY[kind] - 1}")
    if kind == "replace":
        return Replace(_int(row[1], "owner"), _int(row[2], "order_id"), _int(row[3], "price"),
                       _int(row[4], "quantity"), _int(row[5], "now"))
    if kind == "new":
        if type(row[9]) is not bool:
            raise CommandDecodeError(f"post_only must be true or false, not {row[9]!r}")
        return NewOrder(
            _int(row[1], "owner"), _int(row[2], "client_order_id"),
            _enum(Side, row[3], "side"), _int(row[4], "price"), _int(row[5], "quantity"),
            _enum(OrderType, row[6], "order_type"),
            _enum(TimeInForce, row[7], "time_in_force"), _int(row[8], "expire_at"), row[9],
            _enum(SelfTradePrevention, row[10], "stp"), _int(row[11], "reference_price"),
            _int(row[12], "now"))
    if kind == "cancel":
        return Cancel(_int(row[1], "owner"), _int(row[2], "order_id"), _int(row[3], "now"))
    if kind == "mass_cancel":
        side = None if row[2] is None else _enum(Side, row[2], "side")
        return MassCancel(_int(row[1], "owner"), side, _int(row[3], "now"))
    if kind == "end_of_day":
        return EndOfDay(_int(row[1], "now"))
    if kind == "settle":
        return Settle(_int(row[1], "price"), _int(row[2], "now"))
    if kind == "expire":
        return Expire(_int(row[1], "price"), _int(row[2], "now"))
    if kind == "open":
        return Open(_int(row[1], "reference"), _int(row[2], "now"))
    return Tick(_int(row[1], "now"))


# -- the journaled book -------------------------------------------------------------------


def journal(store: SQLLedger, name: str) -> Iterator[tuple[int, Command | ClearingCommand]]:
    """``(seq, command)`` of the book ``name`` 's journal in order, read in pages from one
    snapshot; a :class:`JournalError` for a gap or a row that is not a command."""
    last = 0
    with store._transaction(store._begin_read):  # one snapshot of the journal
        while True:
            rows = store._run(SELECT_PAGE, (name, last, REPLAY_PAGE))
            for seq_value, text in rows:
                seq = int(seq_value)
                if seq != last + 1:
                    raise JournalError(f"exchange journal of book {name!r}: seq {seq} "
                                       f"follows {last} (a gap)")
                try:
                    command = decode_command(str(text))
                except CommandDecodeError as exc:
                    raise JournalError(f"exchange journal of book {name!r}, seq {seq}: "
                                       f"{exc}") from exc
                yield seq, command
                last = seq
            if len(rows) < REPLAY_PAGE:
                return


class JournaledBook:
    """A :class:`~tokenomy.exchange.Book` whose every command is journaled before it applies.

    Read market data from :attr:`book`; change it only through :meth:`apply` or
    :meth:`apply_many` (a command applied to :attr:`book` directly is not journaled, and a
    replay would not see it)."""

    def __init__(self, store: SQLLedger, name: str, book: Book, journaled: int) -> None:
        """Use :meth:`open`: it replays the journal into ``book``."""
        self._store = store
        self.name = name
        self._book = book
        self._journaled = journaled

    @classmethod
    def open(cls, store: SQLLedger, name: str,
             limits: BookLimits = DEFAULT_LIMITS) -> JournaledBook:
        """The book ``name`` rebuilt from its journal (empty when it has none), in order."""
        if not isinstance(name, str) or not 0 < len(name) <= BOOK_NAME_MAX:
            raise ValueError(f"a book name is 1..{BOOK_NAME_MAX} characters, not {name!r}")
        book = Book(limits)
        last = 0
        for seq, command in journal(store, name):
            if not isinstance(command, Settle | Expire | Open):  # the book's commands only
                book.apply(command)
            last = seq
        return cls(store, name, book, last)

    @property
    def book(self) -> Book:
        """The in-memory book (read its market data; apply commands through this object)."""
        return self._book

    @property
    def journaled(self) -> int:
        """The last journaled command's seq in this book's journal (0 before any)."""
        return self._journaled

    def apply(self, command: Command) -> tuple[Event, ...]:
        """Journal ``command`` (durably, one transaction), then apply it; its events."""
        return self.apply_many((command,))[0]

    def apply_many(self, commands: Sequence[Command]) -> list[tuple[Event, ...]]:
        """Journal ``commands`` (1..BATCH_MAX) in ONE durable transaction, then apply each in
        order; their events, per command. When the write fails nothing is applied."""
        if not 0 < len(commands) <= BATCH_MAX:
            raise ValueError(f"a batch is 1..{BATCH_MAX} commands, not {len(commands)}")
        texts = [encode_command(c) for c in commands]  # a non-command fails before any write
        store, first = self._store, self._journaled + 1
        at = store.clock()
        rows = [(self.name, first + i, text, at) for i, text in enumerate(texts)]
        with store._transaction(store._begin_write):
            store._run_many(INSERT, rows)
        self._journaled = first + len(rows) - 1
        apply = self._book.apply
        return [apply(c) for c in commands]


__all__ = [
    "BATCH_MAX",
    "BOOK_NAME_MAX",
    "REPLAY_PAGE",
    "CommandDecodeError",
    "JournalError",
    "JournaledBook",
    "decode_command",
    "encode_command",
    "journal",
]

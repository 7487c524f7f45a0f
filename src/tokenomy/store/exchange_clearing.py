"""Cleared books: a book, its clearing and its journal, moving money in the same transaction.

In: a ledger store (SQLite or PostgreSQL), an :class:`~tokenomy.exchange.contracts.Instrument`
and, for a book opened the first time, its reference price (ticks: the grade's index). Out: a
:class:`ClearedBook` whose :meth:`~ClearedBook.submit` takes one command through
:meth:`Clearing.enter <tokenomy.exchange.clearing.Clearing.enter>` (checks, then the holds:
the ledger refuses a hold beyond the buying power and the command is rejected, journaling
nothing), then journals it, applies it to the book and writes the transfers clearing derives
from its events — all in ONE write transaction. :meth:`~ClearedBook.settle` and
:meth:`~ClearedBook.expire` journal the clearing's own commands the same way.

:meth:`ClearedBook.open` replays the journal: the book and the clearing state (positions,
holds, margin) come back exactly, and nothing is written (the ledger already holds what the
journal's commands moved, with the same derived ids). A failure after the book applied a
command leaves the in-memory state ahead of the store: the object marks itself
:attr:`~ClearedBook.broken` and the caller reopens it (a replay).

Members and money: :func:`ensure_member` creates a member's accounts, :func:`deposit` moves
cash in from the ledger's funding account (or out, negative), :func:`issue_credits` mints
token credits of a grade for a producer, :func:`member_balances` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tokenomy.exchange import Book, Command, Event, MassCancel, Rejected
from tokenomy.exchange.accounts import (
    CASH_LEDGERS,
    CODE_DEPOSIT,
    CODE_ISSUE,
    CREDIT_LEDGERS,
    cash_account,
    credit_account,
    house_accounts,
    issuer_account,
    margin_account,
    member_accounts,
)
from tokenomy.exchange.clearing import (
    Clearing,
    ClearingReject,
    Expire,
    Open,
    Settle,
    Terms,
)
from tokenomy.exchange.contracts import Instrument
from tokenomy.ledger.budgets import derive_id, funding_account_id
from tokenomy.ledger.types import (
    AMOUNT_MAX,
    Account,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
)
from tokenomy.store.exchange_journal import INSERT, JournalError, encode_command, journal
from tokenomy.store.url import StoreError

if TYPE_CHECKING:
    from tokenomy.store.ledger_sql import SQLLedger

OK = CreateTransferResult.OK


class ClearingError(StoreError):
    """The ledger refused a transfer clearing derived (a bug or a tampered ledger)."""


class _Refused(Exception):
    """Rolls the transaction back: the ledger refused an order's hold."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A command's result: the book's events, or the clearing's reason for refusing it."""

    events: tuple[Event, ...] = ()
    reject: ClearingReject | None = None
    transfers: int = 0  # ledger transfers written

    @property
    def rejected(self) -> Rejected | ClearingReject | None:
        if self.reject is not None:
            return self.reject
        return next((e for e in self.events if isinstance(e, Rejected)), None)


def ensure_house(store: SQLLedger) -> None:
    _create(store, house_accounts())


def ensure_member(store: SQLLedger, owner: int) -> None:
    _create(store, member_accounts(owner))


def _create(store: SQLLedger, accounts: list[Account]) -> None:
    results = store.create_accounts(accounts)
    for account, result in zip(accounts, results, strict=True):
        if result not in (CreateAccountResult.OK, CreateAccountResult.EXISTS):
            raise ClearingError(f"exchange account {account}: {result}")


def deposit(store: SQLLedger, owner: int, ledger: int, amount: int,
            deposit_id: str) -> CreateTransferResult:
    """Move ``amount`` (minor units; negative: a withdrawal) between the ledger's funding
    account and the member's cash. Idempotent on ``deposit_id``."""
    if ledger not in CASH_LEDGERS or not 0 < abs(amount) <= AMOUNT_MAX:
        raise ValueError(f"a deposit is 1..{AMOUNT_MAX} minor units on ledger "
                         f"{CASH_LEDGERS}, not {amount} on {ledger}")
    ensure_house(store)
    ensure_member(store, owner)
    funding, cash = funding_account_id(ledger), cash_account(owner, ledger)
    debit, credit = (funding, cash) if amount > 0 else (cash, funding)
    tid = derive_id("exchange-deposit", str(owner), deposit_id)
    return store.create_transfers([Transfer(tid, debit, credit, abs(amount), ledger,
                                            CODE_DEPOSIT)])[0]


def issue_credits(store: SQLLedger, owner: int, grade: str, tokens: int,
                  issue_id: str) -> CreateTransferResult:
    """Mint ``tokens`` credits of ``grade`` for a producer; idempotent on ``issue_id``."""
    if grade not in CREDIT_LEDGERS or not 0 < tokens <= AMOUNT_MAX:
        raise ValueError(f"credits are 1..{AMOUNT_MAX} tokens of a grade in "
                         f"{sorted(CREDIT_LEDGERS)}, not {tokens} of {grade!r}")
    ensure_house(store)
    ensure_member(store, owner)
    tid = derive_id("exchange-issue", grade, str(owner), issue_id)
    return store.create_transfers([Transfer(tid, issuer_account(grade),
                                            credit_account(owner, grade), tokens,
                                            CREDIT_LEDGERS[grade], CODE_ISSUE)])[0]


def member_balances(store: SQLLedger, owner: int) -> dict[str, dict[int | str, tuple[int, ...]]]:
    """``{"cash": {ledger: (posted, held)}, "margin": {ledger: (balance,)},
    "credits": {grade: (posted, held)}}`` for the member (zeros when it has no accounts)."""
    ids = ([cash_account(owner, lg) for lg in CASH_LEDGERS]
           + [margin_account(owner, lg) for lg in CASH_LEDGERS]
           + [credit_account(owner, g) for g in CREDIT_LEDGERS])
    found = {a.id: a for a in store.lookup_accounts(ids)}

    def pair(account_id: int) -> tuple[int, ...]:
        a = found.get(account_id)
        return (0, 0) if a is None else (a.credits_posted - a.debits_posted, a.debits_pending)

    margin = {lg: (pair(margin_account(owner, lg))[0],) for lg in CASH_LEDGERS}
    return {"cash": {lg: pair(cash_account(owner, lg)) for lg in CASH_LEDGERS},
            "margin": margin,  # type: ignore[dict-item]
            "credits": {g: pair(credit_account(owner, g)) for g in CREDIT_LEDGERS}}


class ClearedBook:
    """One instrument's book and clearing, journaled under its symbol."""

    def __init__(self, store: SQLLedger, instrument: Instrument, book: Book,
                 clearing: Clearing, journaled: int) -> None:
        """Use :meth:`open`."""
        self._store = store
        self.instrument = instrument
        self.book = book
        self.clearing = clearing
        self.journaled = journaled
        self.broken = False
        self._members: set[int] = set()

    @property
    def name(self) -> str:
        return self.instrument.symbol

    @classmethod
    def open(cls, store: SQLLedger, instrument: Instrument, reference: int) -> ClearedBook:
        """The book rebuilt from its journal; a new book journals ``Open(reference)``."""
        book, clearing, last = Book(), None, 0
        for last, command in journal(store, instrument.symbol):
            if clearing is None:
                first = command.reference if isinstance(command, Open) else reference
                clearing = Clearing(Terms.of(instrument, first), first)
            _replay(clearing, book, last, command)
        if clearing is not None:
            return cls(store, instrument, book, clearing, last)
        ensure_house(store)
        opened = cls(store, instrument, book, Clearing(Terms.of(instrument, reference),
                                                       reference), 0)
        opened._journal_only(Open(reference))
        return opened

    def _journal_only(self, command: Open) -> None:
        store = self._store
        with store._transaction(store._begin_write):
            store._run_many(INSERT, [(self.name, self.journaled + 1, encode_command(command),
                                      store.clock())])
        self.journaled += 1

    def submit(self, command: Command) -> Outcome:
        """Check, hold, journal, apply and clear ``command`` in one transaction."""
        if self.broken:
            raise StoreError(f"book {self.name} must be reopened after a failure")
        seq = self.journaled + 1
        entry = self.clearing.enter(seq, command, self.book)
        if isinstance(entry, ClearingReject):
            return Outcome(reject=entry)
        owner = getattr(command, "owner", 0)
        if owner and owner not in self._members:
            ensure_member(self._store, owner)
            self._members.add(owner)
        store = self._store
        try:
            with store._transaction(store._begin_write):
                if entry.holds:
                    results = store._apply_transfers(entry.holds)
                    if any(r is not OK for r in results):
                        raise _Refused
                store._run_many(INSERT, [(self.name, seq, encode_command(entry.command),
                                          store.clock())])
                self.broken = True  # until the transaction commits
                before = self.book.seq
                events = self.book.apply(entry.command)
                transfers = self.clearing.clear(seq, entry, events, self.book, before)
                self._write(transfers)
        except _Refused:
            return Outcome(reject=ClearingReject.INSUFFICIENT_BUYING_POWER)
        self.broken = False
        self.journaled = seq
        return Outcome(events, transfers=len(entry.holds) + len(transfers))

    def settle(self, price: int, now: int = 0) -> int:
        """Journal and run the daily settlement at ``price``; transfers written."""
        return self._clearing_command(Settle(price, now))

    def expire(self, price: int, now: int = 0) -> int:
        """Journal and run the final settlement at ``price``; transfers written."""
        return self._clearing_command(Expire(price, now))

    def _clearing_command(self, command: Settle | Expire) -> int:
        if self.broken:
            raise StoreError(f"book {self.name} must be reopened after a failure")
        seq, store = self.journaled + 1, self._store
        with store._transaction(store._begin_write):
            store._run_many(INSERT, [(self.name, seq, encode_command(command),
                                      store.clock())])
            self.broken = True
            transfers = _replay(self.clearing, self.book, seq, command)
            self._write(transfers)
        self.broken = False
        self.journaled = seq
        return len(transfers)

    def _write(self, transfers: list[Transfer]) -> None:
        store = self._store
        for start in range(0, len(transfers), 8_000):
            chunk = transfers[start:start + 8_000]
            for transfer, result in zip(chunk, store._apply_transfers(chunk), strict=True):
                if result is not OK:
                    raise ClearingError(f"book {self.name}: transfer {transfer} refused: "
                                        f"{result}")


def _replay(clearing: Clearing, book: Book, seq: int,
            command: Command | Settle | Expire | Open) -> list[Transfer]:
    """Apply one journaled command to the book and the clearing; its transfers."""
    if isinstance(command, Settle):
        return clearing.settle(seq, command)
    if isinstance(command, Expire):  # resting orders leave the book; expire voids their holds
        for owner in sorted({r.owner for r in book.resting()}):
            book.apply(MassCancel(owner, None, book.now))
        return clearing.expire(seq, command)
    if isinstance(command, Open):
        return []
    entry = clearing.enter(seq, command, book)
    if isinstance(entry, ClearingReject):  # journaled commands passed these checks
        raise JournalError(f"exchange journal seq {seq}: clearing now refuses {entry}")
    before = book.seq
    events = book.apply(entry.command)
    return clearing.clear(seq, entry, events, book, before)


__all__ = [
    "ClearedBook",
    "ClearingError",
    "Outcome",
    "deposit",
    "ensure_house",
    "ensure_member",
    "issue_credits",
    "member_balances",
]

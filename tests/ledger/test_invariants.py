"""``invariants.check`` finds each kind of broken state, and nothing in a sound one.

The sound books (ledger 1; timestamps in ns):

    t1  10  operator(1) → alice(2)     100   posted
    t2  11  alice → provider(3)         30   pending, still reserved
    t3  12  alice → provider            20   pending, then posted by t4 for 15
    t4  13  post t3                     15
    t5  14  alice → provider             5   pending, then voided by t6
    t6  15  void t5                      5
    t7  16  alice → provider             7   pending, expired

    operator: debits_posted 100
    alice (debits_must_not_exceed_credits): debits_pending 30, debits_posted 15,
        credits_posted 100
    provider: credits_pending 30, credits_posted 15
"""

from __future__ import annotations

from dataclasses import replace

from tokenomy.ledger import (
    Account,
    AccountFlags,
    MemoryLedger,
    PendingStatus,
    Transfer,
    TransferFlags,
    check,
)
from tokenomy.ledger.invariants import VIOLATIONS_MAX, recompute

F = TransferFlags
DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CMNED = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS


def t(id: int, ts: int, dr: int, cr: int, amount: int, flags: F = F.NONE,
      pending_id: int = 0) -> Transfer:
    return Transfer(id=id, debit_account_id=dr, credit_account_id=cr, amount=amount,
                    ledger=1, code=1, flags=flags, pending_id=pending_id, timestamp=ts)


def sound() -> tuple[dict[int, Account], list[Transfer], dict[int, PendingStatus]]:
    accounts = {
        1: Account(1, 1, 1, debits_posted=100),
        2: Account(2, 1, 1, DMNEC, debits_pending=30, debits_posted=15, credits_posted=100),
        3: Account(3, 1, 1, credits_pending=30, credits_posted=15),
    }
    journal = [
        t(1, 10, 1, 2, 100),
        t(2, 11, 2, 3, 30, F.PENDING),
        t(3, 12, 2, 3, 20, F.PENDING),
        t(4, 13, 2, 3, 15, F.POST_PENDING_TRANSFER, pending_id=3),
        t(5, 14, 2, 3, 5, F.PENDING),
        t(6, 15, 2, 3, 5, F.VOID_PENDING_TRANSFER, pending_id=5),
        t(7, 16, 2, 3, 7, F.PENDING),
    ]
    pending = {2: PendingStatus.PENDING, 3: PendingStatus.POSTED, 5: PendingStatus.VOIDED,
               7: PendingStatus.EXPIRED}
    return accounts, journal, pending


def test_sound_books_have_no_violation() -> None:
    accounts, journal, pending = sound()
    assert check(accounts.values(), journal, pending) == []


def test_recompute_folds_the_journal() -> None:
    """Only the still-pending reservation counts as pending; posts count as posted."""
    _, journal, pending = sound()
    assert dict(recompute(journal, pending)) == {
        1: [0, 100, 0, 0], 2: [30, 15, 0, 100], 3: [0, 0, 30, 15]}


def test_empty_books_are_sound() -> None:
    assert check([], [], {}) == []


def test_tampered_balance() -> None:
    """Someone adds 1 to the provider's credits_posted, outside the journal."""
    accounts, journal, pending = sound()
    accounts[3] = replace(accounts[3], credits_posted=16)
    problems = check(accounts.values(), journal, pending)
    assert "account 3: stored balances [0, 0, 30, 16] != journal [0, 0, 30, 15]" in problems
    assert "ledger 1: debits_posted 115 != credits_posted 116" in problems
    assert len(problems) == 2


def test_broken_debit_limit() -> None:
    """Alice (debits_must_not_exceed_credits) was made to pay 150 out of 100; journal and
    balances agree, so the limit is the only thing broken."""
    accounts = [Account(1, 1, 1, debits_posted=100),
                Account(2, 1, 1, DMNEC, debits_posted=150, credits_posted=100),
                Account(3, 1, 1, credits_posted=150)]
    journal = [t(1, 10, 1, 2, 100), t(2, 11, 2, 3, 150)]
    assert check(accounts, journal, {}) == ["account 2: debits exceed credits"]


def test_broken_debit_limit_counts_pending() -> None:
    """Posted 90 plus 20 reserved is over alice's 100."""
    accounts = [Account(1, 1, 1, debits_posted=100),
                Account(2, 1, 1, DMNEC, debits_pending=20, debits_posted=90,
                        credits_posted=100),
                Account(3, 1, 1, credits_pending=20, credits_posted=90)]
    journal = [t(1, 10, 1, 2, 100), t(2, 11, 2, 3, 90), t(3, 12, 2, 3, 20, F.PENDING)]
    assert check(accounts, journal, {3: PendingStatus.PENDING}) == [
        "account 2: debits exceed credits"]


def test_broken_credit_limit() -> None:
    """A loan (credits_must_not_exceed_debits) drawn 10 was repaid 25."""
    accounts = [Account(1, 1, 1, debits_posted=25, credits_posted=10),
                Account(4, 1, 1, CMNED, debits_posted=10, credits_posted=25)]
    journal = [t(1, 10, 4, 1, 10), t(2, 11, 1, 4, 25)]
    assert check(accounts, journal, {}) == ["account 4: credits exceed debits"]


def test_unbalanced_ledger() -> None:
    """A transfer from ledger 1 into ledger 2: each account agrees with the journal, but
    neither ledger balances."""
    accounts = [Account(1, 1, 1, debits_posted=5, debits_pending=2),
                Account(9, 2, 1, credits_posted=5, credits_pending=2)]
    journal = [t(1, 10, 1, 9, 5), t(2, 11, 1, 9, 2, F.PENDING)]
    assert check(accounts, journal, {2: PendingStatus.PENDING}) == [
        "ledger 1: debits_pending 2 != credits_pending 0",
        "ledger 1: debits_posted 5 != credits_posted 0",
        "ledger 2: debits_pending 0 != credits_pending 2",
        "ledger 2: debits_posted 0 != credits_posted 5",
    ]


def test_timestamps_out_of_order() -> None:
    """t4 was written with a timestamp before t3's: the journal is not append-only."""
    accounts, journal, pending = sound()
    journal[3] = replace(journal[3], timestamp=11)
    assert check(accounts.values(), journal, pending) == [
        "transfer 4: timestamp 11 not after 12"]


def test_duplicate_timestamps() -> None:
    accounts, journal, pending = sound()
    journal[1] = replace(journal[1], timestamp=10)
    assert check(accounts.values(), journal, pending) == [
        "transfer 2: timestamp 10 not after 10"]


def test_pending_without_status() -> None:
    """Reservation t2 lost its status: it is reported, and its amount no longer folds into
    the balances it still holds."""
    accounts, journal, pending = sound()
    del pending[2]
    problems = check(accounts.values(), journal, pending)
    assert "pending transfer 2 has no status" in problems
    assert "account 2: stored balances [30, 15, 0, 100] != journal [0, 15, 0, 100]" in problems


def test_resolved_pending_still_reserved() -> None:
    """t2 is marked voided but the accounts still hold its 30."""
    accounts, journal, pending = sound()
    pending[2] = PendingStatus.VOIDED
    problems = check(accounts.values(), journal, pending)
    assert [p.split(":")[0] for p in problems] == ["account 2", "account 3"]


def test_transfer_naming_a_missing_account() -> None:
    accounts, journal, pending = sound()
    journal.append(t(8, 17, 1, 404, 1, F.PENDING))
    pending[8] = PendingStatus.VOIDED
    assert check(accounts.values(), journal, pending) == [
        "transfer 8: names an account that does not exist"]


def test_report_is_bounded() -> None:
    """A thoroughly broken ledger reports at most VIOLATIONS_MAX problems."""
    accounts = [Account(i, 1, 1, credits_posted=1) for i in range(1, 3 * VIOLATIONS_MAX)]
    assert len(check(accounts, [], {})) == VIOLATIONS_MAX


def test_memory_ledger_verify_sees_tampering() -> None:
    """The store's verify() runs these checks on its own state."""
    ledger = MemoryLedger(lambda: 1_000_000_000)
    ledger.create_accounts([Account(1, 1, 1), Account(2, 1, 1)])
    ledger.create_transfers([Transfer(10, 1, 2, 50, ledger=1, code=1)])
    assert ledger.verify() == []
    ledger.accounts[2] = replace(ledger.accounts[2], credits_posted=49)
    assert ledger.verify() == [
        "account 2: stored balances [0, 0, 0, 49] != journal [0, 0, 0, 50]",
        "ledger 1: debits_posted 50 != credits_posted 49",
    ]

"""Every result code the ledger can answer, each as a small accounting example.

The books used throughout (ledger 1 is USD in nano-dollars, ledger 2 is EUR):

    1 operator   ledger 1  no limit                         (funds everyone)
    2 alice      ledger 1  debits_must_not_exceed_credits   (a prepaid budget)
    3 provider   ledger 1  no limit                         (an LLM vendor's payable)
    4 loan       ledger 1  credits_must_not_exceed_debits   (a debit-normal account)
    9 eur        ledger 2  no limit

``funded`` also moves 100 from operator to alice, so alice can spend exactly 100.
Each test runs on every store registered in ``conftest.STORES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenomy.ledger import (
    AMOUNT_MAX,
    BATCH_MAX,
    TRANSIENT,
    U128_MAX,
    Account,
    AccountFlags,
    BatchTooLargeError,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.ledger.protocol import LedgerStore

A = CreateAccountResult
R = CreateTransferResult
F = TransferFlags
DMNEC = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CMNED = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS

OPERATOR, ALICE, PROVIDER, LOAN, EUR = 1, 2, 3, 4, 9
MISSING = 404  # an account id that never exists
HALF = 2**127  # two of these overflow a u128


def account(id: int, ledger: int = 1, code: int = 10,
            flags: AccountFlags = AccountFlags.NONE, **fields: int) -> Account:
    return Account(id=id, ledger=ledger, code=code, flags=flags, **fields)  # type: ignore[arg-type]


def transfer(id: int, dr: int = 0, cr: int = 0, amount: int = 0, *, ledger: int = 1,
             code: int = 1, flags: TransferFlags = F.NONE, **fields: int) -> Transfer:
    return Transfer(id=id, debit_account_id=dr, credit_account_id=cr, amount=amount,
                    ledger=ledger, code=code, flags=flags, **fields)  # type: ignore[arg-type]


def post(id: int, pending_id: int, amount: int = AMOUNT_MAX, *,
         flags: TransferFlags = F.NONE, **fields: int) -> Transfer:
    """A post with every optional field left zero (taken from the pending transfer)."""
    return Transfer(id=id, pending_id=pending_id, amount=amount,
                    flags=F.POST_PENDING_TRANSFER | flags, **fields)  # type: ignore[arg-type]


def void(id: int, pending_id: int, amount: int = 0, *,
         flags: TransferFlags = F.NONE, **fields: int) -> Transfer:
    return Transfer(id=id, pending_id=pending_id, amount=amount,
                    flags=F.VOID_PENDING_TRANSFER | flags, **fields)  # type: ignore[arg-type]


def submit(ledger: LedgerStore, *transfers: Transfer) -> list[CreateTransferResult]:
    return ledger.create_transfers(list(transfers))


def balances(ledger: LedgerStore, account_id: int) -> tuple[int, int, int, int]:
    """(debits_pending, debits_posted, credits_pending, credits_posted)."""
    (a,) = ledger.lookup_accounts([account_id])
    return a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted


def state(ledger: LedgerStore) -> list[Account]:
    return ledger.lookup_accounts([OPERATOR, ALICE, PROVIDER, LOAN, EUR, 5, 6, 7, 8])


@pytest.fixture
def books(ledger: LedgerStore) -> Iterator[LedgerStore]:
    """The chart of accounts above; whatever the test does, the invariants hold after it."""
    accounts = [account(OPERATOR), account(ALICE, flags=DMNEC), account(PROVIDER),
                account(LOAN, flags=CMNED), account(EUR, ledger=2)]
    assert ledger.create_accounts(accounts) == [A.OK] * len(accounts)
    yield ledger
    assert ledger.verify() == []


@pytest.fixture
def funded(books: LedgerStore) -> LedgerStore:
    assert submit(books, transfer(1, OPERATOR, ALICE, 100)) == [R.OK]
    return books


# -- accounts --------------------------------------------------------------------------------


def test_account_ok(ledger: LedgerStore) -> None:
    """A new account starts with four zero balances and a ledger timestamp."""
    assert ledger.create_accounts([account(1, user_data_64=7)]) == [A.OK]
    (a,) = ledger.lookup_accounts([1])
    assert (a.ledger, a.code, a.user_data_64) == (1, 10, 7)
    assert (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted) == (0,) * 4
    assert a.timestamp > 0


def test_account_exists(ledger: LedgerStore) -> None:
    """Creating the same account twice: the replay answers ``exists`` and changes nothing."""
    assert ledger.create_accounts([account(1, flags=DMNEC)]) == [A.OK]
    before = ledger.lookup_accounts([1])
    assert ledger.create_accounts([account(1, flags=DMNEC)]) == [A.EXISTS]
    assert ledger.lookup_accounts([1]) == before


@pytest.mark.parametrize(("change", "result"), [
    ({"flags": CMNED}, A.EXISTS_WITH_DIFFERENT_FLAGS),
    ({"user_data_128": 1}, A.EXISTS_WITH_DIFFERENT_USER_DATA_128),
    ({"user_data_64": 1}, A.EXISTS_WITH_DIFFERENT_USER_DATA_64),
    ({"user_data_32": 1}, A.EXISTS_WITH_DIFFERENT_USER_DATA_32),
    ({"ledger": 2}, A.EXISTS_WITH_DIFFERENT_LEDGER),
    ({"code": 11}, A.EXISTS_WITH_DIFFERENT_CODE),
], ids=lambda v: v if isinstance(v, str) else None)
def test_account_exists_with_different(ledger: LedgerStore, change: dict[str, int],
                                       result: A) -> None:
    """Account 1 (ledger 1, code 10, no flags) replayed with one field changed."""
    assert ledger.create_accounts([account(1)]) == [A.OK]
    fields = {"ledger": 1, "code": 10, "flags": AccountFlags.NONE} | change
    assert ledger.create_accounts([Account(id=1, **fields)]) == [result]  # type: ignore[arg-type]
    assert ledger.lookup_accounts([1])[0].code == 10


@pytest.mark.parametrize(("bad", "result"), [
    (account(1, flags=DMNEC | CMNED), A.FLAGS_ARE_MUTUALLY_EXCLUSIVE),
    (account(1, flags=AccountFlags.IMPORTED), A.RESERVED_FLAG),
    (account(0), A.ID_MUST_NOT_BE_ZERO),
    (account(U128_MAX), A.ID_MUST_NOT_BE_INT_MAX),
    (account(1, debits_pending=1), A.DEBITS_PENDING_MUST_BE_ZERO),
    (account(1, debits_posted=1), A.DEBITS_POSTED_MUST_BE_ZERO),
    (account(1, credits_pending=1), A.CREDITS_PENDING_MUST_BE_ZERO),
    (account(1, credits_posted=1), A.CREDITS_POSTED_MUST_BE_ZERO),
    (account(1, ledger=0), A.LEDGER_MUST_NOT_BE_ZERO),
    (account(1, code=0), A.CODE_MUST_NOT_BE_ZERO),
], ids=lambda v: v if isinstance(v, str) else None)
def test_account_refused(ledger: LedgerStore, bad: Account, result: A) -> None:
    """A malformed account is refused with its reason and not created."""
    assert ledger.create_accounts([bad]) == [result]
    assert ledger.lookup_accounts([bad.id]) == []


def test_account_linked_chain_is_all_or_nothing(ledger: LedgerStore) -> None:
    """Accounts 1 and 2 are linked to a malformed 3 (code 0): none is created; 4, outside
    the chain, is."""
    batch = [account(1, flags=AccountFlags.LINKED), account(2, flags=AccountFlags.LINKED),
             account(3, code=0), account(4)]
    assert ledger.create_accounts(batch) == [
        A.LINKED_EVENT_FAILED, A.LINKED_EVENT_FAILED, A.CODE_MUST_NOT_BE_ZERO, A.OK]
    assert [a.id for a in ledger.lookup_accounts([1, 2, 3, 4])] == [4]


def test_account_chain_open(ledger: LedgerStore) -> None:
    """A batch ending in ``linked`` leaves its chain open: the chain is refused."""
    batch = [account(1), account(2, flags=AccountFlags.LINKED),
             account(3, flags=AccountFlags.LINKED)]
    assert ledger.create_accounts(batch) == [
        A.OK, A.LINKED_EVENT_FAILED, A.LINKED_EVENT_CHAIN_OPEN]
    assert [a.id for a in ledger.lookup_accounts([1, 2, 3])] == [1]


def test_account_chain_open_after_a_failure(ledger: LedgerStore) -> None:
    """TigerBeetle gives the batch's last event ``linked_event_chain_open`` whatever happened
    earlier in its chain (reference_model.zig checks it before anything else)."""
    batch = [account(1, code=0, flags=AccountFlags.LINKED),
             account(2, flags=AccountFlags.LINKED)]
    assert ledger.create_accounts(batch) == [
        A.CODE_MUST_NOT_BE_ZERO, A.LINKED_EVENT_CHAIN_OPEN]


def test_account_batch_over_limit_raises(ledger: LedgerStore) -> None:
    """8,191 accounts in one batch is a programmer error, and nothing is created."""
    with pytest.raises(BatchTooLargeError):
        ledger.create_accounts([account(i) for i in range(1, BATCH_MAX + 2)])
    assert ledger.lookup_accounts([1]) == []


# -- transfers: the plain case and replays ---------------------------------------------------


def test_ok(books: LedgerStore) -> None:
    """operator → provider 30: debits_posted and credits_posted move together."""
    assert submit(books, transfer(10, OPERATOR, PROVIDER, 30, user_data_32=5)) == [R.OK]
    assert balances(books, OPERATOR) == (0, 30, 0, 0)
    assert balances(books, PROVIDER) == (0, 0, 0, 30)
    (t,) = books.lookup_transfers([10])
    assert (t.amount, t.user_data_32) == (30, 5)
    assert t.timestamp > books.lookup_accounts([PROVIDER])[0].timestamp


def test_exists(funded: LedgerStore) -> None:
    """A retry of transfer 1 (operator → alice 100) answers ``exists`` and moves nothing."""
    before = state(funded)
    assert submit(funded, transfer(1, OPERATOR, ALICE, 100)) == [R.EXISTS]
    assert state(funded) == before


@pytest.mark.parametrize(("change", "result"), [
    ({"flags": F.PENDING}, R.EXISTS_WITH_DIFFERENT_FLAGS),
    ({"pending_id": 7}, R.EXISTS_WITH_DIFFERENT_PENDING_ID),
    ({"timeout": 1}, R.EXISTS_WITH_DIFFERENT_TIMEOUT),
    ({"dr": PROVIDER}, R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
    ({"cr": PROVIDER}, R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
    ({"amount": 99}, R.EXISTS_WITH_DIFFERENT_AMOUNT),
    ({"user_data_128": 1}, R.EXISTS_WITH_DIFFERENT_USER_DATA_128),
    ({"user_data_64": 1}, R.EXISTS_WITH_DIFFERENT_USER_DATA_64),
    ({"user_data_32": 1}, R.EXISTS_WITH_DIFFERENT_USER_DATA_32),
    ({"ledger": 2}, R.EXISTS_WITH_DIFFERENT_LEDGER),
    ({"code": 2}, R.EXISTS_WITH_DIFFERENT_CODE),
], ids=lambda v: v if isinstance(v, str) else None)
def test_exists_with_different(funded: LedgerStore, change: dict[str, int], result: R) -> None:
    """Transfer 1 (operator → alice 100) replayed with one field changed: refused, and the
    first transfer stands unchanged."""
    before = state(funded)
    fields: dict[str, int] = {"dr": OPERATOR, "cr": ALICE, "amount": 100} | change
    assert submit(funded, transfer(1, **fields)) == [result]
    assert state(funded) == before
    assert funded.lookup_transfers([1])[0].amount == 100


@pytest.fixture
def reserved(funded: LedgerStore) -> LedgerStore:
    """Transfer 2: alice reserves 60 for the provider (an LLM call's maximum cost)."""
    assert submit(funded, transfer(2, ALICE, PROVIDER, 60, flags=F.PENDING)) == [R.OK]
    assert balances(funded, ALICE) == (60, 0, 0, 100)
    return funded


def test_post_replay_with_zero_fields_exists(reserved: LedgerStore) -> None:
    """Post 3 captures 25 of the reservation with accounts, ledger and code left zero; its
    retry, zeros and all, or spelled out in full, answers ``exists``."""
    assert submit(reserved, post(3, 2, 25)) == [R.OK]
    before = state(reserved)
    assert submit(reserved, post(3, 2, 25)) == [R.EXISTS]
    full = Transfer(id=3, debit_account_id=ALICE, credit_account_id=PROVIDER, amount=25,
                    pending_id=2, ledger=1, code=1, flags=F.POST_PENDING_TRANSFER)
    assert submit(reserved, full) == [R.EXISTS]
    assert submit(reserved, post(3, 2, 26)) == [R.EXISTS_WITH_DIFFERENT_AMOUNT]
    assert submit(reserved, post(3, 2, 25, debit_account_id=OPERATOR)) == [
        R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID]
    assert submit(reserved, post(3, 2, 25, code=2)) == [R.EXISTS_WITH_DIFFERENT_CODE]
    assert submit(reserved, void(3, 2)) == [R.EXISTS_WITH_DIFFERENT_FLAGS]
    assert state(reserved) == before


def test_post_full_replay_exists(reserved: LedgerStore) -> None:
    """A full post (AMOUNT_MAX) replayed as AMOUNT_MAX, or as the amount it captured."""
    assert submit(reserved, post(3, 2)) == [R.OK]
    assert submit(reserved, post(3, 2)) == [R.EXISTS]
    assert submit(reserved, post(3, 2, 60)) == [R.EXISTS]


def test_void_replay_with_explicit_amount_exists(reserved: LedgerStore) -> None:
    """Void 3 names the pending amount (60); its retry answers ``exists``."""
    assert submit(reserved, void(3, 2, 60)) == [R.OK]
    assert submit(reserved, void(3, 2, 60)) == [R.EXISTS]


def test_void_replay_with_zero_amount_exists(reserved: LedgerStore) -> None:
    """Void 3 leaves amount 0 ("the pending amount"), as TigerBeetle's clients do; the client
    retries the very same void. TigerBeetle resolves 0 to the pending amount before comparing
    (reference_model.zig ``compare_transfer``/``resolution_amount``): ``exists``."""
    assert submit(reserved, void(3, 2)) == [R.OK]
    assert submit(reserved, void(3, 2)) == [R.EXISTS]


def test_partial_post_replayed_as_full_is_a_different_amount(reserved: LedgerStore) -> None:
    """Post 3 captured 25 of 60. A 'retry' asking for the full amount (AMOUNT_MAX) is not the
    same request: TigerBeetle resolves AMOUNT_MAX to 60 and answers
    ``exists_with_different_amount``."""
    assert submit(reserved, post(3, 2, 25)) == [R.OK]
    assert submit(reserved, post(3, 2)) == [R.EXISTS_WITH_DIFFERENT_AMOUNT]


def test_post_inherits_user_data_from_the_pending(funded: LedgerStore) -> None:
    """Pending 2 carries user_data_128 = 77 (the request id); post 3 leaves it zero. In
    TigerBeetle the post records 77, and a replay naming 77 answers ``exists``."""
    assert submit(funded, transfer(2, ALICE, PROVIDER, 60, flags=F.PENDING,
                                   user_data_128=77)) == [R.OK]
    assert submit(funded, post(3, 2, 25)) == [R.OK]
    assert funded.lookup_transfers([3])[0].user_data_128 == 77
    assert submit(funded, post(3, 2, 25, user_data_128=77)) == [R.EXISTS]


def test_balancing_replay_exists(funded: LedgerStore) -> None:
    """A balancing transfer asked for 150 and moved 100; the same request again: ``exists``."""
    assert submit(funded, transfer(3, ALICE, PROVIDER, 150, flags=F.BALANCING_DEBIT)) == [R.OK]
    assert submit(funded, transfer(3, ALICE, PROVIDER, 150, flags=F.BALANCING_DEBIT)) == [
        R.EXISTS]


def test_balancing_replay_asking_less_than_moved(funded: LedgerStore) -> None:
    """It moved 100; a replay asking for at most 40 could not have moved 100. TigerBeetle:
    ``exists_with_different_amount`` when the replay's amount < the recorded amount."""
    assert submit(funded, transfer(3, ALICE, PROVIDER, 150, flags=F.BALANCING_DEBIT)) == [R.OK]
    assert submit(funded, transfer(3, ALICE, PROVIDER, 40, flags=F.BALANCING_DEBIT)) == [
        R.EXISTS_WITH_DIFFERENT_AMOUNT]


# -- retired ids -----------------------------------------------------------------------------


def test_id_already_failed_after_exceeds_credits(funded: LedgerStore) -> None:
    """Alice (100) tries to pay 150: ``exceeds_credits``, and id 5 is retired. After the
    operator tops her up by 100 the same id still answers ``id_already_failed``; a new id
    goes through."""
    assert submit(funded, transfer(5, ALICE, PROVIDER, 150)) == [R.EXCEEDS_CREDITS]
    assert submit(funded, transfer(6, OPERATOR, ALICE, 100)) == [R.OK]
    assert submit(funded, transfer(5, ALICE, PROVIDER, 150)) == [R.ID_ALREADY_FAILED]
    assert funded.lookup_transfers([5]) == []
    assert submit(funded, transfer(7, ALICE, PROVIDER, 150)) == [R.OK]
    assert balances(funded, ALICE) == (0, 150, 0, 200)


def test_a_validation_failure_does_not_retire_the_id(funded: LedgerStore) -> None:
    """Id 5 sent with amount 0 is malformed, not transient: corrected, the same id succeeds."""
    assert submit(funded, transfer(5, ALICE, PROVIDER, 0)) == [R.AMOUNT_MUST_NOT_BE_ZERO]
    assert submit(funded, transfer(5, ALICE, PROVIDER, 10)) == [R.OK]


@pytest.mark.parametrize(("first", "result"), [
    (transfer(5, MISSING, PROVIDER, 1), R.DEBIT_ACCOUNT_NOT_FOUND),
    (transfer(5, OPERATOR, MISSING, 1), R.CREDIT_ACCOUNT_NOT_FOUND),
    (post(5, 404), R.PENDING_TRANSFER_NOT_FOUND),
    (transfer(5, OPERATOR, LOAN, 1), R.EXCEEDS_DEBITS),
], ids=lambda v: v if isinstance(v, str) else None)
def test_every_transient_failure_retires_the_id(funded: LedgerStore, first: Transfer,
                                                result: R) -> None:
    """A transient failure retires its id, whatever the retry carries."""
    assert result in TRANSIENT
    assert submit(funded, first) == [result]
    assert submit(funded, transfer(5, OPERATOR, PROVIDER, 1)) == [R.ID_ALREADY_FAILED]


# -- shape of a transfer ---------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "result"), [
    (transfer(5, OPERATOR, PROVIDER, 1, flags=F.CLOSING_DEBIT | F.PENDING), R.RESERVED_FLAG),
    (transfer(5, OPERATOR, PROVIDER, 1, flags=F.IMPORTED), R.RESERVED_FLAG),
    (transfer(0, OPERATOR, PROVIDER, 1), R.ID_MUST_NOT_BE_ZERO),
    (transfer(U128_MAX, OPERATOR, PROVIDER, 1), R.ID_MUST_NOT_BE_INT_MAX),
    (transfer(5, 0, PROVIDER, 1), R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO),
    (transfer(5, U128_MAX, PROVIDER, 1), R.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX),
    (transfer(5, OPERATOR, 0, 1), R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO),
    (transfer(5, OPERATOR, U128_MAX, 1), R.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX),
    (transfer(5, OPERATOR, OPERATOR, 1), R.ACCOUNTS_MUST_BE_DIFFERENT),
    (transfer(5, OPERATOR, PROVIDER, 1, pending_id=1), R.PENDING_ID_MUST_BE_ZERO),
    (transfer(5, OPERATOR, PROVIDER, 1, timeout=60), R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER),
    (transfer(5, OPERATOR, PROVIDER, 0), R.AMOUNT_MUST_NOT_BE_ZERO),
    (transfer(5, OPERATOR, PROVIDER, 0, flags=F.PENDING), R.AMOUNT_MUST_NOT_BE_ZERO),
    (transfer(5, OPERATOR, PROVIDER, 1, ledger=0), R.LEDGER_MUST_NOT_BE_ZERO),
    (transfer(5, OPERATOR, PROVIDER, 1, code=0), R.CODE_MUST_NOT_BE_ZERO),
    (transfer(5, OPERATOR, EUR, 1), R.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER),
    (transfer(5, OPERATOR, PROVIDER, 1, ledger=2),
     R.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS),
    (transfer(5, MISSING, PROVIDER, 1), R.DEBIT_ACCOUNT_NOT_FOUND),
    (transfer(5, OPERATOR, MISSING, 1), R.CREDIT_ACCOUNT_NOT_FOUND),
], ids=lambda v: v if isinstance(v, str) else None)
def test_transfer_refused(funded: LedgerStore, bad: Transfer, result: R) -> None:
    """operator → provider with one thing wrong: refused with its reason, nothing moves."""
    before = state(funded)
    assert submit(funded, bad) == [result]
    assert state(funded) == before
    assert funded.lookup_transfers([bad.id]) == []


@pytest.mark.parametrize("flags", [
    F.PENDING | F.POST_PENDING_TRANSFER,
    F.PENDING | F.VOID_PENDING_TRANSFER,
    F.POST_PENDING_TRANSFER | F.VOID_PENDING_TRANSFER,
    F.BALANCING_DEBIT | F.POST_PENDING_TRANSFER,
    F.BALANCING_CREDIT | F.VOID_PENDING_TRANSFER,
], ids=lambda f: "|".join(n for n in (f.name or "").lower().split("|")))
def test_flags_are_mutually_exclusive(reserved: LedgerStore, flags: TransferFlags) -> None:
    """Reserve-and-resolve, post-and-void, balance-and-resolve: one transfer cannot."""
    t = Transfer(id=5, debit_account_id=ALICE, credit_account_id=PROVIDER, amount=1,
                 pending_id=2, ledger=1, code=1, flags=flags)
    assert submit(reserved, t) == [R.FLAGS_ARE_MUTUALLY_EXCLUSIVE]
    assert balances(reserved, ALICE) == (60, 0, 0, 100)


# -- two-phase: post, void, expire -----------------------------------------------------------


@pytest.mark.parametrize(("bad", "result"), [
    (post(5, 0), R.PENDING_ID_MUST_NOT_BE_ZERO),
    (post(5, U128_MAX), R.PENDING_ID_MUST_NOT_BE_INT_MAX),
    (post(5, 5), R.PENDING_ID_MUST_BE_DIFFERENT),
    (post(5, 2, timeout=1), R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER),
    (post(5, 404), R.PENDING_TRANSFER_NOT_FOUND),
    (post(5, 1), R.PENDING_TRANSFER_NOT_PENDING),
    (post(5, 2, debit_account_id=OPERATOR), R.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID),
    (post(5, 2, credit_account_id=OPERATOR),
     R.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID),
    (post(5, 2, ledger=2), R.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER),
    (post(5, 2, code=2), R.PENDING_TRANSFER_HAS_DIFFERENT_CODE),
    (post(5, 2, 61), R.EXCEEDS_PENDING_TRANSFER_AMOUNT),
    (void(5, 2, 59), R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT),
], ids=lambda v: v if isinstance(v, str) else None)
def test_resolution_refused(reserved: LedgerStore, bad: Transfer, result: R) -> None:
    """Resolving alice's reservation (transfer 2, 60) the wrong way: refused, still reserved."""
    assert submit(reserved, bad) == [result]
    assert balances(reserved, ALICE) == (60, 0, 0, 100)
    assert submit(reserved, post(6, 2)) == [R.OK]  # the reservation is intact


def test_post_partial_captures_and_releases_the_rest(reserved: LedgerStore) -> None:
    """The call cost 25 of the 60 reserved: 25 is posted, 35 goes back to alice."""
    assert submit(reserved, post(3, 2, 25)) == [R.OK]
    assert balances(reserved, ALICE) == (0, 25, 0, 100)
    assert balances(reserved, PROVIDER) == (0, 0, 0, 25)
    (t,) = reserved.lookup_transfers([3])
    assert (t.debit_account_id, t.credit_account_id, t.amount, t.ledger, t.code) == (
        ALICE, PROVIDER, 25, 1, 1)


def test_post_amount_max_captures_everything(reserved: LedgerStore) -> None:
    """AMOUNT_MAX means "the full pending amount": all 60 is posted."""
    assert submit(reserved, post(3, 2, AMOUNT_MAX)) == [R.OK]
    assert balances(reserved, ALICE) == (0, 60, 0, 100)
    assert reserved.lookup_transfers([3])[0].amount == 60


def test_exceeds_pending_transfer_amount(reserved: LedgerStore) -> None:
    """The call cost 61 but only 60 was reserved: the post is refused."""
    assert submit(reserved, post(3, 2, 61)) == [R.EXCEEDS_PENDING_TRANSFER_AMOUNT]
    assert balances(reserved, ALICE) == (60, 0, 0, 100)


def test_void_above_the_pending_amount_exceeds_it(reserved: LedgerStore) -> None:
    """TigerBeetle checks ``amount > pending.amount`` (``exceeds_pending_transfer_amount``)
    for posts and voids alike, before the void-only ``pending_transfer_has_different_amount``."""
    assert submit(reserved, void(3, 2, 61)) == [R.EXCEEDS_PENDING_TRANSFER_AMOUNT]


def test_void_releases_everything(reserved: LedgerStore) -> None:
    """The call failed: void 3 gives alice her 60 back; nothing is posted."""
    assert submit(reserved, void(3, 2)) == [R.OK]
    assert balances(reserved, ALICE) == (0, 0, 0, 100)
    assert balances(reserved, PROVIDER) == (0, 0, 0, 0)


def test_void_with_a_different_amount(reserved: LedgerStore) -> None:
    """A void releases all or nothing: 59 of 60 is refused."""
    assert submit(reserved, void(3, 2, 59)) == [R.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT]
    assert balances(reserved, ALICE) == (60, 0, 0, 100)


def test_pending_transfer_already_posted(reserved: LedgerStore) -> None:
    """Posted once; a second post or a void of the same reservation is refused."""
    assert submit(reserved, post(3, 2, 25)) == [R.OK]
    assert submit(reserved, post(4, 2, 10)) == [R.PENDING_TRANSFER_ALREADY_POSTED]
    assert submit(reserved, void(5, 2)) == [R.PENDING_TRANSFER_ALREADY_POSTED]
    assert balances(reserved, ALICE) == (0, 25, 0, 100)


def test_pending_transfer_already_voided(reserved: LedgerStore) -> None:
    """Voided once; a post or a second void of the same reservation is refused."""
    assert submit(reserved, void(3, 2)) == [R.OK]
    assert submit(reserved, post(4, 2)) == [R.PENDING_TRANSFER_ALREADY_VOIDED]
    assert submit(reserved, void(5, 2)) == [R.PENDING_TRANSFER_ALREADY_VOIDED]
    assert balances(reserved, ALICE) == (0, 0, 0, 100)


def test_post_before_the_timeout(funded: LedgerStore, clock) -> None:  # type: ignore[no-untyped-def]
    """A 10 s reservation posted after 9 s is still good."""
    assert submit(funded, transfer(2, ALICE, PROVIDER, 60, flags=F.PENDING, timeout=10)) == [
        R.OK]
    clock.advance(9)
    assert funded.expire_pending() == 0
    assert submit(funded, post(3, 2)) == [R.OK]
    assert balances(funded, ALICE) == (0, 60, 0, 100)


def test_pending_transfer_expired_at_the_next_batch(funded: LedgerStore,
                                                    clock) -> None:  # type: ignore[no-untyped-def]
    """A 2 s reservation is abandoned. 3 s later the next batch first releases it, then
    refuses to post it: ``pending_transfer_expired``."""
    assert submit(funded, transfer(2, ALICE, PROVIDER, 60, flags=F.PENDING, timeout=2)) == [
        R.OK]
    assert balances(funded, ALICE) == (60, 0, 0, 100)
    clock.advance(3)
    assert submit(funded, post(3, 2)) == [R.PENDING_TRANSFER_EXPIRED]
    assert balances(funded, ALICE) == (0, 0, 0, 100)
    assert balances(funded, PROVIDER) == (0, 0, 0, 0)
    assert submit(funded, void(4, 2)) == [R.PENDING_TRANSFER_EXPIRED]


def test_expire_pending_releases_the_reservation(funded: LedgerStore,
                                                 clock) -> None:  # type: ignore[no-untyped-def]
    """The sweeper: after 3 s, ``expire_pending()`` releases the 2 s reservation (and only
    it, not the 60 s one); a second sweep finds nothing."""
    assert submit(funded, transfer(2, ALICE, PROVIDER, 60, flags=F.PENDING, timeout=2),
                  transfer(3, ALICE, PROVIDER, 30, flags=F.PENDING, timeout=60)) == [R.OK] * 2
    clock.advance(1)
    assert funded.expire_pending() == 0
    clock.advance(2)
    assert funded.expire_pending() == 1
    assert balances(funded, ALICE) == (30, 0, 0, 100)
    assert funded.expire_pending() == 0
    assert submit(funded, post(4, 2)) == [R.PENDING_TRANSFER_EXPIRED]
    assert submit(funded, post(5, 3)) == [R.OK]
    assert balances(funded, ALICE) == (0, 30, 0, 100)


def test_a_pending_transfer_without_timeout_never_expires(funded: LedgerStore,
                                                          clock) -> None:  # type: ignore[no-untyped-def]
    """Timeout 0 means "no timeout": a year later the reservation is still there."""
    assert submit(funded, transfer(2, ALICE, PROVIDER, 60, flags=F.PENDING)) == [R.OK]
    clock.advance(365 * 24 * 3600)
    assert funded.expire_pending() == 0
    assert submit(funded, post(3, 2)) == [R.OK]


# -- linked chains ---------------------------------------------------------------------------


def test_linked_chain_is_all_or_nothing(funded: LedgerStore) -> None:
    """Alice pays the provider 60 plus a 50 fee to the operator, as one linked chain, with
    only 100: the fee fails and the 60 is undone; the transfer after the chain stands."""
    results = submit(funded,
                     transfer(5, ALICE, PROVIDER, 60, flags=F.LINKED),
                     transfer(6, ALICE, OPERATOR, 50, flags=F.LINKED),
                     transfer(7, OPERATOR, PROVIDER, 1, flags=F.LINKED),
                     transfer(8, OPERATOR, PROVIDER, 2),
                     transfer(9, OPERATOR, PROVIDER, 3))
    assert results == [R.LINKED_EVENT_FAILED, R.EXCEEDS_CREDITS, R.LINKED_EVENT_FAILED,
                       R.LINKED_EVENT_FAILED, R.OK]
    assert funded.lookup_transfers([5, 6, 7, 8]) == []
    assert balances(funded, ALICE) == (0, 0, 0, 100)
    assert balances(funded, PROVIDER) == (0, 0, 0, 3)
    assert submit(funded, transfer(5, ALICE, PROVIDER, 60)) == [R.OK]  # not retired


def test_linked_chain_state_after_failure_equals_state_before(reserved: LedgerStore) -> None:
    """A chain that posts the reservation, reserves more and moves money, then fails on its
    last event, leaves every balance and every status exactly as it was."""
    before = state(reserved)
    results = submit(reserved,
                     post(5, 2, 25, flags=F.LINKED),
                     transfer(6, ALICE, PROVIDER, 10, flags=F.PENDING | F.LINKED),
                     transfer(7, OPERATOR, ALICE, 40, flags=F.LINKED),
                     transfer(8, ALICE, PROVIDER, 1000))
    assert results == [R.LINKED_EVENT_FAILED] * 3 + [R.EXCEEDS_CREDITS]
    assert state(reserved) == before
    assert reserved.lookup_transfers([5, 6, 7, 8]) == []
    assert submit(reserved, post(9, 2)) == [R.OK]  # the reservation is still pending


def test_linked_chain_succeeds_whole(funded: LedgerStore) -> None:
    """Cost 60 to the provider and a 10 fee to the operator, linked: both land."""
    assert submit(funded, transfer(5, ALICE, PROVIDER, 60, flags=F.LINKED),
                  transfer(6, ALICE, OPERATOR, 10)) == [R.OK, R.OK]
    assert balances(funded, ALICE) == (0, 70, 0, 100)


def test_linked_event_chain_open(funded: LedgerStore) -> None:
    """The batch's last event is ``linked``: its chain never closes and is refused."""
    results = submit(funded, transfer(5, OPERATOR, PROVIDER, 1),
                     transfer(6, OPERATOR, PROVIDER, 2, flags=F.LINKED),
                     transfer(7, OPERATOR, PROVIDER, 3, flags=F.LINKED))
    assert results == [R.OK, R.LINKED_EVENT_FAILED, R.LINKED_EVENT_CHAIN_OPEN]
    assert [t.id for t in funded.lookup_transfers([5, 6, 7])] == [5]
    assert balances(funded, PROVIDER) == (0, 0, 0, 1)


def test_linked_event_chain_open_after_a_failure(funded: LedgerStore) -> None:
    """TigerBeetle marks the batch's last linked event ``linked_event_chain_open`` before
    anything else, even when an earlier event of the chain already failed."""
    results = submit(funded, transfer(5, OPERATOR, PROVIDER, 0, flags=F.LINKED),
                     transfer(6, OPERATOR, PROVIDER, 2, flags=F.LINKED))
    assert results == [R.AMOUNT_MUST_NOT_BE_ZERO, R.LINKED_EVENT_CHAIN_OPEN]


def test_exists_inside_a_chain_fails_the_chain(funded: LedgerStore) -> None:
    """Transfer 1 already exists: linked to a new transfer, the chain is not applied."""
    results = submit(funded, transfer(5, OPERATOR, PROVIDER, 7, flags=F.LINKED),
                     transfer(1, OPERATOR, ALICE, 100))
    assert results == [R.LINKED_EVENT_FAILED, R.EXISTS]
    assert funded.lookup_transfers([5]) == []


def test_transient_failure_in_a_chain_retires_only_the_failing_id(funded: LedgerStore) -> None:
    """The chain fails on 6 (exceeds_credits): 6 is retired, 5 can be sent again."""
    assert submit(funded, transfer(5, OPERATOR, PROVIDER, 1, flags=F.LINKED),
                  transfer(6, ALICE, PROVIDER, 500)) == [R.LINKED_EVENT_FAILED,
                                                         R.EXCEEDS_CREDITS]
    assert submit(funded, transfer(5, OPERATOR, PROVIDER, 1),
                  transfer(6, ALICE, PROVIDER, 5)) == [R.OK, R.ID_ALREADY_FAILED]


# -- limits and balancing --------------------------------------------------------------------


def test_debits_must_not_exceed_credits_counts_pending(funded: LedgerStore) -> None:
    """Alice has 100 and 80 reserved: 30 more is refused, 20 goes through (to exactly 0)."""
    assert submit(funded, transfer(5, ALICE, PROVIDER, 80, flags=F.PENDING)) == [R.OK]
    assert submit(funded, transfer(6, ALICE, PROVIDER, 30)) == [R.EXCEEDS_CREDITS]
    assert submit(funded, transfer(7, ALICE, PROVIDER, 30, flags=F.PENDING)) == [
        R.EXCEEDS_CREDITS]
    assert submit(funded, transfer(8, ALICE, PROVIDER, 20)) == [R.OK]
    assert funded.lookup_accounts([ALICE])[0].available_credit == 0


def test_credits_must_not_exceed_debits_counts_pending(books: LedgerStore) -> None:
    """The loan was drawn 100 (debited); 80 of repayment is pending: 30 more is refused."""
    assert submit(books, transfer(5, LOAN, OPERATOR, 100)) == [R.OK]
    assert submit(books, transfer(6, OPERATOR, LOAN, 80, flags=F.PENDING)) == [R.OK]
    assert submit(books, transfer(7, OPERATOR, LOAN, 30)) == [R.EXCEEDS_DEBITS]
    assert submit(books, transfer(8, OPERATOR, LOAN, 20)) == [R.OK]
    assert balances(books, LOAN) == (0, 100, 80, 20)


def test_balancing_debit_moves_at_most_what_is_available(funded: LedgerStore) -> None:
    """Alice has 100 with 30 reserved; "sweep up to 500" moves the 70 available."""
    assert submit(funded, transfer(5, ALICE, PROVIDER, 30, flags=F.PENDING)) == [R.OK]
    assert submit(funded, transfer(6, ALICE, PROVIDER, 500, flags=F.BALANCING_DEBIT)) == [
        R.OK]
    assert funded.lookup_transfers([6])[0].amount == 70
    assert balances(funded, ALICE) == (30, 70, 0, 100)


def test_balancing_debit_moves_the_request_when_less(funded: LedgerStore) -> None:
    """Asking for 40 of 100 available moves 40."""
    assert submit(funded, transfer(6, ALICE, PROVIDER, 40, flags=F.BALANCING_DEBIT)) == [R.OK]
    assert funded.lookup_transfers([6])[0].amount == 40


def test_balancing_credit_moves_at_most_what_is_available(books: LedgerStore) -> None:
    """The loan was drawn 100 with 30 of repayment pending; repay "up to 500" moves 70."""
    assert submit(books, transfer(5, LOAN, OPERATOR, 100)) == [R.OK]
    assert submit(books, transfer(6, OPERATOR, LOAN, 30, flags=F.PENDING)) == [R.OK]
    assert submit(books, transfer(7, OPERATOR, LOAN, 500, flags=F.BALANCING_CREDIT)) == [R.OK]
    assert books.lookup_transfers([7])[0].amount == 70
    assert balances(books, LOAN) == (0, 100, 30, 70)


def test_closed_accounts(books: LedgerStore) -> None:
    """Account 5 was created closed: it can be neither debited nor credited."""
    assert books.create_accounts([account(5, flags=AccountFlags.CLOSED)]) == [A.OK]
    assert submit(books, transfer(6, 5, OPERATOR, 1)) == [R.DEBIT_ACCOUNT_ALREADY_CLOSED]
    assert submit(books, transfer(7, OPERATOR, 5, 1)) == [R.CREDIT_ACCOUNT_ALREADY_CLOSED]
    assert balances(books, 5) == (0, 0, 0, 0)


# -- overflows -------------------------------------------------------------------------------


def test_overflows_debits_pending(books: LedgerStore) -> None:
    """The operator has reserved AMOUNT_MAX already: one more reserved unit overflows."""
    assert submit(books, transfer(5, OPERATOR, PROVIDER, U128_MAX, flags=F.PENDING)) == [R.OK]
    assert submit(books, transfer(6, OPERATOR, ALICE, 1, flags=F.PENDING)) == [
        R.OVERFLOWS_DEBITS_PENDING]


def test_overflows_credits_pending(books: LedgerStore) -> None:
    assert submit(books, transfer(5, OPERATOR, PROVIDER, U128_MAX, flags=F.PENDING)) == [R.OK]
    assert submit(books, transfer(6, ALICE, PROVIDER, 1, flags=F.PENDING)) == [
        R.OVERFLOWS_CREDITS_PENDING]


def test_overflows_debits_posted(books: LedgerStore) -> None:
    assert submit(books, transfer(5, OPERATOR, PROVIDER, U128_MAX)) == [R.OK]
    assert submit(books, transfer(6, OPERATOR, ALICE, 1)) == [R.OVERFLOWS_DEBITS_POSTED]


def test_overflows_credits_posted(books: LedgerStore) -> None:
    assert submit(books, transfer(5, OPERATOR, PROVIDER, U128_MAX)) == [R.OK]
    assert submit(books, transfer(6, LOAN, PROVIDER, 1)) == [R.OVERFLOWS_CREDITS_POSTED]


def test_overflows_debits(books: LedgerStore) -> None:
    """The operator has 2^127 reserved and 1 posted: 2^127 − 1 more fits each of
    debits_pending and debits_posted, but not their sum."""
    assert submit(books, transfer(5, OPERATOR, PROVIDER, HALF, flags=F.PENDING),
                  transfer(6, OPERATOR, PROVIDER, 1)) == [R.OK, R.OK]
    assert submit(books, transfer(7, OPERATOR, ALICE, HALF - 1)) == [R.OVERFLOWS_DEBITS]


def test_overflows_credits(books: LedgerStore) -> None:
    """The mirror image, on the provider's credits."""
    assert submit(books, transfer(5, OPERATOR, PROVIDER, HALF, flags=F.PENDING),
                  transfer(6, LOAN, PROVIDER, 1)) == [R.OK, R.OK]
    assert submit(books, transfer(7, LOAN, PROVIDER, HALF - 1)) == [R.OVERFLOWS_CREDITS]


def test_single_phase_transfer_overflowing_the_total_is_overflows_debits(
        books: LedgerStore) -> None:
    """TigerBeetle checks ``overflows_debits_pending`` only for pending transfers; a posted one
    over a full reservation overflows the total: ``overflows_debits``."""
    assert submit(books, transfer(5, OPERATOR, PROVIDER, U128_MAX, flags=F.PENDING)) == [R.OK]
    assert submit(books, transfer(6, OPERATOR, ALICE, 1)) == [R.OVERFLOWS_DEBITS]


def test_overflows_timeout(books: LedgerStore, clock,  # type: ignore[no-untyped-def]
                           request: pytest.FixtureRequest) -> None:
    """Near the end of u64 nanoseconds, a timeout of 2^32 − 1 s cannot be represented."""
    if request.node.callspec.params["ledger"] != "memory":
        pytest.skip("SQL stores keep timestamps below 2^63 ns: a u32 timeout cannot overflow")
    clock.now = 2**64 - 10**18
    assert submit(books, transfer(5, OPERATOR, PROVIDER, 1, flags=F.PENDING,
                                  timeout=2**32 - 1)) == [R.OVERFLOWS_TIMEOUT]
    assert submit(books, transfer(6, OPERATOR, PROVIDER, 1, flags=F.PENDING,
                                  timeout=60)) == [R.OK]


# -- batches ---------------------------------------------------------------------------------


def test_transfer_batch_over_limit_raises(funded: LedgerStore) -> None:
    """8,191 transfers in one batch is a programmer error, and nothing moves."""
    before = state(funded)
    batch = [transfer(100 + i, OPERATOR, PROVIDER, 1) for i in range(BATCH_MAX + 1)]
    with pytest.raises(BatchTooLargeError):
        funded.create_transfers(batch)
    assert state(funded) == before
    assert funded.lookup_transfers([100]) == []


def test_every_result_code_has_a_test() -> None:
    """A result code added to types.py without a test here fails this one."""
    source = Path(__file__).read_text()
    for enum, alias in ((A, "A"), (R, "R")):
        named = set(re.findall(rf"\b{alias}\.([A-Z_0-9]+)\b", source))
        assert {code.name for code in enum} - named - {"OK"} == set(), enum.__name__

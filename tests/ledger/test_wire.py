"""The ledger's JSON shapes: every bad input is refused with a message naming the field, and
what goes out comes back in unchanged (wide numbers travel as decimal strings)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenomy.ledger.types import (
    AMOUNT_MAX,
    BATCH_MAX,
    U128_MAX,
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.ledger.wire import (
    ACCOUNT_KEYS,
    TRANSFER_KEYS,
    BatchTooLargeError,
    WireError,
    account_json,
    parse_account,
    parse_batch,
    parse_id,
    parse_transfer,
    result_json,
    results_json,
    transfer_json,
)

ACCOUNT = {"id": "1", "ledger": 1, "code": 10, "flags": ["debits_must_not_exceed_credits"]}
TRANSFER = {"id": 7, "debit_account_id": "1", "credit_account_id": "2", "amount": 500,
            "ledger": 1, "code": 2}


def test_account_parses_with_defaults() -> None:
    assert parse_account(ACCOUNT) == Account(1, 1, 10,
                                             AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    assert parse_account({"id": 2, "ledger": 1, "code": 1, "user_data_128": str(U128_MAX),
                          "user_data_64": "5", "user_data_32": 6}) == Account(
        2, 1, 1, user_data_128=U128_MAX, user_data_64=5, user_data_32=6)


def test_transfer_parses() -> None:
    assert parse_transfer({**TRANSFER, "flags": ["pending", "linked"], "timeout": 30}) == (
        Transfer(7, 1, 2, 500, 1, 2, TransferFlags.PENDING | TransferFlags.LINKED, timeout=30))
    assert parse_transfer({**TRANSFER, "amount": str(AMOUNT_MAX)}).amount == AMOUNT_MAX


def test_amount_defaults_only_where_it_means_something() -> None:
    post = parse_transfer({"id": "9", "pending_id": "7", "flags": ["post_pending_transfer"]})
    assert post == Transfer(9, amount=AMOUNT_MAX, pending_id=7,
                            flags=TransferFlags.POST_PENDING_TRANSFER)
    void = parse_transfer({"id": "9", "pending_id": "7", "flags": ["void_pending_transfer"]})
    assert void.amount == 0
    partial = parse_transfer({"id": "9", "pending_id": "7", "amount": 3,
                              "flags": ["post_pending_transfer"]})
    assert partial.amount == 3
    sweep = {k: v for k, v in TRANSFER.items() if k != "amount"}
    assert parse_transfer({**sweep, "flags": ["balancing_debit"]}).amount == 0
    with pytest.raises(WireError, match="needs 'amount'"):
        parse_transfer(sweep)


BAD_ACCOUNTS: list[tuple[Any, str]] = [
    ([], "must be a JSON object"),
    ("1", "must be a JSON object"),
    ({"ledger": 1, "code": 1}, "needs 'id'"),
    ({"id": 1, "code": 1}, "needs 'ledger'"),
    ({"id": 1, "ledger": 1}, "needs 'code'"),
    ({**ACCOUNT, "id": 0}, "at least 1"),
    ({**ACCOUNT, "id": "0"}, "at least 1"),
    ({**ACCOUNT, "id": 2**128}, "at most"),
    ({**ACCOUNT, "id": str(2**128)}, "at most"),
    ({**ACCOUNT, "id": -1}, "at least 1"),
    ({**ACCOUNT, "id": "-1"}, "decimal digits"),
    ({**ACCOUNT, "id": "+1"}, "decimal digits"),
    ({**ACCOUNT, "id": " 1"}, "decimal digits"),
    ({**ACCOUNT, "id": "1_000"}, "decimal digits"),
    ({**ACCOUNT, "id": "0x10"}, "decimal digits"),
    ({**ACCOUNT, "id": "١"}, "decimal digits"),  # an Arabic-Indic digit
    ({**ACCOUNT, "id": "1" * 40}, "digits"),
    ({**ACCOUNT, "id": 1.0}, "integer or a decimal string"),
    ({**ACCOUNT, "id": True}, "integer or a decimal string"),
    ({**ACCOUNT, "id": None}, "integer or a decimal string"),
    ({**ACCOUNT, "ledger": 2**32}, "at most"),
    ({**ACCOUNT, "code": 2**16}, "at most"),
    ({**ACCOUNT, "user_data_64": 2**64}, "at most"),
    ({**ACCOUNT, "flags": "linked"}, "must be a list"),
    ({**ACCOUNT, "flags": ["pending"]}, "unknown account flag 'pending'"),
    ({**ACCOUNT, "flags": [1]}, "unknown account flag"),
    ({**ACCOUNT, "colour": "red"}, "unknown account field 'colour'"),
    ({**ACCOUNT, "credits_posted": "5"}, "set by the ledger"),
    ({**ACCOUNT, "timestamp": 5}, "set by the ledger"),
]


@pytest.mark.parametrize(("value", "message"), BAD_ACCOUNTS)
def test_bad_accounts(value: Any, message: str) -> None:
    with pytest.raises(WireError, match=message):
        parse_account(value)


BAD_TRANSFERS: list[tuple[Any, str]] = [
    (None, "must be a JSON object"),
    ({**TRANSFER, "amount": -1}, "at least 0"),
    ({**TRANSFER, "amount": "-1"}, "decimal digits"),
    ({**TRANSFER, "amount": 2**128}, "at most"),
    ({**TRANSFER, "amount": str(2**128)}, "at most"),
    ({**TRANSFER, "amount": 1.5}, "integer or a decimal string"),
    ({**TRANSFER, "amount": 100.0}, "integer or a decimal string"),
    ({**TRANSFER, "amount": "1.5"}, "decimal digits"),
    ({**TRANSFER, "amount": "1e3"}, "decimal digits"),
    ({**TRANSFER, "amount": False}, "integer or a decimal string"),
    ({**TRANSFER, "amount": ""}, "decimal digits"),
    ({**TRANSFER, "debit_account_id": {}}, "integer or a decimal string"),
    ({k: v for k, v in TRANSFER.items() if k != "debit_account_id"}, "debit_account_id"),
    ({k: v for k, v in TRANSFER.items() if k != "credit_account_id"}, "credit_account_id"),
    ({k: v for k, v in TRANSFER.items() if k != "ledger"}, "needs 'ledger'"),
    ({k: v for k, v in TRANSFER.items() if k != "code"}, "needs 'code'"),
    ({k: v for k, v in TRANSFER.items() if k != "id"}, "needs 'id'"),
    ({**TRANSFER, "timeout": 2**32}, "at most"),
    ({**TRANSFER, "pending_id": -3}, "at least 0"),
    ({**TRANSFER, "flags": ["debits_must_not_exceed_credits"]}, "unknown transfer flag"),
    ({**TRANSFER, "flags": None}, "must be a list"),
    ({**TRANSFER, "amout": 5}, "unknown transfer field 'amout'"),
    ({**TRANSFER, "timestamp": "1"}, "set by the ledger"),
]


@pytest.mark.parametrize(("value", "message"), BAD_TRANSFERS)
def test_bad_transfers(value: Any, message: str) -> None:
    with pytest.raises(WireError, match=message):
        parse_transfer(value)


def test_batches() -> None:
    assert parse_batch([ACCOUNT], parse_account) == [parse_account(ACCOUNT)]
    with pytest.raises(WireError, match="expected a JSON list"):
        parse_batch(ACCOUNT, parse_account)
    with pytest.raises(WireError, match="item 1: unknown account field"):
        parse_batch([ACCOUNT, {**ACCOUNT, "x": 1}], parse_account)
    with pytest.raises(BatchTooLargeError, match=f"at most {BATCH_MAX}"):
        parse_batch([ACCOUNT] * (BATCH_MAX + 1), parse_account)
    assert parse_id("340282366920938463463374607431768211455") == U128_MAX


def test_out_shapes_use_strings_for_wide_numbers() -> None:
    a = Account(U128_MAX - 1, 1, 10, AccountFlags.HISTORY, debits_pending=2**100,
                credits_posted=2**127, timestamp=1_700_000_000_000_000_000)
    body = account_json(a)
    assert body["id"] == str(U128_MAX - 1) and body["flags"] == ["history"]
    assert body["debits_pending"] == str(2**100) and body["credits_posted"] == str(2**127)
    assert body["timestamp"] == "1700000000000000000"
    assert set(body) == {*ACCOUNT_KEYS, "debits_pending", "debits_posted", "credits_pending",
                         "credits_posted", "timestamp"}
    t = Transfer(5, 1, 2, 2**120, 1, 2, TransferFlags.PENDING, timeout=9)
    assert set(transfer_json(t)) == {*TRANSFER_KEYS, "timestamp"}
    assert result_json(5, CreateTransferResult.OK) == {"id": "5", "result": "ok"}
    assert results_json([t], [CreateTransferResult.EXISTS]) == [{"id": "5", "result": "exists"}]


u128 = st.integers(0, U128_MAX)


@given(st.builds(Transfer, id=st.integers(1, U128_MAX), debit_account_id=u128,
                 credit_account_id=u128, amount=u128, ledger=st.integers(0, 2**32 - 1),
                 code=st.integers(0, 2**16 - 1),
                 flags=st.sampled_from(list(TransferFlags)), pending_id=u128,
                 timeout=st.integers(0, 2**32 - 1), user_data_128=u128,
                 user_data_64=st.integers(0, 2**64 - 1), user_data_32=st.integers(0, 2**32 - 1)))
def test_transfer_round_trips_through_json(t: Transfer) -> None:
    body = json.loads(json.dumps(transfer_json(t)))
    body.pop("timestamp")
    assert parse_transfer(body) == t

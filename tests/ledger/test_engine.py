"""The engine's own record builders give what the dataclass constructors give.

``_stamped`` and ``_with_balances`` set a frozen record's slots directly (half the cost of
its ``__init__``); every field must still be set, and to the same value.
"""

from __future__ import annotations

from dataclasses import fields, replace

from hypothesis import given
from hypothesis import strategies as st

from tokenomy.ledger.engine import _stamped, _with_balances
from tokenomy.ledger.types import U128_MAX, Account, Transfer, TransferFlags

u128 = st.integers(0, U128_MAX)
small = st.integers(0, 2**32 - 1)


@given(st.builds(Transfer, u128, u128, u128, u128, small, small,
                 st.sampled_from(list(TransferFlags)), u128, small, u128, small, small, small),
       st.integers(1, 2**63 - 1))
def test_stamped_is_the_transfer_with_its_timestamp(t: Transfer, timestamp: int) -> None:
    s = _stamped(t, timestamp)
    assert s == replace(t, flags=int(t.flags), timestamp=timestamp)
    assert type(s.flags) is int and type(s) is Transfer
    assert [getattr(s, f.name) for f in fields(Transfer)] == [
        getattr(replace(t, flags=int(t.flags), timestamp=timestamp), f.name)
        for f in fields(Transfer)]


@given(st.builds(Account, u128, small, small, small, u128, u128, u128, u128, u128, small,
                 small, small),
       st.lists(u128, min_size=4, max_size=4))
def test_with_balances_is_the_account_with_those_balances(a: Account, b: list[int]) -> None:
    s = _with_balances(a, b)
    assert s == replace(a, debits_pending=b[0], debits_posted=b[1], credits_pending=b[2],
                        credits_posted=b[3])
    assert hash(s) == hash(replace(a, debits_pending=b[0], debits_posted=b[1],
                                   credits_pending=b[2], credits_posted=b[3]))

"""``check_transfers``' one-test fast path accepts exactly what the field-by-field checks do.

The fast path tests exact ints and each range as "no bit above it"; anything it does not pass
goes to the detailed checks, which name the bad field. So a batch is refused (ValueError) iff
some field is not an int or is outside its range, whatever mix of values it holds.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tokenomy.ledger.types import U16_MAX, U32_MAX, U64_MAX, U128_MAX, Transfer
from tokenomy.store.ledger_sql import check_transfers

WIDTH = {"id": U128_MAX, "debit_account_id": U128_MAX, "credit_account_id": U128_MAX,
         "amount": U128_MAX, "pending_id": U128_MAX, "user_data_128": U128_MAX,
         "user_data_64": U64_MAX, "user_data_32": U32_MAX, "ledger": U32_MAX,
         "timeout": U32_MAX, "code": U16_MAX, "flags": U16_MAX}


def value(high: int) -> st.SearchStrategy[object]:
    edges = st.sampled_from([0, 1, high, high + 1, -1, 2**128, 2**64, 2**32, 2**16, -(2**130)])
    return st.one_of(edges, st.integers(-2, high + 2), st.booleans(),
                     st.sampled_from([1.0, "1", None]))


def valid(fields: dict[str, object]) -> bool:
    return all(isinstance(v, int) and 0 <= v <= WIDTH[name] for name, v in fields.items())


@given(st.fixed_dictionaries({name: value(high) for name, high in WIDTH.items()}))
def test_a_transfer_is_refused_iff_a_field_is_no_int_in_range(fields: dict[str, object]) -> None:
    transfer = Transfer(**fields)  # type: ignore[arg-type]
    if fields["flags"] is None or fields["flags"] == "1" or fields["flags"] == 1.0:
        # int(flags) is how flags are read: None raises TypeError, "1" and 1.0 read as 1
        return
    try:
        check_transfers([transfer])
    except ValueError:
        assert not valid(fields)
    else:
        assert valid(fields)

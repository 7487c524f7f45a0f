"""The ledger's JSON shapes (HTTP bodies, CLI lines) ⇄ :class:`Account` / :class:`Transfer`.

In: decoded JSON (``dict``/``list``/``str``/``int``…). Out: core records, or a
:class:`WireError` naming the item and the field. Back out: plain JSON-ready dicts in which every
128- and 64-bit quantity (ids, amounts, balances, ``user_data_128/64``, timestamps) is a
decimal string, since such numbers do not survive a JavaScript client.

Rules, checked before anything touches a store (bad input changes nothing):

* ids: a decimal string of digits or a JSON integer, ``1..2**128-1``;
* amounts and other unsigned fields: the same two forms, ``0..`` the field's maximum
  (``amount`` ``2**128-1``, ``ledger``/``user_data_32``/``timeout`` ``2**32-1``, ``code``
  ``2**16-1``); negative numbers, floats, booleans, signs, blanks and underscores are refused;
* ``flags``: a list of flag names (``["linked", "pending"]``);
* unknown keys are refused, so a typo never silently means "zero";
* a transfer's ``amount`` may be left out only on a post (the full pending amount,
  :data:`AMOUNT_MAX`), a void (``0``) or a balancing transfer (``0``: "as much as allowed").

Example::

    >>> parse_transfer({"id": "7", "pending_id": 5, "flags": ["post_pending_transfer"]}).amount
    340282366920938463463374607431768211455
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from tokenomy._invariant import invariant
from tokenomy.ledger.types import (
    ACCOUNT_FLAG_NAMES,
    AMOUNT_MAX,
    BATCH_MAX,
    TRANSFER_FLAG_NAMES,
    U16_MAX,
    U32_MAX,
    U64_MAX,
    U128_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
    flag_names,
)

DIGITS_MAX = 39  # 2**128-1 has 39 decimal digits; longer strings are refused unread

ACCOUNT_KEYS = ("id", "ledger", "code", "flags", "user_data_128", "user_data_64",
                "user_data_32")
TRANSFER_KEYS = ("id", "debit_account_id", "credit_account_id", "amount", "ledger", "code",
                 "flags", "pending_id", "timeout", "user_data_128", "user_data_64",
                 "user_data_32")
_SET_BY_LEDGER = ("timestamp", "debits_pending", "debits_posted", "credits_pending",
                  "credits_posted")


class WireError(ValueError):
    """A JSON value that is not a valid account or transfer (bad input, nothing changed)."""

    type = "invalid_request"


class BatchTooLargeError(WireError):
    """More than :data:`BATCH_MAX` events in one batch."""

    type = "batch_too_large"


def parse_uint(value: object, field: str, maximum: int, minimum: int = 0) -> int:
    """An unsigned integer given as a JSON integer or a string of decimal digits."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise WireError(f"{field} must be an integer or a decimal string, got {value!r}")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise WireError(f"{field} must be a string of decimal digits, got {value!r}")
        if len(value) > DIGITS_MAX:
            raise WireError(f"{field} has more than {DIGITS_MAX} digits")
        number = int(value)
    else:
        number = value
    if number < minimum:
        raise WireError(f"{field} must be at least {minimum}, got {number}")
    if number > maximum:
        raise WireError(f"{field} must be at most {maximum}, got {number}")
    return number


def parse_id(value: object, field: str = "id") -> int:
    """An id: ``1..2**128-1`` (``2**128-1`` itself is answered by the ledger's result code)."""
    return parse_uint(value, field, U128_MAX, minimum=1)


def _flags(value: object, names: Mapping[str, int], what: str) -> int:
    if not isinstance(value, list):
        raise WireError(f"flags must be a list of {what} flag names, got {value!r}")
    flags = 0
    for name in value:
        if not isinstance(name, str) or name not in names:
            known = ", ".join(names)
            raise WireError(f"unknown {what} flag {name!r}; known: {known}")
        flags |= names[name]
    return flags


def _object(value: object, keys: Sequence[str], what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a JSON object, got {type(value).__name__}")
    for key in value:
        if key in _SET_BY_LEDGER:
            raise WireError(f"{key} is set by the ledger and may not be given")
        if key not in keys:
            raise WireError(f"unknown {what} field {key!r}; known: {', '.join(keys)}")
    return value


def _required(data: Mapping[str, Any], key: str, what: str) -> object:
    if key not in data:
        raise WireError(f"{what} needs {key!r}")
    return data[key]


def parse_account(value: object) -> Account:
    """``{"id", "ledger", "code", "flags"?, "user_data_128"?, "user_data_64"?,
    "user_data_32"?}`` → :class:`Account`."""
    data = _object(value, ACCOUNT_KEYS, "account")
    return Account(
        id=parse_id(_required(data, "id", "an account")),
        ledger=parse_uint(_required(data, "ledger", "an account"), "ledger", U32_MAX),
        code=parse_uint(_required(data, "code", "an account"), "code", U16_MAX),
        flags=AccountFlags(_flags(data.get("flags", []), ACCOUNT_FLAG_NAMES, "account")),
        user_data_128=parse_uint(data.get("user_data_128", 0), "user_data_128", U128_MAX),
        user_data_64=parse_uint(data.get("user_data_64", 0), "user_data_64", U64_MAX),
        user_data_32=parse_uint(data.get("user_data_32", 0), "user_data_32", U32_MAX),
    )


def _default_amount(flags: TransferFlags) -> int | None:
    """The amount a transfer means when it names none, or ``None`` when it must name one."""
    if flags & TransferFlags.POST_PENDING_TRANSFER:
        return AMOUNT_MAX  # the full pending amount
    if flags & (TransferFlags.VOID_PENDING_TRANSFER | TransferFlags.BALANCING_DEBIT
                | TransferFlags.BALANCING_CREDIT):
        return 0
    return None


def parse_transfer(value: object) -> Transfer:
    """A transfer's JSON shape → :class:`Transfer` (see the module docstring)."""
    data = _object(value, TRANSFER_KEYS, "transfer")
    transfer_id = parse_id(_required(data, "id", "a transfer"))
    flags = TransferFlags(_flags(data.get("flags", []), TRANSFER_FLAG_NAMES, "transfer"))
    resolving = bool(flags & (TransferFlags.POST_PENDING_TRANSFER
                              | TransferFlags.VOID_PENDING_TRANSFER))
    default = _default_amount(flags)
    if "amount" in data or default is None:
        amount = parse_uint(_required(data, "amount", "a transfer"), "amount", AMOUNT_MAX)
    else:
        amount = default

    def field(key: str, maximum: int) -> int:
        # A post or void may leave accounts, ledger and code out: the pending transfer's.
        if resolving or key in ("pending_id", "timeout") or key.startswith("user_data"):
            return parse_uint(data.get(key, 0), key, maximum)
        return parse_uint(_required(data, key, "a transfer"), key, maximum)

    return Transfer(
        id=transfer_id,
        debit_account_id=field("debit_account_id", U128_MAX),
        credit_account_id=field("credit_account_id", U128_MAX),
        amount=amount,
        ledger=field("ledger", U32_MAX),
        code=field("code", U16_MAX),
        flags=flags,
        pending_id=field("pending_id", U128_MAX),
        timeout=field("timeout", U32_MAX),
        user_data_128=field("user_data_128", U128_MAX),
        user_data_64=field("user_data_64", U64_MAX),
        user_data_32=field("user_data_32", U32_MAX),
    )


T = TypeVar("T")


def parse_batch(items: object, parse: Callable[[object], T]) -> list[T]:
    """A JSON list of events → records; the first bad item fails the whole batch."""
    if not isinstance(items, list):
        raise WireError(f"expected a JSON list, got {type(items).__name__}")
    if len(items) > BATCH_MAX:
        raise BatchTooLargeError(f"at most {BATCH_MAX} events per batch, got {len(items)}")
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse(item))
        except WireError as exc:
            raise type(exc)(f"item {index}: {exc}") from None
    return parsed


# -- out -------------------------------------------------------------------------------------


def account_json(a: Account) -> dict[str, Any]:
    """An account with its four balances, every wide number as a decimal string."""
    return {
        "id": str(a.id), "ledger": a.ledger, "code": a.code,
        "flags": flag_names(a.flags, ACCOUNT_FLAG_NAMES),
        "debits_pending": str(a.debits_pending), "debits_posted": str(a.debits_posted),
        "credits_pending": str(a.credits_pending), "credits_posted": str(a.credits_posted),
        "user_data_128": str(a.user_data_128), "user_data_64": str(a.user_data_64),
        "user_data_32": a.user_data_32, "timestamp": str(a.timestamp),
    }


def transfer_json(t: Transfer) -> dict[str, Any]:
    return {
        "id": str(t.id), "debit_account_id": str(t.debit_account_id),
        "credit_account_id": str(t.credit_account_id), "amount": str(t.amount),
        "ledger": t.ledger, "code": t.code, "flags": flag_names(t.flags, TRANSFER_FLAG_NAMES),
        "pending_id": str(t.pending_id), "timeout": t.timeout,
        "user_data_128": str(t.user_data_128), "user_data_64": str(t.user_data_64),
        "user_data_32": t.user_data_32, "timestamp": str(t.timestamp),
    }


def result_json(event_id: int, result: CreateAccountResult | CreateTransferResult
                ) -> dict[str, str]:
    return {"id": str(event_id), "result": result.value}


def results_json(events: Sequence[Account | Transfer],
                 results: Sequence[CreateAccountResult | CreateTransferResult],
                 ) -> list[dict[str, str]]:
    """One ``{"id", "result"}`` per event, in order."""
    invariant(len(events) == len(results), f"{len(events)} events, {len(results)} results")
    return [result_json(e.id, r) for e, r in zip(events, results, strict=True)]


__all__ = [
    "ACCOUNT_KEYS",
    "DIGITS_MAX",
    "TRANSFER_KEYS",
    "BatchTooLargeError",
    "WireError",
    "account_json",
    "parse_account",
    "parse_batch",
    "parse_id",
    "parse_transfer",
    "parse_uint",
    "result_json",
    "results_json",
    "transfer_json",
]

"""API keys: made once, shown once, stored as a SHA-256, bound to a budget.

In: a name, a budget path (and optionally an amount to fund it with), rate limits, the instant
and a source of randomness (passed in). Out: the secret (``tk-…``, printed once) and the
:class:`~tokenomy.store.gateway_sql.KeyRecord` stored. The public id is derived from the hash,
so logs and reports can name a key without revealing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tokenomy.gateway.admission import hash_secret
from tokenomy.ledger.budgets import BudgetError, budget_account_id, check_name, set_budget
from tokenomy.store.gateway_sql import KeyRecord
from tokenomy.store.ledger_sql import SQLLedger

SECRET_PREFIX = "tk-"
SECRET_BYTES = 32
KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
RATE_MAX = 10_000_000_000


class KeyError_(ValueError):
    """Bad input for a key operation; nothing was changed."""


def new_secret(token: Callable[[int], str]) -> str:
    return SECRET_PREFIX + token(SECRET_BYTES)


def create_key(store: SQLLedger, name: str, budget: str, at: int, token: Callable[[int], str],
               amount: int | None = None, period: str = "none", rpm: int = 0,
               tpm: int = 0, exchange_owner: int = 0) -> tuple[str, KeyRecord]:
    """A new key charging ``budget``; with ``amount``, the budget is created (or updated) and
    funded first. Returns the secret and the stored record."""
    if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
        raise KeyError_(f"a key name is 1..64 letters, digits or ._@+- , got {name!r}")
    for label, value in (("rpm", rpm), ("tpm", tpm)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= RATE_MAX:
            raise KeyError_(f"{label} must be an integer 0..{RATE_MAX} (0 = no limit)")
    if isinstance(exchange_owner, bool) or not 0 <= exchange_owner <= 2**63 - 1:
        raise KeyError_(f"exchange owner must be an integer 0..{2**63 - 1} (0 = none)")
    try:
        check_name(budget)
        if store.get_key(name) is not None:
            raise KeyError_(f"a key named {name!r} exists")
        if amount is not None:
            set_budget(store, budget, amount, period=period, kind="user", owner=name, at=at)
        elif store.get_budget(budget) is None:
            raise KeyError_(f"budget {budget!r} does not exist: create it with `tokenomy budget "
                            "set` or pass --budget-usd")
    except BudgetError as exc:
        raise KeyError_(str(exc)) from None
    secret = new_secret(token)
    digest = hash_secret(secret)
    record = KeyRecord("key_" + digest[:16], name, digest, budget, rpm, tpm, at, 0,
                       exchange_owner)
    if not store.create_key(record):
        raise KeyError_(f"a key named {name!r} exists")
    return secret, record


def account_of(record: KeyRecord) -> int:
    return budget_account_id(record.budget)


__all__ = ["SECRET_PREFIX", "KeyError_", "account_of", "create_key", "new_secret"]

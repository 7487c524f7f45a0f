"""Budgets: accounts that must not be debited beyond their grants.

A budget is an account with ``debits_must_not_exceed_credits`` on an asset's ledger, funded by
grant transfers from a funding account. Budgets form a hierarchy named by paths
(``acme`` → ``acme/research`` → ``acme/research/alice`` → ``acme/research/alice/agent-7``), and a
charge reserves on every level in one linked chain, so no level can be overspent.

In: a :class:`~tokenomy.ledger.protocol.LedgerStore`, names, integer amounts in the ledger's
minor units, and the instant ``at`` (ns since the epoch, passed in: no clock here). Out: budget
definitions (``store.put_budget``), accounts and grant transfers; charges live in
:mod:`tokenomy.ledger.charges`, reports in :mod:`tokenomy.ledger.budget_report`. Every id is
derived from names (:func:`derive_id`), so repeating any call is a no-op::

    acme            granted 1000   ← funding(USD) ─grant→ budget(acme)
    acme/research   granted  300   ← funding(USD) ─grant→ budget(acme/research)
    reserve 50 on acme/research:   budget(acme/research) ─pending→ spend(USD)   (linked)
                                   budget(acme)          ─pending→ spend(USD)

Chart of accounts and transfer codes (``code`` on accounts and transfers):

====  ============================  =====================================================
code  on                            meaning
====  ============================  =====================================================
1     transfer funding → budget     grant for one period (id from name + period start)
2     transfer budget → spend       reservation, then its capture / release
3     transfer budget → funding     expiry sweep of an unused grant (``balancing_debit``)
10    account                       budget (``debits_must_not_exceed_credits``)
11    account, one per ledger       funding (the source of grants; goes negative)
12    account, one per ledger       spend (the sink of captured charges)
====  ============================  =====================================================

Periods start at 00:00 UTC (day, first of the month, 1 January). A new budget gets its whole
grant at once (no proration); :func:`renew` grants the period in force when it runs (periods
missed entirely are not granted retroactively). An amount change applies from the next period;
the ledger and the period of a budget are fixed once set. Without ``rollover`` the unused rest
is swept back to funding when the next period is granted, so ``spent`` (``debits_posted``)
counts expired grants as well as charges.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from tokenomy._invariant import invariant
from tokenomy.ledger.types import (
    AMOUNT_MAX,
    NS_PER_S,
    U128_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.money import USD, USDC, Amount, Asset, MoneyError, Rounding, parse_decimal, quantize

if TYPE_CHECKING:
    from tokenomy.ledger.protocol import LedgerStore

PERIODS = ("none", "daily", "monthly", "yearly")
KINDS = ("org", "team", "user", "agent", "run")

LEDGER_USD = 1  # nano-dollars
LEDGER_USDC = 2  # micro-units
LEDGER_ASSETS: dict[int, Asset] = {LEDGER_USD: USD, LEDGER_USDC: USDC}

CODE_GRANT = 1
CODE_CHARGE = 2  # reservation, capture and release
CODE_SWEEP = 3
CODE_BUDGET = 10
CODE_FUNDING = 11
CODE_SPEND = 12

LEVELS_MAX = 8  # depth of a budget path ("a/b/c/d/e/f/g/h")
NAME_LENGTH_MAX = 200
OWNER_LENGTH_MAX = 200
REQUEST_ID_LENGTH_MAX = 200
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_ID_DOMAIN = b"tokenomy-budget1"  # BLAKE2b personalization: 16 bytes

R = CreateTransferResult
F = TransferFlags
_LINKED = int(F.LINKED)  # Transfer.flags is a plain int


class BudgetError(ValueError):
    """Bad input for a budget operation; nothing was changed."""

    type = "invalid_budget"


class BudgetNotFoundError(BudgetError):
    type = "budget_not_found"


class BudgetConflictError(BudgetError):
    """The request contradicts what the ledger already holds."""

    type = "budget_conflict"


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget's definition (its balances live in its ledger account)."""

    name: str  # a path: "acme/research/alice"
    account_id: int
    ledger: int  # the asset's ledger (USD = 1, USDC = 2, …)
    amount: int  # granted per period, in the ledger's minor units
    period: str = "none"  # none | daily | monthly | yearly
    rollover: bool = False  # unused grant rolls over (True) or expires at period end
    kind: str = "team"  # org | team | user | agent | run
    owner: str = ""  # the engineer or agent it belongs to, for reports

    @property
    def parent(self) -> str | None:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else None


# -- ids, names, units -------------------------------------------------------------------------


def derive_id(*parts: str) -> int:
    """A stable 128-bit id from names (BLAKE2b), never 0 nor ``2**128-1``."""
    digest = hashlib.blake2b(digest_size=16, person=_ID_DOMAIN)
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(4, "big") + encoded)  # unambiguous joins
    value = int.from_bytes(digest.digest(), "big")
    return min(max(value, 1), U128_MAX - 1)


def budget_account_id(name: str) -> int:
    return derive_id("budget", name)


def funding_account_id(ledger: int) -> int:
    return derive_id("funding", str(ledger))


@lru_cache(maxsize=64)  # one per ledger; every charge names it
def spend_account_id(ledger: int) -> int:
    return derive_id("spend", str(ledger))


def check_name(name: str) -> None:
    """A path of 1..:data:`LEVELS_MAX` segments of letters, digits and ``._@+-``."""
    if not isinstance(name, str) or not 0 < len(name) <= NAME_LENGTH_MAX:
        raise BudgetError(f"a budget name is 1..{NAME_LENGTH_MAX} characters, got {name!r}")
    segments = name.split("/")
    if len(segments) > LEVELS_MAX:
        raise BudgetError(f"budget {name!r} is deeper than {LEVELS_MAX} levels")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise BudgetError(f"budget {name!r}: bad path segment {segment!r} (letters, digits "
                              "and ._@+- , starting with a letter or digit)")


def ledger_of(asset_code: str) -> int:
    """The ledger that holds an asset (``USD`` → 1)."""
    for ledger, held in LEDGER_ASSETS.items():
        if held.code == asset_code.upper():
            return ledger
    known = ", ".join(a.code for a in LEDGER_ASSETS.values())
    raise BudgetError(f"budgets hold {known}; not {asset_code!r}")


def asset_of(ledger: int) -> Asset:
    invariant(ledger in LEDGER_ASSETS, f"no asset on ledger {ledger}")
    return LEDGER_ASSETS[ledger]


def parse_major(text: object, ledger: int, field: str = "amount") -> int:
    """``"100.00"`` (major units) → minor units of the ledger's asset, exactly, or an error."""
    asset = asset_of(ledger)
    if not isinstance(text, str | int) or isinstance(text, bool):
        raise BudgetError(f"{field} must be a decimal string like \"100.00\", got {text!r}")
    try:
        value = parse_decimal(text)
    except MoneyError as exc:
        raise BudgetError(f"{field}: {exc}") from None
    if value < 0:
        raise BudgetError(f"{field} must not be negative, got {text!r}")
    minor = quantize(value, asset.scale, Rounding.DOWN)
    if Decimal(minor).scaleb(-asset.scale) != value:
        raise BudgetError(f"{field} {text!r} has more than {asset.scale} decimals for "
                          f"{asset.code}")
    if minor > U128_MAX:
        raise BudgetError(f"{field} {text!r} is too large")
    return minor


def format_major(minor: int, ledger: int) -> str:
    """Minor units as a decimal string of major units (``1_500_000_000`` → ``"1.5"``)."""
    return str(Amount(minor, asset_of(ledger)))


def period_start(period: str, at: int) -> datetime | None:
    """The start (UTC) of the period in force at ``at`` ns; ``None`` for ``none``."""
    moment = datetime.fromtimestamp(at // NS_PER_S, UTC)
    if period == "daily":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "monthly":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if period == "yearly":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    invariant(period == "none", f"unknown period {period!r}")
    return None


def _period_key(period: str, at: int) -> str:
    start = period_start(period, at)
    return "once" if start is None else start.date().isoformat()


# -- set, renew --------------------------------------------------------------------------------


def _check_definition(store: LedgerStore, b: Budget, existing: Budget | None) -> None:
    check_name(b.name)
    if isinstance(b.amount, bool) or not isinstance(b.amount, int) or not (
            0 <= b.amount <= U128_MAX):
        raise BudgetError(f"amount must be an integer 0..{U128_MAX}, got {b.amount!r}")
    if b.ledger not in LEDGER_ASSETS:
        raise BudgetError(f"ledger must be one of {sorted(LEDGER_ASSETS)}, got {b.ledger!r}")
    if b.period not in PERIODS:
        raise BudgetError(f"period must be one of {', '.join(PERIODS)}, got {b.period!r}")
    if b.kind not in KINDS:
        raise BudgetError(f"kind must be one of {', '.join(KINDS)}, got {b.kind!r}")
    if not isinstance(b.owner, str) or len(b.owner) > OWNER_LENGTH_MAX:
        raise BudgetError(f"owner must be a string of at most {OWNER_LENGTH_MAX} characters")
    if b.parent is not None:
        parent = store.get_budget(b.parent)
        if parent is None:
            raise BudgetNotFoundError(f"parent budget {b.parent!r} does not exist; set it first")
        if parent.ledger != b.ledger:
            raise BudgetConflictError(f"budget {b.name!r} must hold the same asset as its "
                                      f"parent {b.parent!r} ({asset_of(parent.ledger).code})")
    if existing is None:
        return
    if existing.ledger != b.ledger:
        raise BudgetConflictError(f"budget {b.name!r} holds "
                                  f"{asset_of(existing.ledger).code}; its asset is fixed")
    if existing.period != b.period:
        raise BudgetConflictError(f"budget {b.name!r} is {existing.period}; its period is fixed")
    if existing.period == "none" and existing.amount != b.amount:
        raise BudgetConflictError(f"budget {b.name!r} was granted once "
                                  f"({format_major(existing.amount, b.ledger)}); a one-off "
                                  "grant cannot change")


def _ensure_accounts(store: LedgerStore, ledger: int, account_id: int) -> None:
    accounts = [
        Account(funding_account_id(ledger), ledger, CODE_FUNDING),
        Account(spend_account_id(ledger), ledger, CODE_SPEND),
        Account(account_id, ledger, CODE_BUDGET, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
    ]
    results = store.create_accounts(accounts)
    for account, result in zip(accounts, results, strict=True):
        if result not in (CreateAccountResult.OK, CreateAccountResult.EXISTS):
            raise BudgetConflictError(f"account {account.id} (code {account.code}): {result}")


def _period_chain(b: Budget, at: int, sweep: bool) -> list[Transfer]:
    """The period's grant, after a sweep of the unused rest when asked; linked."""
    key = _period_key(b.period, at)
    start = period_start(b.period, at)
    chain = []
    if sweep:
        chain.append(Transfer(derive_id("sweep", b.name, key), b.account_id,
                              funding_account_id(b.ledger), AMOUNT_MAX, b.ledger, CODE_SWEEP,
                              F.BALANCING_DEBIT))
    if b.amount:
        chain.append(Transfer(derive_id("grant", b.name, key), funding_account_id(b.ledger),
                              b.account_id, b.amount, b.ledger, CODE_GRANT,
                              user_data_64=0 if start is None else int(start.timestamp())))
    return linked_chain(chain)


@dataclass(frozen=True, slots=True)
class Renewal:
    """What granting one budget's period did (amounts in minor units)."""

    name: str
    period_start: str
    granted: int
    swept: int


def _grant_period(store: LedgerStore, b: Budget, at: int, sweep: bool) -> Renewal | None:
    """Grant the period in force at ``at`` unless it was; ``None`` when there was nothing to do."""
    chain = _period_chain(b, at, sweep)
    if not chain or store.lookup_transfers([chain[-1].id]):
        return None
    results = store.create_transfers(chain)
    if results[0] is R.EXISTS:  # granted meanwhile by another process
        return None
    for t, result in zip(chain, results, strict=True):
        if result is not R.OK:
            raise BudgetConflictError(f"granting {b.name!r}: transfer {t.id}: {result}")
    created = {t.id: t for t in store.lookup_transfers([t.id for t in chain])}
    swept = sum(t.amount for t in created.values() if t.code == CODE_SWEEP)
    return Renewal(b.name, _period_key(b.period, at), b.amount, swept)


def set_budget(store: LedgerStore, name: str, amount: int, ledger: int = LEDGER_USD,
               period: str = "none", rollover: bool = False, kind: str = "team",
               owner: str = "", at: int = 0) -> Budget:
    """Create or update a budget and grant the period in force at ``at`` (ns). Idempotent."""
    invariant(at > 0, "set_budget needs the instant it runs at")
    existing = store.get_budget(name) if isinstance(name, str) else None
    budget = Budget(name, budget_account_id(name) if isinstance(name, str) else 0, ledger,
                    amount, period, rollover, kind, owner)
    _check_definition(store, budget, existing)
    _ensure_accounts(store, ledger, budget.account_id)
    if existing is None or existing.period == "none":
        _grant_period(store, budget, at, sweep=False)
    else:
        _grant_period(store, budget, at, sweep=not budget.rollover)
    store.put_budget(budget)
    return budget


def renew(store: LedgerStore, at: int) -> list[Renewal]:
    """Grant every periodic budget the period in force at ``at`` (ns), once."""
    invariant(at > 0, "renew needs the instant it runs at")
    done = []
    for b in store.list_budgets():
        if b.period == "none":
            continue
        renewal = _grant_period(store, b, at, sweep=not b.rollover)
        if renewal is not None:
            done.append(renewal)
    return done



def linked_chain(transfers: list[Transfer]) -> list[Transfer]:
    """Chain the transfers: every one but the last is ``linked``."""
    last = len(transfers) - 1
    return [replace(t, flags=t.flags | _LINKED) if i < last else t
            for i, t in enumerate(transfers)]


__all__ = [
    "CODE_BUDGET",
    "CODE_CHARGE",
    "CODE_FUNDING",
    "CODE_GRANT",
    "CODE_SPEND",
    "CODE_SWEEP",
    "KINDS",
    "LEDGER_ASSETS",
    "LEDGER_USD",
    "LEDGER_USDC",
    "LEVELS_MAX",
    "PERIODS",
    "Budget",
    "BudgetConflictError",
    "BudgetError",
    "BudgetNotFoundError",
    "Renewal",
    "asset_of",
    "budget_account_id",
    "derive_id",
    "format_major",
    "funding_account_id",
    "ledger_of",
    "linked_chain",
    "parse_major",
    "period_start",
    "renew",
    "set_budget",
    "spend_account_id",
]

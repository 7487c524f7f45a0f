"""Prepaid token credits: what a key's exchange member bought is spent before its cash budget.

A key bound to an exchange member (``tokenomy keys create --exchange-owner N``) calling a
model certified for a grade (``contracts/grades.toml``: FRONTIER, STANDARD, ECONOMY) first
holds credits of that grade — ``<TIER>-IN`` credits for uncached text input tokens,
``<TIER>-OUT`` credits for text output and reasoning tokens — up to the estimate and up to
what the member has, as pending transfers to the grade's consumed account (they expire with
the reservation). The cash reservation then covers only the rest. At settlement the credits
actually used are posted (the rest of each hold is released) and cash pays for what the
credits did not cover: one credit is one token, whatever the model's list price.

In: the member, the model, the estimate or the metered usage. Out: hold and post transfers
(:class:`CreditHold`) and the usage left for cash (:func:`uncovered`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from tokenomy.exchange.accounts import (
    CODE_CONSUME,
    CREDIT_LEDGERS,
    consumed_account,
    credit_account,
)
from tokenomy.exchange.contracts import bundled_grades
from tokenomy.ledger.budgets import derive_id
from tokenomy.ledger.types import Transfer, TransferFlags
from tokenomy.meter import Usage
from tokenomy.meter.usage import Modality, TokenClass

PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING_TRANSFER)
VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_TEXT_IN = ((TokenClass.INPUT, Modality.TEXT),)
_TEXT_OUT = ((TokenClass.OUTPUT, Modality.TEXT), (TokenClass.REASONING, Modality.TEXT))


@cache
def _tiers() -> dict[str, str]:
    """Model id → tier (``FRONTIER``…), from the bundled grades."""
    out: dict[str, str] = {}
    for grade in bundled_grades().values():
        for model in grade.models:
            out[model] = grade.tier
    return out


def tier_of(model: str) -> str | None:
    """The tier whose grades certify ``model``, or None (credits do not apply)."""
    return _tiers().get(model)


def _tokens(usage: Usage, parts: tuple[tuple[TokenClass, Modality], ...]) -> int:
    return sum(usage.tokens(c, m) for c, m in parts)


@dataclass(frozen=True, slots=True)
class CreditHold:
    """Credits of one grade held for one request."""

    grade: str
    owner: int
    tokens: int
    hold_id: int

    def hold(self, timeout_s: int) -> Transfer:
        return Transfer(self.hold_id, credit_account(self.owner, self.grade),
                        consumed_account(self.grade), self.tokens, CREDIT_LEDGERS[self.grade],
                        CODE_CONSUME, PENDING, timeout=timeout_s)

    def resolve(self, used: int) -> Transfer:
        """Post ``used`` (≤ held; 0 releases the hold)."""
        used = min(used, self.tokens)
        flag = POST if used else VOID
        return Transfer(derive_id("credits-resolve", str(self.hold_id)), 0, 0, used, 0, 0,
                        flag, self.hold_id)


def plan(owner: int, model: str, estimate: Usage, available: dict[str, int],
         request_id: str) -> list[CreditHold]:
    """The holds for ``estimate``: per grade, min(estimated tokens, ``available`` credits)."""
    tier = tier_of(model)
    if tier is None or not owner:
        return []
    holds = []
    for suffix, parts in (("IN", _TEXT_IN), ("OUT", _TEXT_OUT)):
        grade = f"{tier}-{suffix}"
        tokens = min(_tokens(estimate, parts), available.get(grade, 0))
        if tokens > 0:
            holds.append(CreditHold(grade, owner, tokens,
                                    derive_id("credits-hold", request_id, grade)))
    return holds


def used(holds: list[CreditHold], usage: Usage) -> dict[str, int]:
    """Credits each hold's grade covers of the metered ``usage``."""
    out = {}
    for h in holds:
        parts = _TEXT_IN if h.grade.endswith("-IN") else _TEXT_OUT
        out[h.grade] = min(_tokens(usage, parts), h.tokens)
    return out


def uncovered(usage: Usage, covered: dict[str, int]) -> Usage:
    """``usage`` less the tokens credits paid for (text input; output, then reasoning)."""
    counts = list(usage.counts)
    width = len(Modality)
    for grade, tokens in covered.items():
        parts = _TEXT_IN if grade.endswith("-IN") else _TEXT_OUT
        for cls, modality in parts:
            index = list(TokenClass).index(cls) * width + list(Modality).index(modality)
            take = min(tokens, counts[index])
            counts[index] -= take
            tokens -= take
    return Usage(tuple(counts), usage.cache_write_ttl, usage.extras, usage.estimated)


__all__ = ["CreditHold", "plan", "tier_of", "uncovered", "used"]

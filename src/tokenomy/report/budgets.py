"""Budget standing for reports: consumption, burn rate, time to exhaustion, open reservations.

In: the ledger's :class:`~tokenomy.ledger.budget_report.BudgetLine` values (balances read
directly), the open reservations per budget account, the window's request facts and the
window itself. Out: :class:`BudgetRow` values.

* **burn rate** = billed cost in the window of the budget and every budget below it (a charge
  reserves and captures on every level), per hour of the window: nano-USD/h, floor.
* **time to exhaustion** = remaining ÷ burn rate, in whole seconds (floor), from the window's
  end; none when nothing burns.
* **tokens** = billed tokens of the window on the budget and below; **per-engineer** rows are
  the budgets of kind ``user`` (their ``owner`` is the engineer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokenomy.ledger.budget_report import BudgetLine
from tokenomy.ledger.budgets import LEDGER_USD, format_major
from tokenomy.report.facts import RequestFacts
from tokenomy.store.report_sql import OpenReservations

NS_PER_HOUR = 3_600 * 10**9
NS_PER_S = 10**9


@dataclass(frozen=True, slots=True)
class BudgetRow:
    line: BudgetLine
    window_cost_nano: int  # billed in the window, this budget and below
    window_tokens: int
    burn_nano_per_hour: int
    exhausted_in_s: int | None  # from the window's end; None: nothing burns
    exhausted_at_ns: int | None
    open_reservations: int
    open_reserved: int  # minor units of the budget's ledger

    @property
    def engineer(self) -> bool:
        return self.line.budget.kind == "user"

    def to_json(self) -> dict[str, Any]:
        b = self.line.budget
        out = self.line.to_json()
        out.update({
            "window_cost_usd": format_major(self.window_cost_nano, LEDGER_USD),
            "window_cost_nano": self.window_cost_nano, "window_tokens": self.window_tokens,
            "burn_usd_per_hour": format_major(self.burn_nano_per_hour, LEDGER_USD),
            "burn_nano_per_hour": self.burn_nano_per_hour,
            "exhausted_in_s": self.exhausted_in_s,
            "exhausted_at": _iso(self.exhausted_at_ns),
            "open_reservations": self.open_reservations,
            "open_reserved": format_major(self.open_reserved, b.ledger),
            "engineer": self.engineer,
            "remaining_minor": self.line.remaining, "granted_minor": self.line.granted,
        })
        return out


LAST_INSTANT_S = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant an ISO date can name


def _iso(ns: int | None) -> str | None:
    """The instant, or None when there is none or it is beyond year 9999 (no burn to speak of)."""
    if ns is None or ns // NS_PER_S > LAST_INSTANT_S:
        return None
    return datetime.fromtimestamp(ns // NS_PER_S, UTC).isoformat()


def _covers(budget: str, path: str) -> bool:
    return path == budget or path.startswith(budget + "/")


def budget_rows(lines: Sequence[BudgetLine], reservations: Mapping[int, OpenReservations],
                facts: Sequence[RequestFacts], since_ns: int, until_ns: int) -> list[BudgetRow]:
    """One row per budget line, in the lines' order."""
    span = max(until_ns - since_ns, 1)
    rows = []
    for line in lines:
        name = line.budget.name
        mine = [f for f in facts if _covers(name, f.record.budget)]
        cost = sum(f.cost_nano for f in mine)
        burn = cost * NS_PER_HOUR // span
        remaining = max(line.remaining, 0)
        if line.budget.ledger != LEDGER_USD:  # USDC micro-units → nano for the rate comparison
            remaining *= 1_000
        exhausted_s = None if burn == 0 else remaining * 3_600 // burn
        held = reservations.get(line.budget.account_id)
        rows.append(BudgetRow(
            line, cost, sum(f.tokens for f in mine), burn, exhausted_s,
            None if exhausted_s is None else until_ns + exhausted_s * NS_PER_S,
            held.count if held else 0, held.amount if held else 0))
    return rows


__all__ = ["BudgetRow", "budget_rows"]

"""The reports over one store: the edge that reads, and what the CLI and the dashboard call.

In: an open :class:`~tokenomy.store.ledger_sql.SQLLedger`, the price book and STU table, and a
:class:`Window` (``[since, until)`` in ns). Out: JSON-ready dicts (money as decimal strings)
for spend, series, budgets, good-put, the market and FOCUS rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tokenomy.ledger.budget_report import report as budget_report
from tokenomy.pricing import PriceBook
from tokenomy.pricing.stu import StuTable
from tokenomy.report.budgets import BudgetRow, budget_rows
from tokenomy.report.facts import Attributor, RequestFacts
from tokenomy.report.focus import focus_rows
from tokenomy.report.market import snapshot
from tokenomy.report.views import (
    GoodputRow,
    ReportInputError,
    goodput,
    goodput_total,
    series,
    spend,
    usd,
)
from tokenomy.store.ledger_sql import SQLLedger

NS_PER_S = 10**9
WINDOW_MAX = timedelta(days=3_660)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[since_ns, until_ns)``."""

    since_ns: int
    until_ns: int

    def __post_init__(self) -> None:
        if self.until_ns <= self.since_ns:
            raise ReportInputError("--until must be after --since")
        if self.until_ns - self.since_ns > WINDOW_MAX.total_seconds() * NS_PER_S:
            raise ReportInputError(f"a window is at most {WINDOW_MAX.days} days")

    @property
    def bucket_ns(self) -> int:
        """Chart buckets: minutes up to 2 h, hours up to 3 days, else days."""
        span = self.until_ns - self.since_ns
        if span <= 2 * 3_600 * NS_PER_S:
            return 60 * NS_PER_S
        return 3_600 * NS_PER_S if span <= 3 * 86_400 * NS_PER_S else 86_400 * NS_PER_S

    def bucket_of(self) -> Callable[[RequestFacts], str]:
        size = self.bucket_ns

        def bucket(f: RequestFacts) -> str:
            start = f.record.started_at // size * size
            return datetime.fromtimestamp(start // NS_PER_S, UTC).isoformat().replace(
                "+00:00", "Z")
        return bucket

    def to_json(self) -> dict[str, str]:
        def iso(ns: int) -> str:
            return datetime.fromtimestamp(ns // NS_PER_S, UTC).isoformat()
        return {"since": iso(self.since_ns), "until": iso(self.until_ns)}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AGO = re.compile(r"([0-9]{1,6})([mhd])")
_AGO_NS = {"m": 60 * NS_PER_S, "h": 3_600 * NS_PER_S, "d": 86_400 * NS_PER_S}


def parse_instant(text: str, now_ns: int, field: str) -> int:
    """``text`` as ns since the epoch: an ISO date or datetime (UTC when no offset is given),
    ``now``, or a span ago (``30m``, ``12h``, ``7d``); :class:`ReportInputError` otherwise."""
    text = text.strip()
    if text == "now":
        return now_ns
    ago = _AGO.fullmatch(text)
    if ago:
        return now_ns - int(ago.group(1)) * _AGO_NS[ago.group(2)]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReportInputError(f"{field}: not a date, datetime or span ago (7d, 12h, 30m): "
                               f"{text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1) * 1_000


def parse_window(since: str, until: str, now_ns: int, default_span_s: int) -> Window:
    """The window ``[since, until)``; ``until`` defaults to now, ``since`` to
    ``default_span_s`` before ``until``."""
    end = parse_instant(until, now_ns, "--until") if until else now_ns
    start = (parse_instant(since, now_ns, "--since") if since
             else end - default_span_s * NS_PER_S)
    return Window(start, end)


class Reports:
    """Every report over ``store`` (reads only, but for feedback: see the store)."""

    def __init__(self, store: SQLLedger, book: PriceBook, stu: StuTable) -> None:
        self.store = store
        self.book = book
        self.stu = stu

    def facts(self, window: Window) -> list[RequestFacts]:
        records = self.store.requests_between(window.since_ns, window.until_ns)
        keys = {k.id: k.name for k in self.store.list_keys()}
        return Attributor(self.book, self.stu, self.store.list_budgets(), keys).facts(records)

    def spend(self, window: Window, by: str,
              facts: list[RequestFacts] | None = None) -> dict[str, Any]:
        facts = self.facts(window) if facts is None else facts
        rows = spend(facts, by)
        total_cost = sum(f.cost_nano for f in facts)
        return {"window": window.to_json(), "by": by, "rows": [r.to_json() for r in rows],
                "total": {"requests": len(facts), "tokens": sum(f.tokens for f in facts),
                          "cost_usd": usd(total_cost), "cost_nano": total_cost,
                          "stu": str(sum((f.stu for f in facts), Decimal(0)))}}

    def series(self, window: Window, by: str,
               facts: list[RequestFacts] | None = None) -> dict[str, Any]:
        facts = self.facts(window) if facts is None else facts
        return {"window": window.to_json(), **series(facts, by, window.bucket_of()).to_json()}

    def budget_rows(self, window: Window, facts: list[RequestFacts] | None = None
                    ) -> list[BudgetRow]:
        facts = self.facts(window) if facts is None else facts
        lines = budget_report(self.store, window.until_ns)
        return budget_rows(lines, self.store.open_reservations(), facts, window.since_ns,
                           window.until_ns)

    def budgets(self, window: Window) -> dict[str, Any]:
        rows = self.budget_rows(window)
        return {"window": window.to_json(), "budgets": [r.to_json() for r in rows],
                "engineers": [r.to_json() for r in rows if r.engineer]}

    def goodput_rows(self, window: Window) -> tuple[list[GoodputRow], GoodputRow]:
        facts = self.facts(window)
        feedback = self.store.feedback_for([f.id for f in facts])
        rows = goodput(facts, feedback)
        return rows, goodput_total(rows)

    def goodput(self, window: Window) -> dict[str, Any]:
        rows, total = self.goodput_rows(window)
        return {"window": window.to_json(), "rows": [r.to_json() for r in rows],
                "total": total.to_json()}

    def market(self, at_ns: int) -> dict[str, Any]:
        at = datetime.fromtimestamp(at_ns // NS_PER_S, UTC)
        return snapshot(self.store, self.book, at).to_json()

    def focus(self, window: Window) -> list[dict[str, str]]:
        return focus_rows(self.facts(window), window.since_ns, window.until_ns)


__all__ = ["Reports", "Window", "parse_instant", "parse_window"]

"""Report views over :class:`~tokenomy.report.facts.RequestFacts`: spend, series, good-put.

Pure functions: facts (and feedback) in, frozen rows out, each with ``to_json`` (money as
decimal strings of USD, plus ``*_nano`` integers). Nothing here reads a clock or a store.

Good-put = tokens of requests that succeeded (outcome ``ok``, 2xx), were not retried (no later
attempt of the same request), were not abandoned (the client did not disconnect) and were not
marked ``useless``/``abandoned``/``retried`` by feedback, divided by all billed tokens (tokens
of requests with a billed cost > 0), per team and model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tokenomy.money import Rounding, quantize
from tokenomy.money.amount import format_minor
from tokenomy.report.facts import NANO_SCALE, RequestFacts

DIMENSIONS = ("account", "team", "key", "model", "provider", "modality", "class", "origin",
              "day")
SLICE_DIMENSIONS = frozenset({"modality", "class"})
NOT_GOODPUT_FEEDBACK = frozenset({"useless", "abandoned", "retried"})
SERIES_GROUPS_MAX = 8  # groups one chart draws; the rest are summed as "other"
RATIO_PLACES = 4


class ReportInputError(ValueError):
    """A bad report parameter (unknown dimension, empty window)."""

    type = "invalid_report"


def check_dimension(by: str) -> str:
    if by not in DIMENSIONS:
        raise ReportInputError(f"--by must be one of {', '.join(DIMENSIONS)}, not {by!r}")
    return by


def usd(nano: int) -> str:
    return format_minor(nano, NANO_SCALE)


def ratio(part: int, whole: int) -> Decimal:
    """``part / whole`` rounded half-even to :data:`RATIO_PLACES` (0 when ``whole`` is 0)."""
    if whole == 0:
        return Decimal(0)
    scaled = quantize(Decimal(part) / Decimal(whole), RATIO_PLACES, Rounding.HALF_EVEN)
    return Decimal(scaled).scaleb(-RATIO_PLACES)


@dataclass(frozen=True, slots=True)
class SpendRow:
    group: str
    requests: int
    ok_requests: int
    tokens: int
    cost_nano: int
    stu: Decimal

    @property
    def cost_per_success_nano(self) -> int:
        if self.ok_requests == 0:
            return 0
        return quantize(Decimal(self.cost_nano) / self.ok_requests, 0, Rounding.HALF_EVEN)

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "requests": self.requests, "ok_requests": self.ok_requests,
                "tokens": self.tokens, "cost_usd": usd(self.cost_nano),
                "cost_nano": self.cost_nano, "stu": str(self.stu),
                "cost_per_success_usd": usd(self.cost_per_success_nano),
                "cost_per_success_nano": self.cost_per_success_nano}


def _group_value(f: RequestFacts, by: str) -> str:
    if by == "key":
        return f.key
    if by == "model":
        return f.record.model or "unknown"
    value: str = getattr(f, by)
    return value


def _parts(facts: Iterable[RequestFacts], by: str,
           key: Callable[[RequestFacts], str] | None = None
           ) -> Iterable[tuple[str, str, RequestFacts, int, int, Decimal]]:
    """(bucket, group, request, tokens, cost, stu) for each request (or slice, by class or
    modality) of ``facts``."""
    for f in facts:
        bucket = key(f) if key else ""
        if by in SLICE_DIMENSIONS:
            for s in f.slices:
                group = s.cls if by == "class" else s.modality
                yield bucket, group, f, s.tokens, s.cost_nano, s.stu
        else:
            yield bucket, _group_value(f, by), f, f.tokens, f.cost_nano, f.stu


def spend(facts: Sequence[RequestFacts], by: str) -> list[SpendRow]:
    """Spend, tokens, STU and cost per successful request by ``by``, costliest first."""
    check_dimension(by)
    acc: dict[str, list[Any]] = {}
    seen: dict[str, set[str]] = {}
    for _, group, f, tokens, cost, stu in _parts(facts, by):
        row = acc.setdefault(group, [0, 0, 0, 0, Decimal(0)])
        ids = seen.setdefault(group, set())
        if f.id not in ids:
            ids.add(f.id)
            row[0] += 1
            row[1] += f.ok
        row[2] += tokens
        row[3] += cost
        row[4] += stu
    rows = [SpendRow(g, *v) for g, v in acc.items()]
    return sorted(rows, key=lambda r: (-r.cost_nano, -r.tokens, r.group))


@dataclass(frozen=True, slots=True)
class Series:
    """Cost and STU per time bucket per group (the chart's data)."""

    by: str
    buckets: tuple[str, ...]
    groups: tuple[str, ...]
    cost_nano: tuple[tuple[int, ...], ...]  # [group][bucket]
    stu: tuple[tuple[Decimal, ...], ...]
    tokens: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "buckets": list(self.buckets), "groups": list(self.groups),
                "cost_usd": [[usd(v) for v in row] for row in self.cost_nano],
                "cost_nano": [list(row) for row in self.cost_nano],
                "stu": [[str(v) for v in row] for row in self.stu],
                "tokens": [list(row) for row in self.tokens]}


def series(facts: Sequence[RequestFacts], by: str,
           bucket_of: Callable[[RequestFacts], str]) -> Series:
    """Cost, tokens and STU per bucket for the costliest groups (the rest as ``other``)."""
    check_dimension(by)
    top = [r.group for r in spend(facts, by)]
    keep = set(top[:SERIES_GROUPS_MAX])
    groups = top[:SERIES_GROUPS_MAX] + (["other"] if len(top) > SERIES_GROUPS_MAX else [])
    buckets = sorted({bucket_of(f) for f in facts})
    index = {b: i for i, b in enumerate(buckets)}
    cost = {g: [0] * len(buckets) for g in groups}
    tokens = {g: [0] * len(buckets) for g in groups}
    stu = {g: [Decimal(0)] * len(buckets) for g in groups}
    for bucket, group, _, t, c, s in _parts(facts, by, bucket_of):
        g = group if group in keep else "other"
        cost[g][index[bucket]] += c
        tokens[g][index[bucket]] += t
        stu[g][index[bucket]] += s
    return Series(by, tuple(buckets), tuple(groups), tuple(tuple(cost[g]) for g in groups),
                  tuple(tuple(stu[g]) for g in groups), tuple(tuple(tokens[g]) for g in groups))


@dataclass(frozen=True, slots=True)
class GoodputRow:
    team: str
    model: str
    billed_tokens: int
    good_tokens: int
    requests: int
    good_requests: int

    @property
    def goodput(self) -> Decimal:
        return ratio(self.good_tokens, self.billed_tokens)

    def to_json(self) -> dict[str, Any]:
        return {"team": self.team, "model": self.model, "billed_tokens": self.billed_tokens,
                "good_tokens": self.good_tokens, "goodput": str(self.goodput),
                "requests": self.requests, "good_requests": self.good_requests}


def is_good(f: RequestFacts, feedback: Mapping[str, tuple[str, ...]]) -> bool:
    """Good-put: succeeded, not retried, not abandoned, not marked useless (module doc)."""
    marked = set(feedback.get(f.id, ()))
    return f.ok and not f.retried and not f.abandoned and not marked & NOT_GOODPUT_FEEDBACK


def goodput(facts: Sequence[RequestFacts], feedback: Mapping[str, tuple[str, ...]],
            ) -> list[GoodputRow]:
    """Good-put per team and model, by team then model."""
    acc: dict[tuple[str, str], list[int]] = {}
    for f in facts:
        if f.cost_nano <= 0:
            continue
        row = acc.setdefault((f.team, f.record.model), [0, 0, 0, 0])
        good = is_good(f, feedback)
        row[0] += f.tokens
        row[1] += f.tokens if good else 0
        row[2] += 1
        row[3] += good
    return [GoodputRow(t, m, *v) for (t, m), v in sorted(acc.items())]


def goodput_total(rows: Sequence[GoodputRow]) -> GoodputRow:
    return GoodputRow("all", "all", sum(r.billed_tokens for r in rows),
                      sum(r.good_tokens for r in rows), sum(r.requests for r in rows),
                      sum(r.good_requests for r in rows))


__all__ = ["DIMENSIONS", "GoodputRow", "ReportInputError", "Series", "SpendRow",
           "check_dimension", "goodput", "goodput_total", "is_good", "ratio", "series", "spend",
           "usd"]

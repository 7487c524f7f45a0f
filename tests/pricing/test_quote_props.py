"""Invariants of pricing, for any usage and any priced model."""

from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.meter.usage import MODALITIES, TOKEN_CLASSES, Usage
from tokenomy.pricing import PriceBook, UnpricedError, load_book, quote
from tokenomy.pricing.policy import BLOCK
from tokenomy.pricing.records import Pricing
from tokenomy.pricing.reprice import Recorded, reprice_rows
from tokenomy.pricing.stu import build_table

NOW = datetime(2026, 11, 1, tzinfo=UTC)
BOOK = load_book()
MODELS = ["gpt-4o", "gpt-5", "o3", "gpt-4o-audio-preview", "gpt-realtime", "claude-sonnet-4-5",
          "claude-haiku-4-5", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview",
          "deepseek-chat", "qwen3-max", "qwen-turbo", "kimi-k2-0905-preview", "MiniMax-M2",
          "grok-4", "gpt-5.4"]
SRC = Path(__file__).resolve().parents[2] / "src" / "tokenomy"

counts = st.integers(min_value=0, max_value=3_000_000)
modality_dicts = st.fixed_dictionaries({}, optional={m.value: counts for m in MODALITIES})
usages = st.builds(
    lambda i, cr, cw, o, r, five, extras: Usage.build(
        i, cr, cw, o, r,
        cache_write_ttl={"5m": min(five, sum(cw.values()))},
        extras=extras),
    modality_dicts, modality_dicts, modality_dicts, modality_dicts, modality_dicts, counts,
    st.fixed_dictionaries({}, optional={"web_search_requests": st.integers(0, 20)}),
)
tiers = st.sampled_from(["standard", "standard", "batch", "flex", "priority"])


def _try(usage: Usage, model: str, tier: str = "standard") -> int | None:
    try:
        return quote(BOOK, usage, model, NOW, tier).total
    except UnpricedError:
        return None


@settings(max_examples=300, deadline=None)
@given(usages, st.sampled_from(MODELS), tiers)
def test_total_is_the_sum_of_the_lines(usage: Usage, model: str, tier: str) -> None:
    try:
        q = quote(BOOK, usage, model, NOW, tier)
    except UnpricedError:
        return
    assert q.total == sum(line.amount for line in q.lines)
    assert all(line.amount >= 0 and line.tokens > 0 for line in q.lines)
    priced_tokens = sum(line.tokens for line in q.lines if line.cls != "fee")
    assert priced_tokens == usage.total  # every token is on exactly one line


@settings(max_examples=300, deadline=None)
@given(usages, st.sampled_from(MODELS), st.sampled_from(list(TOKEN_CLASSES)),
       st.sampled_from(list(MODALITIES)), st.integers(1, 100_000))
def test_cost_is_monotone_in_every_count(usage: Usage, model: str, cls: Any, modality: Any,
                                         extra: int) -> None:
    """One more token of any class × modality never costs less — within one long-context tier
    (crossing a tier threshold re-prices the whole request, by the providers' own rule)."""
    before = _try(usage, model)
    bump = Usage.build(**{cls.value: {modality.value: extra}})
    after_usage = usage + bump
    after = _try(after_usage, model)
    if before is None or after is None:
        return
    entry = BOOK.entry(model, NOW)
    if entry.tier_for(usage.total_input)[0] != entry.tier_for(after_usage.total_input)[0]:
        assert after >= before  # tiers only ever get dearer
        return
    assert after >= before


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(usages, st.sampled_from(MODELS)), min_size=1, max_size=8))
def test_repricing_under_the_same_book_changes_nothing(items: list[tuple[Usage, str]]) -> None:
    rows = []
    for i, (usage, model) in enumerate(items):
        total = _try(usage, model)
        if total is None:
            continue
        q = quote(BOOK, usage, model, NOW)
        rows.append(Recorded(str(i), model, NOW, "standard", usage, q.total, "USD", q.version))
    lines, summary = reprice_rows(rows, Pricing(BOOK, BLOCK, build_table(BOOK, NOW), NOW))
    assert summary["changed"] == 0 and summary["errors"] == 0
    assert all(line["delta_usd"] == "0" for line in lines)
    assert all(line["old_price_version"] == line["new_price_version"] for line in lines)


# -- no float anywhere in the path ---------------------------------------------------------


def _floats_in(value: Any, depth: int = 0) -> Iterator[Any]:
    if isinstance(value, float):
        yield value
    elif depth < 2 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _floats_in(item, depth + 1)
    elif depth < 2 and isinstance(value, dict):
        for item in value.values():
            yield from _floats_in(item, depth + 1)


def test_no_float_is_ever_held_while_pricing() -> None:
    """Trace every line executed in money/ and pricing/ during quotes of every model and
    class × modality, and fail if any local variable holds a float at any point."""
    watched = (str(SRC / "money"), str(SRC / "pricing"), str(SRC / "meter" / "usage.py"))
    found: list[str] = []

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if not frame.f_code.co_filename.startswith(watched):
            return None
        if event in ("line", "return"):
            for name, value in frame.f_locals.items():
                for f in _floats_in(value):
                    found.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {name}={f!r}")
            if event == "return":
                found.extend(f"returned {f!r}" for f in _floats_in(arg))
        return tracer

    usage = Usage.build(*({m.value: 1_234 for m in MODALITIES} for _ in TOKEN_CLASSES),
                        cache_write_ttl={"5m": 1_000, "1h": 1_000},
                        extras={"web_search_requests": 2})
    book = PriceBook()
    sys.settrace(tracer)
    try:
        book = load_book()
        for model in MODELS:
            for tier in ("standard", "batch"):
                with contextlib.suppress(UnpricedError):
                    quote(book, usage, model, NOW, tier).to_json()
        build_table(book, NOW).convert(usage, "frontier")
    finally:
        sys.settrace(None)
    assert not found, found[:5]


def test_the_float_tracer_sees_a_float() -> None:
    assert list(_floats_in({"a": [1, 2.5]})) == [2.5]


@pytest.mark.parametrize("package", ["money", "pricing"])
def test_no_float_literal_or_call_in_money_code(package: str) -> None:
    for path in (SRC / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
                f"{path}:{node.lineno}: float literal")
            assert not (isinstance(node, ast.Call) and ast.unparse(node.func) == "float"), (
                f"{path}:{node.lineno}: float() call")

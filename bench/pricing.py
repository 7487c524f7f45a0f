"""Pricing benchmark: our exact ``quote()`` vs tokencost and LiteLLM, and where they disagree.

Run: ``.venv/bin/python bench/pricing.py`` (needs the ``bench`` extra). Prints two Markdown
tables: the measures, then every reason the three tools disagree, with a count and an example.
References named in the same run:

* tokencost ``calculate_cost_by_tokens(n, model, "input" | "output")`` — target: ours ≤ 5 µs per
  quote with tiers and exact arithmetic, where tokencost takes ≈ 2 µs without tiers;
* LiteLLM ``cost_per_token(model=..., usage_object=...)`` (70–90 µs expected);
* ``import litellm`` / ``import tokencost`` next to ``import tokenomy.pricing`` (target < 150 ms).

The workload is 100,000 deterministic usage records (``random.Random(SEED)``) over 30 models:
plain text, cached reads, Anthropic cache writes split 5m / 1h, reasoning, requests above the
long-context threshold (Gemini 2.5 Pro, Claude Sonnet 4 / 4.5, Grok 4) and Batch API requests.
Each tool gets the most its API accepts: LiteLLM a full ``Usage`` (cached, cache-write TTL split,
reasoning; ``call_type="retrieve_batch"`` for batch); tokencost has no cache-write, reasoning,
tier or batch notion, so it gets input+cache writes as ``input``, cache reads as ``cached`` (its
``input`` rate when it has none) and output+reasoning as ``output``. Model names: our id, then
its aliases, provider-prefixed first (LiteLLM's ``gemini/…`` row is the Developer API, the bare
one Vertex), so each reference prices with its first-party row where it has one.
Timed loops keep no results (as ``timeit``): holding 100K quotes alive costs GC time, not pricing.

Why they disagree is found rate by rate, not guessed from the record: each tool prices probe
requests (100K tokens of one class, on top of a 300K-token prompt for the long-context tier) and
a record's disagreement is put down to every token class it uses whose marginal rate differs.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from _common import best_of, print_table

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261101
N_RECORDS = 100_000
AT = datetime(2026, 11, 1, tzinfo=UTC)  # every record is priced at this instant
REPEATS = 3  # best-of for the in-process timings
IMPORT_RUNS = 5  # fresh interpreters per import timing (min); 3 for the slow references
REL_TOL = 1e-9  # two totals agree when |a - b| ≤ REL_TOL × max(|a|, |b|)
PROBE_TOKENS = 100_000  # tokens of one class in a rate probe (below every threshold)
LONG_PROMPT = 300_000  # prompt under a long-context probe (above every threshold used)
NANO = Decimal("1e-9")
CLASSES = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning")

# (our model id, provider); records are spread evenly over these.
MODELS: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("gpt-4.1", "openai"),
    ("gpt-4.1-mini", "openai"), ("gpt-4.1-nano", "openai"), ("o3", "openai"),
    ("o3-mini", "openai"), ("o4-mini", "openai"), ("gpt-5", "openai"),
    ("gpt-5-mini", "openai"), ("gpt-5-nano", "openai"), ("gpt-5.1", "openai"),
    ("claude-sonnet-4-5", "anthropic"), ("claude-haiku-4-5", "anthropic"),
    ("claude-opus-4-1", "anthropic"), ("claude-opus-4-5", "anthropic"),
    ("claude-sonnet-4-0", "anthropic"), ("claude-3-7-sonnet", "anthropic"),
    ("gemini-2.5-pro", "gemini"), ("gemini-2.5-flash", "gemini"),
    ("gemini-2.5-flash-lite", "gemini"), ("gemini-2.0-flash", "gemini"),
    ("deepseek-chat", "deepseek"), ("deepseek-reasoner", "deepseek"),
    ("grok-4", "xai"), ("grok-3-mini", "xai"),
    ("qwen-max", "qwen"), ("qwen-plus", "qwen"), ("qwen-turbo", "qwen"),
    ("kimi-k2-0905-preview", "moonshot"),
)
REASONING = frozenset({"o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano",
                       "gpt-5.1", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite",
                       "deepseek-reasoner", "grok-4", "grok-3-mini", "qwen-plus"})
# The prefix both references use for a provider's first-party rows.
PREFIX = {"openai": "openai/", "anthropic": "anthropic/", "gemini": "gemini/",
          "deepseek": "deepseek/", "xai": "xai/", "qwen": "dashscope/", "moonshot": "moonshot/"}


class Rec(NamedTuple):
    """One request's tokens by class; ``long`` = above our long-context threshold."""

    model: str
    inp: int
    cr: int
    cw5: int
    cw1: int
    out: int
    rs: int
    batch: bool
    long: bool
    plain: bool  # text input + output only, standard tier, no tier

    def counts(self) -> tuple[int, ...]:
        return (self.inp, self.cr, self.cw5, self.cw1, self.out, self.rs)

    def text(self) -> str:
        names = ("in", "cr", "cw5m", "cw1h", "out", "rs")
        parts = [f"{k}={v:,}" for k, v in zip(names, self.counts(), strict=True) if v]
        return f"{self.model} {' '.join(parts)}{' batch' if self.batch else ''}"


# ------------------------------------------------------------------------- workload


class _Spec(NamedTuple):
    model: str
    provider: str
    threshold: int  # first long-context threshold in our book, 0 if none
    batch: bool  # our book has a Batch API tier


def _size(rng: random.Random, mu: float, sigma: float, top: int) -> int:
    return max(1, min(top, int(rng.lognormvariate(mu, sigma))))


def make_records(book: Any, n: int = N_RECORDS, seed: int = SEED) -> list[Rec]:
    rng = random.Random(seed)
    specs = []
    for model, provider in MODELS:
        entry = book.entry(model, AT)
        threshold = entry.tiers[0].input_tokens if entry.tiers else 0
        specs.append(_Spec(model, provider, threshold, "batch" in entry.service_tiers))
    records = []
    for _ in range(n):
        s = rng.choice(specs)
        out = _size(rng, 5.5, 1.1, 16_000)
        if rng.random() < 0.3:  # plain text: the apples-to-apples subset
            inp = _size(rng, 7.0, 1.3, 120_000)
            records.append(Rec(s.model, inp, 0, 0, 0, out, 0, False, False, True))
            continue
        prompt = _size(rng, 8.0, 1.4, 150_000)
        if s.threshold and rng.random() < 0.12:
            prompt = rng.randint(s.threshold + 1, 4 * s.threshold)
        cr = int(prompt * rng.uniform(0.3, 0.95)) if rng.random() < 0.5 else 0
        cw5 = cw1 = 0
        if s.provider == "anthropic" and rng.random() < 0.5:
            cw = int((prompt - cr) * rng.uniform(0.2, 0.9))
            split = rng.random()
            cw1 = cw if split < 0.25 else int(cw * rng.random()) if split < 0.5 else 0
            cw5 = cw - cw1
        rs = _size(rng, 6.5, 1.2, 32_000) if s.model in REASONING and rng.random() < 0.7 else 0
        batch = s.batch and rng.random() < 0.1
        long = bool(s.threshold) and prompt > s.threshold
        records.append(Rec(s.model, prompt - cr - cw5 - cw1, cr, cw5, cw1, out, rs, batch, long,
                           False))
    return records


def _probe(model: str, long: bool, batch: bool, cls: str | None) -> Rec:
    counts = dict.fromkeys(CLASSES, 0)
    counts["input"] = LONG_PROMPT if long else 0
    if cls is not None:
        counts[cls] += PROBE_TOKENS
    return Rec(model, *counts.values(), batch, long, False)


# ------------------------------------------------------------------------- the tools


class Ours:
    name = "ours"

    def __init__(self) -> None:
        from tokenomy.meter.usage import Usage
        from tokenomy.pricing import load_book, quote

        self.book = load_book()
        self.quote = quote
        self._build = Usage.build

    def usage(self, r: Rec) -> Any:
        return self._build(input=r.inp, cache_read=r.cr, cache_write=r.cw5 + r.cw1,
                           output=r.out, reasoning=r.rs,
                           cache_write_ttl={"5m": r.cw5, "1h": r.cw1})

    def job(self, r: Rec) -> tuple[Any, str, datetime, str]:
        return self.usage(r), r.model, AT, "batch" if r.batch else "standard"

    def price(self, r: Rec) -> Decimal:
        return Decimal(self.quote(self.book, *self.job(r)).total) * NANO

    def lines(self, r: Rec) -> int:
        return len(self.quote(self.book, *self.job(r)).lines)


class TokenCost:
    name = "tokencost"

    def __init__(self, book: Any) -> None:
        import tokencost
        from tokencost.costs import _normalize_model_for_pricing

        self.cost = tokencost.calculate_cost_by_tokens
        table = tokencost.TOKEN_COSTS
        self.names: dict[str, str] = {}
        self.has_cached: dict[str, bool] = {}
        for model, provider in MODELS:
            for name in _candidates(book, model, provider):
                key = _normalize_model_for_pricing(name)
                if {"input_cost_per_token", "output_cost_per_token"} <= table.get(key, {}).keys():
                    self.names[model] = name
                    self.has_cached[model] = "cache_read_input_token_cost" in table[key]
                    break

    def price(self, r: Rec) -> Decimal | None:
        name = self.names.get(r.model)
        if name is None:
            return None
        cost = self.cost(r.inp + r.cw5 + r.cw1, name, "input")
        cost += self.cost(r.out + r.rs, name, "output")
        if r.cr:
            cost += self.cost(r.cr, name, "cached" if self.has_cached[r.model] else "input")
        return cost


class Lite:
    name = "LiteLLM"

    def __init__(self, book: Any) -> None:
        import litellm
        from litellm.types.utils import (
            CacheCreationTokenDetails,
            CompletionTokensDetailsWrapper,
            PromptTokensDetailsWrapper,
            Usage,
        )

        self.cost = litellm.cost_per_token
        self._types = (Usage, PromptTokensDetailsWrapper, CompletionTokensDetailsWrapper,
                       CacheCreationTokenDetails)
        self.names: dict[str, str] = {}
        for model, provider in MODELS:
            for name in _candidates(book, model, provider):
                if name in litellm.model_cost:
                    self.names[model] = name
                    break

    def usage(self, r: Rec) -> Any:
        usage, prompt_details, completion_details, ttl_details = self._types
        written = r.cw5 + r.cw1
        prompt = prompt_details(
            cached_tokens=r.cr or None, cache_write_tokens=written or None,
            cache_creation_token_details=ttl_details(
                ephemeral_5m_input_tokens=r.cw5, ephemeral_1h_input_tokens=r.cw1,
            ) if written else None,
        )
        completion = completion_details(reasoning_tokens=r.rs, text_tokens=r.out) if r.rs else None
        total_in = r.inp + r.cr + written  # LiteLLM's prompt_tokens include cache reads/writes
        return usage(prompt_tokens=total_in, completion_tokens=r.out + r.rs,
                     total_tokens=total_in + r.out + r.rs,
                     prompt_tokens_details=prompt if r.cr or written else None,
                     completion_tokens_details=completion)

    def price(self, r: Rec, usage: Any = None) -> float | str | None:
        """USD, or the name of the exception LiteLLM raised, or None for an unknown model."""
        name = self.names.get(r.model)
        if name is None:
            return None
        u = self.usage(r) if usage is None else usage
        try:
            if r.batch:
                prompt, completion = self.cost(model=name, usage_object=u,
                                               call_type="retrieve_batch")
            else:
                prompt, completion = self.cost(model=name, usage_object=u)
        except Exception as exc:  # a reference tool's failure is a result to report
            return type(exc).__name__
        return prompt + completion


def _candidates(book: Any, model: str, provider: str) -> list[str]:
    """Our id and aliases, provider-prefixed first (the first-party row), then bare."""
    names = [model, *book.entry(model, AT).aliases]
    return [PREFIX[provider] + n for n in names] + names


# ------------------------------------------------------------------------- timing


def _each(fn: Callable[..., object], args: list[tuple[Any, ...]]) -> Callable[[], None]:
    """A timing body that calls ``fn(*a)`` for every ``a`` and keeps no result (as timeit)."""

    def body() -> None:
        for a in args:
            fn(*a)

    return body


def _per(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.2f} µs/quote, {n / seconds:,.0f} quotes/s"


SUBSETS: tuple[tuple[str, Callable[[Rec], bool]], ...] = (
    ("with cached reads", lambda r: r.cr > 0),
    ("with 5m/1h cache writes", lambda r: r.cw5 + r.cw1 > 0),
    ("with reasoning", lambda r: r.rs > 0),
    ("above a long-context threshold", lambda r: r.long),
    ("batch tier", lambda r: r.batch),
)


def bench_ours(rows: list[list[str]], records: list[Rec], ours: Ours, tc: TokenCost) -> float:
    """Our quotes/s over everything, per feature, and on the text-only subset vs tokencost."""
    q, book = ours.quote, ours.book
    jobs = [(book, *ours.job(r)) for r in records]
    t_ours = best_of(_each(q, jobs), REPEATS)
    rows.append([f"ours quote(): {len(jobs):,} mixed records (tiers, TTLs, batch)",
                 _per(t_ours, len(jobs)), "", "≤ 5 µs"])
    for name, keep in SUBSETS:
        subset = [j for j, r in zip(jobs, records, strict=True) if keep(r)]
        rows.append([f"  of which {len(subset):,} {name}", _per(best_of(_each(q, subset), REPEATS),
                                                                len(subset)), "", "≤ 5 µs"])
    plain = [(j, r) for j, r in zip(jobs, records, strict=True)
             if r.plain and r.model in tc.names]
    t_plain = best_of(_each(q, [j for j, _ in plain]), REPEATS)
    f = tc.cost

    def tc_pair(i: int, o: int, n: str) -> object:
        return f(i, n, "input") + f(o, n, "output")

    t_tc = best_of(_each(tc_pair, [(r.inp, r.out, tc.names[r.model]) for _, r in plain]), REPEATS)
    rows.append([f"ours quote(): {len(plain):,} text-only, no-tier records",
                 _per(t_plain, len(plain)), f"{t_plain / t_tc:.2f}× tokencost's time",
                 "≤ 5 µs"])
    rows.append(["tokencost input+output, same records (reference)", _per(t_tc, len(plain)),
                 "", "≈ 2 µs, no tiers"])
    return t_ours / len(jobs)


def bench_references(rows: list[list[str]], records: list[Rec], tc: TokenCost, lite: Lite,
                     ours_s: float) -> dict[str, list[Any]]:
    """One pass of each reference over every record it knows: its totals, timed."""
    start = time.perf_counter()
    tc_out = [tc.price(r) for r in records]
    t_tc = time.perf_counter() - start
    n_tc = sum(1 for r in records if r.model in tc.names)
    known = [(i, r) for i, r in enumerate(records) if r.model in lite.names]
    usages = [lite.usage(r) for _, r in known]  # built up front, like our Usage objects
    start = time.perf_counter()
    lite_out = [lite.price(r, u) for (_, r), u in zip(known, usages, strict=True)]
    t_lite = time.perf_counter() - start
    lite_all: list[Any] = [None] * len(records)
    for (i, _), value in zip(known, lite_out, strict=True):
        lite_all[i] = value
    plain = [(lite.names[r.model], r.inp, r.out) for r in records
             if r.plain and r.model in lite.names][:5_000]
    c = lite.cost
    t_kw = best_of(_each(lambda n, i, o: c(model=n, prompt_tokens=i, completion_tokens=o),
                       plain), repeats=1)
    lite_s = t_lite / len(known)
    rows[0][2] = f"{lite_s / ours_s:,.0f}× faster than LiteLLM"
    rows.append([f"tokencost input+cached+output: {n_tc:,} mixed (1 pass)", _per(t_tc, n_tc),
                 "", "its models only"])
    rows.append([f"LiteLLM cost_per_token(usage_object=…): {len(known):,} mixed (1 pass)",
                 _per(t_lite, len(known)), "reference", "70–90 µs"])
    rows.append([f"LiteLLM cost_per_token(prompt_tokens=…): {len(plain):,} text-only (1 pass)",
                 _per(t_kw, len(plain)), "reference", "70–90 µs"])
    return {"tokencost": tc_out, "LiteLLM": lite_all}


def _run(code: str, runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Each float the snippet prints, then the wall time: min over ``runs`` fresh
    interpreters, and the first (cold) run."""
    best: list[float] = []
    first: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True, env=env, cwd=ROOT).stdout
        values = [float(v) for v in out.split()] + [time.perf_counter() - start]
        first = first or values
        best = values if not best else [min(a, b) for a, b in zip(best, values, strict=True)]
    return best, first


_TIMED_IMPORT = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
_TIMED_BOOK = ("import time; t = time.perf_counter(); import tokenomy.pricing as p; "
               "t1 = time.perf_counter(); p.load_book(); print(t1 - t, time.perf_counter() - t1)")


def bench_import(rows: list[list[str]]) -> None:
    # Bytecode is cached under a scratch prefix (not in the tree): the first run compiles,
    # the minimum is what an installed package costs. PYTHONDONTWRITEBYTECODE would hide that.
    cache_dir = tempfile.mkdtemp(prefix="bench-pycache-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PYTHONPYCACHEPREFIX": cache_dir, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    (start_s,), _ = _run("pass", IMPORT_RUNS, env)
    (ours_s, load_s, ours_wall), (cold_s, _, _) = _run(_TIMED_BOOK, IMPORT_RUNS, env)
    (lite_s, lite_wall), _ = _run(_TIMED_IMPORT.format("litellm"), 3, env)
    (tc_s, _), _ = _run(_TIMED_IMPORT.format("tokencost"), 3, env)
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c", "import tokenomy.pricing"],
                           check=True, capture_output=True, text=True, cwd=ROOT, env=env).stderr
    selfs = [(int(m[1]), m[2].strip()) for m in
             re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|(.*)", trace)]
    top = ", ".join(f"{name} {us / 1000:.1f}" for us, name in sorted(selfs, reverse=True)[:3])
    rows.append([f"import tokenomy.pricing (in-process, min of {IMPORT_RUNS})",
                 f"{ours_s * 1e3:.0f} ms", f"{lite_s / ours_s:.0f}× faster than litellm",
                 f"< 150 ms (cold, compiling: {cold_s * 1e3:.0f} ms)"])
    rows.append([f"python -c 'import tokenomy.pricing; load_book()' (wall, min of {IMPORT_RUNS})",
                 f"{ours_wall * 1e3:.0f} ms", f"python -c pass: {start_s * 1e3:.0f} ms", ""])
    rows.append(["  largest self times in that import (ms)", top, "", ""])
    rows.append(["first load_book() (bundled catalog parse, fresh process)",
                 f"{load_s * 1e3:.0f} ms", "", ""])
    rows.append(["import litellm (reference, min of 3)", f"{lite_s * 1e3:,.0f} ms",
                 f"wall {lite_wall * 1e3:,.0f} ms", ""])
    rows.append(["import tokencost (reference, min of 3)", f"{tc_s * 1e3:,.0f} ms", "", ""])


# ------------------------------------------------------------------------- disagreements

Label = tuple[str, str]  # (reason, model it applies to, or "" when the reason names it)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    a, b = float(a), float(b)
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) or a == b


def _fmt(rate: Any) -> str:
    return "none" if rate is None else f"{float(rate):.6g}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal))


class Rates:
    """Marginal $/MTok of one token class for each tool, from probe requests (memoized)."""

    def __init__(self, tools: dict[str, Callable[[Rec], Any]], book: Any,
                 records: list[Rec]) -> None:
        self.tools = tools
        self.book = book
        self.rate = cache(self._rate)
        self.used: dict[str, set[str]] = {}  # the classes each model's records use
        for r in records:
            self.used.setdefault(r.model, set()).update(
                c for c, n in zip(CLASSES, r.counts(), strict=True) if n)

    def _rate(self, tool: str, model: str, long: bool, batch: bool, cls: str) -> Any:
        price = self.tools[tool]
        base = price(_probe(model, long, batch, None))
        more = price(_probe(model, long, batch, cls))
        if not _number(base) or not _number(more):
            return None
        if isinstance(more, Decimal):
            return (more - base) * 10**6 / PROBE_TOKENS
        return (float(more) - float(base)) * 1e6 / PROBE_TOKENS

    def diffs(self, tool: str, model: str, long: bool, batch: bool) -> str:
        return "; ".join(
            f"{c} ours {_fmt(self.rate('ours', model, long, batch, c))} vs "
            f"{_fmt(self.rate(tool, model, long, batch, c))}"
            for c in CLASSES if c in self.used[model]
            and not _same(self.rate("ours", model, long, batch, c),
                          self.rate(tool, model, long, batch, c)))


def _book_label(rates: Rates, tool: str, m: str, cls: str) -> Label:
    """Why ``tool``'s standard, base-context rate for ``cls`` differs from ours."""

    def o(c: str) -> Any:
        return rates.rate("ours", m, False, False, c)

    def t(c: str) -> Any:
        return rates.rate(tool, m, False, False, c)

    if cls.startswith("cache_write") and _same(t(cls), t("input")) and not _same(
            o(cls), o("input")):
        return f"{tool} has no cache-write price: writes billed as input", m
    if cls == "cache_write_1h" and _same(t(cls), t("cache_write_5m")) and not _same(
            o(cls), o("cache_write_5m")):
        return f"{tool} bills 1h cache writes at the 5m rate", m
    if cls == "cache_read" and _same(t(cls), t("input")) and not _same(o(cls), o("input")):
        return f"{tool} has no cached-input price: reads billed as input", m
    if cls == "reasoning" and _same(t(cls), t("output")) and not _same(o(cls), o("output")):
        return (f"{tool} bills {m} reasoning at its output rate {_fmt(t(cls))}; ours has a "
                f"reasoning rate {_fmt(o(cls))} $/MTok"), ""
    return f"price differs in the book ({m}, $/MTok): {rates.diffs(tool, m, False, False)}", ""


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if _number(a) and _number(b) and b else None


def _labels(rates: Rates, tool: str, r: Rec, cls: str) -> set[Label]:
    """Every reason ``tool``'s rate for ``cls`` in ``r``'s context differs from ours."""
    m, long, batch = r.model, r.long, r.batch

    def o(c: str, lg: bool = long, bt: bool = batch) -> Any:
        return rates.rate("ours", m, lg, bt, c)

    def t(c: str, lg: bool = long, bt: bool = batch) -> Any:
        return rates.rate(tool, m, lg, bt, c)

    found: set[Label] = set()
    if not _same(o(cls, False, False), t(cls, False, False)):
        found.add(_book_label(rates, tool, m, cls))
    context = False
    if long and _same(t(cls), t(cls, False)) and not _same(o(cls), o(cls, False)):
        found.add((f"{tool} has no long-context tier (ours re-prices the whole request above "
                   "the threshold)", m))
        context = True
    if batch and _same(t(cls), t(cls, long, False)) and not _same(o(cls), o(cls, long, False)):
        partial = any(not _same(t(c), t(c, long, False)) for c in rates.used[m])
        found.add((f"{tool} has no batch {cls} rate: bills the standard one" if partial
                   else f"{tool} has no batch prices", m))
        context = True
    if (batch and cls == "cache_write_1h" and _same(t(cls), t("cache_write_5m"))
            and not _same(t(cls, long, False), t("cache_write_5m", long, False))):
        found.add((f"{tool} bills batch 1h cache writes at the batch 5m rate", m))
        context = True
    if batch and _same(t(cls), 0) and not _same(t(cls, long, False), 0):
        found.add((f"{tool} bills batch {cls} tokens at 0 (free)", m))
        context = True
    if (long or batch) and not context and _rescaled(rates, tool, r, cls):
        where = ", ".join(x for x in ("long context" if long else "", "batch" if batch else "")
                          if x)
        diffs = "; ".join(f"{c} ours {_fmt(o(c))} vs {_fmt(t(c))}" for c in CLASSES
                          if c in rates.used[m] and _rescaled(rates, tool, r, c))
        found.add((f"price differs ({m}, {where}, $/MTok): {diffs}", ""))
    return found


def _rescaled(rates: Rates, tool: str, r: Rec, cls: str) -> bool:
    """True when ``tool`` scales ``cls`` from the base context to ``r``'s differently."""

    def ratio(who: str) -> float | None:
        return _ratio(rates.rate(who, r.model, r.long, r.batch, cls),
                      rates.rate(who, r.model, False, False, cls))

    return not _same(ratio(tool), ratio("ours"))


def _reasons(rates: Rates, tool: str, r: Rec, ours_usd: Decimal, theirs: Any,
             ours: Ours) -> set[Label]:
    if theirs is None:
        return {(f"model unknown to {tool}", r.model)}
    if isinstance(theirs, str):
        return {(f"{tool} raised {theirs}", r.model)}
    found: set[Label] = set()
    for c, n in zip(CLASSES, r.counts(), strict=True):
        if n and not _same(rates.rate("ours", r.model, r.long, r.batch, c),
                           rates.rate(tool, r.model, r.long, r.batch, c)):
            found |= _labels(rates, tool, r, c)
    if found:
        return found
    if abs(float(ours_usd) - float(theirs)) <= 0.5e-9 * ours.lines(r) + 1e-15:
        return {("ours rounds each line half-even to the nano-USD; theirs keep float "
                 "fractions (|Δ| ≤ ½ n$ per line)", "")}
    return {("unexplained: same marginal rates, different total", r.model)}


def bench_disagree(rows: list[list[str]], records: list[Rec], ours: Ours,
                   results: dict[str, list[Any]], rates: Rates) -> list[list[str]]:
    ours_usd = [ours.price(r) for r in records]
    tc, lite = results["tokencost"], results["LiteLLM"]
    found: dict[tuple[str, str], dict[str, list[int]]] = {}
    differ = {"tokencost": 0, "LiteLLM": 0}
    n_labels: dict[tuple[str, int], int] = {}  # reasons per (tool, record), to pick examples
    all_three = all_agree = ref_differ = any_differ = 0
    for i, r in enumerate(records):
        agree = {}
        for tool, theirs in (("tokencost", tc[i]), ("LiteLLM", lite[i])):
            agree[tool] = _number(theirs) and _same(ours_usd[i], theirs)
            differ[tool] += _number(theirs) and not agree[tool]
            if not agree[tool]:
                labels = _reasons(rates, tool, r, ours_usd[i], theirs, ours)
                n_labels[tool, i] = len(labels)
                for reason, model in labels:
                    found.setdefault((tool, reason), {}).setdefault(model, []).append(i)
        if _number(tc[i]) and _number(lite[i]):
            all_three += 1
            all_agree += agree["tokencost"] and agree["LiteLLM"]
            ref_differ += not _same(tc[i], lite[i])
        any_differ += any(_number(v) and not _same(ours_usd[i], v) for v in (tc[i], lite[i]))
    n_tc, n_lite = sum(map(_number, tc)), sum(map(_number, lite))
    rows += [
        ["records priced by ours / tokencost / LiteLLM",
         f"{len(records):,} / {n_tc:,} / {n_lite:,}", "", "the rest: model unknown to it"],
        ["records where ours ≠ tokencost", f"{differ['tokencost']:,} of {n_tc:,}",
         f"{differ['tokencost'] / n_tc:.1%}", f"relative tolerance {REL_TOL:g}"],
        ["records where ours ≠ LiteLLM", f"{differ['LiteLLM']:,} of {n_lite:,}",
         f"{differ['LiteLLM'] / n_lite:.1%}", f"relative tolerance {REL_TOL:g}"],
        ["records where tokencost ≠ LiteLLM", f"{ref_differ:,} of {all_three:,}",
         f"{ref_differ / all_three:.1%}", "records all three price"],
        ["records all three price and agree on", f"{all_agree:,} of {all_three:,}",
         f"{all_agree / all_three:.1%}", ""],
        ["records where ours differs from ≥ 1 reference", f"{any_differ:,} of {len(records):,}",
         f"{any_differ / len(records):.1%}", ""],
    ]
    return _reason_rows(found, records, ours_usd, results, n_labels)


def _reason_rows(found: dict[tuple[str, str], dict[str, list[int]]], records: list[Rec],
                 ours_usd: list[Decimal], results: dict[str, list[Any]],
                 n_labels: dict[tuple[str, int], int]) -> list[list[str]]:
    """One row per (tool, reason); the example is a record with as few other reasons as can
    be, so that its two totals show this reason alone."""
    table = []
    for (tool, reason), by_model in found.items():
        ranked = sorted(by_model.items(), key=lambda kv: -len(kv[1]))
        n = sum(len(v) for v in by_model.values())
        if ranked[0][0]:  # a reason shared by models: name them, biggest first
            reason += ": " + ", ".join(f"{model} {len(v):,}" for model, v in ranked)
        i = min(ranked[0][1], key=lambda j: (n_labels[tool, j], j))
        theirs = results[tool][i]
        example = f"#{i} {records[i].text()}: ours ${ours_usd[i].normalize():f}"
        if _number(theirs):
            example += f" vs ${float(theirs):.12g}"
        table.append([tool, reason, n, example])
    table.sort(key=lambda row: (row[0], -row[2]))
    return [[tool, reason, f"{n:,}", example] for tool, reason, n, example in table]


# ------------------------------------------------------------------------- output


def main() -> int:
    # LiteLLM would otherwise try to download its price map at import time.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; best of {REPEATS}; "
          f"{N_RECORDS:,} records, seed {SEED}, priced at {AT.isoformat()}", file=sys.stderr)
    speed: list[list[str]] = []
    ours = Ours()
    tc, lite = TokenCost(ours.book), Lite(ours.book)
    records = make_records(ours.book)
    ours_s = bench_ours(speed, records, ours, tc)
    results = bench_references(speed, records, tc, lite, ours_s)
    imports: list[list[str]] = []
    bench_import(imports)
    rates = Rates({"ours": ours.price, "tokencost": tc.price, "LiteLLM": lite.price}, ours.book,
                  records)
    agreement: list[list[str]] = []
    reasons = bench_disagree(agreement, records, ours, results, rates)
    print_table(["measure", "result", "vs reference", "target / note"],
                 [*speed, *imports, *agreement])
    print()
    print("Why the references differ from ours (a record may have several reasons; "
          "$/MTok rates are marginal, measured by probe requests):")
    print()
    print_table(["tool", "reason", "records", "example (#record: ours vs theirs)"], reasons)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

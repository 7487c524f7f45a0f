"""Meter benchmark: our text counter vs raw tiktoken (and LiteLLM), and normalization speed.

Run: ``make bench`` (or ``.venv/bin/python bench/meter.py``). Prints a Markdown table.
References named in the same run:

* raw ``tiktoken`` ``Encoding.encode_ordinary`` on the same corpus (target: ours ≥ 90%);
* LiteLLM ``token_counter(model=..., text=...)`` when the ``bench`` extra is installed;
* normalization: µs per record over a mix of provider usage objects (target ≤ 5 µs).
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from _common import REPEATS, best_of, print_table

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "meter" / "corpus"
CORPUS_COPIES = 40  # the test corpus is a few KB; repeat it for a stable measurement


def _corpus() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()) if p.is_file()]
    return texts * CORPUS_COPIES


def _reference_tiktoken(name: str) -> Any:
    """tiktoken's own constructor and loader (hash-checked) reading our shipped rank file."""
    import tiktoken
    from tiktoken_ext import openai_public

    blob = gzip.decompress(
        resources.files("tokenomy.meter").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    )
    local = Path(tempfile.mkdtemp(prefix="tiktoken-ref-")) / f"{name}.tiktoken"
    local.write_bytes(blob)
    original = openai_public.load_tiktoken_bpe

    def load_local(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        ranks: dict[bytes, int] = original(str(local), expected_hash=expected_hash)
        return ranks

    openai_public.load_tiktoken_bpe = load_local
    try:
        spec = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


def bench_text(rows: list[list[str]]) -> None:
    from tokenomy.meter.tokenizers import get_tokenizer

    texts = _corpus()
    chars = sum(len(t) for t in texts)
    for name, litellm_model in (("o200k_base", "gpt-4o"), ("cl100k_base", "gpt-4")):
        ours = get_tokenizer(name)
        ref = _reference_tiktoken(name)
        tokens = sum(len(ref.encode_ordinary(t)) for t in texts)
        assert tokens == sum(ours.count(t) for t in texts), "counts differ from tiktoken"
        t_ref = best_of(lambda: [ref.encode_ordinary(t) for t in texts])  # noqa: B023
        t_ours = best_of(lambda: [ours.count(t) for t in texts])  # noqa: B023
        t_batch = best_of(lambda: ours.count_batch(texts))  # noqa: B023
        rows.append([f"text {name}: raw tiktoken encode_ordinary (reference)",
                     f"{tokens / t_ref:,.0f} tok/s", "100%", ""])
        rows.append([f"text {name}: tokenomy count()", f"{tokens / t_ours:,.0f} tok/s",
                     f"{t_ref / t_ours:.0%}", "≥ 90%"])
        rows.append([f"text {name}: tokenomy count_batch()", f"{tokens / t_batch:,.0f} tok/s",
                     f"{t_ref / t_batch:.0%}", "≥ 90%"])
        try:
            from litellm import token_counter
        except ImportError:
            rows.append([f"text {name}: LiteLLM token_counter", "not installed", "", ""])
            continue
        lite_tokens = sum(token_counter(model=litellm_model, text=t) for t in texts)
        t_lite = best_of(lambda: [token_counter(model=litellm_model, text=t)  # noqa: B023
                                for t in texts], repeats=2)
        same = "same counts" if lite_tokens == tokens else f"{lite_tokens - tokens:+,} tokens"
        rows.append([f"text {name}: LiteLLM token_counter ({litellm_model})",
                     f"{tokens / t_lite:,.0f} tok/s", f"{t_ref / t_lite:.0%}", same])
    rows.append(["(corpus)", f"{len(texts)} texts, {chars:,} chars, {tokens:,} tokens", "", ""])


RECORDS: list[tuple[str, str, dict[str, Any]]] = [
    ("openai", "chat", {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 128,
                                                      "audio_tokens": 0,
                                                      "accepted_prediction_tokens": 0,
                                                      "rejected_prediction_tokens": 0}}),
    ("openai", "responses", {"input_tokens": 900, "output_tokens": 200, "total_tokens": 1100,
                             "input_tokens_details": {"cached_tokens": 512},
                             "output_tokens_details": {"reasoning_tokens": 64}}),
    ("anthropic", "messages", {"input_tokens": 20, "cache_creation_input_tokens": 1000,
                               "cache_read_input_tokens": 5000, "output_tokens": 400,
                               "cache_creation": {"ephemeral_5m_input_tokens": 400,
                                                  "ephemeral_1h_input_tokens": 600}}),
    ("google", "generate_content", {"promptTokenCount": 3000, "candidatesTokenCount": 500,
                                    "thoughtsTokenCount": 250, "cachedContentTokenCount": 2048,
                                    "totalTokenCount": 3750}),
    ("deepseek", "chat", {"prompt_tokens": 800, "completion_tokens": 100, "total_tokens": 900,
                          "prompt_cache_hit_tokens": 640, "prompt_cache_miss_tokens": 160}),
]


def bench_normalize(rows: list[list[str]]) -> None:
    from tokenomy.meter.normalize import normalize

    n = 20_000
    for provider, api, usage in RECORDS:
        seconds = best_of(lambda: [normalize(provider, api, usage)  # noqa: B023
                                 for _ in range(n)])
        rows.append([f"normalize {provider} {api}", f"{seconds / n * 1e6:.2f} µs/record",
                     f"{n / seconds:,.0f} records/s", "≤ 5 µs"])
    mixed = RECORDS * (n // len(RECORDS))
    seconds = best_of(lambda: [normalize(p, a, u) for p, a, u in mixed])
    rows.append(["normalize mixed (all of the above)",
                 f"{seconds / len(mixed) * 1e6:.2f} µs/record",
                 f"{len(mixed) / seconds:,.0f} records/s", "≤ 5 µs"])
    try:
        from litellm.cost_calculator import completion_cost  # noqa: F401
        from litellm.types.utils import Usage as LiteUsage
    except ImportError:
        return
    raw = RECORDS[0][2]
    seconds = best_of(lambda: [LiteUsage(**raw) for _ in range(n)])
    rows.append(["LiteLLM Usage(**openai chat usage) (reference)",
                 f"{seconds / n * 1e6:.2f} µs/record", f"{n / seconds:,.0f} records/s", ""])


def main() -> int:
    # LiteLLM would otherwise try to download its price map at import time.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows: list[list[str]] = []
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; best of {REPEATS}",
          file=sys.stderr)
    bench_text(rows)
    bench_normalize(rows)
    print_table(["measure", "result", "vs reference", "target / note"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

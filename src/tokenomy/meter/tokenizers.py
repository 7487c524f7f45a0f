"""Shipped text tokenizers: text in, token counts (and, for exact ones, token ids) out.

Everything is loaded from ``tokenomy/meter/data/`` (see ``data/SOURCES.md``); nothing is
downloaded, no environment variable is read. Each tokenizer is built on first use and kept
(``functools.cache``), so the first call for a name pays the load (0.2 to 2 s), later ones not.

=================  =====  =====================================================================
name               exact  how
=================  =====  =====================================================================
o200k_base         yes    tiktoken, OpenAI's ranks (GPT-4o, GPT-4.1, o-series, GPT-5)
cl100k_base        yes    tiktoken, OpenAI's ranks (GPT-3.5, GPT-4, GPT-4-turbo, embeddings)
deepseek_v3        yes    Hugging Face ``tokenizers``, DeepSeek-V3's own ``tokenizer.json``
qwen2              yes    Hugging Face ``tokenizers``, converted from Qwen2/2.5/3's BPE ranks
claude_estimate    no     max(o200k x 7/4, ASCII chars / 4 + non-ASCII chars x 5/4), rounded up
gemini_estimate    no     max(o200k x 5/4, other chars / 4 + Han/Kana/Hangul chars), rounded up
generic_estimate   no     the gemini_estimate formula, for Kimi, MiniMax and Grok
=================  =====  =====================================================================

Counting treats the text of special tokens as plain text: ``"<|endoftext|>"`` typed by a user
is counted as the ordinary tokens it spells (tiktoken ``encode_ordinary``; the HF tokenizers are
loaded without their added tokens), because providers bill user text that way and because a
counter must not be steerable by its input.

Estimators (``exact is False``) lean to over-counting on purpose: budgets reserve on them and a
reservation that is too small lets a request overspend. Method and measured error:

* ``claude_estimate``. Anthropic publishes no Claude 3+ tokenizer. Evidence against o200k
  (GPT-4o): Claude 3.5 Sonnet used ~16% more tokens on English articles, 21% on math and 30%
  on Python (third-party measurement, 2025); Anthropic's release notes say the Claude Opus 4.7
  tokenizer uses "roughly 1x to 1.35x as many tokens" as earlier models, and independent
  ``count_tokens`` probes found up to 1.46x on English prose, 1.13-1.33x on code and 1.00x on
  CJK, Cyrillic, Arabic and Hindi. Compounded: English prose ~1.16 x 1.46 = 1.69x o200k, code
  ~1.30 x 1.33 = 1.73x, hence the factor 7/4. o200k is far more efficient on non-Latin scripts
  than Claude's vocabulary is believed to be (the public legacy Claude-2 tokenizer, *not* the
  Claude 3+ one, needs 1.01-1.09 tokens per non-ASCII character on Chinese, Japanese, Arabic,
  Cyrillic), hence the character floor of 5/4 token per non-ASCII character. On the 12-file
  test corpus the estimate is 1.04x to 1.72x the legacy Claude-2 count (never below), and
  1.75x to 3.01x o200k; see ``data/SOURCES.md``. Expect 35-50% over on pre-4.7 models.
* ``gemini_estimate``. Google's rule is "a token is about 4 characters"; Gemini's tokenizer is
  not shipped here, so this is not calibrated against it. The estimate never goes below that
  rule (a Han, Kana or Hangul character counted as one whole token), nor below o200k + 25%.
  On the test corpus it is 1.25x to 1.49x o200k; expect 10-40% over on English prose.
* ``generic_estimate``. Moonshot (Kimi), MiniMax and xAI (Grok) ship no tokenizer we can
  bundle. Their vocabularies are large (130K-200K entries) and Chinese-efficient, like
  o200k's, so the same over-leaning formula as ``gemini_estimate`` applies; it is a separate
  name so it can be recalibrated on its own.

Protocols: every tokenizer has ``name``, ``exact``, ``count`` and ``count_batch``
(:class:`Tokenizer`). The exact ones also have ``encode`` (:class:`ExactTokenizer`);
estimators have no token ids, so they do not pretend to. ``get_encoder`` returns the
exact ones only.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Protocol, runtime_checkable

import tiktoken
from tokenizers import Tokenizer as HfTokenizer

from tokenomy._invariant import invariant
from tokenomy.meter.errors import MeterError

__all__ = [
    "ESTIMATOR_NAMES",
    "EXACT_NAMES",
    "TOKENIZER_NAMES",
    "EstimatingTokenizer",
    "ExactTokenizer",
    "HfExactTokenizer",
    "TiktokenTokenizer",
    "Tokenizer",
    "UnknownTokenizerError",
    "count_cjk_chars",
    "count_non_ascii_chars",
    "get_encoder",
    "get_tokenizer",
]

EXACT_NAMES: Final[tuple[str, ...]] = ("o200k_base", "cl100k_base", "deepseek_v3", "qwen2")
ESTIMATOR_NAMES: Final[tuple[str, ...]] = ("claude_estimate", "gemini_estimate", "generic_estimate")
TOKENIZER_NAMES: Final[tuple[str, ...]] = EXACT_NAMES + ESTIMATOR_NAMES

# Largest batch handed to one ``count_batch`` call of the underlying library; larger inputs
# are cut into slices of this size (bounds the memory of one call's id lists).
BATCH_SIZE_MAX: Final = 1024

_DATA_PACKAGE: Final = "tokenomy.meter"

# Exactly tiktoken_ext/openai_public.py (tiktoken 0.14.0).
_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"
_CL100K_PAT_STR: Final = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT_STR: Final = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_TIKTOKEN_SPECS: Final[dict[str, tuple[str, str, dict[str, int]]]] = {
    # name: (data file, pat_str, special tokens)
    "o200k_base": (
        "o200k_base.tiktoken.gz",
        _O200K_PAT_STR,
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": (
        "cl100k_base.tiktoken.gz",
        _CL100K_PAT_STR,
        {
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
}
_HF_FILES: Final[dict[str, str]] = {
    "deepseek_v3": "deepseek_v3.tokenizer.json.gz",
    "qwen2": "qwen2.tokenizer.json.gz",
}

# Han (CJK unified ideographs, extensions, compatibility), Hiragana, Katakana (incl. half-width),
# Hangul syllables and jamo, CJK symbols and full-width forms.
_CJK_RE: Final = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
    "\U00020000-\U0003134f]"
)


class UnknownTokenizerError(MeterError):
    """A tokenizer name that is not in :data:`TOKENIZER_NAMES` (or not exact, for encoders)."""

    type = "unknown_tokenizer"

    def __init__(self, name: str, known: Sequence[str] = TOKENIZER_NAMES) -> None:
        super().__init__(f"unknown tokenizer {name!r}; known: {', '.join(known)}")
        self.name = name


@runtime_checkable
class Tokenizer(Protocol):
    """Counts tokens of plain text. Special-token text counts as ordinary text."""

    @property
    def name(self) -> str: ...

    @property
    def exact(self) -> bool: ...

    def count(self, text: str) -> int: ...

    def count_batch(self, texts: Sequence[str]) -> list[int]: ...


@runtime_checkable
class ExactTokenizer(Tokenizer, Protocol):
    """A real tokenizer: counts equal the provider's, and token ids are available."""

    def encode(self, text: str) -> list[int]: ...


def _read_data(file_name: str) -> bytes:
    return resources.files(_DATA_PACKAGE).joinpath("data", file_name).read_bytes()


def _parse_ranks(blob: bytes) -> dict[bytes, int]:
    """tiktoken's ``load_tiktoken_bpe`` format: one ``base64(token) rank`` per line."""
    import base64

    ranks: dict[bytes, int] = {}
    for line in blob.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _batches(texts: Sequence[str]) -> list[list[str]]:
    return [list(texts[i : i + BATCH_SIZE_MAX]) for i in range(0, len(texts), BATCH_SIZE_MAX)]


@dataclass(frozen=True, slots=True)
class TiktokenTokenizer:
    """An OpenAI encoding; ``count`` is ``len(encode_ordinary(text))`` and nothing more."""

    name: str
    encoding: Any  # tiktoken.Encoding (tiktoken ships no type stubs)
    exact: bool = True

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        # Sequential on purpose: tiktoken's threaded ``encode_ordinary_batch`` measured 57-58%
        # of this loop's speed on the test corpus (short texts; a thread pool per call).
        encode = self.encoding.encode_ordinary
        return [len(encode(text)) for text in texts]

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self.encoding.encode_ordinary(text)
        return ids


@dataclass(frozen=True, slots=True)
class HfExactTokenizer:
    """A Hugging Face ``tokenizers`` tokenizer loaded without its added (special) tokens."""

    name: str
    tokenizer: HfTokenizer
    exact: bool = True

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        for batch in _batches(texts):
            encodings = self.tokenizer.encode_batch_fast(batch, add_special_tokens=False)
            counts.extend(len(e.ids) for e in encodings)
        return counts

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)


def count_cjk_chars(text: str) -> int:
    """Han, Kana and Hangul characters (plus CJK punctuation and full-width forms) in ``text``."""
    if text.isascii():
        return 0
    return len(_CJK_RE.findall(text))


def count_non_ascii_chars(text: str) -> int:
    """Code points above U+007F in ``text``."""
    return len(text) - len(text.encode("ascii", "ignore"))


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True, slots=True)
class EstimatingTokenizer:
    """An over-leaning estimate; integer arithmetic, rounded up::

        estimate = max(ceil(base x base_num / base_den),
                       ceil((chars - heavy) / chars_per_token + heavy x heavy_num / heavy_den))

    where ``heavy`` = ``heavy_chars(text)`` are the characters that cost whole tokens.
    """

    name: str
    base: TiktokenTokenizer
    base_num: int
    base_den: int
    chars_per_token: int
    heavy_chars: Callable[[str], int]
    heavy_num: int
    heavy_den: int
    exact: bool = False

    def __post_init__(self) -> None:
        invariant(0 < self.base_den <= self.base_num, f"{self.name}: base factor must be >= 1")
        invariant(self.chars_per_token > 0, f"{self.name}: chars_per_token must be > 0")
        invariant(0 < self.heavy_den <= self.heavy_num, f"{self.name}: heavy weight must be >= 1")

    def _estimate(self, text: str, base_count: int) -> int:
        heavy = self.heavy_chars(text)
        invariant(0 <= heavy <= len(text), f"{self.name}: heavy chars out of range")
        by_base = _ceil_div(base_count * self.base_num, self.base_den)
        by_chars = _ceil_div(
            (len(text) - heavy) * self.heavy_den + heavy * self.heavy_num * self.chars_per_token,
            self.chars_per_token * self.heavy_den,
        )
        return max(by_base, by_chars)

    def count(self, text: str) -> int:
        return self._estimate(text, self.base.count(text))

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        base_counts = self.base.count_batch(texts)
        return [self._estimate(t, n) for t, n in zip(texts, base_counts, strict=True)]


@cache
def _load_tiktoken(name: str) -> TiktokenTokenizer:
    file_name, pat_str, special_tokens = _TIKTOKEN_SPECS[name]
    ranks = _parse_ranks(gzip.decompress(_read_data(file_name)))
    encoding = tiktoken.Encoding(
        name=name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=special_tokens
    )
    return TiktokenTokenizer(name=name, encoding=encoding)


@cache
def _load_hf(name: str) -> HfExactTokenizer:
    spec = json.loads(gzip.decompress(_read_data(_HF_FILES[name])))
    # Without added tokens, "<|im_start|>" in user text is ordinary text (see module docstring).
    spec["added_tokens"] = []
    spec["padding"] = None
    spec["truncation"] = None
    return HfExactTokenizer(name=name, tokenizer=HfTokenizer.from_str(json.dumps(spec)))


def _load(name: str) -> Tokenizer:
    if name in _TIKTOKEN_SPECS:
        return _load_tiktoken(name)
    if name in _HF_FILES:
        return _load_hf(name)
    if name == "claude_estimate":
        return EstimatingTokenizer(
            name,
            _load_tiktoken("o200k_base"),
            base_num=7,
            base_den=4,
            chars_per_token=4,
            heavy_chars=count_non_ascii_chars,
            heavy_num=5,
            heavy_den=4,
        )
    if name in ("gemini_estimate", "generic_estimate"):
        return EstimatingTokenizer(
            name,
            _load_tiktoken("o200k_base"),
            base_num=5,
            base_den=4,
            chars_per_token=4,
            heavy_chars=count_cjk_chars,
            heavy_num=1,
            heavy_den=1,
        )
    raise UnknownTokenizerError(name)


@cache
def get_tokenizer(name: str) -> Tokenizer:
    """The tokenizer called ``name`` (one of :data:`TOKENIZER_NAMES`), loaded once."""
    if name not in TOKENIZER_NAMES:
        raise UnknownTokenizerError(name)
    return _load(name)


def get_encoder(name: str) -> ExactTokenizer:
    """The exact tokenizer called ``name`` (one of :data:`EXACT_NAMES`), with ``encode``."""
    if name not in EXACT_NAMES:
        raise UnknownTokenizerError(name, EXACT_NAMES)
    if name in _TIKTOKEN_SPECS:
        return _load_tiktoken(name)
    return _load_hf(name)

"""Canonical usage: token counts by class and by modality.

In: counts from a normalizer, a tokenizer or the estimator. Out: an immutable :class:`Usage`
whose JSON form is the contract of ``tokenomy usage normalize`` and ``/api/meter/normalize``.

Token classes are exclusive, so they add up without double counting:

    input        uncached input that is not a cache write
    cache_read   input served from a prompt cache
    cache_write  input written to a prompt cache (split by TTL where the provider says)
    output       visible output (text, audio, image); reasoning excluded
    reasoning    hidden reasoning / thinking tokens, billed as output

    total input  = input + cache_read + cache_write
    total output = output + reasoning

A :class:`Usage` stores its 25 counts (5 classes × 5 modalities) in one flat tuple, class-major;
normalizers build millions of these, so construction is kept to one small object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from tokenomy.meter.errors import UsageError


class TokenClass(StrEnum):
    INPUT = "input"
    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"
    OUTPUT = "output"
    REASONING = "reasoning"


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"


TOKEN_CLASSES: tuple[TokenClass, ...] = tuple(TokenClass)
MODALITIES: tuple[Modality, ...] = tuple(Modality)
INPUT_CLASSES = (TokenClass.INPUT, TokenClass.CACHE_READ, TokenClass.CACHE_WRITE)
OUTPUT_CLASSES = (TokenClass.OUTPUT, TokenClass.REASONING)
_N_MOD = len(MODALITIES)
_CLASS_INDEX = {c.value: i for i, c in enumerate(TOKEN_CLASSES)}
_MOD_INDEX = {m.value: i for i, m in enumerate(MODALITIES)}
_ZEROS = (0,) * (len(TOKEN_CLASSES) * _N_MOD)
_CACHE_WRITE = _CLASS_INDEX["cache_write"] * _N_MOD
_CLASS_NAMES = tuple(c.value for c in TOKEN_CLASSES)  # an enum's .value is a slow lookup
_MOD_NAMES = tuple(m.value for m in MODALITIES)
_CLASS_KEYS = tuple(f'"{c}":' for c in _CLASS_NAMES)  # JSON object keys (plain ASCII names)
_MOD_KEYS = tuple(f'"{m}":' for m in _MOD_NAMES)


def check_count(name: str, value: object) -> int:
    """``value`` as a token count, or :class:`UsageError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(name, f"must be an integer, got {value!r}")
    if value < 0:
        raise UsageError(name, f"must not be negative, got {value}")
    return value


class ModalityCounts(NamedTuple):
    """Tokens of one class, split by modality."""

    text: int = 0
    image: int = 0
    audio: int = 0
    video: int = 0
    document: int = 0

    @property
    def total(self) -> int:
        return self.text + self.image + self.audio + self.video + self.document

    def get(self, modality: Modality | str) -> int:
        return self[_MOD_INDEX[modality]]

    def as_dict(self) -> dict[str, int]:
        return dict(zip(_MOD_INDEX, self, strict=True))

    @classmethod
    def of(cls, counts: Mapping[str, int] | int) -> ModalityCounts:
        """From ``{"text": n, …}`` or a bare int (text); validates every count."""
        if isinstance(counts, int) and not isinstance(counts, bool):
            return cls(text=check_count("text", counts))
        if not isinstance(counts, Mapping):
            raise UsageError("counts", f"must be an object or an integer, got {counts!r}")
        for key, value in counts.items():
            if key not in _MOD_INDEX:
                raise UsageError(str(key), "unknown modality")
            check_count(key, value)
        return cls(**counts)


def _canonical(pairs: object) -> bool:
    """True when ``pairs`` is already what :func:`_pairs` returns (the normalizers' fast path)."""
    if type(pairs) is not tuple:
        return False
    previous = ""
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2:
            return False
        key, value = pair
        if type(key) is not str or type(value) is not int or value <= 0 or key <= previous:
            return False
        previous = key
    return True


def _pairs(items: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    pairs = items.items() if isinstance(items, Mapping) else items
    out: dict[str, int] = {}
    for key, value in pairs:
        check_count(str(key), value)
        if value:
            out[key] = out.get(key, 0) + value
    return tuple(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Usage:
    """One request's (or an aggregate's) tokens by class × modality.

    ``counts`` is class-major: ``counts[c * 5 + m]`` for class index ``c`` and modality ``m``
    in the order of :data:`TOKEN_CLASSES` and :data:`MODALITIES`. Build with :meth:`build`
    (named classes) or :meth:`from_counts`.

    ``cache_write_ttl`` splits cache writes by cache lifetime (``"5m"``, ``"1h"``, …) where the
    provider reports it; tokens not covered by the split have an unspecified TTL.
    ``extras`` holds request-level counters that are not tokens (``web_search_requests``…).
    ``estimated`` is true when any count was computed locally rather than reported.
    """

    counts: tuple[int, ...] = _ZEROS
    cache_write_ttl: tuple[tuple[str, int], ...] = ()
    extras: tuple[tuple[str, int], ...] = ()
    estimated: bool = False

    def __post_init__(self) -> None:
        counts = self.counts
        if len(counts) != len(_ZEROS) or min(counts) < 0:
            if len(counts) != len(_ZEROS):
                raise UsageError("counts", f"needs {len(_ZEROS)} values, got {len(counts)}")
            for c in TOKEN_CLASSES:
                for m in MODALITIES:
                    check_count(f"{c}.{m}", counts[_CLASS_INDEX[c] * _N_MOD + _MOD_INDEX[m]])
        if self.extras and not _canonical(self.extras):
            object.__setattr__(self, "extras", _pairs(self.extras))
        ttl = self.cache_write_ttl
        if ttl:
            if not _canonical(ttl):
                ttl = _pairs(ttl)
                object.__setattr__(self, "cache_write_ttl", ttl)
            ttl_total = sum(n for _, n in ttl)
            written = sum(counts[_CACHE_WRITE : _CACHE_WRITE + _N_MOD])
            if ttl_total > written:
                raise UsageError(
                    "cache_write_ttl",
                    f"TTL split {ttl_total} exceeds cache_write total {written}",
                )

    @classmethod
    def build(
        cls,
        input: ModalityCounts | Mapping[str, int] | int = 0,
        cache_read: ModalityCounts | Mapping[str, int] | int = 0,
        cache_write: ModalityCounts | Mapping[str, int] | int = 0,
        output: ModalityCounts | Mapping[str, int] | int = 0,
        reasoning: ModalityCounts | Mapping[str, int] | int = 0,
        *,
        cache_write_ttl: Mapping[str, int] | Iterable[tuple[str, int]] = (),
        extras: Mapping[str, int] | Iterable[tuple[str, int]] = (),
        estimated: bool = False,
    ) -> Usage:
        """A usage from per-class counts: a bare int means text tokens."""
        flat: list[int] = []
        for counts in (input, cache_read, cache_write, output, reasoning):
            if isinstance(counts, ModalityCounts):
                flat.extend(counts)
            else:
                flat.extend(ModalityCounts.of(counts))
        return cls(tuple(flat), tuple(_pairs(cache_write_ttl)), tuple(_pairs(extras)), estimated)

    # -- reading -------------------------------------------------------------------------
    def of(self, cls: TokenClass | str) -> ModalityCounts:
        start = _CLASS_INDEX[cls] * _N_MOD
        return ModalityCounts._make(self.counts[start : start + _N_MOD])

    def tokens(self, cls: TokenClass | str, modality: Modality | str | None = None) -> int:
        start = _CLASS_INDEX[cls] * _N_MOD
        if modality is None:
            return sum(self.counts[start : start + _N_MOD])
        return self.counts[start + _MOD_INDEX[modality]]

    @property
    def input(self) -> ModalityCounts:
        return self.of(TokenClass.INPUT)

    @property
    def cache_read(self) -> ModalityCounts:
        return self.of(TokenClass.CACHE_READ)

    @property
    def cache_write(self) -> ModalityCounts:
        return self.of(TokenClass.CACHE_WRITE)

    @property
    def output(self) -> ModalityCounts:
        return self.of(TokenClass.OUTPUT)

    @property
    def reasoning(self) -> ModalityCounts:
        return self.of(TokenClass.REASONING)

    def ttl(self, label: str) -> int:
        return dict(self.cache_write_ttl).get(label, 0)

    def extra(self, name: str) -> int:
        return dict(self.extras).get(name, 0)

    @property
    def total_input(self) -> int:
        return sum(self.counts[: 3 * _N_MOD])

    @property
    def total_output(self) -> int:
        return sum(self.counts[3 * _N_MOD :])

    @property
    def total(self) -> int:
        return sum(self.counts)

    def by_modality(self) -> dict[str, dict[str, int]]:
        counts = self.counts
        return {m: {c: counts[ci * _N_MOD + mi] for ci, c in enumerate(_CLASS_NAMES)}
                for mi, m in enumerate(_MOD_NAMES)}

    # -- combining -----------------------------------------------------------------------
    def __add__(self, other: Usage) -> Usage:
        ttl = dict(self.cache_write_ttl)
        for k, v in other.cache_write_ttl:
            ttl[k] = ttl.get(k, 0) + v
        extras = dict(self.extras)
        for k, v in other.extras:
            extras[k] = extras.get(k, 0) + v
        return Usage(
            tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
            tuple(ttl.items()),
            tuple(extras.items()),
            self.estimated or other.estimated,
        )

    def replace_estimated(self, estimated: bool) -> Usage:
        return Usage(self.counts, self.cache_write_ttl, self.extras, estimated)

    # -- wire form -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The contract shape (without ``id``/``provider``/``model``, which callers add)."""
        ttl = {"5m": 0, "1h": 0}
        ttl.update(self.cache_write_ttl)
        counts = self.counts
        return {
            "tokens": {c: sum(counts[i * _N_MOD: (i + 1) * _N_MOD])
                       for i, c in enumerate(_CLASS_NAMES)},
            "cache_write_ttl": ttl,
            "by_modality": self.by_modality(),
            "extras": dict(self.extras),
            "total_input_tokens": self.total_input,
            "total_output_tokens": self.total_output,
            "estimated": self.estimated,
        }

    def to_json_text(self) -> str:
        """``json.dumps(self.to_json(), separators=(",", ":"))``, written directly (the
        gateway records one per request)."""
        counts, n = self.counts, _N_MOD
        ttl = {"5m": 0, "1h": 0}
        ttl.update(self.cache_write_ttl)
        tokens = ",".join([key + str(sum(counts[i * n: i * n + n]))
                           for i, key in enumerate(_CLASS_KEYS)])
        by_modality = ",".join([
            m + "{" + ",".join([c + str(counts[ci * n + mi]) for ci, c in enumerate(_CLASS_KEYS)])
            + "}" for mi, m in enumerate(_MOD_KEYS)])
        return (f'{{"tokens":{{{tokens}}},"cache_write_ttl":{_object(ttl.items())},'
                f'"by_modality":{{{by_modality}}},"extras":{_object(self.extras)},'
                f'"total_input_tokens":{sum(counts[:3 * n])},'
                f'"total_output_tokens":{sum(counts[3 * n:])},'
                f'"estimated":{"true" if self.estimated else "false"}}}')

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Usage:
        """Inverse of :meth:`to_json`; ``tokens`` alone means all text."""
        if not isinstance(data, Mapping):
            raise UsageError("usage", "must be an object")
        tokens = data.get("tokens", {})
        if not isinstance(tokens, Mapping):
            raise UsageError("tokens", "must be an object")
        per_class: dict[str, dict[str, int]] = {c.value: {} for c in TOKEN_CLASSES}
        by_modality = data.get("by_modality")
        if by_modality:
            if not isinstance(by_modality, Mapping):
                raise UsageError("by_modality", "must be an object")
            for modality, classes in by_modality.items():
                if not isinstance(classes, Mapping):
                    raise UsageError(f"by_modality.{modality}", "must be an object")
                for c, n in classes.items():
                    if c not in per_class:
                        raise UsageError(f"by_modality.{modality}.{c}", "unknown token class")
                    per_class[c][modality] = n
        for c, n in tokens.items():
            if c not in per_class:
                raise UsageError(f"tokens.{c}", "unknown token class")
            if not by_modality:
                per_class[c]["text"] = n
            elif check_count(f"tokens.{c}", n) != sum(per_class[c].values()):
                raise UsageError(f"tokens.{c}", "does not equal the sum of by_modality")
        ttl = data.get("cache_write_ttl") or {}
        extras = data.get("extras") or {}
        if not isinstance(ttl, Mapping):
            raise UsageError("cache_write_ttl", "must be an object")
        if not isinstance(extras, Mapping):
            raise UsageError("extras", "must be an object")
        estimated = data.get("estimated", False)
        if not isinstance(estimated, bool):
            raise UsageError("estimated", "must be a boolean")
        return cls.build(
            *(per_class[c.value] for c in TOKEN_CLASSES),
            cache_write_ttl=ttl,
            extras=extras,
            estimated=estimated,
        )

def _object(pairs: Iterable[tuple[str, int]]) -> str:
    """A JSON object of integer values, compact."""
    return "{" + ",".join([json.dumps(k) + ":" + str(v) for k, v in pairs]) + "}"


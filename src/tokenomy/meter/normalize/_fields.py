"""Reading and checking the fields of a provider usage object (shared by every normalizer).

In: a decoded JSON object (``Mapping[str, Any]``) and a key. Out: a non-negative ``int``, a
sub-object, or a :class:`UsageError` naming the field by its dotted path in the provider's
own spelling (``prompt_tokens_details.cached_tokens``).

Rules, identical for every provider:

* a count is a JSON integer ``>= 0``. ``bool`` is not an integer, ``12.0`` and ``"12"`` are
  rejected; nothing is rounded or clamped;
* an absent or ``null`` optional count is 0 (providers do send ``null``); an absent or
  ``null`` required total is an error;
* an absent or ``null`` sub-object is empty; any other non-object is an error;
* keys the normalizer does not read are ignored (providers add fields without notice).

The fast path is one ``dict.get`` and one ``type(v) is int`` test per field; the detailed
diagnosis runs only when that test fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from tokenomy.meter.errors import UsageError

Fields = Mapping[str, Any]
EMPTY: Fields = MappingProxyType({})

#: Modality order of the canonical counts (``tokenomy.meter.usage.MODALITIES``).
TEXT, IMAGE, AUDIO, VIDEO, DOCUMENT = range(5)
N_MOD = 5
Counts5 = tuple[int, int, int, int, int]
ZERO5: Counts5 = (0, 0, 0, 0, 0)


def _diagnose(field: str, value: object) -> int:
    """``value`` as a count when it is an ``int`` subclass, else the precise error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(field, f"must be a non-negative integer, got {value!r}")
    if value < 0:
        raise UsageError(field, f"must not be negative, got {value}")
    return int(value)


def count(m: Fields, key: str, where: str = "") -> int:
    """Optional count ``m[key]``: absent or ``null`` is 0. ``where`` prefixes the field name."""
    v = m.get(key)
    if type(v) is int and v >= 0:
        return v
    if v is None:
        return 0
    return _diagnose(where + key, v)


def required(m: Fields, key: str, where: str = "") -> int:
    """Required count ``m[key]``: absent or ``null`` is an error."""
    v = m.get(key)
    if type(v) is int and v >= 0:
        return v
    if v is None:
        why = "must not be null" if key in m else "is required"
        raise UsageError(where + key, why)
    return _diagnose(where + key, v)


def read(m: Fields, slots: Mapping[str, int], n: int, where: str = "") -> list[int]:
    """The counts of ``m`` named in ``slots`` (key → position), as a list of ``n`` ints.

    Iterates over the keys ``m`` actually has (usually two to four), which is cheaper than
    one lookup per key the provider might send. Absent or ``null`` is 0; keys not in
    ``slots`` are ignored."""
    out = [0] * n
    for key, v in m.items():
        i = slots.get(key)
        if i is not None and v is not None:
            out[i] = v if type(v) is int and v >= 0 else _diagnose(where + key, v)
    return out


def section(m: Fields, key: str, where: str = "") -> Fields:
    """Optional sub-object ``m[key]``: absent or ``null`` is empty."""
    v = m.get(key)
    if type(v) is dict:
        return v
    if v is None:
        return EMPTY
    if isinstance(v, Mapping):
        return v
    raise UsageError(where + key, f"must be an object or null, got {type(v).__name__}")


def root(usage: object) -> Fields:
    """The usage object itself, which must be a JSON object."""
    if type(usage) is dict or isinstance(usage, Mapping):
        return usage
    raise UsageError("usage", f"must be an object, got {type(usage).__name__}")


def same(a: int, b: int, field_a: str, field_b: str) -> int:
    """One count reported under two names: either may be 0/absent, else they must agree."""
    if a and b and a != b:
        raise UsageError(field_b, f"{b} disagrees with {field_a} = {a}")
    return a or b


def need(ok: bool, field: str, message: str) -> None:
    """Raise :class:`UsageError` on ``field`` unless ``ok`` (bad input, not a programmer bug)."""
    if not ok:
        raise UsageError(field, message)


def fill_text(total: int, parts: Sequence[int], field: str, total_name: str) -> Counts5:
    """A modality split of ``total`` from the non-text ``parts`` given (any text part given is
    ignored here): text is the remainder. Parts that exceed the total are an error."""
    rest = total - parts[IMAGE] - parts[AUDIO] - parts[VIDEO] - parts[DOCUMENT]
    if rest < parts[TEXT] or rest < 0:
        given = sum(parts)
        raise UsageError(field, f"modality counts add up to {given}, more than {total_name} "
                         f"{total}")
    return (rest, parts[IMAGE], parts[AUDIO], parts[VIDEO], parts[DOCUMENT])


def take(parts: Counts5, n: int, field: str, total_name: str) -> tuple[Counts5, Counts5]:
    """Attribute ``n`` tokens (e.g. cached) of an unsplit count to ``parts``: text first, then
    image, audio, video, document. Returns ``(taken, left)``; both add up exactly, nothing is
    clamped. ``n`` above the total of ``parts`` is an error."""
    if n > sum(parts):
        raise UsageError(field, f"{n} is more than the {total_name} left ({sum(parts)})")
    taken = [0] * N_MOD
    left = list(parts)
    for i in range(N_MOD):
        t = min(n, left[i])
        taken[i] = t
        left[i] -= t
        n -= t
    return (
        (taken[0], taken[1], taken[2], taken[3], taken[4]),
        (left[0], left[1], left[2], left[3], left[4]),
    )


def minus(a: Counts5, b: Counts5, field: str, what: str) -> Counts5:
    """``a - b`` per modality; a negative difference is an error naming ``field``."""
    out = (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3], a[4] - b[4])
    if min(out) < 0:
        raise UsageError(field, f"{what} exceeds the matching modality: {b} vs {a}")
    return out


def ttl_split(details: Fields, where: str) -> tuple[tuple[str, int], ...]:
    """Cache-write TTL buckets named ``ttl_<label>_tokens`` (OpenAI 2026 shape)."""
    out: list[tuple[str, int]] = []
    for key in details:
        if key.startswith("ttl_") and key.endswith("_tokens") and len(key) > 11:
            out.append((key[4:-7], count(details, key, where)))
    return tuple(out)

"""The one rounding function. Every conversion of an exact ``Decimal`` to an integer count of
minor units goes through :func:`quantize` with an explicit :class:`Rounding` mode."""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum


class Rounding(StrEnum):
    HALF_EVEN = decimal.ROUND_HALF_EVEN  # banker's rounding: the default for line items
    HALF_UP = decimal.ROUND_HALF_UP
    UP = decimal.ROUND_UP  # away from zero: reservations never round a worst case down
    DOWN = decimal.ROUND_DOWN  # toward zero
    CEILING = decimal.ROUND_CEILING
    FLOOR = decimal.ROUND_FLOOR


# Enough digits for any amount we hold: 10^18 nano-USD is a billion dollars with room to spare.
_CONTEXT = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.Overflow])


def quantize(value: Decimal | int, scale: int, rounding: Rounding) -> int:
    """``value`` (major units) as an integer count of ``10**-scale`` minor units.

    >>> quantize(Decimal("0.0000000025"), 9, Rounding.HALF_EVEN)
    2
    >>> [quantize(Decimal(v), 0, Rounding.HALF_EVEN) for v in ("1.5", "2.5")]
    [2, 2]
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"quantize takes Decimal or int, not {type(value).__name__}")
    if not isinstance(scale, int) or scale < 0:
        raise ValueError(f"scale must be a non-negative integer, got {scale!r}")
    if isinstance(value, int):
        minor: int = value * 10**scale
        return minor
    if not value.is_finite():
        raise ValueError(f"cannot quantize {value}")
    scaled = _CONTEXT.scaleb(value, scale)
    whole: Decimal = scaled.quantize(Decimal(1), rounding=rounding.value, context=_CONTEXT)
    return int(whole)

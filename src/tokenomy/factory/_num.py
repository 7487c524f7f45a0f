"""Decimal helpers shared by the factory: exact parsing (never through a float) and rounding
for display. Physics (bytes, FLOPs, seconds) is Decimal too, so money never meets a float."""

from __future__ import annotations

from decimal import Decimal

from tokenomy.factory.errors import FactoryError
from tokenomy.money import MoneyError, Rounding, parse_decimal, quantize

ZERO = Decimal(0)
ONE = Decimal(1)
MILLION = Decimal(1_000_000)
SECONDS_PER_HOUR = Decimal(3600)
JOULES_PER_KWH = Decimal(3_600_000)


def dec(value: str | int | Decimal, what: str) -> Decimal:
    """An exact Decimal from text or an integer; a float or junk is a :class:`FactoryError`."""
    try:
        return parse_decimal(value)
    except MoneyError as exc:
        raise FactoryError(f"{what}: {exc}") from None


def positive(value: Decimal, what: str) -> Decimal:
    if value <= 0:
        raise FactoryError(f"{what} must be > 0, got {value}")
    return value


def fraction(value: Decimal, what: str) -> Decimal:
    """A value in (0, 1]."""
    if not ZERO < value <= ONE:
        raise FactoryError(f"{what} must be in (0, 1], got {value}")
    return value


def rounded(value: Decimal, places: int) -> Decimal:
    """``value`` half-even to ``places`` decimals (for display and JSON only)."""
    return Decimal(quantize(value, places, Rounding.HALF_EVEN)).scaleb(-places)


def text(value: Decimal, places: int) -> str:
    """Fixed-point text of ``value`` rounded half-even, without an exponent (JSON money)."""
    return f"{rounded(value, places):f}"


def significant(value: Decimal, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, fixed-point (for small and large numbers)."""
    if value == 0:
        return "0"
    places = max(0, digits - value.adjusted() - 1)
    return text(value, places)

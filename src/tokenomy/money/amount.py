"""Amounts: an integer of minor units tagged with its asset."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tokenomy.money.assets import Asset
from tokenomy.money.rounding import Rounding, quantize


class MoneyError(ValueError):
    """A money value that cannot be read or combined."""


def parse_decimal(text: str | int | Decimal) -> Decimal:
    """An exact ``Decimal`` from a string or int. Floats are refused: they are not exact."""
    if isinstance(text, bool | float):
        raise MoneyError(f"money must be a decimal string or integer, not {text!r}")
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, str):
        try:
            value = Decimal(text.strip().replace("_", ""))
        except InvalidOperation:
            raise MoneyError(f"not a decimal number: {text!r}") from None
    else:
        raise MoneyError(f"money must be a decimal string or integer, not {text!r}")
    if not value.is_finite():
        raise MoneyError(f"not a finite number: {text!r}")
    return value


@dataclass(frozen=True, slots=True, order=True)
class Amount:
    """``minor`` units of ``asset`` (e.g. nano-dollars for USD)."""

    minor: int
    asset: Asset

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError(f"amount must be an integer of minor units, got {self.minor!r}")

    @classmethod
    def parse(cls, text: str | int | Decimal, asset: Asset, rounding: Rounding) -> Amount:
        """``"1.25"`` dollars → 1_250_000_000 nano-USD, rounding as told."""
        return cls(quantize(parse_decimal(text), asset.scale, rounding), asset)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.asset.scale)

    def __str__(self) -> str:
        return format_minor(self.minor, self.asset.scale)

    def _same(self, other: Amount) -> None:
        if self.asset != other.asset:
            raise MoneyError(f"cannot combine {self.asset.code} with {other.asset.code}")

    def __add__(self, other: Amount) -> Amount:
        self._same(other)
        return Amount(self.minor + other.minor, self.asset)

    def __sub__(self, other: Amount) -> Amount:
        self._same(other)
        return Amount(self.minor - other.minor, self.asset)


def format_minor(minor: int, scale: int) -> str:
    """Minor units as a plain decimal string with trailing zeros trimmed (``"0.0025"``)."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**scale)
    if scale == 0 or frac == 0:
        return f"{sign}{whole}"
    digits = str(frac).rjust(scale, "0").rstrip("0")
    return f"{sign}{whole}.{digits}"

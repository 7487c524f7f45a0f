"""Assets and their scales (digits after the decimal point held in minor units)."""

from __future__ import annotations

from dataclasses import dataclass


class UnknownAssetError(ValueError):
    """An asset code nobody defined."""


@dataclass(frozen=True, slots=True)
class Asset:
    """A unit of account. Amounts are integers of ``10**-scale`` of one unit."""

    code: str
    scale: int
    name: str

    def __post_init__(self) -> None:
        if not self.code or not self.code.isupper():
            raise ValueError(f"asset code must be upper-case, got {self.code!r}")
        if not 0 <= self.scale <= 18:
            raise ValueError(f"asset scale must be 0..18, got {self.scale}")

    @property
    def unit(self) -> int:
        """Minor units in one major unit."""
        unit: int = 10**self.scale
        return unit


USD = Asset("USD", 9, "US dollar, held in nano-dollars so one cheap token has an exact price")
USDC = Asset("USDC", 6, "USD Coin, in its on-chain base units (6 decimals)")
CNY = Asset("CNY", 9, "Chinese yuan, held in nano-yuan like USD")
EUR = Asset("EUR", 9, "Euro, held in nano-euros like USD")

ASSETS: dict[str, Asset] = {a.code: a for a in (USD, USDC, CNY, EUR)}


def asset(code: str) -> Asset:
    """The asset named ``code`` (case-insensitive), or :class:`UnknownAssetError`."""
    try:
        return ASSETS[code.upper()]
    except KeyError:
        known = ", ".join(sorted(ASSETS))
        raise UnknownAssetError(f"unknown asset {code!r}; known: {known}") from None

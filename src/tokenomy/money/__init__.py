"""Money: assets with a fixed scale, integer amounts in minor units, one rounding function.

In: decimal strings and integers. Out: :class:`Amount` values in minor units of an
:class:`Asset` (USD in nano-dollars, USDC in micro-units, CNY in fen·1e-7…). No float is
accepted anywhere: ``Decimal`` is built from strings or integers only.
"""

from tokenomy.money.amount import Amount, MoneyError, parse_decimal
from tokenomy.money.assets import ASSETS, CNY, EUR, USD, USDC, Asset, UnknownAssetError, asset
from tokenomy.money.rounding import Rounding, quantize

__all__ = [
    "ASSETS",
    "CNY",
    "EUR",
    "USD",
    "USDC",
    "Amount",
    "Asset",
    "MoneyError",
    "Rounding",
    "UnknownAssetError",
    "asset",
    "parse_decimal",
    "quantize",
]

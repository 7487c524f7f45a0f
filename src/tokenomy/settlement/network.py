"""The local payment network: a dedicated chain id and asset, so a signature made for Tokenomy
can never move funds on a public chain (EIP-712 binds every signature to its chain id and
token contract), and none made for a public chain is valid here.

Amounts are the asset's atomic units: micro-USDC (6 decimals), the ledger's USDC unit.
"""

from __future__ import annotations

from dataclasses import dataclass

LOCAL_CHAIN_ID = 4_020_402  # no public EVM chain uses it (chainlist.org, 2026)
LOCAL_NETWORK = f"eip155:{LOCAL_CHAIN_ID}"
# A fixed, recognizable "contract" address for the asset: it exists only in this ledger.
LOCAL_ASSET = "0x7040000000000000000000000000000000000402"
LOCAL_ASSET_NAME = "Tokenomy Local USDC"  # the EIP-712 domain name
LOCAL_ASSET_VERSION = "1"
# Who settles (the upto scheme's witness names it) and who is paid by default.
LOCAL_FACILITATOR = "0x7040000000000000000000000000000000000fac"
LOCAL_PAY_TO = "0x7040000000000000000000000000000000000001"
MAX_TIMEOUT_S = 120  # an authorization is a bearer instrument: keep its life short
CLOCK_SKEW_S = 30  # validBefore may exceed now + MAX_TIMEOUT_S by this much


@dataclass(frozen=True, slots=True)
class PaymentNetwork:
    """Where the gateway takes payment: network, asset, its EIP-712 domain, payee."""

    network: str = LOCAL_NETWORK
    asset: str = LOCAL_ASSET
    asset_name: str = LOCAL_ASSET_NAME
    asset_version: str = LOCAL_ASSET_VERSION
    pay_to: str = LOCAL_PAY_TO
    facilitator: str = LOCAL_FACILITATOR
    max_timeout_s: int = MAX_TIMEOUT_S

    @property
    def extra(self) -> dict[str, str]:
        return {"name": self.asset_name, "version": self.asset_version}


LOCAL = PaymentNetwork()

__all__ = [
    "CLOCK_SKEW_S",
    "LOCAL",
    "LOCAL_ASSET",
    "LOCAL_CHAIN_ID",
    "LOCAL_FACILITATOR",
    "LOCAL_NETWORK",
    "LOCAL_PAY_TO",
    "MAX_TIMEOUT_S",
    "PaymentNetwork",
]

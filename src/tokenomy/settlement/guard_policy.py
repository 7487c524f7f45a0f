"""The wallet guard's policy: what an agent's wallet may sign, judged offer by offer.

In: the fields of one x402 offer (network, asset, payee, amount, lifetime). Out: ``None`` or the
reason the offer may never be signed. Pure: the checks that need state (kill switch, rate,
budget) live in :class:`tokenomy.settlement.wallet.WalletGuard`.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from x402 import SpendControls
from x402.schemas import PaymentRequirements, PaymentRequirementsV1

from tokenomy.settlement.network import LOCAL_ASSET, LOCAL_NETWORK

DEFAULT_PERIOD_S = 86_400
DEFAULT_PAYMENTS_PER_MINUTE_MAX = 60
DEFAULT_TIMEOUT_S_MAX = 300
AMOUNT_DIGITS_MAX = 30  # 10^30 atomic units is far beyond any budget
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DIGITS = re.compile(rf"[0-9]{{1,{AMOUNT_DIGITS_MAX}}}")

Requirements = PaymentRequirements | PaymentRequirementsV1


class WalletError(ValueError):
    """A key file, policy or audit log that cannot be used. The message never holds the key."""


def parse_address(text: object, what: str) -> str:
    """A 0x-prefixed 20-byte hex address, lower-cased (addresses compare case-insensitively)."""
    if not isinstance(text, str) or not _ADDRESS.fullmatch(text):
        raise WalletError(f"{what}: {text!r} is not a 0x-prefixed 20-byte hex address")
    return text.lower()


def _count(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise WalletError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Offer:
    """The fields of one 402 offer that the policy judges (amount as the server wrote it)."""

    scheme: str
    network: str
    asset: str
    amount: str
    pay_to: str
    timeout_s: int | None

    @classmethod
    def of(cls, requirements: Requirements) -> Offer:
        return cls(requirements.scheme, str(requirements.network), requirements.asset,
                   requirements.get_amount(), requirements.pay_to,
                   requirements.max_timeout_seconds)

    def atomic_amount(self) -> int | None:
        return atomic(self.amount)


def atomic(text: str | None) -> int | None:
    """A decimal string of atomic units as an int; ``None`` for anything else."""
    return int(text) if text is not None and _DIGITS.fullmatch(text) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletPolicy:
    """What the guard may sign. Money in atomic units (micro-USDC for the local asset).

    ``allowed_payees`` has no default: an empty allowlist refuses every payment.
    """

    allowed_payees: AbstractSet[str]
    allowed_networks: AbstractSet[str] = frozenset({LOCAL_NETWORK})
    allowed_assets: AbstractSet[str] = frozenset({LOCAL_ASSET})
    max_per_payment: int
    budget_per_period: int
    period_s: int = DEFAULT_PERIOD_S
    max_payments_per_minute: int = DEFAULT_PAYMENTS_PER_MINUTE_MAX
    max_timeout_s: int = DEFAULT_TIMEOUT_S_MAX

    def __post_init__(self) -> None:
        for name in ("allowed_payees", "allowed_networks", "allowed_assets"):
            if isinstance(getattr(self, name), str):
                raise WalletError(f"{name} must be a set of strings, not one string")
        payees = frozenset(parse_address(a, "allowed_payees") for a in self.allowed_payees)
        assets = frozenset(parse_address(a, "allowed_assets") for a in self.allowed_assets)
        object.__setattr__(self, "allowed_payees", payees)
        object.__setattr__(self, "allowed_assets", assets)
        object.__setattr__(self, "allowed_networks", frozenset(self.allowed_networks))
        _count(self.max_per_payment, "max_per_payment", 0)
        _count(self.budget_per_period, "budget_per_period", 0)
        _count(self.period_s, "period_s", 1)
        _count(self.max_payments_per_minute, "max_payments_per_minute", 1)
        _count(self.max_timeout_s, "max_timeout_s", 1)

    def refusal(self, offer: Offer) -> str | None:
        """Why this offer may never be signed (the checks that need no state), or ``None``."""
        if offer.network not in self.allowed_networks:
            return f"network {offer.network} is not allowed"
        if offer.asset.lower() not in self.allowed_assets:
            return f"asset {offer.asset} is not allowed on {offer.network}"
        if not self.allowed_payees:
            return "no payee is allowed (the payee allowlist is empty)"
        if offer.pay_to.lower() not in self.allowed_payees:
            return f"payee {offer.pay_to} is not on the allowlist"
        amount = offer.atomic_amount()
        if amount is None:
            return f"amount {offer.amount[:40]!r} is not an integer of atomic units"
        if amount > self.max_per_payment:
            what = "authorized maximum" if offer.scheme == "upto" else "amount"
            return f"{what} {amount} is over the per-payment cap of {self.max_per_payment}"
        if offer.timeout_s is None or offer.timeout_s <= 0:
            return f"maxTimeoutSeconds {offer.timeout_s} is not a positive lifetime"
        if offer.timeout_s > self.max_timeout_s:
            return (f"authorization lifetime {offer.timeout_s} s is over the "
                    f"{self.max_timeout_s} s allowed")
        return None

    def spend_controls(self) -> SpendControls:
        """The SDK's own per-payment cap on the same assets (defence in depth). Default
        assets (public USDC…) the SDK would allow at $1 get a cap of $0 unless listed."""
        return {
            "max_amount_per_payment": "$0",
            "allowed_assets": [
                {"network": network, "asset": asset,
                 "max_amount_per_payment": str(self.max_per_payment)}
                for network in sorted(self.allowed_networks)
                for asset in sorted(self.allowed_assets)
            ],
        }


__all__ = [
    "AMOUNT_DIGITS_MAX",
    "DEFAULT_PAYMENTS_PER_MINUTE_MAX",
    "DEFAULT_PERIOD_S",
    "DEFAULT_TIMEOUT_S_MAX",
    "Offer",
    "Requirements",
    "WalletError",
    "WalletPolicy",
    "atomic",
    "parse_address",
]

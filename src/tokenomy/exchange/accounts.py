"""The exchange's chart of accounts in the ledger: members, the clearing house, token credits.

Every id is derived from names (:func:`~tokenomy.ledger.budgets.derive_id`), so creating the
accounts again is a no-op. Cash sits on the currency's ledger (USD = 1, USDC = 2); token
credits sit on one ledger per grade (:data:`CREDIT_LEDGERS`), one credit = one token::

    member cash      (per owner, per currency)  debits_must_not_exceed_credits: buying power
    member margin    (per owner, per currency)  posted initial margin ± variation margin;
                                                 may go below zero (a margin call: owed)
    member credits   (per owner, per grade)     debits_must_not_exceed_credits: prepaid tokens
    escrow           (per ledger)               the other side of every order hold (pending)
    clearing house   (per ledger)               the central counterparty: variation margin,
                                                 final settlement and delivery pass through it
    issuer           (per grade)                mints credits for producers (goes negative)
    consumed         (per grade)                where the gateway's consumed credits go

Transfer codes (``code``) are listed in :data:`CODES`.
"""

from __future__ import annotations

from tokenomy.ledger.budgets import (
    CODE_FUNDING,
    LEDGER_USD,
    LEDGER_USDC,
    derive_id,
    funding_account_id,
)
from tokenomy.ledger.types import Account, AccountFlags

# One ledger per grade; an id is a credit of one token of that grade.
CREDIT_LEDGERS: dict[str, int] = {
    "FRONTIER-IN": 101, "FRONTIER-OUT": 102,
    "STANDARD-IN": 103, "STANDARD-OUT": 104,
    "ECONOMY-IN": 105, "ECONOMY-OUT": 106,
}
CASH_LEDGERS = (LEDGER_USD, LEDGER_USDC)

CODE_DEPOSIT = 20  # funding → member cash (a deposit), or back (a withdrawal)
CODE_HOLD = 21  # pending: buying power (cash), margin or credits held for an order
CODE_PAYMENT = 22  # buyer cash → seller cash: spot price or option premium
CODE_DELIVERY = 23  # credits: seller → buyer (spot), or via delivery escrow (futures)
CODE_MARGIN = 24  # member cash ↔ member margin: initial margin posted or released
CODE_VARIATION = 25  # member margin ↔ clearing house: daily variation margin
CODE_FINAL = 26  # member margin ↔ clearing house: final settlement, option payoff
CODE_ISSUE = 27  # issuer → member credits: credits minted for a producer
CODE_CONSUME = 28  # member credits → consumed: the gateway used prepaid tokens
CODES = {CODE_DEPOSIT: "deposit", CODE_HOLD: "hold", CODE_PAYMENT: "payment",
         CODE_DELIVERY: "delivery", CODE_MARGIN: "margin", CODE_VARIATION: "variation",
         CODE_FINAL: "final", CODE_ISSUE: "issue", CODE_CONSUME: "consume"}

ACCOUNT_CASH = 30
ACCOUNT_MARGIN = 31
ACCOUNT_CREDITS = 32
ACCOUNT_ESCROW = 33
ACCOUNT_CLEARING = 34
ACCOUNT_ISSUER = 35
ACCOUNT_CONSUMED = 36
ACCOUNT_DELIVERY = 37

LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)


def cash_account(owner: int, ledger: int) -> int:
    return derive_id("exchange-cash", str(ledger), str(owner))


def margin_account(owner: int, ledger: int) -> int:
    return derive_id("exchange-margin", str(ledger), str(owner))


def credit_account(owner: int, grade: str) -> int:
    return derive_id("exchange-credits", grade, str(owner))


def escrow_account(ledger: int) -> int:
    return derive_id("exchange-escrow", str(ledger))


def clearing_account(ledger: int) -> int:
    return derive_id("exchange-clearing", str(ledger))


def delivery_account(ledger: int) -> int:
    """Credits that physically settled shorts have put up for delivery at expiry."""
    return derive_id("exchange-delivery", str(ledger))


def issuer_account(grade: str) -> int:
    return derive_id("exchange-issuer", grade)


def consumed_account(grade: str) -> int:
    return derive_id("exchange-consumed", grade)


def house_accounts() -> list[Account]:
    """The accounts every exchange needs, on every cash and credit ledger."""
    out: list[Account] = []
    for ledger in CASH_LEDGERS:
        out += [Account(escrow_account(ledger), ledger, ACCOUNT_ESCROW),
                Account(clearing_account(ledger), ledger, ACCOUNT_CLEARING),
                Account(funding_account_id(ledger), ledger, CODE_FUNDING)]
    for grade, ledger in CREDIT_LEDGERS.items():
        out += [Account(escrow_account(ledger), ledger, ACCOUNT_ESCROW),
                Account(delivery_account(ledger), ledger, ACCOUNT_DELIVERY),
                Account(issuer_account(grade), ledger, ACCOUNT_ISSUER),
                Account(consumed_account(grade), ledger, ACCOUNT_CONSUMED)]
    return out


def member_accounts(owner: int) -> list[Account]:
    """A member's cash and margin on each cash ledger and credits of each grade."""
    out: list[Account] = []
    for ledger in CASH_LEDGERS:
        out += [Account(cash_account(owner, ledger), ledger, ACCOUNT_CASH, LIMITED),
                Account(margin_account(owner, ledger), ledger, ACCOUNT_MARGIN)]
    for grade, ledger in CREDIT_LEDGERS.items():
        out.append(Account(credit_account(owner, grade), ledger, ACCOUNT_CREDITS, LIMITED))
    return out


__all__ = [
    "ACCOUNT_CASH",
    "ACCOUNT_CLEARING",
    "ACCOUNT_CONSUMED",
    "ACCOUNT_CREDITS",
    "ACCOUNT_DELIVERY",
    "ACCOUNT_ESCROW",
    "ACCOUNT_ISSUER",
    "ACCOUNT_MARGIN",
    "CASH_LEDGERS",
    "CODES",
    "CODE_CONSUME",
    "CODE_DELIVERY",
    "CODE_DEPOSIT",
    "CODE_FINAL",
    "CODE_HOLD",
    "CODE_ISSUE",
    "CODE_MARGIN",
    "CODE_PAYMENT",
    "CODE_VARIATION",
    "CREDIT_LEDGERS",
    "LIMITED",
    "cash_account",
    "clearing_account",
    "consumed_account",
    "credit_account",
    "delivery_account",
    "escrow_account",
    "house_accounts",
    "issuer_account",
    "margin_account",
    "member_accounts",
]

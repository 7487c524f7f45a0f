"""The ledger's invariants, checked against any state (``tokenomy ledger verify``).

In: every account, every transfer (the journal) and every pending status. Out: a list of
violations, empty when all hold:

1. per ledger, Σ debits_pending = Σ credits_pending and Σ debits_posted = Σ credits_posted;
2. each account's stored balances equal a recomputation from the journal;
3. no balance limit is broken (``debits_must_not_exceed_credits`` and its mirror);
4. every pending transfer has a status, and only pending ones are still reserved;
5. transfer timestamps are unique and increasing in journal order (append-only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from tokenomy.ledger.types import Account, AccountFlags, PendingStatus, Transfer, TransferFlags

VIOLATIONS_MAX = 100  # a report stops growing here


def recompute(transfers: Iterable[Transfer], pending: Mapping[int, PendingStatus],
              ) -> dict[int, list[int]]:
    """Balances [dp, dpo, cp, cpo] per account, folded from the journal."""
    balances: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for t in transfers:
        dr, cr = balances[t.debit_account_id], balances[t.credit_account_id]
        if t.flags & TransferFlags.PENDING:
            if pending.get(t.id) is PendingStatus.PENDING:
                dr[0] += t.amount
                cr[2] += t.amount
        elif t.flags & TransferFlags.VOID_PENDING_TRANSFER:
            continue
        else:  # an ordinary transfer, or a post of a pending one
            dr[1] += t.amount
            cr[3] += t.amount
    return balances


def check(accounts: Iterable[Account], transfers: Iterable[Transfer],
          pending: Mapping[int, PendingStatus]) -> list[str]:
    """Every violation found (at most :data:`VIOLATIONS_MAX`)."""
    problems: list[str] = []
    journal = list(transfers)
    by_ledger: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    folded = recompute(journal, pending)
    seen = set()
    for a in accounts:
        seen.add(a.id)
        totals = by_ledger[a.ledger]
        stored = [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted]
        for i, value in enumerate(stored):
            totals[i] += value
        expected = folded.get(a.id, [0, 0, 0, 0])
        if stored != expected:
            problems.append(f"account {a.id}: stored balances {stored} != journal {expected}")
        if a.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and (
                a.debits_pending + a.debits_posted > a.credits_posted):
            problems.append(f"account {a.id}: debits exceed credits")
        if a.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS and (
                a.credits_pending + a.credits_posted > a.debits_posted):
            problems.append(f"account {a.id}: credits exceed debits")
    for ledger, (dp, dpo, cp, cpo) in sorted(by_ledger.items()):
        if dp != cp:
            problems.append(f"ledger {ledger}: debits_pending {dp} != credits_pending {cp}")
        if dpo != cpo:
            problems.append(f"ledger {ledger}: debits_posted {dpo} != credits_posted {cpo}")
    previous = 0
    for t in journal:
        if t.timestamp <= previous:
            problems.append(f"transfer {t.id}: timestamp {t.timestamp} not after {previous}")
        previous = t.timestamp
        if t.debit_account_id not in seen or t.credit_account_id not in seen:
            problems.append(f"transfer {t.id}: names an account that does not exist")
        if t.flags & TransferFlags.PENDING and t.id not in pending:
            problems.append(f"pending transfer {t.id} has no status")
        if len(problems) >= VIOLATIONS_MAX:
            break
    return problems[:VIOLATIONS_MAX]

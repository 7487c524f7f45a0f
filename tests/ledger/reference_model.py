"""A tiny reference model of the ledger, written from TigerBeetle's rules, for differential tests.

In: accounts and transfers as plain dicts (the field names of ``Account``/``Transfer``), and the
current time in ns. Out: one result string per event (the engine's result codes are
``StrEnum``s, so they compare equal), and the state as plain dicts. It imports nothing from
``tokenomy``: the flag bits below are TigerBeetle's wire layout, and the rules follow
``src/state_machine/reference_model.zig`` (validation order, ``compare_transfer``,
``resolution_amount``, chain snapshot/restore, retired ids), plus one rule of this ledger:
a transfer that is not balancing must have a non-zero amount (``amount_must_not_be_zero``,
TigerBeetle before 0.16), and a balancing transfer's amount 0 means "as much as possible".

Time is coarse on purpose: a whole batch happens at ``now`` and pending deadlines are
``now + timeout`` at creation. The caller keeps clock readings away from deadlines, so
nanosecond offsets between events never decide a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# TigerBeetle's flag bits.
LINKED, PENDING, POST, VOID, BALANCING_DEBIT, BALANCING_CREDIT = (1 << i for i in range(6))
CLOSING_DEBIT, CLOSING_CREDIT, IMPORTED = 1 << 6, 1 << 7, 1 << 8
ACCOUNT_LINKED, DMNEC, CMNED, HISTORY, ACCOUNT_IMPORTED, CLOSED = (1 << i for i in range(6))

U128_MAX = 2**128 - 1
U64_MAX = 2**64 - 1
NS_PER_S = 10**9
BALANCES = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
TRANSIENT = frozenset({
    "debit_account_not_found", "credit_account_not_found", "pending_transfer_not_found",
    "exceeds_credits", "exceeds_debits", "debit_account_already_closed",
    "credit_account_already_closed",
})

Record = dict[str, Any]


class ReferenceLedger:
    """Accounts, transfers, pending states and retired ids, in dicts."""

    def __init__(self) -> None:
        self.accounts: dict[int, Record] = {}
        self.transfers: dict[int, Record] = {}
        self.state: dict[int, str] = {}  # pending id → pending | posted | voided | expired
        self.deadline: dict[int, int] = {}  # pending id → ns, 0 when it never expires
        self.retired: set[int] = set()

    # -- batches ---------------------------------------------------------------------------
    def create_accounts(self, events: list[Mapping[str, Any]]) -> list[str]:
        return self._execute([dict(e) for e in events], self._account, ACCOUNT_LINKED)

    def create_transfers(self, events: list[Mapping[str, Any]], now: int) -> list[str]:
        self.expire(now)
        return self._execute([dict(e) for e in events], lambda t: self._transfer(t, now),
                             LINKED)

    def expire(self, now: int) -> int:
        """Release every pending transfer whose deadline is ≤ ``now``; how many."""
        due = [i for i, s in self.state.items()
               if s == "pending" and 0 < self.deadline[i] <= now]
        for i in due:
            self._release(self.transfers[i])
            self.state[i] = "expired"
        return len(due)

    def pending_deadlines(self) -> list[int]:
        return [self.deadline[i] for i, s in self.state.items()
                if s == "pending" and self.deadline[i]]

    def _execute(self, events: list[Record], one: Callable[[Record], str],
                 linked: int) -> list[str]:
        results: list[str] = []
        start = 0
        while start < len(events):
            end = start + 1
            while end < len(events) and events[end - 1]["flags"] & linked:
                end += 1
            saved = self._save()
            failed: int | None = None
            for i in range(start, end):
                if i == len(events) - 1 and events[i]["flags"] & linked:
                    result = "linked_event_chain_open"
                elif failed is not None:
                    result = "linked_event_failed"
                else:
                    result = one(events[i])
                results.append(result)
                if result != "ok" and failed is None:
                    failed = i
            if failed is not None:
                self._restore(saved)
                for i in range(start, failed):
                    results[i] = "linked_event_failed"
                if results[failed] in TRANSIENT:
                    self.retired.add(events[failed]["id"])
            start = end
        return results

    def _save(self) -> tuple[Any, ...]:
        return ({i: dict(a) for i, a in self.accounts.items()}, dict(self.transfers),
                dict(self.state), dict(self.deadline))

    def _restore(self, saved: tuple[Any, ...]) -> None:
        accounts, transfers, state, deadline = saved
        self.accounts, self.transfers, self.state, self.deadline = (
            accounts, transfers, state, deadline)

    # -- accounts --------------------------------------------------------------------------
    def _account(self, a: Record) -> str:
        if a["flags"] & ACCOUNT_IMPORTED:
            return "reserved_flag"
        if a["id"] == 0:
            return "id_must_not_be_zero"
        if a["id"] == U128_MAX:
            return "id_must_not_be_int_max"
        old = self.accounts.get(a["id"])
        if old is not None:
            for field in ("flags", "user_data_128", "user_data_64", "user_data_32", "ledger",
                          "code"):
                if a[field] != old[field]:
                    return f"exists_with_different_{field}"
            return "exists"
        if a["flags"] & DMNEC and a["flags"] & CMNED:
            return "flags_are_mutually_exclusive"
        for field in BALANCES:
            if a[field] != 0:
                return f"{field}_must_be_zero"
        if a["ledger"] == 0:
            return "ledger_must_not_be_zero"
        if a["code"] == 0:
            return "code_must_not_be_zero"
        self.accounts[a["id"]] = a
        return "ok"

    # -- transfers -------------------------------------------------------------------------
    def _transfer(self, t: Record, now: int) -> str:
        flags = t["flags"]
        resolve = bool(flags & (POST | VOID))
        balancing = bool(flags & (BALANCING_DEBIT | BALANCING_CREDIT))
        if flags & (CLOSING_DEBIT | CLOSING_CREDIT | IMPORTED):
            return "reserved_flag"
        if t["id"] == 0:
            return "id_must_not_be_zero"
        if t["id"] == U128_MAX:
            return "id_must_not_be_int_max"
        if t["id"] in self.transfers:
            return self._compare(t, self.transfers[t["id"]])
        if t["id"] in self.retired:
            return "id_already_failed"
        if (flags & PENDING and resolve) or (flags & POST and flags & VOID) or (
                resolve and balancing):
            return "flags_are_mutually_exclusive"
        if resolve:
            if t["pending_id"] == 0:
                return "pending_id_must_not_be_zero"
            if t["pending_id"] == U128_MAX:
                return "pending_id_must_not_be_int_max"
            if t["pending_id"] == t["id"]:
                return "pending_id_must_be_different"
        else:
            for side in ("debit", "credit"):
                if t[f"{side}_account_id"] == 0:
                    return f"{side}_account_id_must_not_be_zero"
                if t[f"{side}_account_id"] == U128_MAX:
                    return f"{side}_account_id_must_not_be_int_max"
            if t["debit_account_id"] == t["credit_account_id"]:
                return "accounts_must_be_different"
            if t["pending_id"] != 0:
                return "pending_id_must_be_zero"
        if not flags & PENDING and t["timeout"] != 0:
            return "timeout_reserved_for_pending_transfer"
        if resolve:
            return self._resolve(t, now)
        if t["amount"] == 0 and not balancing:
            return "amount_must_not_be_zero"
        if t["ledger"] == 0:
            return "ledger_must_not_be_zero"
        if t["code"] == 0:
            return "code_must_not_be_zero"
        dr = self.accounts.get(t["debit_account_id"])
        cr = self.accounts.get(t["credit_account_id"])
        if dr is None:
            return "debit_account_not_found"
        if cr is None:
            return "credit_account_not_found"
        if dr["ledger"] != cr["ledger"]:
            return "accounts_must_have_the_same_ledger"
        if t["ledger"] != dr["ledger"]:
            return "transfer_must_have_the_same_ledger_as_accounts"
        if dr["flags"] & CLOSED:
            return "debit_account_already_closed"
        if cr["flags"] & CLOSED:
            return "credit_account_already_closed"
        amount = t["amount"] if t["amount"] or not balancing else U128_MAX
        if flags & BALANCING_DEBIT:
            available = dr["credits_posted"] - dr["debits_posted"] - dr["debits_pending"]
            amount = min(amount, max(0, available))
        if flags & BALANCING_CREDIT:
            available = cr["debits_posted"] - cr["credits_posted"] - cr["credits_pending"]
            amount = min(amount, max(0, available))
        refused = self._refuse(t, dr, cr, amount, now)
        if refused:
            return refused
        kind = "pending" if flags & PENDING else "posted"
        dr[f"debits_{kind}"] += amount
        cr[f"credits_{kind}"] += amount
        if flags & PENDING:
            self.state[t["id"]] = "pending"
            self.deadline[t["id"]] = now + t["timeout"] * NS_PER_S if t["timeout"] else 0
        self.transfers[t["id"]] = t | {"amount": amount}
        return "ok"

    @staticmethod
    def _refuse(t: Record, dr: Record, cr: Record, amount: int, now: int) -> str | None:
        pending = t["flags"] & PENDING
        if pending and dr["debits_pending"] + amount > U128_MAX:
            return "overflows_debits_pending"
        if pending and cr["credits_pending"] + amount > U128_MAX:
            return "overflows_credits_pending"
        if dr["debits_posted"] + amount > U128_MAX:
            return "overflows_debits_posted"
        if cr["credits_posted"] + amount > U128_MAX:
            return "overflows_credits_posted"
        if dr["debits_pending"] + dr["debits_posted"] + amount > U128_MAX:
            return "overflows_debits"
        if cr["credits_pending"] + cr["credits_posted"] + amount > U128_MAX:
            return "overflows_credits"
        if pending and now + t["timeout"] * NS_PER_S > U64_MAX:
            return "overflows_timeout"
        if dr["flags"] & DMNEC and (
                dr["debits_pending"] + dr["debits_posted"] + amount > dr["credits_posted"]):
            return "exceeds_credits"
        if cr["flags"] & CMNED and (
                cr["credits_pending"] + cr["credits_posted"] + amount > cr["debits_posted"]):
            return "exceeds_debits"
        return None

    def _resolve(self, t: Record, now: int) -> str:
        p = self.transfers.get(t["pending_id"])
        if p is None:
            return "pending_transfer_not_found"
        if not p["flags"] & PENDING:
            return "pending_transfer_not_pending"
        for field in ("debit_account_id", "credit_account_id", "ledger", "code"):
            if t[field] and t[field] != p[field]:
                return f"pending_transfer_has_different_{field}"
        amount = _resolution_amount(t, p)
        if amount > p["amount"]:
            return "exceeds_pending_transfer_amount"
        if t["flags"] & VOID and amount != p["amount"]:
            return "pending_transfer_has_different_amount"
        state = self.state[p["id"]]
        if state != "pending":
            return {"posted": "pending_transfer_already_posted",
                    "voided": "pending_transfer_already_voided",
                    "expired": "pending_transfer_expired"}[state]
        if 0 < self.deadline[p["id"]] <= now:
            return "pending_transfer_expired"
        self._release(p)
        if t["flags"] & POST:
            self.accounts[p["debit_account_id"]]["debits_posted"] += amount
            self.accounts[p["credit_account_id"]]["credits_posted"] += amount
        self.state[p["id"]] = "posted" if t["flags"] & POST else "voided"
        self.transfers[t["id"]] = _filled(t, p) | {"amount": amount}
        return "ok"

    def _release(self, p: Record) -> None:
        self.accounts[p["debit_account_id"]]["debits_pending"] -= p["amount"]
        self.accounts[p["credit_account_id"]]["credits_pending"] -= p["amount"]

    def _compare(self, t: Record, old: Record) -> str:
        """A replay: ``exists`` if it asks for what was done, else the first field that
        differs (TigerBeetle's ``compare_transfer``)."""
        for field in ("flags", "pending_id", "timeout"):
            if t[field] != old[field]:
                return f"exists_with_different_{field}"
        if t["flags"] & (POST | VOID):
            p = self.transfers[t["pending_id"]]
            t = _filled(t, p) | {"amount": _resolution_amount(t, p)}
        for field in ("debit_account_id", "credit_account_id"):
            if t[field] != old[field]:
                return f"exists_with_different_{field}"
        if t["flags"] & (BALANCING_DEBIT | BALANCING_CREDIT):
            if (t["amount"] or U128_MAX) < old["amount"]:
                return "exists_with_different_amount"
        elif t["amount"] != old["amount"]:
            return "exists_with_different_amount"
        for field in ("user_data_128", "user_data_64", "user_data_32", "ledger", "code"):
            if t[field] != old[field]:
                return f"exists_with_different_{field}"
        return "exists"


def _resolution_amount(t: Record, p: Record) -> int:
    """AMOUNT_MAX on a post, 0 on a void: the pending amount."""
    if (t["flags"] & POST and t["amount"] == U128_MAX) or (
            t["flags"] & VOID and t["amount"] == 0):
        return int(p["amount"])
    return int(t["amount"])


def _filled(t: Record, p: Record) -> Record:
    """A post/void's zero fields taken from its pending transfer."""
    fields = ("debit_account_id", "credit_account_id", "ledger", "code", "user_data_128",
              "user_data_64", "user_data_32")
    return t | {f: t[f] or p[f] for f in fields}

"""Random sequences of ledger operations, run against a store and the reference model.

Every step submits the same batch to both and requires identical results, identical balances
and identical transfers; after every step the store's ``verify()`` is clean and the
invariants hold (per ledger, Σ debits = Σ credits, pending and posted separately; no
account breaks its limit). Each hypothesis example gets a fresh store from
``conftest.STORES`` (with its own clock and directory), so the test runs once per store.

The generated inputs cover the corners that once diverged from TigerBeetle (void replays
with amount 0, partial posts replayed as full, open chains after a failure, voids above the
pending amount, user data inherited by posts, balancing replays asking less); each is also
pinned by its own example in test_results.py.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pytest
import reference_model as ref
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conftest import STORES, Clock
from tokenomy.ledger import (
    AMOUNT_MAX,
    Account,
    AccountFlags,
    CreateTransferResult,
    Transfer,
    TransferFlags,
)
from tokenomy.ledger.protocol import LedgerStore

F = TransferFlags
LEDGER_OF = {1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2}  # 7 may be created later; 99 never is
ACCOUNT_IDS = (1, 2, 3, 4, 5, 6, 7, 99)
LIMITS = (AccountFlags.NONE, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
          AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
KINDS = {"single": F.NONE, "pending": F.PENDING, "balancing_debit": F.BALANCING_DEBIT,
         "balancing_credit": F.BALANCING_CREDIT,
         "pending_balancing": F.PENDING | F.BALANCING_DEBIT}
STEPS = {"memory": (150, 40), "sqlite": (25, 20), "postgresql": (10, 15)}  # examples, steps


class LedgerMachine(RuleBasedStateMachine):
    store_name = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.tmp = tempfile.TemporaryDirectory(prefix="ledger-machine-")
        self.stores = STORES[self.store_name](self.clock, Path(self.tmp.name))
        self.store: LedgerStore = next(self.stores)
        self.model = ref.ReferenceLedger()
        self.sent: list[Transfer] = []
        self.next_id = 1_000

    def teardown(self) -> None:
        next(self.stores, None)  # the factory's clean-up, as a fixture's
        self.tmp.cleanup()

    # -- plumbing --------------------------------------------------------------------------
    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _settle(self) -> None:
        """Keep the clock off every pending deadline, so ns offsets decide nothing."""
        while self.clock.now in self.model.pending_deadlines():
            self.clock.advance(0.5)

    def _accounts(self, batch: list[Account]) -> None:
        got = self.store.create_accounts(batch)
        want = self.model.create_accounts([dataclasses.asdict(a) for a in batch])
        assert list(map(str, got)) == want, batch

    def _transfers(self, batch: list[Transfer]) -> list[CreateTransferResult]:
        self._settle()
        want = self.model.create_transfers([dataclasses.asdict(t) for t in batch],
                                           self.clock.now)
        got = self.store.create_transfers(batch)
        assert list(map(str, got)) == want, batch
        self.sent.extend(batch)
        return got

    def _retry(self, batch: list[Transfer]) -> None:
        """The client lost the reply and sends the very same batch again."""
        self._transfers(list(batch))

    def _draw_transfer(self, data: st.DataObject, flags: F = F.NONE) -> Transfer:
        """Mostly a well-formed transfer between two accounts of one ledger; sometimes any
        two ids (missing, equal, across ledgers) or the wrong ledger or amount 0."""
        kind = KINDS[data.draw(st.sampled_from(sorted(KINDS)), label="kind")]
        if data.draw(st.integers(0, 9), label="sloppy") == 0:
            dr = data.draw(st.sampled_from(ACCOUNT_IDS), label="dr")
            cr = data.draw(st.sampled_from(ACCOUNT_IDS), label="cr")
            ledger = data.draw(st.sampled_from([1, 2]), label="ledger")
            amount = data.draw(st.integers(0, 400), label="amount")
        else:
            ledger = data.draw(st.sampled_from([1, 1, 2]), label="ledger")
            ids = [i for i, a in sorted(self.model.accounts.items()) if a["ledger"] == ledger]
            dr, cr = data.draw(st.permutations(ids), label="dr, cr")[:2]
            amount = data.draw(st.integers(1, 200), label="amount")
        timeout = data.draw(st.sampled_from([0, 1, 2, 3]), label="timeout") if (
            kind & F.PENDING) else 0
        return Transfer(id=self._id(), debit_account_id=dr, credit_account_id=cr,
                        amount=amount, ledger=ledger, code=1, flags=kind | flags,
                        timeout=timeout)

    # -- rules -----------------------------------------------------------------------------
    @initialize(limits=st.lists(st.sampled_from(LIMITS), min_size=4, max_size=4),
                closed=st.sampled_from([None, None, None, 3, 6]))
    def open_books(self, limits: list[AccountFlags], closed: int | None) -> None:
        """Operators 1 (ledger 1) and 5 (ledger 2) without limits; 2, 3, 4, 6 with random
        limits (one perhaps closed); every one of them funded by its operator."""
        flags = dict(zip((2, 3, 4, 6), limits, strict=True)) | {1: AccountFlags.NONE,
                                                                5: AccountFlags.NONE}
        if closed is not None:
            flags[closed] = AccountFlags.CLOSED
        self._accounts([Account(id=i, ledger=LEDGER_OF[i], code=10, flags=flags[i])
                        for i in sorted(LEDGER_OF)])
        self._transfers([Transfer(id=self._id(), debit_account_id=1 if i < 5 else 5,
                                  credit_account_id=i, amount=300, ledger=LEDGER_OF[i],
                                  code=1) for i in (2, 3, 4, 6)])

    @rule(data=st.data(), retry=st.booleans())
    def transfer(self, data: st.DataObject, retry: bool) -> None:
        count = data.draw(st.integers(1, 3), label="batch size")
        batch = [self._draw_transfer(data) for _ in range(count)]
        self._transfers(batch)
        if retry:
            self._retry(batch)

    @rule(data=st.data(), size=st.integers(2, 4), failing=st.booleans(), retry=st.booleans())
    def linked_chain(self, data: st.DataObject, size: int, failing: bool, retry: bool) -> None:
        chain = [self._draw_transfer(data, F.LINKED) for _ in range(size - 1)]
        chain.append(self._draw_transfer(data))
        if failing:  # one member that cannot succeed
            at = data.draw(st.integers(0, size - 1), label="failing member")
            chain[at] = dataclasses.replace(chain[at], debit_account_id=99)
        self._transfers(chain)
        if retry:
            self._retry(chain)

    @rule(data=st.data(), outcome=st.sampled_from(["post", "post all", "void", "void 0"]),
          retry=st.booleans())
    def metered_call(self, data: st.DataObject, outcome: str, retry: bool) -> None:
        """Reserve the maximum cost, then capture what was used (or release it on failure);
        the client may retry the resolution."""
        reserve = dataclasses.replace(self._draw_transfer(data), flags=F.PENDING)
        self._transfers([reserve])
        used = data.draw(st.integers(0, reserve.amount), label="used")
        amount = {"post": used, "post all": AMOUNT_MAX, "void": reserve.amount,
                  "void 0": 0}[outcome]
        flags = F.POST_PENDING_TRANSFER if outcome.startswith("post") else (
            F.VOID_PENDING_TRANSFER)
        batch = [Transfer(id=self._id(), pending_id=reserve.id, amount=amount, flags=flags)]
        self._transfers(batch)
        if retry:
            self._retry(batch)

    @rule(data=st.data())
    def open_chain(self, data: st.DataObject) -> None:
        size = data.draw(st.integers(1, 3), label="size")
        self._transfers([self._draw_transfer(data, F.LINKED) for _ in range(size)])

    @precondition(lambda self: self.model.state)
    @rule(data=st.data(), retry=st.booleans())
    def resolve(self, data: st.DataObject, retry: bool) -> None:
        open_ = sorted(i for i, state in self.model.state.items() if state == "pending")
        pending_id = data.draw(st.sampled_from(open_ or sorted(self.model.state)),
                               label="pending")
        p = self.model.transfers[pending_id]
        posting = data.draw(st.booleans(), label="post")
        if posting:
            amount = data.draw(st.one_of(st.just(AMOUNT_MAX), st.integers(0, p["amount"] + 2)),
                               label="amount")
        else:
            amount = data.draw(st.sampled_from(
                [0, p["amount"], max(p["amount"] - 1, 0), p["amount"] + 1, AMOUNT_MAX]),
                label="amount")
        spelled = data.draw(st.sampled_from(["zeros", "full", "wrong code"]), label="fields")
        fields = {"zeros": {}, "wrong code": {"code": 2},
                  "full": {"debit_account_id": p["debit_account_id"],
                           "credit_account_id": p["credit_account_id"],
                           "ledger": p["ledger"], "code": p["code"]}}[spelled]
        flags = F.POST_PENDING_TRANSFER if posting else F.VOID_PENDING_TRANSFER
        batch = [Transfer(id=self._id(), pending_id=pending_id, amount=amount, flags=flags,
                          **fields)]
        self._transfers(batch)
        if retry:
            self._retry(batch)

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), change=st.sampled_from(
        ["same"] * 4 + ["amount", "user_data_64", "code", "timeout", "flags",
                        "debit_account_id"]))
    def replay(self, data: st.DataObject, change: str) -> None:
        recent = data.draw(st.booleans(), label="recent")
        t = data.draw(st.sampled_from(self.sent[-4:] if recent else self.sent), label="replayed")
        resolving = bool(t.flags & (F.POST_PENDING_TRANSFER | F.VOID_PENDING_TRANSFER))
        if change == "amount":
            amount = data.draw(st.sampled_from([(t.amount + 1) % AMOUNT_MAX, AMOUNT_MAX, 0,
                                                max(t.amount - 1, 0)]), label="new amount")
            t = dataclasses.replace(t, amount=amount)
        elif change == "user_data_64":
            t = dataclasses.replace(t, user_data_64=7)
        elif change == "code":
            t = dataclasses.replace(t, code=t.code + 1)
        elif change == "timeout":
            t = dataclasses.replace(t, timeout=t.timeout + 1)
        elif change == "flags":
            t = dataclasses.replace(t, flags=t.flags ^ F.PENDING)
        elif change == "debit_account_id" and not resolving:
            t = dataclasses.replace(t, debit_account_id=t.credit_account_id)
        self._transfers([t])

    @rule(seconds=st.integers(1, 3))
    def expire(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self._settle()
        assert self.store.expire_pending() == self.model.expire(self.clock.now)

    @rule(seconds=st.integers(1, 3))
    def wait(self, seconds: int) -> None:
        """Time passes with no sweep: the next batch releases what is due."""
        self.clock.advance(seconds)

    @rule(id=st.sampled_from([1, 2, 7, 8]), limit=st.sampled_from(LIMITS),
          code=st.sampled_from([10, 11]), linked=st.booleans())
    def accounts(self, id: int, limit: AccountFlags, code: int, linked: bool) -> None:
        """Create (or re-create) an account; linked, together with a malformed one."""
        batch = [Account(id=id, ledger=LEDGER_OF.get(id, 1), code=code, flags=limit)]
        if linked:
            batch = [dataclasses.replace(batch[0], flags=limit | AccountFlags.LINKED),
                     Account(id=9, ledger=1, code=0)]
        self._accounts(batch)

    # -- after every step ------------------------------------------------------------------
    @invariant()
    def agrees_with_the_model(self) -> None:
        ids = sorted(self.model.accounts)
        accounts = self.store.lookup_accounts(ids)
        assert [a.id for a in accounts] == ids
        for a in accounts:
            m = self.model.accounts[a.id]
            assert [getattr(a, f) for f in ref.BALANCES] == [m[f] for f in ref.BALANCES], a.id
            assert (a.flags, a.ledger, a.code) == (m["flags"], m["ledger"], m["code"])
        sent = sorted({t.id for t in self.sent})
        stored = {t.id: t for t in self.store.lookup_transfers(sent)}
        assert sorted(stored) == sorted(self.model.transfers)
        for i, t in stored.items():
            got, want = dataclasses.asdict(t), self.model.transfers[i]
            assert _without_timestamp(got) == _without_timestamp(want), (got, want)

    @invariant()
    def books_balance_and_limits_hold(self) -> None:
        assert self.store.verify() == []
        totals: dict[int, list[int]] = {}
        for a in self.store.lookup_accounts(sorted(self.model.accounts)):
            t = totals.setdefault(a.ledger, [0, 0, 0, 0])
            for k, f in enumerate(ref.BALANCES):
                t[k] += getattr(a, f)
            if a.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
                assert a.debits_pending + a.debits_posted <= a.credits_posted, a
            if a.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
                assert a.credits_pending + a.credits_posted <= a.debits_posted, a
        for dp, dpo, cp, cpo in totals.values():
            assert (dp, dpo) == (cp, cpo)


def _without_timestamp(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "timestamp"}


def test_ledger_agrees_with_the_reference_model(ledger: LedgerStore,
                                                request: pytest.FixtureRequest) -> None:
    """Parametrized by ``ledger`` over the stores; each example builds its own store."""
    name = request.node.callspec.params["ledger"]
    examples, steps = STEPS.get(name, (4, 10))
    machine = type(f"LedgerMachine_{name}", (LedgerMachine,), {"store_name": name})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_the_model_uses_tigerbeetles_flag_bits() -> None:
    """The model's flags are TigerBeetle's wire layout; so must the engine's be."""
    assert [F.LINKED, F.PENDING, F.POST_PENDING_TRANSFER, F.VOID_PENDING_TRANSFER,
            F.BALANCING_DEBIT, F.BALANCING_CREDIT, F.CLOSING_DEBIT, F.CLOSING_CREDIT,
            F.IMPORTED] == [ref.LINKED, ref.PENDING, ref.POST, ref.VOID, ref.BALANCING_DEBIT,
                            ref.BALANCING_CREDIT, ref.CLOSING_DEBIT, ref.CLOSING_CREDIT,
                            ref.IMPORTED]
    assert [AccountFlags.LINKED, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS, AccountFlags.HISTORY,
            AccountFlags.IMPORTED, AccountFlags.CLOSED] == [
        ref.ACCOUNT_LINKED, ref.DMNEC, ref.CMNED, ref.HISTORY, ref.ACCOUNT_IMPORTED,
        ref.CLOSED]

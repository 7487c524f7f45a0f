"""The wallet guard's book: what an agent has committed to pay in the rolling period.

A payment is committed when it is *signed*, not when the server says it settled: a signed
authorization is a bearer instrument the payee can settle whenever it likes before it expires.
So the book reserves the authorized maximum before the signature exists, trues it down to
the settled amount when the server reports a settlement, and releases it when the server
reports a failure. A reservation that is never resolved stays counted until it leaves the
period.

In: amounts in atomic units (int) and instants in seconds (passed in; no clock here).
Out: refusal reasons, tickets, and the two sums the budget is made of. The invariant, kept by
:meth:`SpendBook.reserve`: ``spent + reserved <= budget`` after every reservation this book
grants (a book restored from an audit log written under a larger budget may start above it,
and then refuses until enough leaves the window).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tokenomy._invariant import invariant

RATE_WINDOW_S = 60  # max_payments_per_minute counts signings in this rolling window


@dataclass(slots=True)
class Commitment:
    """One signed payment: its maximum while pending, its settled amount once settled."""

    at_s: float  # when it was reserved (the signing instant)
    amount: int  # atomic units
    pending: bool


class SpendBook:
    """Reservations and settlements in a rolling window of ``period_s`` seconds.

    Not thread safe by itself: the guard holds a lock around every call. Bounded: the rate
    limit lets at most ``payments_per_minute_max * period_s / 60`` commitments into a window
    (more only when restored from a log written under looser limits).
    """

    def __init__(self, budget: int, period_s: int, payments_per_minute_max: int) -> None:
        invariant(budget >= 0 and period_s > 0 and payments_per_minute_max > 0,
                  "SpendBook limits must be positive")
        self._budget = budget
        self._period_s = period_s
        self._rate_max = payments_per_minute_max
        self._commitments: dict[int, Commitment] = {}
        # Bounded: the rate check keeps at most rate_max signings within RATE_WINDOW_S.
        self._signed_at_s: deque[float] = deque()
        self._next_ticket = 1

    # ---------------------------------------------------------------- queries

    def spent(self, now_s: float) -> int:
        """Settled amounts in the window."""
        self._prune(now_s)
        return sum(c.amount for c in self._commitments.values() if not c.pending)

    def reserved(self, now_s: float) -> int:
        """Signed but not yet settled (or released): authorized maxima in the window."""
        self._prune(now_s)
        return sum(c.amount for c in self._commitments.values() if c.pending)

    def refusal(self, amount: int, now_s: float) -> str | None:
        """Why a new payment of ``amount`` may not be signed now (rate, then budget)."""
        invariant(amount >= 0, "amount must be non-negative")
        self._prune(now_s)
        if len(self._signed_at_s) >= self._rate_max:
            return (f"rate limit: {len(self._signed_at_s)} payments signed in the last "
                    f"{RATE_WINDOW_S} s (max {self._rate_max} per minute)")
        committed = sum(c.amount for c in self._commitments.values())
        if committed + amount > self._budget:
            return (f"budget: {amount} would bring the period's spent and reserved to "
                    f"{committed + amount}, over the budget of {self._budget} "
                    f"per {self._period_s} s")
        return None

    # ---------------------------------------------------------------- changes

    def reserve(self, amount: int, now_s: float) -> int:
        """Reserve ``amount`` for a payment about to be signed; returns its ticket.

        The caller has checked :meth:`refusal` under the same lock.
        """
        invariant(self.refusal(amount, now_s) is None, "reserve() without a clean refusal()")
        ticket = self.restore(amount, now_s, pending=True)
        invariant(self.spent(now_s) + self.reserved(now_s) <= self._budget,
                  "a reservation overran the budget")
        return ticket

    def restore(self, amount: int, at_s: float, pending: bool) -> int:
        """Record a payment signed at ``at_s`` without checks (replaying the audit log)."""
        invariant(amount >= 0, "amount must be non-negative")
        ticket = self._next_ticket
        self._next_ticket += 1
        self._commitments[ticket] = Commitment(at_s, amount, pending)
        self._signed_at_s.append(at_s)
        return ticket

    def settle(self, ticket: int, amount: int) -> int | None:
        """True a reservation down to the settled ``amount`` (never up: a signature caps
        what can move). Returns the amount recorded, or ``None`` for an unknown ticket
        (already resolved, or aged out of the window)."""
        commitment = self._commitments.get(ticket)
        if commitment is None or not commitment.pending:
            return None
        commitment.amount = min(max(amount, 0), commitment.amount)
        commitment.pending = False
        return commitment.amount

    def release(self, ticket: int) -> int | None:
        """Drop a reservation (the payment failed); returns the amount released."""
        commitment = self._commitments.get(ticket)
        if commitment is None or not commitment.pending:
            return None
        del self._commitments[ticket]
        return commitment.amount

    def _prune(self, now_s: float) -> None:
        horizon_s = now_s - self._period_s
        for ticket in [t for t, c in self._commitments.items() if c.at_s <= horizon_s]:
            del self._commitments[ticket]
        while self._signed_at_s and self._signed_at_s[0] <= now_s - RATE_WINDOW_S:
            self._signed_at_s.popleft()


__all__ = ["RATE_WINDOW_S", "Commitment", "SpendBook"]

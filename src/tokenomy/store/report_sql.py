"""What the reports read and the one thing they write, over the ledger's connection.

:class:`ReportTables` is mixed into :class:`~tokenomy.store.ledger_sql.SQLLedger` next to the
gateway's tables: request records over a half-open window ``[since, until)`` (keyset pages),
open reservations per budget account, the exchange books that have a journal, and feedback
(``report_feedback``, migration 9): an application's verdict on one gateway response,
idempotent per (request id, outcome).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tokenomy.store.gateway_sql import REQUEST_COLUMNS, RequestRecord, request_of

if TYPE_CHECKING:
    Row = tuple[Any, ...]

PAGE_ROWS = 5_000  # rows per keyset page
REPORT_ROWS_MAX = 2_000_000  # request records one report may read
PENDING_ROWS_MAX = 1_000_000  # open reservations one report may read
FEEDBACK_OUTCOMES = ("useful", "useless", "abandoned", "retried")
REQUEST_ID_LENGTH_MAX = 200


class FeedbackError(ValueError):
    """Feedback that cannot be stored; nothing was written."""

    type = "invalid_feedback"


class UnknownRequestError(FeedbackError):
    type = "request_not_found"


class ReportTooLargeError(ValueError):
    """The window holds more request records than one report may read."""

    type = "report_too_large"


@dataclass(frozen=True, slots=True)
class Feedback:
    request_id: str
    outcome: str  # one of FEEDBACK_OUTCOMES
    at: int  # ns


@dataclass(frozen=True, slots=True)
class OpenReservations:
    """The pending transfers debiting one account: how many, and their sum (minor units)."""

    account_id: int
    count: int
    amount: int


class ReportTables:
    """Report reads (and feedback writes) over the ledger's connection and transactions."""

    if TYPE_CHECKING:
        def _run(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...
        def _transaction(self, begin: Callable[[], Any]) -> AbstractContextManager[Any]: ...
        def _begin_write(self) -> None: ...
        def _begin_read(self) -> None: ...

    def requests_between(self, since_ns: int, until_ns: int) -> list[RequestRecord]:
        """Request records with ``since_ns <= started_at < until_ns``, oldest first, all of
        them (:class:`ReportTooLargeError` beyond :data:`REPORT_ROWS_MAX`)."""
        return list(self._request_pages(since_ns, until_ns))

    def _request_pages(self, since_ns: int, until_ns: int) -> Iterator[RequestRecord]:
        after: tuple[int, str] = (since_ns, "")
        read = 0
        with self._transaction(self._begin_read):
            while True:
                rows = self._run(
                    f"SELECT {REQUEST_COLUMNS} FROM gateway_requests WHERE started_at < ? AND "
                    "(started_at > ? OR (started_at = ? AND id > ?)) "
                    f"ORDER BY started_at, id LIMIT {PAGE_ROWS}",
                    (until_ns, after[0], after[0], after[1]))
                read += len(rows)
                if read > REPORT_ROWS_MAX:
                    raise ReportTooLargeError(f"more than {REPORT_ROWS_MAX:,} requests in the "
                                              "window; ask for a shorter one")
                for row in rows:
                    record = request_of(row)
                    after = (record.started_at, record.id)
                    yield record
                if len(rows) < PAGE_ROWS:
                    return

    def open_reservations(self) -> dict[int, OpenReservations]:
        """Pending (not yet posted, voided or expired) transfers, by debited account."""
        with self._transaction(self._begin_read):
            rows = self._run("SELECT t.debit_account_id, t.amount FROM ledger_pending p "
                             "JOIN ledger_transfers t ON t.id = p.pending_id "
                             f"WHERE p.status = 'pending' LIMIT {PENDING_ROWS_MAX}")
        found: dict[int, tuple[int, int]] = {}
        for account, amount in rows:
            count, total = found.get(int(account), (0, 0))
            found[int(account)] = (count + 1, total + int(amount))
        return {a: OpenReservations(a, c, t) for a, (c, t) in found.items()}

    def journaled_books(self) -> list[str]:
        """The exchange books that have at least one journaled command, by name."""
        with self._transaction(self._begin_read):
            rows = self._run("SELECT DISTINCT book FROM exchange_journal ORDER BY book")
        return [str(r[0]) for r in rows]

    # -- feedback ------------------------------------------------------------------------
    def record_feedback(self, request_id: str, outcome: str, at: int) -> tuple[bool, Feedback]:
        """Store ``outcome`` for ``request_id``: (True, it) when new, (False, the first one)
        on a replay. :class:`UnknownRequestError` when no such request was recorded."""
        if outcome not in FEEDBACK_OUTCOMES:
            raise FeedbackError(f"outcome must be one of {', '.join(FEEDBACK_OUTCOMES)}, "
                                f"not {outcome[:40]!r}")
        if not 0 < len(request_id) <= REQUEST_ID_LENGTH_MAX:
            raise FeedbackError(f"request_id must be 1..{REQUEST_ID_LENGTH_MAX} characters")
        with self._transaction(self._begin_write):
            if not self._run("SELECT 1 FROM gateway_requests WHERE id = ?", (request_id,)):
                raise UnknownRequestError(f"no request {request_id[:80]!r} was recorded")
            rows = self._run("SELECT at FROM report_feedback WHERE request_id = ? AND "
                             "outcome = ?", (request_id, outcome))
            if rows:
                return False, Feedback(request_id, outcome, int(rows[0][0]))
            self._run("INSERT INTO report_feedback (request_id, outcome, at) VALUES (?, ?, ?)",
                      (request_id, outcome, at))
        return True, Feedback(request_id, outcome, at)

    def feedback_for(self, request_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The outcomes recorded for each of ``request_ids`` that has any."""
        found: dict[str, list[str]] = {}
        wanted = list(dict.fromkeys(request_ids))
        with self._transaction(self._begin_read):
            for start in range(0, len(wanted), 500):
                page = wanted[start:start + 500]
                marks = ", ".join("?" * len(page))
                for rid, outcome in self._run(
                        "SELECT request_id, outcome FROM report_feedback WHERE request_id IN "
                        f"({marks}) ORDER BY request_id, outcome", page):
                    found.setdefault(str(rid), []).append(str(outcome))
        return {k: tuple(v) for k, v in found.items()}


__all__ = ["FEEDBACK_OUTCOMES", "Feedback", "FeedbackError", "OpenReservations",
           "ReportTables", "ReportTooLargeError", "UnknownRequestError"]

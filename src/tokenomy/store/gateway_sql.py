"""The gateway's tables, in the ledger's database: API keys, request records, idempotency keys.

:class:`GatewayTables` is mixed into :class:`~tokenomy.store.ledger_sql.SQLLedger`, so one
connection and one transaction can move money and record why: :meth:`commit_batch` applies a
batch of ledger transfers (many requests' independent linked chains, group-committed) and
inserts their request records atomically. A key's secret is never stored, only its SHA-256.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenomy.ledger.types import CreateTransferResult, Transfer

Row = tuple[Any, ...]
REQUESTS_LIMIT_MAX = 10_000  # records one list call may return


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as stored: its public id and name, the hash of its secret, its budget."""

    id: str  # "key_…", public (logs, reports)
    name: str
    secret_hash: str  # SHA-256 hex of the whole secret
    budget: str  # the budget path charged
    rpm: int = 0  # requests per minute, 0 = no limit
    tpm: int = 0  # tokens per minute (estimated, reserved), 0 = no limit
    created_at: int = 0  # ns
    revoked_at: int = 0  # ns, 0 = active
    exchange_owner: int = 0  # the exchange member whose token credits it spends first

    @property
    def active(self) -> bool:
        return self.revoked_at == 0


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One gateway request, for reports: who, what, where, how much, how it ended."""

    id: str
    key_id: str
    budget: str
    api: str  # chat | responses | embeddings | messages
    model: str
    upstream: str  # the upstream actually used ("" when none was called)
    stream: bool
    status: int  # HTTP status returned to the client
    outcome: str  # ok | refused | rate_limited | upstream_error | client_disconnect | …
    usage_json: str  # canonical Usage as JSON ("{}" when none)
    estimated: bool  # usage counted by the gateway (no usage from the upstream)
    reserved_minor: int  # reserved on the budget (ledger minor units)
    cost_minor: int  # the metered cost
    captured_minor: int  # posted to the budget (≤ reserved)
    currency: str
    price_version: str
    provisional: bool
    stu: str  # Standard Token Units, a decimal string
    latency_us: int
    started_at: int  # ns
    finished_at: int  # ns
    idempotency_key: str = ""
    error: str = ""


KEY_COLUMNS = "id, name, secret_hash, budget, rpm, tpm, created_at, revoked_at, exchange_owner"
REQUEST_COLUMNS = ("id, key_id, budget, api, model, upstream, stream, status, outcome, "
                   "usage_json, estimated, reserved_minor, cost_minor, captured_minor, currency, "
                   "price_version, provisional, stu, latency_us, started_at, finished_at, "
                   "idempotency_key, error")
INSERT_REQUEST = (f"INSERT INTO gateway_requests ({REQUEST_COLUMNS}) VALUES "
                  f"({', '.join('?' * 23)}) ON CONFLICT (id) DO NOTHING")


def _request_row(r: RequestRecord) -> Row:
    return (r.id, r.key_id, r.budget, r.api, r.model, r.upstream, int(r.stream), r.status,
            r.outcome, r.usage_json, int(r.estimated), r.reserved_minor, r.cost_minor,
            r.captured_minor, r.currency, r.price_version, int(r.provisional), r.stu,
            r.latency_us, r.started_at, r.finished_at, r.idempotency_key, r.error)


def _request_of(row: Row) -> RequestRecord:
    v = list(row)
    for i in (6, 10, 16):
        v[i] = bool(v[i])
    for i in (7, 11, 12, 13, 18, 19, 20):
        v[i] = int(v[i])
    return RequestRecord(*v)


request_of = _request_of  # for the report queries (tokenomy.store.report_sql)


def _key_of(row: Row) -> KeyRecord:
    return KeyRecord(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]),
                     int(row[5]), int(row[6]), int(row[7]), int(row[8]))


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An idempotency key's state: ``open`` (in flight), ``done`` (replayable), ``failed``."""

    request_id: str
    state: str
    attempt: int
    status: int = 0
    content_type: str = ""
    body: str = ""


class GatewayTables:
    """Key, request and idempotency rows over the ledger's connection and transactions."""

    if TYPE_CHECKING:
        def _run(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...
        def _run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...
        def _transaction(self, begin: Callable[[], Any]) -> AbstractContextManager[Any]: ...
        def _begin_write(self) -> None: ...
        def _begin_read(self) -> None: ...
        def _begin_batch(self, durable: bool) -> None: ...
        def _lock_writer(self) -> None: ...
        def _apply_transfers(self, transfers: Sequence[Transfer]
                             ) -> list[CreateTransferResult]: ...

    # -- keys ----------------------------------------------------------------------------
    def create_key(self, key: KeyRecord) -> bool:
        """Insert ``key``; False when its id, name or secret is taken (nothing changes)."""
        with self._transaction(self._begin_write):
            taken = self._run("SELECT 1 FROM gateway_keys WHERE id = ? OR name = ? "
                              "OR secret_hash = ?", (key.id, key.name, key.secret_hash))
            if taken:
                return False
            self._run(f"INSERT INTO gateway_keys ({KEY_COLUMNS}) VALUES "
                      "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (key.id, key.name, key.secret_hash, key.budget, key.rpm, key.tpm,
                       key.created_at, key.revoked_at, key.exchange_owner))
        return True

    def find_key(self, secret_hash: str) -> KeyRecord | None:
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {KEY_COLUMNS} FROM gateway_keys WHERE secret_hash = ?",
                             (secret_hash,))
        return _key_of(rows[0]) if rows else None

    def get_key(self, id_or_name: str) -> KeyRecord | None:
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {KEY_COLUMNS} FROM gateway_keys WHERE id = ? OR name = ?",
                             (id_or_name, id_or_name))
        return _key_of(rows[0]) if rows else None

    def list_keys(self) -> list[KeyRecord]:
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {KEY_COLUMNS} FROM gateway_keys ORDER BY created_at, id")
        return [_key_of(r) for r in rows]

    def revoke_key(self, id_or_name: str, at: int) -> KeyRecord | None:
        """Revoke (once: a second revoke keeps the first instant); None if no such key."""
        with self._transaction(self._begin_write):
            self._run("UPDATE gateway_keys SET revoked_at = ? WHERE (id = ? OR name = ?) "
                      "AND revoked_at = 0", (at, id_or_name, id_or_name))
            rows = self._run(f"SELECT {KEY_COLUMNS} FROM gateway_keys WHERE id = ? OR name = ?",
                             (id_or_name, id_or_name))
        return _key_of(rows[0]) if rows else None

    # -- requests ------------------------------------------------------------------------
    def commit_batch(self, transfers: Sequence[Transfer], records: Sequence[RequestRecord] = (),
                     done: Sequence[tuple[str, str, int, str, str]] = (),
                     durable: bool = True) -> list[CreateTransferResult]:
        """One write transaction: ``transfers`` (a ledger batch), the request ``records`` and
        the idempotency keys ``done`` (key id, idempotency key, status, content type, body).

        ``durable=False`` lets the commit return before it is on disk: for reservations,
        which a crash must release anyway (the request in flight dies with the process), and
        which the next durable commit (a capture: the WAL is one sequence) makes durable."""
        from tokenomy.store.ledger_sql import check_transfers

        check_transfers(transfers)
        with self._transaction(lambda: self._begin_batch(durable)):
            results = self._apply_transfers(transfers) if transfers else []
            if not transfers:
                self._lock_writer()
            if records:
                self._run_many(INSERT_REQUEST, [_request_row(r) for r in records])
            if done:
                self._run_many("UPDATE gateway_idempotency SET state = 'done', status = ?, "
                               "content_type = ?, body = ? WHERE key_id = ? "
                               "AND idempotency_key = ? AND state = 'open'",
                               [(s, c, b, k, i) for k, i, s, c, b in done])
        return results

    def list_requests(self, since_ns: int = 0, key_id: str | None = None,
                      limit: int = 1_000) -> list[RequestRecord]:
        """Request records started at or after ``since_ns``, oldest first."""
        limit = max(1, min(limit, REQUESTS_LIMIT_MAX))
        where, params = "started_at >= ?", [since_ns]
        if key_id is not None:
            where += " AND key_id = ?"
            params.append(key_id)  # type: ignore[arg-type]
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {REQUEST_COLUMNS} FROM gateway_requests WHERE {where} "
                             f"ORDER BY started_at, id LIMIT {limit}", params)
        return [_request_of(r) for r in rows]

    def get_request(self, request_id: str) -> RequestRecord | None:
        with self._transaction(self._begin_read):
            rows = self._run(f"SELECT {REQUEST_COLUMNS} FROM gateway_requests WHERE id = ?",
                             (request_id,))
        return _request_of(rows[0]) if rows else None

    # -- idempotency keys ----------------------------------------------------------------
    def claim_idempotency(self, key_id: str, idempotency_key: str, request_id: str,
                          at: int, stale_before: int = 0) -> tuple[bool, Idempotency]:
        """Claim an idempotency key for ``request_id``: (True, …) when it is new, its last
        attempt failed, or it was left open before ``stale_before`` (a crashed attempt: its
        reservation has lapsed); otherwise (False, its state: open or done)."""
        with self._transaction(self._begin_write):
            self._lock_writer()
            rows = self._run("SELECT request_id, state, attempt, status, content_type, body, "
                             "created_at "
                             "FROM gateway_idempotency WHERE key_id = ? AND idempotency_key = ?",
                             (key_id, idempotency_key))
            if not rows:
                self._run("INSERT INTO gateway_idempotency (key_id, idempotency_key, "
                          "request_id, state, attempt, status, content_type, body, created_at) "
                          "VALUES (?, ?, ?, 'open', 1, 0, '', '', ?)",
                          (key_id, idempotency_key, request_id, at))
                return True, Idempotency(request_id, "open", 1)
            found = Idempotency(str(rows[0][0]), str(rows[0][1]), int(rows[0][2]),
                                int(rows[0][3]), str(rows[0][4]), str(rows[0][5]))
            lapsed = found.state == "open" and int(rows[0][6]) < stale_before
            if found.state != "failed" and not lapsed:
                return False, found
            self._run("UPDATE gateway_idempotency SET request_id = ?, state = 'open', "
                      "attempt = attempt + 1, created_at = ? WHERE key_id = ? "
                      "AND idempotency_key = ?", (request_id, at, key_id, idempotency_key))
            return True, Idempotency(request_id, "open", found.attempt + 1)

    def fail_idempotency(self, key_id: str, idempotency_key: str, request_id: str) -> None:
        """The attempt ``request_id`` ended without a response to replay: a retry may run."""
        with self._transaction(self._begin_write):
            self._run("UPDATE gateway_idempotency SET state = 'failed' WHERE key_id = ? AND "
                      "idempotency_key = ? AND request_id = ? AND state = 'open'",
                      (key_id, idempotency_key, request_id))


__all__ = ["GatewayTables", "Idempotency", "KeyRecord", "RequestRecord"]

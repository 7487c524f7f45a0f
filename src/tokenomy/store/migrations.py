"""Numbered schema migrations, applied in order, each once, each in one transaction.

One list for both stores: ``sql`` is SQLite's text, ``postgresql`` PostgreSQL's where the
syntax differs (empty: the same text). :meth:`Migration.statements` splits a script into
whole statements (a SQLite trigger body holds ``;`` of its own).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

DIALECTS = ("sqlite", "postgresql")


def split_statements(script: str) -> list[str]:
    """Whole SQL statements of ``script``, each ending with ``;`` (SQLite's tokenizer decides
    where a statement ends, so ``BEGIN …; END`` trigger bodies stay whole)."""
    statements: list[str] = []
    pending = ""
    for piece in str.split(script, ";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        statements.append(pending.strip())
    return statements


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str  # SQLite
    postgresql: str = ""  # PostgreSQL, where it differs from ``sql``

    def script(self, dialect: str) -> str:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown SQL dialect {dialect!r}; one of {DIALECTS}")
        return str(self.postgresql or self.sql) if dialect == "postgresql" else str(self.sql)

    def statements(self, dialect: str) -> list[str]:
        """SQLite runs one statement per call; PostgreSQL takes the script whole."""
        script = self.script(dialect)
        return split_statements(script) if dialect == "sqlite" else [script]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "meta",
        """
        CREATE TABLE IF NOT EXISTS tokenomy_meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        2,
        "usage_records",
        """
        CREATE TABLE IF NOT EXISTS usage_records (
            id            TEXT PRIMARY KEY,
            provider      TEXT NOT NULL,
            model         TEXT NOT NULL,
            at            TEXT NOT NULL,
            service_tier  TEXT NOT NULL,
            usage_json    TEXT NOT NULL,
            cost_minor    INTEGER NOT NULL,
            currency      TEXT NOT NULL,
            price_version TEXT NOT NULL,
            provisional   INTEGER NOT NULL,
            recorded_at   TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS usage_records_at ON usage_records (at);
        """,
        postgresql="""
        CREATE TABLE IF NOT EXISTS usage_records (
            id            TEXT PRIMARY KEY,
            provider      TEXT NOT NULL,
            model         TEXT NOT NULL,
            at            TEXT NOT NULL,
            service_tier  TEXT NOT NULL,
            usage_json    TEXT NOT NULL,
            cost_minor    BIGINT NOT NULL,
            currency      TEXT NOT NULL,
            price_version TEXT NOT NULL,
            provisional   INTEGER NOT NULL,
            recorded_at   TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS usage_records_at ON usage_records (at);
        """,
    ),
)

# The ledger (ledger_sql.py maps rows). Unsigned 128-bit values (ids, amounts, balances,
# user_data_128) are NUMERIC(39,0) on PostgreSQL and 39-digit zero-padded TEXT on SQLite, whose
# INTEGER is a signed 64-bit: text order is then numeric order (keyset pagination, ORDER BY id).
# user_data_64 is stored as its two's-complement signed 64-bit value; timestamps and
# expires_at (ns) are below 2^63 until the year 2262.
_LEDGER_TABLES = """
CREATE TABLE IF NOT EXISTS ledger_accounts (
    id              {u128} PRIMARY KEY,
    ledger          BIGINT NOT NULL,
    code            BIGINT NOT NULL,
    flags           BIGINT NOT NULL,
    debits_pending  {u128} NOT NULL,
    debits_posted   {u128} NOT NULL,
    credits_pending {u128} NOT NULL,
    credits_posted  {u128} NOT NULL,
    user_data_128   {u128} NOT NULL,
    user_data_64    BIGINT NOT NULL,
    user_data_32    BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
){without_rowid};
CREATE INDEX IF NOT EXISTS ledger_accounts_by_ledger ON ledger_accounts (ledger, id);
CREATE TABLE IF NOT EXISTS ledger_transfers (
    id                {u128} PRIMARY KEY,
    debit_account_id  {u128} NOT NULL,
    credit_account_id {u128} NOT NULL,
    amount            {u128} NOT NULL,
    pending_id        {u128} NOT NULL,
    ledger            BIGINT NOT NULL,
    code              BIGINT NOT NULL,
    flags             BIGINT NOT NULL,
    timeout           BIGINT NOT NULL,
    user_data_128     {u128} NOT NULL,
    user_data_64      BIGINT NOT NULL,
    user_data_32      BIGINT NOT NULL,
    created_at        BIGINT NOT NULL UNIQUE
){without_rowid};
CREATE TABLE IF NOT EXISTS ledger_pending (
    pending_id {u128} PRIMARY KEY REFERENCES ledger_transfers (id),
    status     TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
    expires_at BIGINT NOT NULL
){without_rowid};
CREATE INDEX IF NOT EXISTS ledger_pending_due ON ledger_pending (status, expires_at);
CREATE TABLE IF NOT EXISTS ledger_failed (
    id {u128} PRIMARY KEY
){without_rowid};
CREATE TABLE IF NOT EXISTS ledger_budgets (
    name       TEXT PRIMARY KEY,
    account_id {u128} NOT NULL,
    ledger     BIGINT NOT NULL,
    amount     {u128} NOT NULL,
    period     TEXT NOT NULL,
    rollover   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    owner      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_meta (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    last_timestamp BIGINT NOT NULL
);
INSERT INTO ledger_meta (id, last_timestamp) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
"""

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        3,
        "ledger",
        _LEDGER_TABLES.format(u128="TEXT", without_rowid=" WITHOUT ROWID"),
        postgresql=_LEDGER_TABLES.format(u128="NUMERIC(39, 0)", without_rowid=""),
    ),
    Migration(
        4,
        "ledger_journal_append_only",
        """
        CREATE TRIGGER IF NOT EXISTS ledger_transfers_no_update
        BEFORE UPDATE ON ledger_transfers
        BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only: no UPDATE'); END;
        CREATE TRIGGER IF NOT EXISTS ledger_transfers_no_delete
        BEFORE DELETE ON ledger_transfers
        BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only: no DELETE'); END;
        """,
        postgresql="""
        CREATE OR REPLACE FUNCTION ledger_transfers_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger_transfers is append-only: no %', TG_OP;
        END
        $$;
        CREATE OR REPLACE TRIGGER ledger_transfers_append_only
        BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transfers
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_append_only();
        """,
    ),
)

# The earliest expiry of any timed pending transfer (0: none), so a batch skips the due-
# expiry query when nothing can be due. It may run early (a pending resolved before its
# deadline), never late: every write that creates an earlier deadline lowers it.
_NEXT_EXPIRY = """
ALTER TABLE ledger_meta ADD COLUMN next_expiry BIGINT NOT NULL DEFAULT 0;
UPDATE ledger_meta SET next_expiry = COALESCE((SELECT MIN(expires_at) FROM ledger_pending
    WHERE status = 'pending' AND expires_at > 0), 0) WHERE id = 1;
"""

MIGRATIONS = (*MIGRATIONS, Migration(5, "ledger_next_expiry", _NEXT_EXPIRY))

# The SQLite store derives its clock from the newest row when another process has written:
# the journal's created_at is indexed (UNIQUE); the accounts' needs its own index.
MIGRATIONS = (*MIGRATIONS, Migration(
    6, "ledger_accounts_created_at",
    "CREATE INDEX IF NOT EXISTS ledger_accounts_created_at ON ledger_accounts (created_at);",
))

# The gateway: API keys (only a SHA-256 of each secret is kept), one row per request for
# reports, and idempotency keys (a finished request's response, replayed to a retry).
_GATEWAY_TABLES = """
CREATE TABLE IF NOT EXISTS gateway_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    budget      TEXT NOT NULL,
    rpm         BIGINT NOT NULL,
    tpm         BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway_requests (
    id              TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL,
    budget          TEXT NOT NULL,
    api             TEXT NOT NULL,
    model           TEXT NOT NULL,
    upstream        TEXT NOT NULL,
    stream          BIGINT NOT NULL,
    status          BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    usage_json      TEXT NOT NULL,
    estimated       BIGINT NOT NULL,
    reserved_minor  BIGINT NOT NULL,
    cost_minor      BIGINT NOT NULL,
    captured_minor  BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    price_version   TEXT NOT NULL,
    provisional     BIGINT NOT NULL,
    stu             TEXT NOT NULL,
    latency_us      BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    error           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gateway_requests_started ON gateway_requests (started_at);
CREATE INDEX IF NOT EXISTS gateway_requests_key ON gateway_requests (key_id, started_at);
CREATE TABLE IF NOT EXISTS gateway_idempotency (
    key_id          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'done', 'failed')),
    attempt         BIGINT NOT NULL,
    status          BIGINT NOT NULL,
    content_type    TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);
"""

MIGRATIONS = (*MIGRATIONS, Migration(7, "gateway", _GATEWAY_TABLES))

# The exchange's command journal: per book, commands 1, 2, 3… as compact JSON
# (tokenomy.store.exchange_journal); replaying them in order rebuilds the book.
_EXCHANGE_JOURNAL = """
CREATE TABLE IF NOT EXISTS exchange_journal (
    book    TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    command TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (book, seq)
){without_rowid};
"""

MIGRATIONS = (*MIGRATIONS, Migration(
    8, "exchange_journal", _EXCHANGE_JOURNAL.format(without_rowid=" WITHOUT ROWID"),
    postgresql=_EXCHANGE_JOURNAL.format(without_rowid="")))

# Reports: an application's verdict on a gateway response (``POST /api/feedback``), one row
# per request and outcome (a replay of the same pair is a no-op); good-put reads them.
MIGRATIONS = (*MIGRATIONS, Migration(9, "report_feedback", """
CREATE TABLE IF NOT EXISTS report_feedback (
    request_id TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (request_id, outcome)
);
CREATE INDEX IF NOT EXISTS report_feedback_at ON report_feedback (at);
"""))

# A key may be bound to an exchange member whose prepaid token credits it spends first.
MIGRATIONS = (*MIGRATIONS, Migration(10, "gateway_key_exchange_owner", """
ALTER TABLE gateway_keys ADD COLUMN exchange_owner BIGINT NOT NULL DEFAULT 0;
"""))

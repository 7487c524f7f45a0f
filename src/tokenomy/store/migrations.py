"""Numbered schema migrations, applied in order, each once, each in one transaction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


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
    ),
)

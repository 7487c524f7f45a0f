"""The embedded SQLite store: WAL mode, ``BEGIN IMMEDIATE`` for writes, migrations on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tokenomy.store.migrations import MIGRATIONS


class SQLiteStore:
    """One SQLite database file. Writers serialize on ``BEGIN IMMEDIATE``."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: str) -> SQLiteStore:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        store = cls(db, path)
        store.migrate()
        return store

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # the done-check inside the lock: many processes may open
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.statements("sqlite"):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return self.schema_version()

    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def ping(self) -> bool:
        row = self._db.execute("SELECT 1").fetchone()
        return bool(row == (1,))

    @property
    def connection(self) -> sqlite3.Connection:
        return self._db

    def close(self) -> None:
        self._db.close()

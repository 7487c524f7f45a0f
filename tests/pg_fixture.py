"""A throwaway PostgreSQL server for the tests: one per session, a fresh schema per test.

``new_database()`` gives a URL whose ``search_path`` is a new, empty schema of one shared
database: as isolated as a new database for the ledger's tables, but a few kB instead of a
copy of ``template1`` (several MB written and fsynced per test).

The server binaries come from the Debian ``postgresql`` package (``make test`` installs it).
Without them a developer's run skips the PostgreSQL cases; CI (``CI`` set) fails instead.
initdb refuses root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import atexit
import os
import subprocess
from pathlib import Path

import pytest

from serving import free_port
from tokenomy.store.pgserver import ThrowawayPostgres, find_bindir


class PgCluster(ThrowawayPostgres):
    """The tests' server: on a free loopback port; ``new_database()`` gives a fresh URL."""

    def __init__(self, bindir: Path) -> None:
        super().__init__(bindir, tcp_port=free_port())

    @property
    def port(self) -> int:
        assert self.tcp_port is not None
        return self.tcp_port

    def new_database(self) -> str:
        """A URL for an empty ledger: a new schema in the shared database ``ledgers``."""
        return self.new_schema()


_SESSION: dict[str, PgCluster] = {}  # the session's one server, started on first use


def cluster() -> PgCluster:
    """The session's server (started now if need be); skips or, in CI, fails without one."""
    running = _SESSION.get("server")
    if running is not None:
        return running
    bindir = find_bindir()
    if bindir is None:
        message = ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); "
                   "`make test` installs the Debian package postgresql")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PgCluster(bindir)
    atexit.register(server.stop)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {exc.stderr!r} {exc.stdout!r}")
    _SESSION["server"] = server
    return server


def stop_cluster() -> None:
    server = _SESSION.pop("server", None)
    if server is not None:
        server.stop()

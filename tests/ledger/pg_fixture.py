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
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from serving import free_port

START_SECONDS_MAX = 60
DATABASE = "ledgers"


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PgCluster:
    """``initdb`` + ``pg_ctl start`` in a temp dir; ``new_database()`` gives a fresh URL."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="tokenomy-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        self.started = False

    def _as_server_user(self, *args: str) -> list[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(self._as_server_user("initdb", "-D", str(self.data), "-A", "trust",
                                            "-U", "postgres", "-E", "UTF8", "--no-sync"),
                       check=True, capture_output=True, timeout=START_SECONDS_MAX)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                   "-c fsync=on -c max_connections=300")
        subprocess.run(self._as_server_user("pg_ctl", "-D", str(self.data), "-w", "-t",
                                            str(START_SECONDS_MAX), "-l",
                                            str(self.root / "server.log"), "-o", options,
                                            "start"),
                       check=True, capture_output=True, timeout=START_SECONDS_MAX + 10)
        self.started = True
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A URL for an empty ledger: a new schema in the shared database ``ledgers``."""
        name = f"ledger_{next(self._names)}"
        with psycopg.connect(self.url(DATABASE), autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {name}")
        return f"{self.url(DATABASE)}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        if self.started:
            subprocess.run(self._as_server_user("pg_ctl", "-D", str(self.data), "-m", "immediate",
                                                "-w", "stop"),
                           check=False, capture_output=True, timeout=START_SECONDS_MAX)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


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

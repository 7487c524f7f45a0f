"""A throwaway PostgreSQL server for the benchmarks (``tests/ledger/pg_fixture.py`` without pytest).

``initdb`` + ``pg_ctl start`` in a temp dir, listening on a unix socket only (as the §6.1
baselines in ``shared/reference/ledger_exchange.md`` were measured), ``fsync=on``;
``new_schema()`` gives the URL of a fresh, empty schema. initdb refuses root, so as root the
server runs as the ``postgres`` user. ``start_server()`` answers None without the binaries.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg

START_SECONDS_MAX = 60
DATABASE = "ledgers"
PORT = 5432  # the socket file lives in our own temp dir: no clash with another server


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PgServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="tokenomy-bench-pg-"))
        self.data = self.root / "data"
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
        options = (f"-c listen_addresses='' -p {PORT} -k {self.root} "
                   "-c fsync=on -c max_connections=100")
        subprocess.run(self._as_server_user("pg_ctl", "-D", str(self.data), "-w", "-t",
                                            str(START_SECONDS_MAX), "-l",
                                            str(self.root / "server.log"), "-o", options,
                                            "start"),
                       check=True, capture_output=True, timeout=START_SECONDS_MAX + 10)
        self.started = True
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")

    def url(self, database: str, schema: str | None = None) -> str:
        url = (f"postgresql://postgres@/{database}?host={quote(str(self.root), safe='')}"
               f"&port={PORT}")
        return f"{url}&options=-csearch_path%3D{schema}" if schema else url

    def new_schema(self) -> str:
        """The URL of a new, empty schema in the database ``ledgers``."""
        name = f"bench_{next(self._names)}"
        with psycopg.connect(self.url(DATABASE), autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {name}")
        return self.url(DATABASE, name)

    def version(self) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            row = admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def stop(self) -> None:
        if self.started:
            subprocess.run(self._as_server_user("pg_ctl", "-D", str(self.data), "-m", "immediate",
                                                "-w", "stop"),
                           check=False, capture_output=True, timeout=START_SECONDS_MAX)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer | None:
    """A started server, or None where the PostgreSQL binaries are not installed."""
    bindir = find_bindir()
    if bindir is None:
        return None
    server = PgServer(bindir)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server

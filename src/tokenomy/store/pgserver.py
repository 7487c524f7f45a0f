"""A throwaway PostgreSQL server in a temp directory, for tests and benchmarks.

``initdb`` + ``pg_ctl start`` from the Debian ``postgresql`` package's binaries (``make test``
installs it when missing), ``fsync=on``; ``new_schema()`` gives the URL of a fresh, empty
schema in one shared database — as isolated as a new database for the ledger's tables, at a
few kB instead of a copy of ``template1``. initdb refuses root, so as root the server runs as
the ``postgres`` user. Listens on a unix socket in its own directory, and on 127.0.0.1 when
given a TCP port.
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
SOCKET_PORT = 5432  # names the socket file, which lives in our own directory: no clash


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb, else initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class ThrowawayPostgres:
    """One server: :meth:`start`, :meth:`new_schema` as often as needed, :meth:`stop`."""

    def __init__(self, bindir: Path, tcp_port: int | None = None,
                 max_connections: int = 300) -> None:
        self.bindir = bindir
        self.tcp_port = tcp_port
        self.max_connections = max_connections
        self.root = Path(tempfile.mkdtemp(prefix="tokenomy-pg-"))
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
        listen = f"127.0.0.1 -p {self.tcp_port}" if self.tcp_port else f"'' -p {SOCKET_PORT}"
        options = (f"-c listen_addresses={listen} -k {self.root} -c fsync=on "
                   f"-c max_connections={self.max_connections}")
        subprocess.run(self._as_server_user("pg_ctl", "-D", str(self.data), "-w", "-t",
                                            str(START_SECONDS_MAX), "-l",
                                            str(self.root / "server.log"), "-o", options,
                                            "start"),
                       check=True, capture_output=True, timeout=START_SECONDS_MAX + 10)
        self.started = True
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")

    def url(self, database: str, schema: str | None = None) -> str:
        if self.tcp_port:
            url = f"postgresql://postgres@127.0.0.1:{self.tcp_port}/{database}"
            sep = "?"
        else:
            url = (f"postgresql://postgres@/{database}?host={quote(str(self.root), safe='')}"
                   f"&port={SOCKET_PORT}")
            sep = "&"
        return f"{url}{sep}options=-csearch_path%3D{schema}" if schema else url

    def new_schema(self, prefix: str = "ledger") -> str:
        """The URL of a new, empty schema in the database ``ledgers``."""
        name = f"{prefix}_{next(self._names)}"
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

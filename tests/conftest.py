"""Shared fixtures: a real ``tokenomy serve`` process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS_MAX = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tokenomy() -> list[str]:
    return [sys.executable, "-c", "from tokenomy.cli import main; main()"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a ``tokenomy serve`` subprocess with its own SQLite file."""
    workdir = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOMY_")}
    env["TOKENOMY_DATABASE_URL"] = f"sqlite:///{workdir / 'tokenomy.db'}"
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [*_tokenomy(), "serve", "--port", str(port)], cwd=workdir, env=env,
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS_MAX
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((workdir / "server.log").read_text())
        time.sleep(0.1)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def run_cli(args: list[str], stdin: str | None = None, cwd: Path | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOMY_")}
    return subprocess.run([*_tokenomy(), *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, check=False)


@pytest.fixture(scope="session")
def cli() -> object:
    """``cli(args, stdin=None, cwd=None)`` runs ``tokenomy`` in a subprocess."""
    return run_cli

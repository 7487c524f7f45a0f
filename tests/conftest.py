"""Shared fixtures: a real ``tokenomy serve`` process on loopback, and the CLI."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import serve, tokenomy_command
from tokenomy._recursion import restore_recursion_limit


def pytest_collection_finish(session: pytest.Session) -> None:
    """Test modules import eth_account, whose py_ecc raises the recursion limit: servers run
    in threads of this process must parse JSON under the safe one (tokenomy._recursion)."""
    restore_recursion_limit()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a ``tokenomy serve`` subprocess with its own SQLite file."""
    workdir = tmp_path_factory.mktemp("serve")
    with serve(workdir, f"sqlite:///{workdir / 'tokenomy.db'}") as base:
        yield base


def run_cli(args: list[str], stdin: str | None = None, cwd: Path | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENOMY_")}
    return subprocess.run([*tokenomy_command(), *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, check=False)


@pytest.fixture(scope="session")
def cli() -> object:
    """``cli(args, stdin=None, cwd=None)`` runs ``tokenomy`` in a subprocess."""
    return run_cli

"""The gateway for real: ``tokenomy serve --config`` in a subprocess, in front of the upstream
simulator (uvicorn in a thread), with keys made in this process on the same SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from gateway_harness import Gateway

from serving import free_port, serve, serve_in_thread
from tokenomy.store import open_gateway_store
from tokenomy.upstream import SimulatorConfig, create_simulator

USER_BOOK = """
provider = "test"
currency = "USD"
name = "test"
source = "tests"

[[model]]
id = "sim-slow"
quality = "economy"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "0.10"
  output = "0.40"

[[model]]
id = "sim-alt"
quality = "standard"
  [[model.price]]
  valid_from = "2025-01-01"
  input = "1.00"
  output = "2.00"
"""

CONFIG = """
[gateway]
upstream_timeout_s = 3
reservation_timeout_s = 60

[pricing]
books = ["test-book.toml"]
unpriced = "{unpriced}"

[[upstream]]
name = "sim-openai"
kind = "openai"
base_url = "{fast}/v1"
models = ["sim-small", "sim-large"]

[[upstream]]
name = "sim-anthropic"
kind = "anthropic"
base_url = "{fast}"
models = ["sim-small", "sim-large"]

[[upstream]]
name = "slow"
kind = "openai"
base_url = "{slow}/v1"
models = ["sim-slow"]

[[upstream]]
name = "slow-anthropic"
kind = "anthropic"
base_url = "{slow}"
models = ["sim-slow"]

[[upstream]]
name = "dead"
kind = "openai"
base_url = "http://127.0.0.1:{dead_port}/v1"
models = ["sim-alt"]

[[upstream]]
name = "alt"
kind = "openai"
base_url = "{fast}/v1"
models = ["sim-alt", "sim-unpriced"]

[[model_group]]
name = "auto-cheap"
models = ["sim-large", "sim-small"]
routing = "cheapest"

[[model_group]]
name = "auto-good"
models = ["sim-small", "sim-large"]
quality = "frontier"
"""


@pytest.fixture(scope="session")
def simulator() -> Iterator[str]:
    app = create_simulator(SimulatorConfig(tokens_per_s=0,
                                           models=("sim-small", "sim-large", "sim-alt",
                                                   "sim-unpriced")))
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture(scope="session")
def slow_simulator() -> Iterator[str]:
    app = create_simulator(SimulatorConfig(tokens_per_s=20, output_tokens=200,
                                           models=("sim-slow",)))
    with serve_in_thread(app) as base:
        yield base


@contextmanager
def running_gateway(workdir: Path, url: str, fast: str, slow: str, unpriced: str = "block",
                    workers: int = 1) -> Iterator[Gateway]:
    """``tokenomy serve --config`` on ``url`` in front of the simulators."""
    (workdir / "test-book.toml").write_text(USER_BOOK)
    (workdir / "tokenomy.toml").write_text(CONFIG.format(fast=fast, slow=slow, unpriced=unpriced,
                                                         dead_port=free_port()))
    store = open_gateway_store(url, time.time_ns)
    args = ["--config", str(workdir / "tokenomy.toml"), "--workers", str(workers)]
    try:
        with serve(workdir, url, args) as base:
            yield Gateway(base, workdir, url, store)
    finally:
        store.close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, simulator: str,
            slow_simulator: str) -> Iterator[Gateway]:
    """The gateway on SQLite, one worker, unpriced models blocked."""
    workdir = tmp_path_factory.mktemp("gateway")
    with running_gateway(workdir, f"sqlite:///{workdir / 'tokenomy.db'}", simulator,
                         slow_simulator) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def pg_gateway(tmp_path_factory: pytest.TempPathFactory, simulator: str,
               slow_simulator: str) -> Iterator[Gateway]:
    """The gateway on PostgreSQL, two workers, unpriced models held at a provisional rate."""
    from pg_fixture import cluster

    url = cluster().new_database()
    with running_gateway(tmp_path_factory.mktemp("pg-gateway"), url, simulator, slow_simulator,
                         unpriced="hold", workers=2) as gateway:
        yield gateway


@pytest.fixture()
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base, timeout=30) as client:
        yield client

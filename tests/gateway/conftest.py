"""The gateway for real: ``tokenomy serve --config`` in a subprocess, in front of the upstream
simulator (uvicorn in a thread), with keys made in this process on the same SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gateway_harness import Gateway, running_gateway

from serving import serve_in_thread
from tokenomy.upstream import SimulatorConfig, create_simulator


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

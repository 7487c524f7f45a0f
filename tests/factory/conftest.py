"""The factory's fixtures: the upstream simulator on loopback (paced, so a window of streams
looks like serving), and a fake powercap sysfs tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factory_helpers import write_zone

from serving import serve_in_thread
from tokenomy.upstream import SimulatorConfig, create_simulator


@pytest.fixture(scope="session")
def paced_simulator() -> Iterator[str]:
    app = create_simulator(SimulatorConfig(tokens_per_s=400, output_tokens=40,
                                           models=("sim-small",)))
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture()
def sysfs(tmp_path: Path) -> Path:
    """A powercap tree: package 0 near its wrap, its core subzone, its DRAM subzone."""
    root = tmp_path / "powercap"
    write_zone(root, "intel-rapl:0", "package-0", 262_143_000_000, 262_143_328_850)
    write_zone(root, "intel-rapl:0:0", "core", 1_000, 262_143_328_850)
    write_zone(root, "intel-rapl:0:1", "dram", 5_000_000, 65_712_999_613)
    (root / "intel-rapl").mkdir()  # the control-type directory: no counters, skipped
    return root

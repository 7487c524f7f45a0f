"""``factory measure`` end to end: the real CLI drives the upstream simulator on loopback;
energy from the estimate, or from RAPL on a fake sysfs tree whose counters a thread advances
(and wraps) while the load runs. Then the saved file feeds the gateway's config."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from factory_helpers import write_zone

from tokenomy.config import load_settings
from tokenomy.factory import (
    BatchRun,
    DataError,
    EnergyMethod,
    EnergyReading,
    FactoryError,
    MeasureAssumptions,
    from_file,
    greenest_joules,
    summarize,
    to_file,
)

Cli = Callable[..., Any]
MAX_UJ = 1_000_000


def test_measure_with_the_estimate_meter(cli: Cli, paced_simulator: str, tmp_path: Path) -> None:
    saved, chart = tmp_path / "m.json", tmp_path / "m.png"
    done = cli(["factory", "measure", "--endpoint", f"{paced_simulator}/v1", "--model",
                "sim-small", "--batch", "1,4", "--seconds", "1", "--meter", "estimate",
                "--json", "--save", str(saved), "--chart", str(chart)])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["meter"]["method"] == "estimate"
    assert [r["batch"] for r in out["results"]] == [1, 4]
    for row in out["results"]:
        assert row["energy_method"] == "estimate" and row["errors"] == 0
        assert int(row["output_tokens"]) > 0 and D(row["tokens_per_s"]) > 0
        assert D(row["watts"]) == 490  # 700 W TDP x 0.7
        assert D(row["joules_per_token"]) * D(row["tokens_per_joule"]) == \
            pytest.approx(D(1), rel=D("0.001"))
        assert D(row["cost_usd_per_mtok"]) > 0
    assert json.loads(saved.read_text()) == out
    if importlib.util.find_spec("matplotlib") is not None:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "chart skipped: matplotlib is not installed" in done.stderr

    toml = cli(["factory", "greenest-config", str(saved), "--name", "sim"])
    assert toml.returncode == 0, toml.stderr
    config = tmp_path / "tokenomy.toml"
    config.write_text(toml.stdout)
    spec = load_settings(config_path=config).upstreams[0]
    best = min(D(r["joules_per_token"]) for r in out["results"])
    assert (spec.name, spec.models, spec.joules_per_token) == ("sim", ("sim-small",), best)


@pytest.fixture()
def ticking_rapl(sysfs: Path) -> Iterator[Path]:
    """A thread adds 50,000 µJ to package 0 every 10 ms, wrapping at MAX_UJ (5 W)."""
    stop = threading.Event()
    write_zone(sysfs, "intel-rapl:0", "package-0", MAX_UJ - 20_000, MAX_UJ)

    def tick() -> None:
        value = MAX_UJ - 20_000
        while not stop.wait(0.01):
            value = (value + 50_000) % (MAX_UJ + 1)
            write_zone(sysfs, "intel-rapl:0", "package-0", value, MAX_UJ)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield sysfs
    stop.set()
    thread.join()


def test_measure_with_rapl_on_a_fake_tree(cli: Cli, paced_simulator: str,
                                          ticking_rapl: Path) -> None:
    done = cli(["factory", "measure", "--endpoint", paced_simulator, "--model", "sim-small",
                "--batch", "2", "--seconds", "1", "--meter", "rapl", "--rapl-root",
                str(ticking_rapl), "--json"])
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)["results"][0]
    assert row["energy_method"] == "rapl" and "package-0" in row["energy_detail"]
    assert D(row["joules"]) > 0  # the counter wrapped many times and never went negative


def test_measure_errors(cli: Cli, tmp_path: Path) -> None:
    def error(*args: str) -> str:
        done = cli(["factory", "measure", *args])
        assert done.returncode == 2, done.stdout
        return str(done.stderr)

    assert "--endpoint and --model" in error("--batch", "1", "--meter", "estimate")
    assert "comma-separated" in error("--endpoint", "http://x", "--model", "m", "--batch", "a")
    assert "no readable RAPL zones" in error("--endpoint", "http://127.0.0.1:9", "--model", "m",
                                             "--meter", "rapl", "--rapl-root", str(tmp_path))
    assert "every request failed" in error("--endpoint", "http://127.0.0.1:9", "--model", "m",
                                           "--batch", "1", "--seconds", "0.3", "--meter",
                                           "estimate")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = cli(["factory", "greenest-config", str(bad)])
    assert done.returncode == 2 and "not a tokenomy factory measurement" in done.stderr


def test_local_path_without_torch_is_a_clear_error(cli: Cli) -> None:
    done = cli(["factory", "measure", "--local", "config.json", "--meter", "estimate"])
    assert done.returncode == 2
    assert "needs torch and transformers" in done.stderr


def _run(batch: int, tokens: int, joules: str) -> BatchRun:
    return BatchRun(batch, tokens, 1, 0, EnergyReading(EnergyMethod.RAPL, D(joules), D(10)))


def test_summary_and_saved_file_round_trip() -> None:
    assumptions = MeasureAssumptions(D("1.41"), D("1.2"), D("0.028"))
    results = [summarize(_run(1, 1000, "500"), assumptions),
               summarize(_run(8, 6000, "600"), assumptions),
               summarize(_run(64, 0, "700"), assumptions)]
    one = results[0]
    assert (one.tokens_per_s, one.watts, one.tokens_per_joule) == (100, 50, 2)
    assert one.joules_per_token == D("0.5")
    assert one.cost is not None and one.cost.inputs.power_kw == D("0.05")
    assert results[2].cost is None and results[2].joules_per_token is None
    saved = from_file(json.loads(json.dumps(to_file("http://h/v1", "m", assumptions, results))),
                      "x.json")
    assert greenest_joules(saved).batch == 8
    assert greenest_joules(saved, batch=1).joules_per_token == D("0.5")
    with pytest.raises(FactoryError, match="at batch 64"):
        greenest_joules(saved, batch=64)
    with pytest.raises(DataError, match="version"):
        from_file({"kind": "tokenomy.factory.measurement", "version": 9}, "x.json")

"""Energy meters: counter arithmetic, a fake sysfs tree with wraparound, NVML absent, and a
fake ``pynvml`` module object (a test double of the external library) for both NVML paths."""

from __future__ import annotations

import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from factory_helpers import write_zone

from tokenomy.energy import (
    EstimateMeter,
    MeterUnavailableError,
    NvmlMeter,
    RaplMeter,
    load_nvml,
    open_meter,
    read_zones,
)
from tokenomy.factory import (
    EnergyMethod,
    FactoryError,
    counter_delta,
    estimate,
    integrate_power,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counter_delta_unwraps() -> None:
    assert counter_delta(10, 25, 100) == 15
    assert counter_delta(90, 5, 100) == 16  # 90 -> 100 (10), wrap to 0 (1), -> 5 (5)
    assert counter_delta(7, 7, 100) == 0
    with pytest.raises(FactoryError, match="outside"):
        counter_delta(101, 5, 100)


def test_trapezoid_and_estimate() -> None:
    samples = [(D(0), D(100)), (D(1), D(300)), (D(3), D(300))]
    assert integrate_power(samples) == D(200) + D(600)
    with pytest.raises(FactoryError, match="time order"):
        integrate_power([(D(1), D(1)), (D(0), D(1))])
    reading = estimate(D(700), D("0.5"), D(10))
    assert (reading.method, reading.joules, reading.watts) == (EnergyMethod.ESTIMATE, 3500, 350)
    assert not reading.measured


def test_rapl_on_a_fake_tree_with_wraparound(sysfs: Path) -> None:
    clock = Clock()
    meter = RaplMeter(sysfs, clock)
    assert meter.available()
    assert [z.zone for z in read_zones(sysfs)] == ["intel-rapl:0", "intel-rapl:0:0",
                                                  "intel-rapl:0:1"]
    meter.begin()
    # package wraps: 262,143,000,000 -> max 262,143,328,850 -> 0 -> 171,149 µJ: 500,000 µJ
    write_zone(sysfs, "intel-rapl:0", "package-0", 171_149, 262_143_328_850)
    write_zone(sysfs, "intel-rapl:0:0", "core", 400_000, 262_143_328_850)  # not summed
    clock.now += 1
    meter.poll()
    write_zone(sysfs, "intel-rapl:0", "package-0", 1_171_149, 262_143_328_850)
    write_zone(sysfs, "intel-rapl:0:1", "dram", 5_250_000, 65_712_999_613)
    clock.now += 1
    reading = meter.end()
    assert reading.method is EnergyMethod.RAPL
    assert reading.joules == D("1.75")  # package 0.5 + 1.0, DRAM 0.25; core is inside package
    assert reading.seconds == 2 and reading.watts == D("0.875")
    assert "intel-rapl:0 (package-0)" in reading.detail and "core" not in reading.detail


def test_rapl_absent_and_unreadable(tmp_path: Path) -> None:
    assert not RaplMeter(tmp_path / "nothing").available()
    with pytest.raises(MeterUnavailableError, match="no readable RAPL zones"):
        RaplMeter(tmp_path / "nothing").begin()
    zone = write_zone(tmp_path, "intel-rapl:0", "package-0", 1, 10)
    (zone / "energy_uj").write_text("permission denied\n")
    assert read_zones(tmp_path) == ()


def test_nvml_absent_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    with pytest.raises(MeterUnavailableError, match="pip install nvidia-ml-py"):
        load_nvml()
    meter, skipped = open_meter("auto", rapl_root=Path("/nonexistent"))
    assert isinstance(meter, EstimateMeter) and meter.method is EnergyMethod.ESTIMATE
    assert skipped[0].startswith("nvml: NVML is not installed")
    assert skipped[1].startswith("rapl: no readable zones")
    with pytest.raises(MeterUnavailableError):
        open_meter("nvml")


class FakeNvml:
    """The slice of ``pynvml`` the meter calls: two GPUs, energy in mJ, power in mW."""

    class NVMLError(Exception):
        pass

    def __init__(self, counter: bool) -> None:
        self.counter = counter
        self.energy_mj = [1_000_000, 2_000_000]
        self.power_mw = [100_000, 200_000]

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        if not self.counter:
            raise self.NVMLError("Not Supported")
        return self.energy_mj[handle]

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return self.power_mw[handle]


def test_nvml_energy_counter() -> None:
    fake: Any = FakeNvml(counter=True)
    clock = Clock()
    meter = NvmlMeter(fake, clock=clock)
    assert meter.method is EnergyMethod.NVML_COUNTER
    meter.begin()
    fake.energy_mj = [1_250_500, 2_500_000]
    clock.now += 5
    reading = meter.end()
    assert reading.joules == D("750.5") and reading.watts == D("150.1")
    assert "GPU 0, 1" in reading.detail


def test_nvml_sampled_power_when_the_counter_is_missing() -> None:
    fake: Any = FakeNvml(counter=False)
    clock = Clock()
    meter = NvmlMeter(fake, indices=[1], clock=clock)
    assert meter.method is EnergyMethod.NVML_SAMPLED
    meter.begin()  # 200 W
    clock.now += 1
    fake.power_mw = [0, 400_000]
    meter.poll()  # 400 W
    clock.now += 1
    reading = meter.end()  # 400 W
    assert reading.joules == D(300) + D(400) and reading.seconds == 2
    with pytest.raises(MeterUnavailableError, match="out of range"):
        NvmlMeter(fake, indices=[2])

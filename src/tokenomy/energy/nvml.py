"""NVIDIA GPUs through NVML (``nvidia-ml-py``, module ``pynvml``), imported lazily.

Preferred: the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ since the
driver loaded; Volta and newer), read at ``begin`` and ``end``. Where a GPU lacks it: power
(``nvmlDeviceGetPowerUsage``, mW) read at every ``poll`` and integrated by the trapezoid rule.
The ``nvml`` module object can be passed in (tests give a fake one).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from tokenomy.energy.errors import MeterUnavailableError
from tokenomy.factory.energy import EnergyMethod, EnergyReading, integrate_power

SAMPLES_MAX = 1_000_000


def load_nvml() -> Any:
    """The ``pynvml`` module, initialised; :class:`MeterUnavailableError` if absent or failing."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        raise MeterUnavailableError(
            "NVML is not installed (pip install nvidia-ml-py)") from None
    try:
        nvml.nvmlInit()
    except Exception as exc:  # pynvml raises NVMLError subclasses; any failure: no NVML here
        raise MeterUnavailableError(f"NVML did not initialise: {exc}") from None
    return nvml


class NvmlMeter:
    """GPU energy for ``indices`` (default: every GPU), by counter or by sampled power."""

    def __init__(self, nvml: Any | None = None, indices: Sequence[int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._nvml = nvml if nvml is not None else load_nvml()
        count = int(self._nvml.nvmlDeviceGetCount())
        if count == 0:
            raise MeterUnavailableError("NVML sees no GPU")
        chosen = list(range(count)) if indices is None else list(indices)
        if any(not 0 <= i < count for i in chosen):
            raise MeterUnavailableError(f"GPU index out of range 0..{count - 1}: {chosen}")
        self._indices = chosen
        self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in chosen]
        self._clock = clock
        self._counter = self._counter_works()
        self._start_mj: list[int] = []
        self._samples: list[tuple[Decimal, Decimal]] = []
        self._started = 0.0

    @property
    def method(self) -> EnergyMethod:
        return EnergyMethod.NVML_COUNTER if self._counter else EnergyMethod.NVML_SAMPLED

    def _counter_works(self) -> bool:
        error: type[BaseException] = getattr(self._nvml, "NVMLError", Exception)
        try:
            for handle in self._handles:
                self._nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except error:  # NVMLError_NotSupported (pre-Volta): fall back to sampling power
            return False
        return True

    def _energy_mj(self) -> list[int]:
        return [int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self._handles]

    def _watts(self) -> Decimal:
        return sum((Decimal(int(self._nvml.nvmlDeviceGetPowerUsage(h))) / 1000
                    for h in self._handles), Decimal(0))

    def begin(self) -> None:
        self._started = self._clock()
        self._samples = []
        if self._counter:
            self._start_mj = self._energy_mj()
        else:
            self._samples.append((Decimal(0), self._watts()))

    def poll(self) -> None:
        if not self._counter and len(self._samples) < SAMPLES_MAX:
            self._samples.append((Decimal(str(self._clock() - self._started)), self._watts()))

    def end(self) -> EnergyReading:
        self.poll()
        seconds = Decimal(str(self._clock() - self._started))
        gpus = f"GPU {', '.join(map(str, self._indices))}"
        if self._counter:
            used = sum(e - s for s, e in zip(self._start_mj, self._energy_mj(), strict=True))
            return EnergyReading(self.method, Decimal(used) / 1000, seconds,
                                 f"{gpus}: nvmlDeviceGetTotalEnergyConsumption")
        return EnergyReading(self.method, integrate_power(self._samples), seconds,
                             f"{gpus}: nvmlDeviceGetPowerUsage, {len(self._samples)} samples")

"""Linux RAPL through powercap sysfs: ``<root>/intel-rapl:*/energy_uj`` (µJ counters that wrap
at ``max_energy_range_uj``). The root is injectable so tests can point it at a fake tree.

A window reads every zone at ``begin``, at each ``poll`` and at ``end``, and adds up the
unwrapped deltas between consecutive reads: correct as long as a zone wraps at most once
between two reads (poll at least every few seconds; a wrap takes minutes at package power).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tokenomy.energy.errors import MeterUnavailableError
from tokenomy.factory.energy import (
    EnergyMethod,
    EnergyReading,
    ZoneCounter,
    rapl_microjoules,
)

DEFAULT_ROOT = Path("/sys/class/powercap")
ZONES_MAX = 64


def read_zones(root: Path) -> tuple[ZoneCounter, ...]:
    """Every readable RAPL zone under ``root`` (``intel-rapl:N`` and ``intel-rapl:N:M``)."""
    zones = []
    for path in sorted(root.glob("intel-rapl:*"))[:ZONES_MAX]:
        try:
            name = (path / "name").read_text().strip()
            energy = int((path / "energy_uj").read_text().strip())
            max_range = int((path / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            continue  # unreadable (root-only since CVE-2020-8694) or not a zone
        zones.append(ZoneCounter(path.name, name, energy, max_range))
    return tuple(zones)


class RaplMeter:
    """CPU (and DRAM) energy from RAPL counters."""

    method = EnergyMethod.RAPL

    def __init__(self, root: Path = DEFAULT_ROOT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._root = root
        self._clock = clock
        self._last: tuple[ZoneCounter, ...] = ()
        self._microjoules = 0
        self._started = 0.0

    def available(self) -> bool:
        return bool(read_zones(self._root))

    def begin(self) -> None:
        zones = read_zones(self._root)
        if not zones:
            raise MeterUnavailableError(f"no readable RAPL zones under {self._root}")
        self._last, self._microjoules, self._started = zones, 0, self._clock()

    def poll(self) -> None:
        """Read again and add the delta (keeps long windows safe from wraparound)."""
        zones = read_zones(self._root)
        self._microjoules += rapl_microjoules(self._last, zones)
        self._last = zones

    def end(self) -> EnergyReading:
        self.poll()
        seconds = Decimal(str(self._clock() - self._started))
        names = ", ".join(f"{z.zone} ({z.name})" for z in self._last if z.counted)
        return EnergyReading(self.method, Decimal(self._microjoules) / 10**6, seconds,
                             f"RAPL {names} under {self._root}")

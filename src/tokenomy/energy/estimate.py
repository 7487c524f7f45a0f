"""The fallback when no meter exists: a stated estimate, TDP x utilization x seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from tokenomy.factory.energy import EnergyMethod, EnergyReading, estimate


class EstimateMeter:
    """Not a measurement: readings say ``estimate`` and carry the assumptions."""

    method = EnergyMethod.ESTIMATE

    def __init__(self, tdp_w: Decimal, utilization: Decimal,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tdp_w, self._utilization, self._clock = tdp_w, utilization, clock
        self._started = 0.0

    def begin(self) -> None:
        self._started = self._clock()

    def poll(self) -> None:
        return None

    def end(self) -> EnergyReading:
        seconds = Decimal(str(self._clock() - self._started))
        return estimate(self._tdp_w, self._utilization, seconds)

"""Meter errors: a meter that cannot be used here (no driver, no counters, no permission)."""

from __future__ import annotations


class MeterUnavailableError(RuntimeError):
    """This meter cannot measure on this machine; the message says why."""

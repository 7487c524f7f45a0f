"""The meter's exception tree.

    MeterError (ValueError)
    ├── UsageError          a provider usage object is inconsistent; names the field
    ├── UnknownModelError   a model or provider the meter has no rules for
    └── RequestError        a request body the estimator cannot read
"""

from __future__ import annotations


class MeterError(ValueError):
    """Bad input to the meter. ``type`` is the wire name used in JSON errors."""

    type = "meter_error"


class UsageError(MeterError):
    """A usage object that contradicts itself or the provider's documented shape."""

    type = "invalid_usage"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnknownModelError(MeterError):
    """A model or provider with no meter rules."""

    type = "unknown_model"

    def __init__(self, what: str, name: str) -> None:
        super().__init__(
            f"unknown {what} {name!r}; run `tokenomy models` (or GET /api/meter/models) "
            "to list the known ones"
        )
        self.name = name


class RequestError(MeterError):
    """A request body that cannot be estimated."""

    type = "invalid_request"

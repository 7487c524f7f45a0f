"""Always-on invariants (``assert`` vanishes under ``python -O``; these do not)."""

from __future__ import annotations


class InvariantError(AssertionError):
    """A programmer error: an invariant of the code itself does not hold."""


def invariant(condition: bool, message: str = "invariant violated") -> None:
    """Raise :class:`InvariantError` unless ``condition`` holds."""
    if not condition:
        raise InvariantError(message)

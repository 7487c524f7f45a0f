"""The factory's one exception tree.

::

    FactoryError (ValueError)      bad input to the model: a clear message, nothing changed
    ├── UnknownNameError           a GPU, model, region or PUE profile not in the bundled data
    └── DataError                  a bundled or saved data file that does not parse
"""

from __future__ import annotations


class FactoryError(ValueError):
    """Bad input to the token-factory model."""


class UnknownNameError(FactoryError):
    """A name that is not in the bundled data; the message lists the known ones."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known)}")


class DataError(FactoryError):
    """A data file (bundled or saved) that does not have the expected shape."""

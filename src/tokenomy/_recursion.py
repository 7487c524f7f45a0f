"""The interpreter's recursion limit, kept safe.

``py_ecc`` (imported by ``eth_account``, which the x402 SDK's EVM signer imports) raises the
recursion limit to 100,000 when it is imported. Python's JSON parser recurses in C under that
limit, so a request body nested 65,000 deep then overflows a thread's C stack: a segmentation
fault that takes the whole server down, where the default limit gives a ``RecursionError``
(a 400). Every entry point that parses untrusted input calls :func:`restore_recursion_limit`.
"""

from __future__ import annotations

import sys

RECURSION_LIMIT_SAFE = 1_000  # CPython's default


def restore_recursion_limit() -> None:
    if sys.getrecursionlimit() > RECURSION_LIMIT_SAFE:
        sys.setrecursionlimit(RECURSION_LIMIT_SAFE)


__all__ = ["RECURSION_LIMIT_SAFE", "restore_recursion_limit"]

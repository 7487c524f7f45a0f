"""A throwaway PostgreSQL server for the benchmarks, on a unix socket only (as the §6.1
baselines in ``shared/reference/ledger_exchange.md`` were measured). See
:mod:`tokenomy.store.pgserver`; ``start_server()`` answers None without the binaries.
"""

from __future__ import annotations

from tokenomy.store.pgserver import ThrowawayPostgres, find_bindir

PgServer = ThrowawayPostgres


def start_server() -> ThrowawayPostgres | None:
    """A started server, or None where the PostgreSQL binaries are not installed."""
    bindir = find_bindir()
    if bindir is None:
        return None
    server = ThrowawayPostgres(bindir, max_connections=100)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server

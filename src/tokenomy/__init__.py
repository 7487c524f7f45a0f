"""Tokenomy: AI tokens measured, priced, held, traded, paid for and produced.

The pure core (``money``, ``meter``, later ``pricing``, ``ledger``, ``exchange``, ``factory``)
does no I/O; the edges (``store``, ``gateway``, ``cli``) do and call the core.
"""

__version__ = "0.1.0"

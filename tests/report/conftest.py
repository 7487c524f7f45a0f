"""Report fixtures: ``seeded`` (see ``report_seed``: a gateway with real traffic, budgets,
feedback and exchange trades)."""

from report_seed import seeded

__all__ = ["seeded"]

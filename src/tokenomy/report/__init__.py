"""Reports: CLI views, the web dashboard and exports (CSV, FinOps FOCUS).

In: the store (gateway request records, budgets and their ledger balances, open reservations,
the exchange journal, feedback) and the price book. Out: spend, STU and cost per successful
request by any dimension, budget burn, good-put, the market, FOCUS rows with the prompt-cache
chargeback (:mod:`tokenomy.report.allocate`), and ``/dashboard`` with its ``/api/report/...``
JSON (:mod:`tokenomy.report.http`). An edge package: it may import everything; nothing in the
core imports it.
"""

from tokenomy.report.allocate import Allocation, Charge, chargeback, split
from tokenomy.report.factory_panel import panel as factory
from tokenomy.report.service import Reports, Window
from tokenomy.report.views import DIMENSIONS, ReportInputError

__all__ = ["DIMENSIONS", "Allocation", "Charge", "ReportInputError", "Reports", "Window",
           "chargeback", "factory", "split"]

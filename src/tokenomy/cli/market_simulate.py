"""``market simulate``: placeholder, filled in below."""

from __future__ import annotations

import typer


def register(market_app: typer.Typer) -> None:
    return None

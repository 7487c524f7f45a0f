"""Helpers for the factory tests: a fake powercap zone on disk."""

from __future__ import annotations

import os
from pathlib import Path


def write_zone(root: Path, zone: str, name: str, energy_uj: int, max_uj: int) -> Path:
    """Create or update one zone; each file is replaced atomically (as sysfs reads are), so
    a reader never sees one half-written."""
    path = root / zone
    path.mkdir(parents=True, exist_ok=True)
    for file_name, value in (("name", name), ("max_energy_range_uj", max_uj),
                             ("energy_uj", energy_uj)):
        temporary = path / f".{file_name}.tmp"
        temporary.write_text(f"{value}\n")
        os.replace(temporary, path / file_name)
    return path

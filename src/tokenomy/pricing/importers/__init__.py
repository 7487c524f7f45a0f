"""Importers: other projects' price data converted into price books (docs/price-book.md).

In: a foreign price file, already parsed by the caller (the CLI does the file I/O). Out: one
book per provider as TOML text, plus every field the importer could not map, so nothing is
dropped silently. ``tokenomy prices import litellm FILE.json`` is :func:`convert_litellm`.
"""

from tokenomy.pricing.importers.litellm import ImportResult
from tokenomy.pricing.importers.litellm import convert as convert_litellm

__all__ = ["ImportResult", "convert_litellm"]

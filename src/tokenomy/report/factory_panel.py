"""The factory panel: tokens per joule and cost per 1M tokens, modelled and measured.

In: the saved measurements named in the settings (``[factory] measurements``: files written
by ``tokenomy factory measure --save``). Out: rows of ``name``, ``source`` (``model``, or
``measured (rapl|nvml|estimate)``), ``tokens_per_joule``, ``tokens_per_s`` and
``cost_per_mtok_usd`` as decimal strings — the model's rows for the bundled GPUs × models ×
regions in :data:`MODELLED` (:func:`tokenomy.factory.quote`, every assumption its default),
then each measured batch size. A measured row has no cost: that needs the hardware and power
price behind it, which ``tokenomy factory measure`` takes as flags and prints itself.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from tokenomy.factory import DataError, FactoryError, QuoteRequest, from_file, quote

MODELLED = tuple((gpu, model, region)
                 for gpu in ("H200", "B200", "MI300X")
                 for model in ("llama-3.1-8b", "llama-3.1-70b", "deepseek-v3")
                 for region in ("cn-west", "us"))
FILE_BYTES_MAX = 1_000_000
NOTE = ("model: the roofline bound × efficiency with each GPU's bundled prices and power; "
        "measured: `tokenomy factory measure --save FILE`, listed in [factory] measurements")


def _plain(value: Decimal, places: int = 4) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


@cache
def modelled() -> tuple[dict[str, Any], ...]:
    """The model's rows (computed once: the bundled data does not change while serving)."""
    rows = []
    for gpu, model, region in MODELLED:
        breakdown = quote(QuoteRequest(gpu=gpu, model=model, region=region)).breakdown
        rows.append({"name": f"{gpu} · {model} · {region}", "source": "model",
                     "tokens_per_joule": _plain(breakdown.tokens_per_joule, 3),
                     "tokens_per_s": _plain(breakdown.inputs.tokens_per_s, 1),
                     "cost_per_mtok_usd": _plain(breakdown.usd_per_mtok, 4)})
    return tuple(rows)


def measured(paths: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the saved measurements, and a message per file that could not be read."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        try:
            text = Path(path).read_bytes()[:FILE_BYTES_MAX + 1]
            if len(text) > FILE_BYTES_MAX:
                raise DataError(f"{path}: larger than {FILE_BYTES_MAX:,} bytes")
            saved = from_file(json.loads(text), path)
        except (OSError, ValueError, DataError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        for r in saved.results:
            per_joule = None if not r.joules_per_token else 1 / r.joules_per_token
            rows.append({"name": f"{saved.model} · batch {r.batch} · {saved.endpoint}",
                         "source": f"measured ({r.method.value})",
                         "tokens_per_joule": None if per_joule is None else _plain(per_joule, 3),
                         "tokens_per_s": _plain(r.tokens_per_s, 1),
                         "cost_per_mtok_usd": None})
    return rows, problems


def panel(paths: tuple[str, ...]) -> dict[str, Any]:
    """The panel's JSON."""
    try:
        rows = list(modelled())
    except FactoryError as exc:  # the bundled data is checked by tests: a bug if it fails
        return {"rows": [], "measurements": [], "note": f"factory model unavailable: {exc}"}
    found, problems = measured(paths)
    return {"rows": rows + found, "measurements": found, "problems": problems, "note": NOTE}


__all__ = ["MODELLED", "NOTE", "measured", "modelled", "panel"]

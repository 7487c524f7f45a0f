"""Measure tokens per joule of local models on the machine at hand — the factory's GPU run.

Run (on a machine with a GPU, torch and transformers; only ``tokenomy.energy`` and
``tokenomy.factory`` are imported, so the gateway's dependencies need not be there)::

    PYTHONPATH=src python3 scripts/factory_gpu.py --out DIR [--seconds 8] [--meter auto]
        [--config scripts/models/llama-3.2-1b.json ...] [--batch 1,16,128]

For each model config (random weights in the model's real shape: the same bytes and FLOPs as
trained ones) and batch size it decodes greedily for ``--seconds`` while the meter (NVML's
energy counter on a GPU; RAPL or the stated estimate elsewhere) reads, then prints a Markdown
table and writes ``DIR/factory_gpu.json`` (one saved measurement per model, the format of
``tokenomy factory measure --save``) and the model's prediction beside each row
(``tokenomy.factory`` roofline at the measured time). Keep the whole run under six minutes:
3 configs × 3 batch sizes × 8 s plus loading is about two.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

from tokenomy.energy import open_meter
from tokenomy.energy.local import load_model, run_local_batch
from tokenomy.factory import MeasureAssumptions, summarize, to_file

HERE = Path(__file__).resolve().parent
CONFIGS = (HERE / "models" / "llama-3.2-1b.json", HERE / "models" / "llama-3.1-8b.json")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the JSON goes")
    parser.add_argument("--seconds", type=float, default=8.0, help="per batch size")
    parser.add_argument("--meter", default="auto", help="auto | nvml | rapl | estimate")
    parser.add_argument("--config", type=Path, action="append", help="a model config.json")
    parser.add_argument("--batch", default="1,16,128", help="batch sizes, comma-separated")
    return parser.parse_args()


def main() -> int:
    args = parse()
    batches = [int(b) for b in args.batch.split(",")]
    meter, skipped = open_meter(args.meter)
    for reason in skipped:
        print(f"meter: skipped {reason}", file=sys.stderr)
    print(f"meter: {meter.method.value}", file=sys.stderr)
    saved, rows = [], []
    assumptions = MeasureAssumptions(Decimal("1.41"), Decimal("1.56"), Decimal("0.083"),
                                     Decimal(1), None)
    for config in args.config or CONFIGS:
        started = time.monotonic()
        torch, model = load_model(str(config))
        runs = [run_local_batch(torch, model, b, args.seconds, meter) for b in batches]
        results = [summarize(run, assumptions) for run in runs]
        saved.append(to_file(f"local:{config.name}", config.stem, assumptions, results))
        for r in results:
            row = r.to_json()
            rows.append([config.stem, str(r.run.batch), row["tokens_per_s"], row["watts"],
                         row["tokens_per_joule"], row["energy_method"]])
        print(f"{config.stem}: {time.monotonic() - started:.0f} s", file=sys.stderr)
        del model
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "factory_gpu.json").write_text(json.dumps(saved, indent=1), encoding="utf-8")
    print("| model | batch | tokens/s | watts | tokens/J | meter |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

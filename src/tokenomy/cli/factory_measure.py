"""``factory measure``: drive an endpoint (or a local model) at each batch size while an energy
meter runs; report tokens/s, watts, tokens/J, J/token and cost per million tokens.

The meter is NVML, RAPL or the stated estimate (``--meter auto`` takes the first that works
and says which it skipped). The money uses the assumption flags (``--gpu`` for the hardware
$/h and the estimate's TDP; ``--region`` or ``--pue``/``--usd-per-kwh``). ``--save`` writes
the results for ``factory greenest-config``; ``--chart`` draws them (matplotlib, optional).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tokenomy.cli._common import JsonFlag, fail, print_json
from tokenomy.energy import METER_KINDS, Meter, MeterUnavailableError, open_meter
from tokenomy.energy.load import LoadConfig, LoadError, run_batch
from tokenomy.energy.rapl import DEFAULT_ROOT
from tokenomy.factory import (
    BatchResult,
    BatchRun,
    Capex,
    FactoryError,
    MeasureAssumptions,
    gpu,
    region,
    summarize,
    to_file,
)
from tokenomy.factory._num import dec

BATCHES_MAX = 16
SECONDS_MAX = 3600.0
COLUMNS = ("batch", "tokens_per_s", "watts", "tokens_per_joule", "joules_per_token",
           "cost_usd_per_mtok", "requests", "errors")


def parse_batches(text: str) -> list[int]:
    try:
        batches = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"--batch must be comma-separated integers, got {text!r}")
    if not batches or len(batches) > BATCHES_MAX or any(not 0 < b <= 4096 for b in batches):
        fail(f"--batch takes 1..{BATCHES_MAX} sizes, each 1..4096")
    return batches


def _assumptions(gpu_name: str, region_name: str, gpu_usd_per_hour: str | None,
                 pue: str | None, usd_per_kwh: str | None, utilization: str,
                 power_kw: str | None) -> tuple[MeasureAssumptions, Decimal]:
    try:
        spec, place = gpu(gpu_name), region(region_name)
        hourly = (dec(gpu_usd_per_hour, "--gpu-usd-per-hour") if gpu_usd_per_hour is not None
                  else Capex(spec.capex_usd, Decimal(4)).usd_per_hour())
        return MeasureAssumptions(
            hourly, place.pue.value if pue is None else dec(pue, "--pue"),
            place.usd_per_kwh if usd_per_kwh is None else dec(usd_per_kwh, "--usd-per-kwh"),
            dec(utilization, "--utilization"),
            None if power_kw is None else dec(power_kw, "--power-kw")), spec.tdp_w
    except FactoryError as exc:
        fail(str(exc))


def _runner(endpoint: str | None, model: str | None, local: str | None, seconds: float,
            api_key: str | None, max_tokens: int) -> Callable[[int, Meter, Any], BatchRun]:
    """A function (batch, meter, progress) -> BatchRun for the endpoint or the local model."""
    if local is not None:
        from tokenomy.energy.local import LocalModelError, load_model, run_local_batch

        try:
            torch, hf_model = load_model(local)
        except LocalModelError as exc:
            fail(str(exc))
        return lambda batch, meter, progress: run_local_batch(torch, hf_model, batch, seconds,
                                                             meter, progress)
    if endpoint is None or model is None:
        fail("give --endpoint and --model (or --local MODEL_OR_CONFIG)")
    if not endpoint.startswith(("http://", "https://")):
        fail(f"--endpoint must be an http(s) URL, got {endpoint!r}")
    config = LoadConfig(endpoint, model, seconds, api_key, max_tokens)
    return lambda batch, meter, progress: asyncio.run(run_batch(config, batch, meter, progress))


def _run_all(batches: list[int], run: Callable[[int, Meter, Any], BatchRun],
             make_meter: Callable[[], Meter], seconds: float, quiet: bool) -> list[BatchRun]:
    runs = []
    console = Console(stderr=True)
    with Progress(TextColumn("batch {task.fields[batch]:>4}"), BarColumn(),
                  TextColumn("{task.fields[tokens]} tokens"), TimeElapsedColumn(),
                  console=console, disable=quiet, transient=False) as bar:
        for batch in batches:
            task = bar.add_task("measure", total=seconds, batch=batch, tokens=0)

            def progress(elapsed: float, tokens: int, task: Any = task) -> None:
                bar.update(task, completed=elapsed, tokens=tokens)

            try:
                runs.append(run(batch, make_meter(), progress))
            except (LoadError, FactoryError, MeterUnavailableError) as exc:
                fail(str(exc))
            bar.update(task, completed=seconds)
    return runs


def _chart(results: list[BatchResult], path: Path, title: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib is not installed (pip install 'tokenomy[chart]')"
    batches = [r.run.batch for r in results]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(batches, [float(r.tokens_per_joule) for r in results], "o-", color="tab:green")
    left.set_xscale("log", base=2)
    left.set_xlabel("batch (concurrent streams)")
    left.set_ylabel("tokens per joule", color="tab:green")
    right = left.twinx()
    right.plot(batches, [float(r.tokens_per_s) for r in results], "s--", color="tab:blue")
    right.set_ylabel("tokens per second", color="tab:blue")
    left.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"chart written to {path}"


def _meters(kind: str, rapl_root: Path, tdp_w: Decimal,
            estimate_utilization: str) -> tuple[Callable[[], Meter], str]:
    """A fresh meter per batch (the first one opened here, so a failure exits at once), and
    its method; skipped meters are reported on stderr."""
    try:
        utilization = dec(estimate_utilization, "--estimate-utilization")
        first, skipped = open_meter(kind, rapl_root=rapl_root, estimate_tdp_w=tdp_w,
                                    estimate_utilization=utilization)
    except (MeterUnavailableError, FactoryError) as exc:
        fail(str(exc))
    for line in skipped:
        typer.echo(f"meter: skipped {line}", err=True)
    opened = iter([first])

    def make_meter() -> Meter:
        return next(opened, None) or open_meter(kind, rapl_root=rapl_root, estimate_tdp_w=tdp_w,
                                                estimate_utilization=utilization)[0]

    return make_meter, first.method.value


def measure_command(
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="The model to request.")] = None,
    batch: Annotated[str, typer.Option("--batch", help="Batch sizes, e.g. 1,8,64.")] = "1,8,64",
    seconds: Annotated[float, typer.Option("--seconds", help="Window per batch size.")] = 10.0,
    api_key: Annotated[str | None, typer.Option("--api-key", help="Bearer key.")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Per request.")] = 256,
    local: Annotated[str | None, typer.Option(
        "--local", help="A Hugging Face model id/folder or config.json (needs tokenomy[local]).")]
    = None,
    meter: Annotated[str, typer.Option("--meter", help=" | ".join(METER_KINDS))] = "auto",
    rapl_root: Annotated[Path, typer.Option("--rapl-root", help="powercap sysfs root.")]
    = DEFAULT_ROOT,
    gpu_name: Annotated[str, typer.Option("--gpu", help="For $/h and the estimate's TDP.")]
    = "H200",
    region_name: Annotated[str, typer.Option("--region", help="Electricity region.")] = "us",
    gpu_usd_per_hour: Annotated[str | None, typer.Option("--gpu-usd-per-hour")] = None,
    pue: Annotated[str | None, typer.Option("--pue")] = None,
    usd_per_kwh: Annotated[str | None, typer.Option("--usd-per-kwh")] = None,
    utilization: Annotated[str, typer.Option("--utilization")] = "1",
    power_kw: Annotated[str | None, typer.Option(
        "--power-kw", help="Power for the cost instead of the meter's watts.")] = None,
    estimate_utilization: Annotated[str, typer.Option(
        "--estimate-utilization", help="For the estimate meter: TDP x this.")] = "0.7",
    save: Annotated[Path | None, typer.Option("--save", help="Write results as JSON.")] = None,
    chart: Annotated[Path | None, typer.Option("--chart", help="Write a PNG chart.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Measure tokens/s, watts, tokens/J and cost per million tokens at each batch size."""
    batches = parse_batches(batch)
    if not 0 < seconds <= SECONDS_MAX:
        fail(f"--seconds must be in (0, {SECONDS_MAX:g}]")
    assumptions, tdp_w = _assumptions(gpu_name, region_name, gpu_usd_per_hour, pue,
                                      usd_per_kwh, utilization, power_kw)
    make_meter, method = _meters(meter, rapl_root, tdp_w, estimate_utilization)
    run = _runner(endpoint, model, local, seconds, api_key, max_tokens)
    runs = _run_all(batches, run, make_meter, seconds, quiet=as_json)
    try:
        results = [summarize(r, assumptions) for r in runs]
    except FactoryError as exc:
        fail(str(exc))
    document = to_file(endpoint or f"local:{local}", model or str(local), assumptions, results)
    document["meter"] = {"method": method}
    if save is not None:
        try:
            save.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"{save}: {exc.strerror or exc}")
    notes = [] if save is None else [f"results saved to {save}"]
    if chart is not None:
        notes.append(_chart(results, chart, f"{document['model']} ({method})"))
    if as_json:
        print_json(document)
    else:
        _print_table(results, method)
    for note in notes:
        typer.echo(note, err=True)


def _print_table(results: list[BatchResult], method: str) -> None:
    table = Table(title=f"measured ({method})", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for r in results:
        row = r.to_json()
        table.add_row(*(str(row[c]) if row[c] is not None else "-" for c in COLUMNS))
    Console(width=160).print(table)
    if method == "estimate":
        typer.echo("note: energy is an ESTIMATE (TDP x utilization), not a measurement: no NVML "
                   "or RAPL meter was readable here.")


__all__ = ["measure_command", "parse_batches"]

"""Factory commands: what a token costs to make and how many joules it takes.

``factory quote`` (one cost per million tokens, every assumption named), ``factory scenarios``
(electricity by region, dense vs MoE, the DeepSeek/frontier price gap), ``factory validate``
(InferenceX formulas reproduced; the model vs H200 measurements), ``factory gpus|models|
regions`` (the bundled data with sources), ``factory measure`` (see ``factory_measure``) and
``factory greenest-config`` (a saved measurement as the gateway's ``joules_per_token``).
Numbers are read from the command line as ``Decimal`` and printed as decimal strings.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli import factory_measure
from tokenomy.cli._common import JsonFlag, fail, print_json
from tokenomy.factory import FactoryError, QuoteRequest, bundled, from_file, greenest_joules, quote
from tokenomy.factory._num import dec, significant, text
from tokenomy.factory.scenarios import all_scenarios
from tokenomy.factory.validation import (
    H200Check,
    InferenceMaxCheck,
    h200_checks,
    inferencemax_checks,
    median_abs,
)


def register(app: typer.Typer) -> None:
    factory_app = typer.Typer(help="The token factory: cost per token, tokens per joule.",
                              no_args_is_help=True)
    factory_app.command("quote")(quote_command)
    factory_app.command("scenarios")(scenarios_command)
    factory_app.command("validate")(validate_command)
    factory_app.command("gpus")(gpus_command)
    factory_app.command("models")(models_command)
    factory_app.command("regions")(regions_command)
    factory_app.command("measure")(factory_measure.measure_command)
    factory_app.command("greenest-config")(greenest_config)
    app.add_typer(factory_app, name="factory")


def decimal_option(value: str | None, flag: str) -> Decimal | None:
    """``--flag`` text as an exact Decimal (None when not given); junk exits 2."""
    if value is None:
        return None
    try:
        return dec(value, flag)
    except FactoryError as exc:
        fail(str(exc))


def _opt(flag: str, help_text: str) -> Any:
    return typer.Option(flag, metavar="DECIMAL", help=help_text)


def quote_command(
    gpu: Annotated[str | None, typer.Option("--gpu", help="A bundled GPU, e.g. H200.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="A bundled model shape, e.g. llama-3.1-8b.")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help="Electricity region (default us), e.g. cn-west.")] = None,
    precision: Annotated[str, typer.Option("--precision", help="bf16 or fp8.")] = "bf16",
    batch: Annotated[int, typer.Option("--batch", help="Concurrent sequences.")] = 64,
    context: Annotated[int, typer.Option("--context", help="Cached tokens per sequence.")]
    = 1024,
    gpus: Annotated[int | None, typer.Option(
        "--gpus", help="GPUs per replica (default: the fewest that fit).")] = None,
    efficiency: Annotated[str, _opt("--efficiency", "Share of the roofline reached.")] = "0.65",
    hardware: Annotated[str, typer.Option(
        "--hardware", help="capex | rental | on-demand | tco-hyperscaler | tco-neocloud.")]
    = "capex",
    life_years: Annotated[str, _opt("--life-years", "Amortization years (capex).")] = "4",
    cost_of_capital: Annotated[str, _opt("--cost-of-capital", "Annual rate, e.g. 0.08.")]
    = "0",
    utilization: Annotated[str, _opt("--utilization", "Share of hours serving.")] = "0.7",
    tokens_per_s: Annotated[str | None, _opt("--tokens-per-s", "Per GPU, instead of the "
                                              "roofline.")] = None,
    gpu_usd_per_hour: Annotated[str | None, _opt("--gpu-usd-per-hour", "Hardware $/GPU-h.")]
    = None,
    power_kw: Annotated[str | None, _opt("--power-kw", "IT kW per GPU.")] = None,
    pue: Annotated[str | None, _opt("--pue", "Facility / IT power.")] = None,
    usd_per_kwh: Annotated[str | None, _opt("--usd-per-kwh", "Electricity price.")] = None,
    other_usd_per_hour: Annotated[str, _opt("--other-usd-per-hour", "Fixed opex per GPU-h.")]
    = "0",
    as_json: JsonFlag = False,
) -> None:
    """The cost per million output tokens, split into hardware, energy and other."""
    request = QuoteRequest(
        gpu, model, region, precision, batch, context, gpus,
        dec_or_fail(efficiency, "--efficiency"), hardware, dec_or_fail(life_years, "--life-years"),
        dec_or_fail(cost_of_capital, "--cost-of-capital"),
        dec_or_fail(utilization, "--utilization"),
        decimal_option(tokens_per_s, "--tokens-per-s"),
        decimal_option(gpu_usd_per_hour, "--gpu-usd-per-hour"),
        decimal_option(power_kw, "--power-kw"), decimal_option(pue, "--pue"),
        decimal_option(usd_per_kwh, "--usd-per-kwh"),
        dec_or_fail(other_usd_per_hour, "--other-usd-per-hour"))
    try:
        result = quote(request).to_json()
    except FactoryError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    typer.echo(f"cost per million output tokens: ${result['cost_usd_per_mtok']}  (hardware "
               f"{_pct(result['hardware_share'])}, energy {_pct(result['energy_share'])}, "
               f"other {_pct(result['other_share'])})")
    typer.echo(f"tokens per joule at the facility meter: {result['tokens_per_joule']}")
    _mapping("assumptions", result["assumptions"])
    _mapping("sources", result["sources"])


def dec_or_fail(value: str, flag: str) -> Decimal:
    result = decimal_option(value, flag)
    assert result is not None
    return result


def _pct(share: str) -> str:
    return f"{text(Decimal(share) * 100, 1)} %"


def _mapping(title: str, values: dict[str, str]) -> None:
    typer.echo(f"{title}:")
    for key, value in values.items():
        typer.echo(f"  {key:<40} {value}")


def _table(title: str, rows: list[dict[str, str]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(rows[0]):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console(width=160).print(table)


def scenarios_command(as_json: JsonFlag = False) -> None:
    """China vs US electricity, dense vs MoE, the DeepSeek/frontier price gap."""
    try:
        scenarios = all_scenarios()
    except FactoryError as exc:
        fail(str(exc))
    if as_json:
        print_json([s.to_json() for s in scenarios])
        return
    for s in scenarios:
        _table(s.title, list(s.rows))
        _mapping("assumptions (every row)", s.assumptions)
        typer.echo(f"finding: {s.finding}\n")


def _imax_row(c: InferenceMaxCheck) -> dict[str, str]:
    return {"published point": c.label, "quantity": c.quantity, "published": str(c.published),
            "recomputed": significant(c.recomputed, 6),
            "error": f"{text(c.relative_error * 100, 2)} %",
            "reproduces": "yes" if c.reproduces else "no"}


def _h200_row(c: H200Check) -> dict[str, str]:
    stack = ("compiled" if "torch.compile" in c.stack else
             "eager, grouped_mm" if "grouped_mm" in c.stack else "eager")
    return {"model": c.model, "stack": stack,
            "batch": str(c.batch), "measured tok/s": str(c.measured_tokens_per_s),
            "roofline tok/s": significant(c.ideal_tokens_per_s, 4),
            "measured tok/J": str(c.measured_tokens_per_joule),
            "ideal tok/J": significant(c.ideal_tokens_per_joule, 4),
            "ideal err": f"{text(c.ideal_error * 100, 0)} %",
            "at measured time tok/J": significant(c.at_time_tokens_per_joule, 4),
            "err": f"{text(c.at_time_error * 100, 0)} %"}


def validate_command(as_json: JsonFlag = False) -> None:
    """InferenceX's formulas on their published points; the model vs H200 measurements."""
    try:
        imax, h200 = inferencemax_checks(), h200_checks()
    except FactoryError as exc:
        fail(str(exc))
    summary = {
        "inferencemax_reproduced": f"{sum(c.reproduces for c in imax)}/{len(imax)}",
        "h200_median_abs_error_at_measured_time":
            text(median_abs([c.at_time_error for c in h200]), 3),
        "h200_median_abs_error_ideal": text(median_abs([c.ideal_error for c in h200]), 3),
        "h200_rows_above_roofline": str(sum(
            c.measured_tokens_per_s > c.ideal_tokens_per_s for c in h200)),
    }
    if as_json:
        print_json({"inferencemax": [_imax_row(c) for c in imax],
                    "h200": [_h200_row(c) for c in h200], "summary": summary})
        return
    _table("InferenceX formulas on published points (hyperscaler TCO, all-in kW)",
           [_imax_row(c) for c in imax])
    _table("Model vs tokens/J measured on one H200 (bf16, prompt 512, 128 new tokens)",
           [_h200_row(c) for c in h200])
    _mapping("summary", summary)


def _listing(rows: list[dict[str, str]], title: str, as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    _table(title, [{k: v for k, v in r.items() if k != "source"} for r in rows])
    for r in rows:
        typer.echo(f"{r[next(iter(r))]}: {r['source']}")


def gpus_command(as_json: JsonFlag = False) -> None:
    """The bundled GPUs: specs, power, prices, with sources."""
    rows = [{"gpu": g.key, "tdp_w": str(g.tdp_w), "memory_gb": str(g.memory_gb),
             "bandwidth_tb_s": str(g.bandwidth_tb_s), "bf16_tflops": str(g.bf16_tflops),
             "fp8_tflops": str(g.fp8_tflops), "it_kw": str(g.it_kw),
             "capex_usd": str(g.capex_usd), "tco_hyperscaler_usd_h": str(g.tco_hyperscaler_usd_h),
             "rental_3y_usd_h": str(g.rental_3y_usd_h),
             "on_demand_usd_h": "" if g.on_demand_usd_h is None else str(g.on_demand_usd_h),
             "source": g.source} for g in bundled().gpus.values()]
    _listing(rows, "GPUs", as_json)


def models_command(as_json: JsonFlag = False) -> None:
    """The bundled model shapes with their parameter counts."""
    billion = Decimal(10) ** 9
    rows = [{"model": m.name, "kind": "moe" if m.is_moe else "dense",
             "total_b": significant(m.total_params / billion, 4),
             "active_b": significant(m.active_params / billion, 4),
             "experts": f"{m.top_k}/{m.experts}" if m.is_moe else "",
             "layers": str(m.layers), "kv_per_token": str(m.kv_per_token), "source": m.source}
            for m in bundled().models.values()]
    _listing(rows, "Models", as_json)


def regions_command(as_json: JsonFlag = False) -> None:
    """Electricity price and PUE by region, with sources."""
    rows = [{"region": r.key, "usd_per_kwh": str(r.usd_per_kwh), "pue": str(r.pue.value),
             "pue_profile": r.pue.key, "name": r.name, "source": r.source}
            for r in bundled().regions.values()]
    _listing(rows, "Regions", as_json)


def greenest_config(
    path: Annotated[Path, typer.Argument(help="A file written by `factory measure --save`.")],
    batch: Annotated[int | None, typer.Option(
        "--batch", help="The batch size to use (default: the fewest joules per token).")] = None,
    name: Annotated[str, typer.Option("--name", help="The upstream's name.")] = "measured",
    as_json: JsonFlag = False,
) -> None:
    """Print an upstream table for tokenomy.toml with the measured joules_per_token."""
    try:
        saved = from_file(json.loads(path.read_text(encoding="utf-8")), str(path))
        row = greenest_joules(saved, batch)
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        fail(f"{path}: not JSON ({exc.msg})")
    except FactoryError as exc:
        fail(str(exc))
    jpt = str(row.joules_per_token)
    if as_json:
        print_json({"name": name, "base_url": saved.endpoint, "model": saved.model,
                    "batch": row.batch, "method": row.method.value, "joules_per_token": jpt})
        return
    typer.echo(f"# measured by `tokenomy factory measure` ({row.method.value}, batch "
               f"{row.batch}, {significant(row.tokens_per_s, 4)} tok/s)")
    typer.echo("[[upstream]]")
    typer.echo(f"name = {json.dumps(name)}")
    typer.echo('kind = "openai"')
    typer.echo(f"base_url = {json.dumps(saved.endpoint)}")
    typer.echo(f"models = [{json.dumps(saved.model)}]")
    typer.echo(f'joules_per_token = "{jpt}"')


__all__ = ["register"]

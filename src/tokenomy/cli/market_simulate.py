"""``market simulate``: one seeded market day on in-memory books (no server, no database).

The edge of :mod:`tokenomy.exchange.simulate`: it reads the bundled contract specs, takes
today's front-month future of each ``--grade`` contract, takes the producers' cost of an
output-token contract from the factory model (:data:`PRODUCERS`: one H200 replica per tier)
unless ``--cost TKF=6.50`` overrides it (``Decimal``, never a float), and creates the one
``random.Random(seed)`` the simulation draws from. The same seed prints the same day.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.cli._common import JsonFlag, fail, print_json
from tokenomy.exchange.contracts import (
    ContractError,
    ContractSpec,
    InstrumentKind,
    TokenClass,
    bundled_specs,
    instruments,
)
from tokenomy.exchange.simulate import (
    DEFAULT_COSTS,
    DEFAULT_REFERENCES,
    MARKETS_MAX,
    STEPS_MAX,
    SimMarket,
    SimulationConfig,
    SimulationResult,
    simulate,
)
from tokenomy.factory import QuoteRequest, quote
from tokenomy.money import MoneyError, parse_decimal

DEFAULT_GRADES = ("TKF", "TKS", "TKE")
SEED_MAX = 2**63 - 1


def register(market_app: typer.Typer) -> None:
    market_app.command("simulate")(simulate_day)


def _costs(items: list[str]) -> dict[str, Decimal]:
    costs: dict[str, Decimal] = {}
    for item in items:
        contract, sep, text = item.partition("=")
        try:
            value = parse_decimal(text)
        except MoneyError as exc:
            fail(f"--cost {item!r}: {exc}")
        if not sep or not contract or not value > 0:
            fail(f"--cost {item!r}: expected CONTRACT=PRICE with a positive price, e.g. "
                 "TKF=6.50")
        costs[contract.upper()] = value
    return costs


# A representative producer per tier: what one H200 replica serving this model in a US data
# centre costs per 1M output tokens (tokenomy.factory, every other assumption its default).
PRODUCERS = {"FRONTIER": ("H200", "llama-3.1-405b", "us"),
             "STANDARD": ("H200", "llama-3.1-70b", "us"),
             "ECONOMY": ("H200", "llama-3.1-8b", "us")}


def factory_cost(spec: ContractSpec) -> Decimal | None:
    """The producers' cost of an output-token contract from the factory model, rounded up
    to the tick; None for input tokens (the factory prices decode, not prefill)."""
    producer = PRODUCERS.get(spec.grade.tier)
    if producer is None or spec.grade.token_class is not TokenClass.OUT:
        return None
    gpu, model, region = producer
    usd = quote(QuoteRequest(gpu=gpu, model=model, region=region)).breakdown.usd_per_mtok
    ticks = (usd / spec.tick).to_integral_value(ROUND_CEILING)  # never below cost
    return max(ticks, Decimal(1)) * spec.tick


def markets(grades: list[str], costs: dict[str, Decimal], today: date) -> tuple[SimMarket, ...]:
    """Spot and today's front-month future of each contract in ``grades``."""
    try:
        specs = {s.symbol: s for s in bundled_specs()}
        listed = instruments(tuple(specs.values()), today)
    except ContractError as exc:
        fail(str(exc))
    chosen: list[SimMarket] = []
    for grade in dict.fromkeys(g.upper() for g in grades):
        spec = specs.get(grade)
        if spec is None:
            fail(f"--grade: unknown contract {grade!r}; known: {', '.join(specs)}")
        front = next(i for i in listed if i.spec is spec and i.kind is InstrumentKind.FUTURE)
        cost = costs.get(grade) or factory_cost(spec) or DEFAULT_COSTS.get(grade)
        if cost is None:
            fail(f"--cost {grade}=…: no default production cost for {grade}")
        reference = (spec.options.reference_price if spec.options is not None
                     else DEFAULT_REFERENCES.get(grade, cost * 2))
        chosen.append(SimMarket(grade, f"{grade}-SPOT", front.symbol, spec.tick, cost, reference))
    unknown = set(costs) - {m.contract for m in chosen}
    if unknown:
        fail(f"--cost for a contract not simulated: {', '.join(sorted(unknown))}")
    return tuple(chosen)


def simulate_day(
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX)] = 1,
    steps: Annotated[int, typer.Option("--steps", min=1, max=STEPS_MAX,
                                       help="Steps (minutes) in the day.")] = 390,
    every: Annotated[int, typer.Option("--every", min=1, max=STEPS_MAX,
                                       help="Show the mid every this many steps.")] = 30,
    grade: Annotated[list[str] | None, typer.Option(
        "--grade", help="A contract to simulate (repeatable; default TKF, TKS, TKE).")] = None,
    cost: Annotated[list[str] | None, typer.Option(
        "--cost", metavar="CONTRACT=PRICE",
        help="Producers' cost per 1M tokens, e.g. TKF=6.50 (repeatable; default: the "
             "factory model's for output tokens).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """One simulated market day: producers, consumers and hedgers discover the price."""
    grades = grade or list(DEFAULT_GRADES)
    if len(grades) > MARKETS_MAX:
        fail(f"--grade: at most {MARKETS_MAX}")
    chosen = markets(grades, _costs(cost or []), date.today())
    result = simulate(chosen, SimulationConfig(steps=steps, sample_every=every),
                      random.Random(seed))
    if as_json:
        print_json({"seed": seed, "steps": steps,
                    "markets": [{"contract": m.contract, "cost": f"{m.cost:f}",
                                 "reference": f"{m.reference:f}"} for m in chosen],
                    **result.to_json()})
        return
    _print(seed, steps, chosen, result)


def _print(seed: int, steps: int, chosen: tuple[SimMarket, ...],
           result: SimulationResult) -> None:
    console = Console()
    inputs = ", ".join(f"{m.contract} cost {m.cost:f} / value {m.reference:f}" for m in chosen)
    console.print(f"seed {seed}, {steps} steps, {result.commands} commands; {inputs} "
                  "(per 1M tokens)")
    columns = ("open", "high", "low", "close", "vwap", "volume", "trades")
    table = Table("instrument", *columns, title="Price discovery")
    for s in result.to_json()["stats"]:
        table.add_row(s["symbol"], *(str(s[c]) if s[c] is not None else "-" for c in columns))
    console.print(table)
    path = Table("step", *result.symbols, title="Mid through the day")
    for sample in result.to_json()["path"]:
        path.add_row(str(sample["step"]), *(m or "-" for m in sample["mids"].values()))
    console.print(path)


__all__ = ["markets", "register", "simulate_day"]

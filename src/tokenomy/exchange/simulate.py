"""A simulated market day: producers, consumers and hedgers trading on in-memory books (pure).

In: the markets to run (:class:`SimMarket`: one contract's spot and front-month future, its
tick, its producers' cost and its consumers' reference value per 1M tokens), a
:class:`SimulationConfig` and a random source passed in by the caller (``random.Random(seed)``
at the CLI edge; this module never creates one). Out: a :class:`SimulationResult` — per
instrument open/high/low/close/VWAP/volume, the mid every ``sample_every`` steps — the same
for the same seed, every time.

The agents are "zero-intelligence constrained" traders (Gode & Sunder, 1993): each quotes at
random, but never against its own interest, and the book's matching discovers the price.

- **Producers** sell token credits on the spot and sell the future forward. Each has a floor
  = cost × (1 + margin), its margin drawn in ``margin_percent_min..max``; it asks uniformly
  between its floor and ``ask_cap_percent`` of the reference, for more contracts the higher the
  price (an upward-sloping supply), up to its ``capacity`` per instrument for the day.
- **Consumers** buy spot. Each values tokens at ``value_percent_min..max`` of the reference
  (its willingness to pay) and bids uniformly between one tick and that value, for more
  contracts the lower the price (a downward-sloping demand), up to its ``need`` for the day.
- **Hedgers** buy the future to fix the price of future usage, at up to the reference plus a
  premium drawn in ``0..hedge_premium_percent_max`` %, until ``hedge`` contracts are bought.

Each step, ``actions_per_step`` agents per instrument act: an agent cancels its resting order
there (if any) and enters a new GTC limit order. After the last step the day ends
(:class:`~tokenomy.exchange.EndOfDay`).

Default costs (USD per 1M output tokens, :data:`DEFAULT_COSTS`) are stand-ins until
``tokenomy.factory`` supplies measured ones: TKF (frontier) 6.50, TKS (standard) 1.60, TKE
(economy) 0.25, TKFI (frontier input) 1.20, TKFC (frontier, cash-settled) 6.50. Reference
values (:data:`DEFAULT_REFERENCES`) are the option grids' centres from the contract specs:
15.00, 4.00, 0.60; 3.00 for TKFI; 15.00 for TKFC.

Checked after every command (an :class:`~tokenomy._invariant.InvariantError` otherwise): the
book's structure and that it is never crossed (``Book.check``). At the end: quantity is
conserved per order (accepted = filled + cancelled + expired + resting), every trade is
individually rational (spot and future sellers at or above their floor, buyers at or below
their limit), and positions sum to zero per instrument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from tokenomy._invariant import invariant
from tokenomy.exchange.book import Book
from tokenomy.exchange.orders import (
    Accepted,
    Cancel,
    Cancelled,
    Command,
    EndOfDay,
    Event,
    Expired,
    Fill,
    NewOrder,
    Side,
)
from tokenomy.money import Rounding, quantize

DEFAULT_COSTS = {"TKF": Decimal("6.50"), "TKS": Decimal("1.60"), "TKE": Decimal("0.25"),
                 "TKFI": Decimal("1.20"), "TKFC": Decimal("6.50")}
DEFAULT_REFERENCES = {"TKF": Decimal("15.00"), "TKS": Decimal("4.00"), "TKE": Decimal("0.60"),
                      "TKFI": Decimal("3.00"), "TKFC": Decimal("15.00")}
STEPS_MAX = 100_000
MARKETS_MAX = 10
VWAP_EXTRA_PLACES = 2  # VWAP is shown to the tick's places plus these, half-even


class Random(Protocol):
    """What the simulation draws from (``random.Random`` has it)."""

    def randint(self, a: int, b: int) -> int: ...


@dataclass(frozen=True, slots=True)
class SimMarket:
    contract: str  # "TKF"
    spot: str  # "TKF-SPOT"
    future: str  # the front month, "TKF-Z26"
    tick: Decimal
    cost: Decimal  # producers' cost per 1M tokens
    reference: Decimal  # consumers' reference value per 1M tokens

    def __post_init__(self) -> None:
        invariant(self.tick > 0 and self.cost > 0 and self.reference > 0,
                  f"{self.contract}: tick, cost and reference must be positive")


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    steps: int = 390  # one step a minute of a 6.5-hour day
    sample_every: int = 30  # the mid path's spacing, in steps
    producers: int = 4  # per contract
    consumers: int = 8
    hedgers: int = 3
    actions_per_step: int = 3  # agents acting per instrument per step
    margin_percent_min: int = 10
    margin_percent_max: int = 60
    value_percent_min: int = 60
    value_percent_max: int = 160
    ask_cap_percent: int = 200
    hedge_premium_percent_max: int = 20
    capacity: int = 400  # contracts a producer sells per instrument per day
    need: int = 150  # contracts a consumer buys per day
    hedge: int = 400  # contracts a hedger buys forward

    def __post_init__(self) -> None:
        invariant(1 <= self.steps <= STEPS_MAX, f"steps must be 1..{STEPS_MAX}")
        invariant(self.sample_every >= 1, "sample_every must be positive")
        invariant(min(self.producers, self.consumers, self.hedgers, self.actions_per_step,
                      self.capacity, self.need, self.hedge) >= 1, "counts must be positive")
        invariant(0 <= self.margin_percent_min <= self.margin_percent_max, "margins")
        invariant(1 <= self.value_percent_min <= self.value_percent_max, "values")


@dataclass(frozen=True, slots=True)
class InstrumentStats:
    symbol: str
    trades: int
    volume: int  # contracts
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal | None
    vwap: Decimal | None
    bid: Decimal | None  # best bid and ask at the close
    ask: Decimal | None


@dataclass(frozen=True, slots=True)
class MidSample:
    step: int
    mids: tuple[Decimal | None, ...]  # per instrument, in the result's ``symbols`` order


@dataclass(frozen=True, slots=True)
class SimulationResult:
    symbols: tuple[str, ...]
    stats: tuple[InstrumentStats, ...]
    path: tuple[MidSample, ...]
    commands: int

    def to_json(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:f}"
        stats = [{"symbol": s.symbol, "trades": s.trades, "volume": s.volume,
                  **{k: text(getattr(s, k))
                     for k in ("open", "high", "low", "close", "vwap", "bid", "ask")}}
                 for s in self.stats]
        path = [{"step": p.step, "mids": dict(zip(self.symbols, map(text, p.mids), strict=True))}
                for p in self.path]
        return {"symbols": list(self.symbols), "commands": self.commands, "stats": stats,
                "path": path}


# -- agents and the day ------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Agent:
    """One trader in one market: its side, price range (ticks) and what it has left."""

    owner: int
    side: Side
    low: int  # the lowest price it quotes (a seller's floor)
    high: int  # the highest (a buyer's limit)
    left: int  # contracts still to trade today
    resting: int = 0  # its resting order's id, 0 for none


@dataclass(eq=False)
class _Instrument:
    symbol: str
    tick: Decimal
    book: Book = field(default_factory=Book)
    agents: list[_Agent] = field(default_factory=list)
    accepted: dict[int, int] = field(default_factory=dict)  # order id → quantity
    done: dict[int, int] = field(default_factory=dict)  # order id → filled+cancelled+expired
    fills: list[Fill] = field(default_factory=list)
    owners: dict[int, _Agent] = field(default_factory=dict)
    commands: int = 0


def _ticks(price: Decimal, tick: Decimal) -> int:
    return max(int(price / tick), 1)


def _percent_of(ticks: int, percent: int) -> int:
    return max(ticks * percent // 100, 1)


def _instruments(market: SimMarket, config: SimulationConfig, rng: Random,
                 first_owner: int) -> tuple[_Instrument, _Instrument]:
    tick = market.tick
    cost, reference = _ticks(market.cost, tick), _ticks(market.reference, tick)
    cap = max(_percent_of(reference, config.ask_cap_percent), cost + 1)
    spot, future = _Instrument(market.spot, tick), _Instrument(market.future, tick)
    owner = first_owner
    for _ in range(config.producers):
        floor = cost + cost * rng.randint(config.margin_percent_min,
                                          config.margin_percent_max) // 100
        for inst in (spot, future):
            inst.agents.append(_Agent(owner, Side.SELL, floor, max(cap, floor), config.capacity))
        owner += 1
    for _ in range(config.consumers):
        value = _percent_of(reference, rng.randint(config.value_percent_min,
                                                   config.value_percent_max))
        spot.agents.append(_Agent(owner, Side.BUY, 1, value, config.need))
        owner += 1
    for _ in range(config.hedgers):
        premium = rng.randint(0, config.hedge_premium_percent_max)
        limit = _percent_of(reference, 100 + premium)
        future.agents.append(_Agent(owner, Side.BUY, max(limit * 4 // 5, 1), limit, config.hedge))
        owner += 1
    for inst in (spot, future):
        inst.owners = {a.owner: a for a in inst.agents}
    return spot, future


def _apply(inst: _Instrument, command: Command) -> tuple[Event, ...]:
    events = inst.book.apply(command)
    inst.commands += 1
    problems = inst.book.check()
    invariant(not problems, f"{inst.symbol}: {'; '.join(problems)}")
    for event in events:
        if isinstance(event, Accepted):
            inst.accepted[event.order_id] = event.quantity
            inst.done.setdefault(event.order_id, 0)
        elif isinstance(event, Fill):
            inst.fills.append(event)
            trade = event.trade
            for order_id, owner in ((trade.maker_order_id, trade.maker_owner),
                                    (trade.taker_order_id, trade.taker_owner)):
                inst.done[order_id] = inst.done.get(order_id, 0) + trade.quantity
                inst.owners[owner].left -= trade.quantity
        elif isinstance(event, Cancelled | Expired):
            inst.done[event.order_id] = inst.done.get(event.order_id, 0) + event.quantity
    return events


def _act(inst: _Instrument, agent: _Agent, step: int, rng: Random, client_id: int) -> None:
    """The agent's resting order (if any) cancelled, and a new one for what it has left."""
    if agent.resting and inst.book.order(agent.resting) is not None:
        _apply(inst, Cancel(agent.owner, agent.resting, step))
    agent.resting = 0
    if agent.left <= 0:
        return
    price = rng.randint(agent.low, agent.high)
    span = agent.high - agent.low + 1
    eager = agent.high - price if agent.side is Side.BUY else price - agent.low
    quantity = min(agent.left, 1 + agent.left * eager // span // 4)  # sloping demand/supply
    events = _apply(inst, NewOrder(agent.owner, client_id, agent.side, price, quantity, now=step))
    accepted = next((e for e in events if isinstance(e, Accepted)), None)
    if accepted is not None and inst.book.order(accepted.order_id) is not None:
        agent.resting = accepted.order_id


def _mid(inst: _Instrument) -> Decimal | None:
    top = inst.book.top_of_book()
    if top.bid is None or top.ask is None:
        return None
    return (top.bid.price + top.ask.price) * inst.tick / 2


def simulate(markets: tuple[SimMarket, ...], config: SimulationConfig,
             rng: Random) -> SimulationResult:
    """One market day of ``markets`` (see the module docstring)."""
    invariant(1 <= len(markets) <= MARKETS_MAX, f"1..{MARKETS_MAX} markets")
    insts: list[_Instrument] = []
    for n, market in enumerate(markets):
        insts.extend(_instruments(market, config, rng, 1 + n * 10_000))
    client_id = 0
    path: list[MidSample] = []
    for step in range(1, config.steps + 1):
        for inst in insts:
            for _ in range(config.actions_per_step):
                client_id += 1
                agent = inst.agents[rng.randint(0, len(inst.agents) - 1)]
                _act(inst, agent, step, rng, client_id)
        if step % config.sample_every == 0 or step == config.steps:
            path.append(MidSample(step, tuple(_mid(i) for i in insts)))
    stats = []
    for inst in insts:
        top = inst.book.top_of_book()  # at the close, before the day's orders expire
        _apply(inst, EndOfDay(config.steps + 1))
        _check_day(inst)
        stats.append(_stats(inst, top.bid.price if top.bid else None,
                            top.ask.price if top.ask else None))
    return SimulationResult(tuple(i.symbol for i in insts), tuple(stats), tuple(path),
                            sum(i.commands for i in insts))


def _check_day(inst: _Instrument) -> None:
    resting = {o.order_id: o.leaves for o in inst.book.resting()}
    for order_id, quantity in inst.accepted.items():
        invariant(quantity == inst.done[order_id] + resting.get(order_id, 0),
                  f"{inst.symbol}: order {order_id} does not conserve its quantity")
    net: dict[int, int] = {}
    for fill in inst.fills:
        trade = fill.trade
        buyer, seller = ((trade.taker_owner, trade.maker_owner) if trade.taker_side is Side.BUY
                         else (trade.maker_owner, trade.taker_owner))
        invariant(inst.owners[seller].low <= trade.price <= inst.owners[buyer].high,
                  f"{inst.symbol}: trade {trade.trade_id} outside a trader's limits")
        net[buyer] = net.get(buyer, 0) + trade.quantity
        net[seller] = net.get(seller, 0) - trade.quantity
    invariant(sum(net.values()) == 0, f"{inst.symbol}: positions do not sum to zero")


def _stats(inst: _Instrument, bid: int | None, ask: int | None) -> InstrumentStats:
    tick = inst.tick
    trades = [f.trade for f in inst.fills]

    def price(ticks: int | None) -> Decimal | None:
        return None if ticks is None else ticks * tick

    if not trades:
        return InstrumentStats(inst.symbol, 0, 0, None, None, None, None, None,
                               price(bid), price(ask))
    volume = sum(t.quantity for t in trades)
    places = -tick.as_tuple().exponent + VWAP_EXTRA_PLACES  # type: ignore[operator]
    vwap_raw = Decimal(sum(t.price * t.quantity for t in trades)) * tick / volume
    vwap = Decimal(quantize(vwap_raw, places, Rounding.HALF_EVEN)).scaleb(-places)
    return InstrumentStats(inst.symbol, len(trades), volume, price(trades[0].price),
                           price(max(t.price for t in trades)), price(min(t.price for t in trades)),
                           price(trades[-1].price), vwap, price(bid), price(ask))


__all__ = ["DEFAULT_COSTS", "DEFAULT_REFERENCES", "InstrumentStats", "MidSample", "Random",
           "SimMarket", "SimulationConfig", "SimulationResult", "simulate"]

"""Clearing: what every command on a book moves in the ledger, and the positions it leaves.

In: one instrument's :class:`Terms`, the commands applied to its book with their events, and
the clearing commands :class:`Settle` (daily settlement price) and :class:`Expire` (final
settlement). Out: ledger transfers (ids derived from the symbol and the journal's ``seq``, so a
replay derives the same ones) and the positions, margin and variation margin per owner. Pure:
the same journal always gives the same transfers and the same state.

The life of an order (accounts: :mod:`tokenomy.exchange.accounts`)::

    enter      checks (expired, price band, position limit), then a pending HOLD per leg:
               spot buy / option buy   cash   price × leaves × tick value (buying power)
               spot sell               credits leaves × unit tokens
               future (either side)    cash   leaves × margin per contract
               option sell (writer)    cash   leaves × margin per contract
               future sell, physical   also credits leaves × unit tokens (covered shorts)
    after it   every order the command touched: VOID its holds, move what trades moved,
               then HOLD again for what still rests (so a hold always covers what follows)
    a fill     spot: PAYMENT buyer cash → seller cash, DELIVERY seller credits → buyer credits
               option: PAYMENT of the premium; future: positions only
               futures/options: MARGIN posted or released to match |position| × margin
               physical futures: shorts' credits into (or back from) the delivery account
    Settle     VARIATION = net × price − marked (Σ over owners is zero), through the clearing
               house into each margin account; what exceeds the requirement goes back to cash
    Expire     futures: a last settlement at the final price, then physical DELIVERY of the
               escrowed credits to the longs against FINAL payment at that price (or cash
               settlement: nothing more); options: the payoff from writers to holders. Margin
               goes back to cash; what an owner owes is collected from its cash (a
               balancing transfer: as far as the cash goes; the margin account keeps the rest)

Checks before a hold, each a :class:`ClearingReject` that changes nothing: the instrument
expired, a limit price outside the daily band around the reference (the last settlement,
else the last trade, else the reference given at listing), a position that could exceed the
limit if every open order filled. Buying power is the ledger's own check: a hold that would
overdraw is refused (``exceeds_credits``) and the edge rejects the order.

The module is longer than most (~550 lines) for one reason: an order's life and the daily and
final settlement all move the same positions with the same transfer numbering, and splitting
them would split the state they share. The settlement commands and the daily price rule are in
:mod:`tokenomy.exchange.settlement`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

from tokenomy._invariant import invariant
from tokenomy.exchange.accounts import (
    CODE_DELIVERY,
    CODE_FINAL,
    CODE_HOLD,
    CODE_MARGIN,
    CODE_PAYMENT,
    CODE_VARIATION,
    CREDIT_LEDGERS,
    cash_account,
    clearing_account,
    credit_account,
    delivery_account,
    escrow_account,
    margin_account,
)
from tokenomy.exchange.black76 import OptionKind
from tokenomy.exchange.book import Book
from tokenomy.exchange.contracts import Instrument, InstrumentKind, Settlement
from tokenomy.exchange.orders import (
    Accepted,
    Cancelled,
    Command,
    Event,
    Expired,
    Fill,
    NewOrder,
    OrderType,
    Rejected,
    Replace,
    Replaced,
    Side,
)
from tokenomy.exchange.settlement import ClearingCommand, Expire, Open, Settle, settlement_price
from tokenomy.ledger.budgets import derive_id, ledger_of
from tokenomy.ledger.types import Transfer, TransferFlags

BUY, SELL = Side.BUY, Side.SELL
PENDING = int(TransferFlags.PENDING)
VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
BALANCING_DEBIT = int(TransferFlags.BALANCING_DEBIT)
MARGIN_BAND_MULTIPLE = Decimal("1.5")  # margin per contract = 1.5 daily bands of the reference


class ClearingReject(StrEnum):
    """Why clearing refused an order before it reached the book (nothing changed)."""

    EXPIRED = "instrument_expired"
    PRICE_OUTSIDE_BAND = "price_outside_band"
    POSITION_LIMIT = "position_limit_exceeded"
    INSUFFICIENT_BUYING_POWER = "insufficient_buying_power"  # the ledger refused the hold


@dataclass(frozen=True, slots=True)
class Terms:
    """What clearing needs of an instrument, in integers of the ledgers."""

    symbol: str
    kind: InstrumentKind
    grade: str
    cash_ledger: int
    credit_ledger: int
    tick_value: int  # cash minor units per contract per tick
    unit_tokens: int  # credits per contract
    margin: int  # cash minor units per contract (futures; option writers)
    position_limit: int  # contracts, net, per owner
    band_percent: Decimal  # of the reference, each side (spot and futures)
    physical: bool
    strike: int = 0  # ticks (options)
    call: bool = True  # options

    @classmethod
    def of(cls, instrument: Instrument, reference: int) -> Terms:
        """The terms of ``instrument``; ``reference`` (ticks, > 0) is the price the margin
        per contract is set from: the underlying's index value at listing."""
        invariant(reference > 0, f"a reference price is positive, not {reference}")
        spec = instrument.spec
        ledger = ledger_of(spec.currency.code)
        tick_value = spec.tick_value * spec.currency.unit
        invariant(tick_value == tick_value.to_integral_value(),
                  f"{spec.symbol}: tick value {spec.tick_value} is not whole minor units")
        band = spec.daily_price_band_percent
        margin_ticks = int((reference * band * MARGIN_BAND_MULTIPLE / 100)
                           .to_integral_value(ROUND_CEILING))
        strike = 0
        if instrument.strike is not None:
            strike = int(instrument.strike / spec.tick)
        return cls(instrument.symbol, instrument.kind, spec.grade.name, ledger,
                   CREDIT_LEDGERS[spec.grade.name], int(tick_value), spec.unit_tokens,
                   max(margin_ticks, 1) * int(tick_value), spec.position_limit, band,
                   spec.settlement is Settlement.PHYSICAL, strike,
                   instrument.option_type is not OptionKind.PUT)


@dataclass(frozen=True, slots=True)
class Leg:
    """One pending hold of an order: ``amount`` on ``ledger`` from ``account``."""

    ledger: int
    account: int
    amount: int


@dataclass(frozen=True, slots=True)
class Entry:
    """What :meth:`Clearing.enter` decided: the command to journal and the holds it takes."""

    command: Command
    holds: tuple[Transfer, ...] = ()
    order_id: int = 0  # the resting order a Replace changes (0 otherwise)


@dataclass(slots=True)
class Position:
    """One owner's position in the instrument (contracts) and its money (cash minor units)."""

    net: int = 0
    marked: int = 0  # Σ signed contracts × price (ticks) since the last settlement
    posted: int = 0  # this instrument's share of the owner's margin account (may be < 0)
    escrowed: int = 0  # credits this owner has in the delivery account (physical shorts)
    variation: int = 0  # variation margin received (−: paid), all days together
    holds: dict[int, tuple[int, ...]] = field(default_factory=dict)  # order id → hold ids
    orders: dict[int, tuple[Side, int]] = field(default_factory=dict)  # resting: side, leaves


class _Transfers:
    """Transfers of one journaled command, numbered 0, 1, 2… into derived ids."""

    def __init__(self, symbol: str, seq: int, first: int = 0) -> None:
        self.symbol, self.seq, self.next = symbol, seq, first
        self.out: list[Transfer] = []

    def add(self, debit: int, credit: int, amount: int, ledger: int, code: int,
            flags: int = 0, pending_id: int = 0) -> int:
        tid = derive_id("exchange", self.symbol, str(self.seq), str(self.next))
        self.next += 1
        self.out.append(Transfer(tid, debit, credit, amount, ledger, code, flags, pending_id))
        return tid


class Clearing:
    """The clearing state of one instrument: positions and holds, rebuilt by replay."""

    def __init__(self, terms: Terms, reference: int) -> None:
        self.terms = terms
        self.reference = reference  # the band's centre until a trade or a settlement
        self.settlement = 0  # the last settlement price (ticks), 0 before the first
        self.last_trade = 0
        self.expired = False
        self.positions: dict[int, Position] = {}

    # -- reads ------------------------------------------------------------------------------
    def position(self, owner: int) -> Position:
        found = self.positions.get(owner)
        if found is None:
            found = self.positions[owner] = Position()
        return found

    def open_interest(self) -> int:
        """Contracts held long (= contracts held short)."""
        return sum(p.net for p in self.positions.values() if p.net > 0)

    def band(self) -> tuple[int, int]:
        """The lowest and highest limit price (ticks) accepted now."""
        centre = self.settlement or self.last_trade or self.reference
        width = Decimal(centre) * self.terms.band_percent / 100
        low = int((centre - width).to_integral_value(ROUND_CEILING))
        high = int((centre + width).to_integral_value(ROUND_FLOOR))
        return max(low, 1), high

    def legs(self, owner: int, side: Side, price: int, leaves: int) -> list[Leg]:
        """The holds an order of ``leaves`` contracts at ``price`` needs."""
        t = self.terms
        kind = t.kind
        cash = cash_account(owner, t.cash_ledger)
        if kind is InstrumentKind.FUTURE:
            legs = [Leg(t.cash_ledger, cash, leaves * t.margin)]
            if side is SELL and t.physical:
                legs.append(Leg(t.credit_ledger, credit_account(owner, t.grade),
                                leaves * t.unit_tokens))
            return legs
        if side is BUY:  # spot price or option premium
            return [Leg(t.cash_ledger, cash, price * leaves * t.tick_value)]
        if kind is InstrumentKind.SPOT:
            return [Leg(t.credit_ledger, credit_account(owner, t.grade),
                        leaves * t.unit_tokens)]
        return [Leg(t.cash_ledger, cash, leaves * t.margin)]  # an option writer

    # -- before the book --------------------------------------------------------------------
    def enter(self, seq: int, command: Command, book: Book) -> Entry | ClearingReject:
        """Check a command and take its holds (transfer ids ``seq``/0, 1…)."""
        if isinstance(command, NewOrder):
            return self._enter_new(seq, command, book)
        if isinstance(command, Replace):
            return self._enter_replace(seq, command, book)
        return Entry(command)  # cancels, end of day, time: nothing to check or hold

    def _enter_new(self, seq: int, c: NewOrder, book: Book) -> Entry | ClearingReject:
        if book.knows(c.owner, c.client_order_id):
            return Entry(c)  # a resend: the book answers it; nothing new to hold
        if self.expired:
            return ClearingReject.EXPIRED
        price = c.price
        if c.order_type is OrderType.MARKET:
            reference = c.reference_price or self._market_reference(book, c.side)
            if reference:
                c = _with_reference(c, reference)
                band = book.limits.market_band_ticks
                price = (min(reference + band, book.limits.price_max) if c.side is BUY
                         else max(reference - band, 1))
        elif self.terms.kind is not InstrumentKind.OPTION:
            low, high = self.band()
            if not low <= price <= high:
                return ClearingReject.PRICE_OUTSIDE_BAND
        if not self._within_limit(c.owner, c.side, c.quantity):
            return ClearingReject.POSITION_LIMIT
        transfers = _Transfers(self.terms.symbol, seq)
        for leg in self.legs(c.owner, c.side, price, c.quantity):
            if leg.amount:
                transfers.add(leg.account, escrow_account(leg.ledger), leg.amount, leg.ledger,
                              CODE_HOLD, PENDING)
        return Entry(c, tuple(transfers.out))

    def _enter_replace(self, seq: int, c: Replace, book: Book) -> Entry | ClearingReject:
        order = book.order(c.order_id)
        if order is None or order.owner != c.owner or c.quantity <= 0 or c.price <= 0:
            return Entry(c)  # the book rejects it (or cancels a quantity ≤ filled)
        if self.expired:
            return ClearingReject.EXPIRED
        if self.terms.kind is not InstrumentKind.OPTION:
            low, high = self.band()
            if not low <= c.price <= high:
                return ClearingReject.PRICE_OUTSIDE_BAND
        leaves = c.quantity - (order.quantity - order.leaves)
        if leaves > order.leaves and not self._within_limit(c.owner, order.side,
                                                            leaves - order.leaves):
            return ClearingReject.POSITION_LIMIT
        old = self.legs(c.owner, order.side, order.price, order.leaves)
        new = self.legs(c.owner, order.side, c.price, max(leaves, 0))
        transfers = _Transfers(self.terms.symbol, seq)
        for before, after in zip(old, new, strict=True):
            extra = after.amount - before.amount
            if extra > 0:
                transfers.add(after.account, escrow_account(after.ledger), extra,
                              after.ledger, CODE_HOLD, PENDING)
        return Entry(c, tuple(transfers.out), c.order_id)

    def _market_reference(self, book: Book, side: Side) -> int:
        top = book.top_of_book()
        level = top.ask if side is BUY else top.bid
        return level.price if level is not None else (self.settlement or self.last_trade)

    def _within_limit(self, owner: int, side: Side, quantity: int) -> bool:
        """Whether the position stays within the limit if every open order of ``owner`` on
        ``side`` filled, and this one too (the book's own resting orders are counted)."""
        position = self.positions.get(owner)
        net = position.net if position else 0
        worst = quantity + _resting(position, side)
        extreme = net + worst if side is BUY else net - worst
        return abs(extreme) <= self.terms.position_limit

    # -- after the book ---------------------------------------------------------------------
    def clear(self, seq: int, entry: Entry, events: Sequence[Event], book: Book,
              seq_before: int) -> list[Transfer]:
        """The transfers of ``entry`` 's command once the book applied it (its ``events``;
        those numbered up to ``seq_before`` are a resend's and move nothing)."""
        transfers = _Transfers(self.terms.symbol, seq, len(entry.holds))
        held = {leg.id for leg in entry.holds}
        touched: dict[int, int] = {}  # order id → owner
        fills: list[Fill] = []
        if entry.order_id:  # a Replace: its extra holds join the order's
            owner = int(getattr(entry.command, "owner", 0))
            touched[entry.order_id] = owner
            self._extend(owner, entry.order_id, held)
        for event in events:
            if event.seq <= seq_before:
                continue
            if isinstance(event, Fill):
                fills.append(event)
                trade = event.trade
                touched[trade.maker_order_id] = trade.maker_owner
                touched[trade.taker_order_id] = trade.taker_owner
            elif isinstance(event, Accepted):
                self._extend(event.owner, event.order_id, held)
                held = set()
                touched[event.order_id] = event.owner
            elif isinstance(event, Rejected):
                for hold in entry.holds:
                    if hold.id in held:  # a new order's holds the book did not take
                        transfers.add(hold.debit_account_id, hold.credit_account_id, 0,
                                      hold.ledger, CODE_HOLD, VOID, hold.id)
                held = set()
            elif isinstance(event, Cancelled | Replaced | Expired):
                touched[event.order_id] = event.owner
        for order_id, owner in touched.items():  # every touched order's holds go
            self._void(transfers, owner, order_id)
        before = {owner: self._requirement(self.position(owner).net)
                  for owner in set(touched.values())}
        for fill in fills:
            self._fill(transfers, fill)
        for owner, required in before.items():
            self._margin(transfers, owner, required)
        for order_id, owner in touched.items():  # and come back for what still rests
            resting = book.order(order_id)
            if resting is not None and not self.expired:
                self._hold(transfers, owner, order_id, resting.side, resting.price,
                           resting.leaves)
        return transfers.out

    def _extend(self, owner: int, order_id: int, ids: Iterable[int]) -> None:
        holds = self.position(owner).holds
        holds[order_id] = (*holds.get(order_id, ()), *ids)

    def _void(self, transfers: _Transfers, owner: int, order_id: int) -> None:
        position = self.position(owner)
        position.orders.pop(order_id, None)
        for hold_id in position.holds.pop(order_id, ()):
            transfers.add(0, 0, 0, 0, CODE_HOLD, VOID, hold_id)

    def _hold(self, transfers: _Transfers, owner: int, order_id: int, side: Side, price: int,
              leaves: int) -> None:
        position = self.position(owner)
        position.holds[order_id] = tuple(
            transfers.add(leg.account, escrow_account(leg.ledger), leg.amount, leg.ledger,
                          CODE_HOLD, PENDING)
            for leg in self.legs(owner, side, price, leaves) if leg.amount)
        position.orders[order_id] = (side, leaves)

    def _requirement(self, net: int) -> int:
        """Margin a position needs: futures both ways, options on the writer's side only."""
        kind = self.terms.kind
        if kind is InstrumentKind.FUTURE:
            return abs(net) * self.terms.margin
        if kind is InstrumentKind.OPTION:
            return max(-net, 0) * self.terms.margin
        return 0

    def _fill(self, transfers: _Transfers, fill: Fill) -> None:
        t, trade = self.terms, fill.trade
        price, quantity = trade.price, trade.quantity
        if trade.taker_side is BUY:
            buyer, seller = trade.taker_owner, trade.maker_owner
        else:
            buyer, seller = trade.maker_owner, trade.taker_owner
        invariant(buyer != seller, f"{t.symbol}: a self-trade of owner {buyer}")
        if t.kind is not InstrumentKind.FUTURE:  # the spot price or the option premium
            transfers.add(cash_account(buyer, t.cash_ledger), cash_account(seller, t.cash_ledger),
                          price * quantity * t.tick_value, t.cash_ledger, CODE_PAYMENT)
        if t.kind is InstrumentKind.SPOT:
            transfers.add(credit_account(seller, t.grade), credit_account(buyer, t.grade),
                          quantity * t.unit_tokens, t.credit_ledger, CODE_DELIVERY)
        else:
            long, short = self.position(buyer), self.position(seller)
            long.net += quantity
            long.marked += quantity * price
            short.net -= quantity
            short.marked -= quantity * price
        self.last_trade = price

    def _margin(self, transfers: _Transfers, owner: int, required_before: int) -> None:
        """Post or release margin (and physical shorts' credits) to fit the new position."""
        t, position = self.terms, self.position(owner)
        required = self._requirement(position.net)
        cash, margin = cash_account(owner, t.cash_ledger), margin_account(owner, t.cash_ledger)
        if required > required_before:
            transfers.add(cash, margin, required - required_before, t.cash_ledger, CODE_MARGIN)
            position.posted += required - required_before
        elif position.posted > required:
            transfers.add(margin, cash, position.posted - required, t.cash_ledger, CODE_MARGIN)
            position.posted = required
        if t.kind is InstrumentKind.FUTURE and t.physical:
            escrow = max(-position.net, 0) * t.unit_tokens
            credits, delivery = credit_account(owner, t.grade), delivery_account(t.credit_ledger)
            if escrow > position.escrowed:
                transfers.add(credits, delivery, escrow - position.escrowed, t.credit_ledger,
                              CODE_DELIVERY)
            elif escrow < position.escrowed:
                transfers.add(delivery, credits, position.escrowed - escrow, t.credit_ledger,
                              CODE_DELIVERY)
            position.escrowed = escrow

    # -- settlement -------------------------------------------------------------------------
    def settle(self, seq: int, command: Settle) -> list[Transfer]:
        """Daily settlement of a future at ``command.price``: variation margin, then margin
        above the requirement back to cash. Spot and options: nothing moves."""
        invariant(command.price > 0, f"a settlement price is positive, not {command.price}")
        transfers = _Transfers(self.terms.symbol, seq)
        if self.terms.kind is InstrumentKind.FUTURE and not self.expired:
            self._variation(transfers, command.price, CODE_VARIATION)
            self.settlement = command.price
        return transfers.out

    def _through_house(self, transfers: _Transfers, owner: int, amount: int,
                       code: int) -> None:
        """``amount`` to the owner's margin account from the clearing house (negative: the
        other way), recorded in the owner's posted margin."""
        t = self.terms
        house, margin = clearing_account(t.cash_ledger), margin_account(owner, t.cash_ledger)
        if amount > 0:
            transfers.add(house, margin, amount, t.cash_ledger, code)
        elif amount < 0:
            transfers.add(margin, house, -amount, t.cash_ledger, code)
        self.positions[owner].posted += amount

    def _variation(self, transfers: _Transfers, price: int, code: int) -> None:
        t = self.terms
        for owner in sorted(self.positions):
            position = self.positions[owner]
            amount = (position.net * price - position.marked) * t.tick_value
            self._through_house(transfers, owner, amount, code)
            position.variation += amount
            position.marked = position.net * price
            self._sweep(transfers, owner, self._requirement(position.net))

    def _sweep(self, transfers: _Transfers, owner: int, required: int) -> None:
        t, position = self.terms, self.positions[owner]
        if position.posted > required:
            transfers.add(margin_account(owner, t.cash_ledger), cash_account(owner, t.cash_ledger),
                          position.posted - required, t.cash_ledger, CODE_MARGIN)
            position.posted = required

    def margin_call(self, owner: int) -> int:
        """What ``owner`` must add to margin to cover the requirement (0 when covered)."""
        position = self.positions.get(owner)
        if position is None:
            return 0
        return max(self._requirement(position.net) - position.posted, 0)

    def expire(self, seq: int, command: Expire) -> list[Transfer]:
        """Final settlement at ``command.price``; every position closes, every hold goes."""
        invariant(command.price > 0, f"a final price is positive, not {command.price}")
        transfers = _Transfers(self.terms.symbol, seq)
        if self.expired:
            return []
        t = self.terms
        for owner in sorted(self.positions):
            for order_id in list(self.positions[owner].holds):
                self._void(transfers, owner, order_id)
            self.positions[owner].orders.clear()
        if t.kind is InstrumentKind.FUTURE:
            self._variation(transfers, command.price, CODE_FINAL)
            if t.physical:
                self._deliver(transfers, command.price)
            self.settlement = command.price
        elif t.kind is InstrumentKind.OPTION:
            self._pay_off(transfers, command.price)
        for owner in sorted(self.positions):
            position = self.positions[owner]
            position.net = position.marked = 0
            self._sweep(transfers, owner, 0)
            if position.posted < 0:  # owed: collected from cash, as far as it goes
                transfers.add(cash_account(owner, t.cash_ledger),
                              margin_account(owner, t.cash_ledger), -position.posted,
                              t.cash_ledger, CODE_FINAL, BALANCING_DEBIT)
                position.posted = 0  # what stays unpaid is the margin account's balance
        self.expired = True
        return transfers.out

    def _deliver(self, transfers: _Transfers, price: int) -> None:
        """Physical delivery: shorts' escrowed credits to the longs, against payment."""
        t = self.terms
        delivery = delivery_account(t.credit_ledger)
        for owner in sorted(self.positions):
            position = self.positions[owner]
            self._through_house(transfers, owner, -position.net * price * t.tick_value,
                                CODE_FINAL)
            if position.net > 0:
                transfers.add(delivery, credit_account(owner, t.grade),
                              position.net * t.unit_tokens, t.credit_ledger, CODE_DELIVERY)
            position.escrowed = 0

    def _pay_off(self, transfers: _Transfers, underlying: int) -> None:
        """A European option's payoff at the underlying's final price, writers to holders."""
        t = self.terms
        payoff = max(underlying - t.strike, 0) if t.call else max(t.strike - underlying, 0)
        for owner in sorted(self.positions):
            self._through_house(transfers, owner,
                                self.positions[owner].net * payoff * t.tick_value, CODE_FINAL)


def _resting(position: Position | None, side: Side) -> int:
    if position is None:
        return 0
    return sum(leaves for s, leaves in position.orders.values() if s is side)


def _with_reference(c: NewOrder, reference: int) -> NewOrder:
    return NewOrder(c.owner, c.client_order_id, c.side, c.price, c.quantity, c.order_type,
                    c.time_in_force, c.expire_at, c.post_only, c.stp, reference, c.now)


__all__ = [
    "Clearing",
    "ClearingCommand",
    "ClearingReject",
    "Entry",
    "Expire",
    "Leg",
    "Open",
    "Position",
    "Settle",
    "Terms",
    "settlement_price",
]

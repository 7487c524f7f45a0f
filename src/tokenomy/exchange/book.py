"""One order book per instrument: price-time priority matching, deterministic and pure.

``Book.apply(command)`` consumes one command and returns its events, numbered by ``seq``
without gaps; nothing else changes the book, so the same command stream always gives the same
events (a journal appends each command before applying it, and a replay rebuilds the book).
Trades execute at the resting (maker) order's price.

Each side keeps a dict price → level and a sorted list of its price keys (the key is the price
for bids and −price for asks, so the best level is always the last key); a level is a doubly
linked FIFO of orders with its total quantity. A move, a cancel or a fill is O(1), plus a
bisect and a list insert or delete when a level appears or empties. Time advances only with
the ``now`` of accepted commands: GTD orders due by then expire first (a heap), before the
command itself acts.

Checks that come before the time check (invalid ids, a client order id resend or conflict, a
full client id table, time going backwards) do not advance time; past them, a command's
``now`` advances time even if the command is then rejected, and a rejected command changes
nothing else. Limits: see :class:`BookLimits`.

The module is longer than most (~700 lines) for one reason: the matching hot path, the level
bookkeeping and the invariant checker all work on the same private structures, and keeping
them in one class keeps the hot path free of cross-module calls.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from heapq import heapify, heappop, heappush
from typing import NamedTuple

from tokenomy._invariant import InvariantError, invariant
from tokenomy.exchange.market_data import Depth, Level, RestingOrder, TopOfBook
from tokenomy.exchange.orders import (
    ID_MAX,
    Accepted,
    Cancel,
    Cancelled,
    CancelReason,
    Command,
    EndOfDay,
    Event,
    Expired,
    Fill,
    MassCancel,
    NewOrder,
    OrderType,
    Rejected,
    RejectReason,
    Replace,
    Replaced,
    SelfTradePrevention,
    Side,
    Tick,
    TimeInForce,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL
GTC, GTD, DAY, IOC, FOK = (TimeInForce.GTC, TimeInForce.GTD, TimeInForce.DAY,
                           TimeInForce.IOC, TimeInForce.FOK)
CANCEL_NEWEST, CANCEL_OLDEST = SelfTradePrevention.CANCEL_NEWEST, SelfTradePrevention.CANCEL_OLDEST
R = RejectReason
# Builds a NamedTuple event without its Python-level __new__ (2× faster: the hot events only;
# the field order is the class's, and the differential test checks every field).
_new = tuple.__new__
GTD_SLACK = 1_024  # the GTD heap is rebuilt once it holds 2 × resting orders + this many entries


@dataclass(frozen=True, slots=True)
class BookLimits:
    """Every bound a book enforces; commands beyond them are rejected with a reason."""

    price_max: int = 1_000_000_000  # ticks; limit prices are 1..price_max
    quantity_max: int = 1_000_000  # per order (total quantity)
    resting_orders_max: int = 100_000  # per book
    owner_orders_max: int = 10_000  # resting orders per owner
    market_band_ticks: int = 100  # a market order trades within this distance of its reference
    client_ids_max: int = 1_000_000  # client order ids remembered (idempotency) per day
    trades_kept_max: int = 1_000  # the trade list keeps the latest this many
    depth_levels_max: int = 1_000  # L2 requests

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BookLimits.{name} must be a positive integer, not {value!r}")
        if self.price_max > ID_MAX or self.quantity_max > ID_MAX:
            raise ValueError("BookLimits: price_max and quantity_max must be at most ID_MAX")


DEFAULT_LIMITS = BookLimits()


class _Order:
    """A resting (or incoming) order: mutable, owned by the book, linked into its level."""

    __slots__ = ("client_order_id", "expire_at", "leaves", "level", "next", "order_id",
                 "owner", "post_only", "prev", "price", "quantity", "side", "stp",
                 "time_in_force")

    def __init__(self, order_id: int, c: NewOrder, price: int) -> None:
        self.order_id = order_id
        self.owner = c.owner
        self.client_order_id = c.client_order_id
        self.side = c.side
        self.price = price
        self.quantity = c.quantity
        self.leaves = c.quantity
        self.time_in_force = c.time_in_force
        self.expire_at = c.expire_at
        self.post_only = c.post_only
        self.stp = c.stp
        self.prev: _Order | None = None
        self.next: _Order | None = None
        self.level: _Level | None = None


class _Level:
    __slots__ = ("count", "head", "key", "price", "quantity", "tail")

    def __init__(self, price: int, key: int) -> None:
        self.price = price
        self.key = key
        self.quantity = 0  # Σ leaves of its orders
        self.count = 0
        self.head: _Order | None = None
        self.tail: _Order | None = None


class _Side:
    """One side's levels by key (price × sign) and its keys ascending: best is the last."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # +1 bids, −1 asks
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []


class _Outcome(NamedTuple):
    """A client order id's first outcome: its command, its events, the order it made."""

    command: NewOrder
    events: tuple[Event, ...]
    order_id: int


class Book:
    """The order book of one instrument. Feed it commands; read its events and market data."""

    def __init__(self, limits: BookLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._bids = _Side(1)
        self._asks = _Side(-1)
        self._orders: dict[int, _Order] = {}  # resting orders by id, in id order
        self._owner_counts: dict[int, int] = {}  # resting orders per owner (> 0)
        self._clients: dict[tuple[int, int], _Outcome] = {}
        self._gtd: list[tuple[int, int]] = []  # heap of (expire_at, order_id), stale allowed
        self._tape: deque[Trade] = deque(maxlen=limits.trades_kept_max)
        self._seq = 0
        self._now = 0
        self._last_order_id = 0
        self._last_trade_id = 0

    # -- the one entry point ------------------------------------------------------------------
    def apply(self, command: Command) -> tuple[Event, ...]:
        """Apply one command; its events, in order (a resend of a NewOrder: the first ones)."""
        if isinstance(command, Replace):  # the most frequent first
            return self._replace(command)
        if isinstance(command, NewOrder):
            return self._new_order(command)
        if isinstance(command, Cancel):
            return self._cancel(command)
        if isinstance(command, MassCancel):
            return self._mass_cancel(command)
        if isinstance(command, EndOfDay):
            return self._end_of_day(command.now)
        invariant(isinstance(command, Tick), f"not a command: {type(command).__name__}")
        out: list[Event] = []
        if not self._advance(command.now, out):
            return (self._rejected(0, 0, 0, R.TIME_WENT_BACKWARDS),)
        return tuple(out)

    # -- state ----------------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        """The last event's sequence number (0 before any)."""
        return self._seq

    @property
    def now(self) -> int:
        """The latest ``now`` accepted."""
        return self._now

    def __len__(self) -> int:
        """Resting orders."""
        return len(self._orders)

    def knows(self, owner: int, client_order_id: int) -> bool:
        """Whether a NewOrder with these ids was seen today: a resend changes nothing."""
        return (owner, client_order_id) in self._clients

    # -- commands -------------------------------------------------------------------------------
    def _new_order(self, c: NewOrder) -> tuple[Event, ...]:
        owner, client_order_id = c.owner, c.client_order_id
        if not (0 < owner <= ID_MAX and 0 < client_order_id <= ID_MAX):
            return (self._rejected(owner, client_order_id, 0, R.INVALID_ID),)
        key = (owner, client_order_id)
        first = self._clients.get(key)
        if first is not None:
            if first.command.same_request(c):
                return first.events
            return (self._rejected(owner, client_order_id, 0, R.CLIENT_ORDER_ID_CONFLICT),)
        if len(self._clients) >= self.limits.client_ids_max:
            return (self._rejected(owner, client_order_id, 0, R.CLIENT_IDS_FULL),)
        out: list[Event] = []
        if not self._advance(c.now, out):
            return (self._rejected(owner, client_order_id, 0, R.TIME_WENT_BACKWARDS),)
        mark = len(out)
        order_id = self._enter(c, out)
        self._clients[key] = _Outcome(c, tuple(out[mark:]), order_id)
        return tuple(out)

    def _enter(self, c: NewOrder, out: list[Event]) -> int:
        """Check, accept and match a new order; its id, or 0 when rejected."""
        reason = self._check_new(c)
        limit = c.price
        side = c.side
        if reason is None and c.order_type is OrderType.MARKET:
            limit = self._market_limit(side, c.reference_price)
            if not limit:
                reason = R.NO_REFERENCE_PRICE
        if reason is None and c.post_only and self._crosses(side, limit):
            reason = R.POST_ONLY_WOULD_TAKE
        tif = c.time_in_force
        if reason is None and tif is FOK and not self._fillable(c, limit):
            reason = R.FOK_NOT_FILLABLE
        if reason is not None:
            out.append(self._rejected(c.owner, c.client_order_id, 0, reason))
            return 0
        self._last_order_id = order_id = self._last_order_id + 1
        order = _Order(order_id, c, limit)
        self._seq += 1
        out.append(Accepted(self._seq, order_id, c.owner, c.client_order_id, side, limit,
                            c.quantity))
        filled = self._match(order, limit, out)
        invariant(tif is not FOK or filled == c.quantity, "a FOK order filled in part")
        if order.leaves:
            if tif is IOC or tif is FOK:
                self._seq += 1
                out.append(Cancelled(self._seq, order_id, c.owner, order.leaves,
                                     CancelReason.IOC_REMAINDER))
            else:
                self._orders[order_id] = order
                self._owner_counts[c.owner] = self._owner_counts.get(c.owner, 0) + 1
                self._rest(order)
                if tif is GTD:
                    self._push_gtd(order)
        return order_id

    def _check_new(self, c: NewOrder) -> RejectReason | None:
        """The checks on a new order's fields and the book's capacity, in their order."""
        limits = self.limits
        if not 0 < c.quantity <= limits.quantity_max:
            return R.QUANTITY_OUT_OF_RANGE
        tif = c.time_in_force
        if c.order_type is OrderType.LIMIT:
            if not 0 < c.price <= limits.price_max:
                return R.PRICE_OUT_OF_RANGE
            if c.reference_price:
                return R.INVALID_REFERENCE_PRICE
        else:
            if c.price:
                return R.PRICE_NOT_ALLOWED
            if not 0 <= c.reference_price <= limits.price_max:
                return R.INVALID_REFERENCE_PRICE
            if tif is not IOC and tif is not FOK:
                return R.INVALID_TIME_IN_FORCE
        if c.post_only and (c.order_type is OrderType.MARKET or tif is IOC or tif is FOK):
            return R.INVALID_POST_ONLY
        if (c.expire_at <= c.now) if tif is GTD else c.expire_at != 0:
            return R.INVALID_EXPIRE_AT
        if tif is not IOC and tif is not FOK:
            if len(self._orders) >= limits.resting_orders_max:
                return R.BOOK_FULL
            if self._owner_counts.get(c.owner, 0) >= limits.owner_orders_max:
                return R.OWNER_FULL
        return None

    def _replace(self, c: Replace) -> tuple[Event, ...]:
        now = c.now  # the hot path (82% of exchange-core's mix): _advance inlined
        if now < self._now:
            return (self._rejected(c.owner, 0, c.order_id, R.TIME_WENT_BACKWARDS),)
        self._now = now
        gtd = self._gtd
        out: list[Event] = self._expire(now) if gtd and gtd[0][0] <= now else []
        order = self._orders.get(c.order_id)
        if order is None or order.owner != c.owner:
            out.append(self._rejected(c.owner, 0, c.order_id, R.UNKNOWN_ORDER))
            return tuple(out)
        price, quantity = c.price, c.quantity
        reason = self._check_replace(order, price, quantity)
        if reason is not None:
            out.append(self._rejected(c.owner, 0, c.order_id, reason))
            return tuple(out)
        filled = order.quantity - order.leaves
        self._seq += 1
        if quantity <= filled:
            self._remove(order)
            out.append(Cancelled(self._seq, order.order_id, order.owner, order.leaves,
                                 CancelReason.REPLACED_BELOW_FILLED))
            return tuple(out)
        if price == order.price and quantity <= order.quantity:  # keeps its place in the queue
            cut = order.quantity - quantity
            order.quantity = quantity
            order.leaves -= cut
            level = order.level
            if level is None or order.leaves <= 0:
                raise InvariantError("a resting order has no level or nothing left")
            level.quantity -= cut
            out.append(Replaced(self._seq, order.order_id, order.owner, price, quantity,
                                order.leaves, True))
            return tuple(out)
        self._unlink(order)  # to the back of the queue, maybe trading first
        order.price = price
        order.quantity = quantity
        order.leaves = quantity - filled
        out.append(_new(Replaced, (self._seq, order.order_id, order.owner, price, quantity,
                                   order.leaves, False)))
        opposite = self._asks if order.side is BUY else self._bids
        keys = opposite.keys
        if keys and keys[-1] >= opposite.sign * price:  # it crosses: it trades first
            self._match(order, price, out)
            if not order.leaves:
                self._forget(order)
                return tuple(out)
        self._rest(order)
        return tuple(out)

    def _check_replace(self, order: _Order, price: int, quantity: int) -> RejectReason | None:
        if not 0 < quantity <= self.limits.quantity_max:
            return R.QUANTITY_OUT_OF_RANGE
        if not 0 < price <= self.limits.price_max:
            return R.PRICE_OUT_OF_RANGE
        if order.post_only and price != order.price and self._crosses(order.side, price):
            return R.POST_ONLY_WOULD_TAKE
        return None

    def _cancel(self, c: Cancel) -> tuple[Event, ...]:
        out: list[Event] = []
        if not self._advance(c.now, out):
            return (self._rejected(c.owner, 0, c.order_id, R.TIME_WENT_BACKWARDS),)
        order = self._orders.get(c.order_id)
        if order is None or order.owner != c.owner:
            out.append(self._rejected(c.owner, 0, c.order_id, R.UNKNOWN_ORDER))
        else:
            self._remove(order)
            self._seq += 1
            out.append(Cancelled(self._seq, order.order_id, order.owner, order.leaves,
                                 CancelReason.REQUESTED))
        return tuple(out)

    def _mass_cancel(self, c: MassCancel) -> tuple[Event, ...]:
        owner, side = c.owner, c.side
        if not 0 < owner <= ID_MAX:
            return (self._rejected(owner, 0, 0, R.INVALID_ID),)
        out: list[Event] = []
        if not self._advance(c.now, out):
            return (self._rejected(owner, 0, 0, R.TIME_WENT_BACKWARDS),)
        if owner in self._owner_counts:
            doomed = [o for o in self._orders.values()
                      if o.owner == owner and (side is None or o.side is side)]
            for order in doomed:
                self._remove(order)
                self._seq += 1
                out.append(Cancelled(self._seq, order.order_id, owner, order.leaves,
                                     CancelReason.MASS_CANCEL))
        return tuple(out)

    def _end_of_day(self, now: int) -> tuple[Event, ...]:
        out: list[Event] = []
        if not self._advance(now, out):
            return (self._rejected(0, 0, 0, R.TIME_WENT_BACKWARDS),)
        for order in [o for o in self._orders.values() if o.time_in_force is DAY]:
            self._remove(order)
            self._seq += 1
            out.append(Expired(self._seq, order.order_id, order.owner, order.leaves))
        orders = self._orders
        self._clients = {k: v for k, v in self._clients.items() if v.order_id in orders}
        return tuple(out)

    # -- time -----------------------------------------------------------------------------------
    def _advance(self, now: int, out: list[Event]) -> bool:
        """Move time to ``now`` and expire the GTD orders due; False if time went backwards."""
        if now < self._now:
            return False
        self._now = now
        gtd = self._gtd
        if gtd and gtd[0][0] <= now:
            out.extend(self._expire(now))
        return True

    def _expire(self, now: int) -> list[Event]:
        """Expire the GTD orders due by ``now``, by expiry time then order id."""
        gtd = self._gtd
        orders = self._orders
        expired: list[Event] = []
        while gtd and gtd[0][0] <= now:
            order = orders.get(heappop(gtd)[1])
            if order is not None:  # else it left the book before its time
                self._remove(order)
                self._seq += 1
                expired.append(Expired(self._seq, order.order_id, order.owner, order.leaves))
        return expired

    def _push_gtd(self, order: _Order) -> None:
        gtd = self._gtd
        if len(gtd) >= 2 * len(self._orders) + GTD_SLACK:  # drop the entries of gone orders
            gtd[:] = [(o.expire_at, o.order_id) for o in self._orders.values()
                      if o.time_in_force is GTD and o is not order]
            heapify(gtd)
        heappush(gtd, (order.expire_at, order.order_id))

    # -- matching -------------------------------------------------------------------------------
    def _match(self, taker: _Order, limit: int, out: list[Event]) -> int:
        """Trade ``taker`` against the opposite side up to ``limit``; the quantity filled.

        Self-trade prevention follows the taker's mode. When it cancels the taker, the
        Cancelled event is emitted here and ``taker.leaves`` becomes 0."""
        opposite = self._asks if taker.side is BUY else self._bids
        keys = opposite.keys
        if not keys:
            return 0
        bound = opposite.sign * limit
        if keys[-1] < bound:
            return 0
        levels = opposite.levels
        orders = self._orders
        counts = self._owner_counts
        tape = self._tape
        owner = taker.owner
        start = taker.leaves
        now = self._now
        while keys and keys[-1] >= bound:
            level = levels[keys[-1]]
            maker = level.head
            while maker is not None:
                if maker.owner == owner:  # self-trade prevention
                    if taker.stp is not CANCEL_NEWEST:
                        following = maker.next
                        self._remove(maker, drop_level=False)
                        self._seq += 1
                        out.append(Cancelled(self._seq, maker.order_id, owner, maker.leaves,
                                             CancelReason.SELF_TRADE))
                        if taker.stp is CANCEL_OLDEST:
                            maker = following
                            continue
                    if level.head is None:
                        self._drop_best(opposite)
                    self._seq += 1
                    out.append(Cancelled(self._seq, taker.order_id, owner, taker.leaves,
                                         CancelReason.SELF_TRADE))
                    filled = start - taker.leaves
                    taker.leaves = 0
                    return filled
                quantity = maker.leaves if maker.leaves < taker.leaves else taker.leaves
                maker.leaves -= quantity
                taker.leaves -= quantity
                level.quantity -= quantity
                self._last_trade_id += 1
                trade = _new(Trade, (self._last_trade_id, level.price, quantity, taker.side,
                                     maker.order_id, maker.owner, taker.order_id, owner, now))
                tape.append(trade)
                self._seq += 1
                out.append(_new(Fill, (self._seq, trade, maker.leaves, taker.leaves)))
                if maker.leaves:
                    break  # the taker is done
                following = maker.next  # the maker is done: it leaves the head of the queue
                level.head = following
                level.count -= 1
                if following is None:
                    level.tail = None
                else:
                    following.prev = None
                del orders[maker.order_id]
                left = counts[maker.owner] - 1
                if left:
                    counts[maker.owner] = left
                else:
                    del counts[maker.owner]
                if not taker.leaves:
                    break
                maker = following
            if level.head is None:
                self._drop_best(opposite)
            if not taker.leaves:
                break
        return start - taker.leaves

    def _fillable(self, c: NewOrder, limit: int) -> bool:
        """Whether matching would fill all of ``c`` (self-trade prevention included)."""
        opposite = self._asks if c.side is BUY else self._bids
        bound = opposite.sign * limit
        owner, wanted = c.owner, c.quantity
        skip_self = c.stp is CANCEL_OLDEST  # the resting self-orders are cancelled, not hit
        mine = owner in self._owner_counts
        got = 0
        for key in reversed(opposite.keys):
            if key < bound:
                break
            level = opposite.levels[key]
            if not mine:
                got += level.quantity
            else:
                order = level.head
                while order is not None and got < wanted:
                    if order.owner != owner:
                        got += order.leaves
                    elif not skip_self:
                        return False  # stopped by its own order before filling in full
                    order = order.next
            if got >= wanted:
                return True
        return False

    def _crosses(self, side: Side, price: int) -> bool:
        opposite = self._asks if side is BUY else self._bids
        return bool(opposite.keys) and opposite.keys[-1] >= opposite.sign * price

    def _market_limit(self, side: Side, reference: int) -> int:
        """A market order's limit: its band around the reference; 0 when there is none."""
        if not reference:
            opposite = self._asks if side is BUY else self._bids
            if not opposite.keys:
                return 0
            reference = opposite.sign * opposite.keys[-1]
        band = self.limits.market_band_ticks
        if side is BUY:
            return min(reference + band, self.limits.price_max)
        return max(reference - band, 1)

    # -- levels ---------------------------------------------------------------------------------
    def _rest(self, order: _Order) -> None:
        """Link ``order`` at the back of its price level (made if new)."""
        side = self._bids if order.side is BUY else self._asks
        key = side.sign * order.price
        level = side.levels.get(key)
        if level is None:
            level = side.levels[key] = _Level(order.price, key)
            insort(side.keys, key)
        tail = level.tail
        order.prev = tail
        order.next = None
        if tail is None:
            level.head = order
        else:
            tail.next = order
        level.tail = order
        level.count += 1
        level.quantity += order.leaves
        order.level = level

    def _unlink(self, order: _Order, drop_level: bool = True) -> None:
        """Take ``order`` out of its level (and the level out of its side when emptied)."""
        level = order.level
        if level is None:
            raise InvariantError(f"order {order.order_id} does not rest in a level")
        before, after = order.prev, order.next
        if before is None:
            level.head = after
        else:
            before.next = after
        if after is None:
            level.tail = before
        else:
            after.prev = before
        order.prev = order.next = order.level = None
        level.count -= 1
        level.quantity -= order.leaves
        if drop_level and level.head is None:
            side = self._bids if order.side is BUY else self._asks
            keys = side.keys
            del keys[bisect_left(keys, level.key)]
            del side.levels[level.key]

    def _drop_best(self, side: _Side) -> None:
        invariant(side.levels[side.keys[-1]].head is None, "dropping a level with orders")
        del side.levels[side.keys.pop()]

    def _remove(self, order: _Order, drop_level: bool = True) -> None:
        """Take a resting order out of the book for good."""
        self._unlink(order, drop_level)
        self._forget(order)

    def _forget(self, order: _Order) -> None:
        del self._orders[order.order_id]
        left = self._owner_counts[order.owner] - 1
        if left:
            self._owner_counts[order.owner] = left
        else:
            del self._owner_counts[order.owner]

    def _rejected(self, owner: int, client_order_id: int, order_id: int,
                  reason: RejectReason) -> Rejected:
        self._seq += 1
        return Rejected(self._seq, owner, client_order_id, order_id, reason)

    # -- market data ----------------------------------------------------------------------------
    def top_of_book(self) -> TopOfBook:
        """L1: the best bid and ask with their sizes."""
        bids, asks = self._levels(self._bids, 1), self._levels(self._asks, 1)
        return TopOfBook(bids[0] if bids else None, asks[0] if asks else None, self._seq)

    def depth(self, levels: int) -> Depth:
        """L2: the best ``levels`` price levels of each side (1..depth_levels_max)."""
        if not 0 < levels <= self.limits.depth_levels_max:
            raise ValueError(f"depth levels must be 1..{self.limits.depth_levels_max}")
        return Depth(self._levels(self._bids, levels), self._levels(self._asks, levels),
                     self._seq)

    def trades(self, count: int | None = None) -> tuple[Trade, ...]:
        """The latest ``count`` trades (all kept when None), oldest first."""
        kept = tuple(self._tape)
        return kept if count is None else kept[max(len(kept) - count, 0):]

    def order(self, order_id: int) -> RestingOrder | None:
        """L3: one resting order, or None when it is not (or no longer) in the book."""
        order = self._orders.get(order_id)
        return None if order is None else _view(order)

    def resting(self) -> tuple[RestingOrder, ...]:
        """L3: every resting order, bids then asks, each side in priority order."""
        views: list[RestingOrder] = []
        for side in (self._bids, self._asks):
            for key in reversed(side.keys):
                order = side.levels[key].head
                while order is not None:
                    views.append(_view(order))
                    order = order.next
        return tuple(views)

    def _levels(self, side: _Side, count: int) -> tuple[Level, ...]:
        keys = side.keys
        return tuple(Level(level.price, level.quantity, level.count)
                     for level in (side.levels[k] for k in keys[:-count - 1:-1]))

    # -- invariants -----------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Every structural invariant; the violations found (empty when all hold)."""
        problems: list[str] = []
        linked: dict[int, _Order] = {}
        for side in (self._bids, self._asks):
            if side.keys != sorted(side.levels) or len(set(side.keys)) != len(side.keys):
                problems.append(f"side {side.sign}: keys out of order or not the levels")
            for key, level in side.levels.items():
                problems.extend(_check_level(side, key, level, linked))
        if linked.keys() != self._orders.keys():
            problems.append("the resting orders are not the orders linked into levels")
        counts: dict[int, int] = {}
        for order in self._orders.values():
            counts[order.owner] = counts.get(order.owner, 0) + 1
        if counts != self._owner_counts:
            problems.append("owner counts differ from the resting orders")
        best_bid, best_ask = self._levels(self._bids, 1), self._levels(self._asks, 1)
        if best_bid and best_ask and best_bid[0].price >= best_ask[0].price:
            problems.append(f"crossed at rest: {best_bid[0].price} >= {best_ask[0].price}")
        if len(self._orders) > self.limits.resting_orders_max:
            problems.append("more resting orders than resting_orders_max")
        return problems


def _check_level(side: _Side, key: int, level: _Level, linked: dict[int, _Order]) -> list[str]:
    problems = []
    if level.key != key or side.sign * level.price != key or level.head is None:
        problems.append(f"level {key}: wrong key, price or empty")
    quantity = count = 0
    order, before = level.head, None
    while order is not None and count <= len(linked) + level.count:
        if order.prev is not before or order.level is not level or order.leaves <= 0:
            problems.append(f"order {order.order_id}: broken link or no quantity")
        if order.price != level.price or (side.sign > 0) != (order.side is BUY):
            problems.append(f"order {order.order_id}: on the wrong level or side")
        linked[order.order_id] = order
        quantity += order.leaves
        count += 1
        order, before = order.next, order
    if level.tail is not before or quantity != level.quantity or count != level.count:
        problems.append(f"level {level.price}: tail, quantity or count wrong")
    return problems


def _view(order: _Order) -> RestingOrder:
    return RestingOrder(order.order_id, order.owner, order.client_order_id, order.side,
                        order.price, order.quantity, order.leaves, order.time_in_force,
                        order.expire_at, order.post_only, order.stp)

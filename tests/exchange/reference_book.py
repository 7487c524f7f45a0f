"""A naive reference order book: the rules of ``tokenomy.exchange.Book``, written plainly.

One list holds every resting order; each has an arrival stamp (a new one when it loses time
priority). A side's queue is that list filtered and sorted by (price, stamp) on every use, and
every lookup is a linear scan — O(n log n) per command, obviously right rather than fast. It
shares only the vocabulary (commands, events, reasons, limits, market-data records) with the
book, not one line of its logic, so the differential test and ``bench/exchange.py`` compare
two independent implementations of the same rules:

- price-time priority; a trade happens at the maker's price;
- a new order is checked in the order of ``RejectReason``; a rejected command changes nothing;
- GTD orders due by ``now`` expire (by expiry time, then order id) before a command acts;
  checks made before the time check (ids, client id resend/conflict/full, time going back)
  leave time alone;
- self-trade prevention by the taker's mode; a FOK order fills in full or is rejected;
- a replace keeps priority only at the same price with no larger quantity; to a quantity at
  or below what is filled it cancels; a post-only order's move that would cross is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.exchange import (
    ID_MAX,
    Accepted,
    BookLimits,
    Cancel,
    Cancelled,
    CancelReason,
    Command,
    Depth,
    EndOfDay,
    Event,
    Expired,
    Fill,
    Level,
    MassCancel,
    NewOrder,
    OrderType,
    Rejected,
    RejectReason,
    Replace,
    Replaced,
    RestingOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TopOfBook,
    Trade,
)

TIF = TimeInForce
STP = SelfTradePrevention
R = RejectReason


@dataclass(slots=True)
class RefOrder:
    order_id: int
    owner: int
    client_order_id: int
    side: Side
    price: int
    quantity: int
    leaves: int
    tif: TimeInForce
    expire_at: int
    post_only: bool
    stp: SelfTradePrevention
    stamp: int


def crosses(side: Side, limit: int, resting_price: int) -> bool:
    """Whether an order on ``side`` with ``limit`` can trade with a resting price."""
    return resting_price <= limit if side is Side.BUY else resting_price >= limit


def other(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


class ReferenceBook:
    def __init__(self, limits: BookLimits) -> None:
        self.limits = limits
        self.resting: list[RefOrder] = []
        self.clients: dict[tuple[int, int], tuple[NewOrder, tuple[Event, ...], int]] = {}
        self.all_trades: list[Trade] = []
        self.seq = 0
        self.now = 0
        self.stamps = 0
        self.order_ids = 0
        self.trade_ids = 0
        self.events: list[Event] = []

    # -- helpers ------------------------------------------------------------------------------
    def emit(self, event_type: type, *fields: object) -> None:
        self.seq += 1
        self.events.append(event_type(self.seq, *fields))

    def queue(self, side: Side) -> list[RefOrder]:
        orders = [o for o in self.resting if o.side is side]
        if side is Side.BUY:
            return sorted(orders, key=lambda o: (-o.price, o.stamp))
        return sorted(orders, key=lambda o: (o.price, o.stamp))

    def find(self, order_id: int) -> RefOrder | None:
        for o in self.resting:
            if o.order_id == order_id:
                return o
        return None

    def put(self, order: RefOrder) -> None:
        self.stamps += 1
        order.stamp = self.stamps
        self.resting.append(order)

    def time_ok(self, now: int) -> bool:
        if now < self.now:
            return False
        self.now = now
        due = sorted((o for o in self.resting if o.tif is TIF.GTD and o.expire_at <= now),
                     key=lambda o: (o.expire_at, o.order_id))
        for o in due:
            self.resting.remove(o)
            self.emit(Expired, o.order_id, o.owner, o.leaves)
        return True

    def reject(self, owner: int, client_order_id: int, order_id: int, reason: R
               ) -> tuple[Event, ...]:
        self.emit(Rejected, owner, client_order_id, order_id, reason)
        return self.take()

    def take(self) -> tuple[Event, ...]:
        events, self.events = tuple(self.events), []
        return events

    # -- commands -----------------------------------------------------------------------------
    def apply(self, c: Command) -> tuple[Event, ...]:
        if isinstance(c, NewOrder):
            return self.new_order(c)
        if isinstance(c, MassCancel) and not 0 < c.owner <= ID_MAX:
            return self.reject(c.owner, 0, 0, R.INVALID_ID)
        owner = c.owner if isinstance(c, (Cancel, Replace, MassCancel)) else 0
        order_id = c.order_id if isinstance(c, (Cancel, Replace)) else 0
        if not self.time_ok(c.now):
            return self.reject(owner, 0, order_id, R.TIME_WENT_BACKWARDS)
        if isinstance(c, Cancel):
            o = self.find(c.order_id)
            if o is None or o.owner != c.owner:
                return self.reject(c.owner, 0, c.order_id, R.UNKNOWN_ORDER)
            self.resting.remove(o)
            self.emit(Cancelled, o.order_id, o.owner, o.leaves, CancelReason.REQUESTED)
        elif isinstance(c, Replace):
            self.replace(c)
        elif isinstance(c, MassCancel):
            for o in sorted(self.resting, key=lambda o: o.order_id):
                if o.owner == c.owner and (c.side is None or o.side is c.side):
                    self.resting.remove(o)
                    self.emit(Cancelled, o.order_id, o.owner, o.leaves, CancelReason.MASS_CANCEL)
        elif isinstance(c, EndOfDay):
            for o in sorted(self.resting, key=lambda o: o.order_id):
                if o.tif is TIF.DAY:
                    self.resting.remove(o)
                    self.emit(Expired, o.order_id, o.owner, o.leaves)
            alive = {o.order_id for o in self.resting}
            self.clients = {k: v for k, v in self.clients.items() if v[2] in alive}
        return self.take()

    def new_order(self, c: NewOrder) -> tuple[Event, ...]:
        if not (0 < c.owner <= ID_MAX and 0 < c.client_order_id <= ID_MAX):
            return self.reject(c.owner, c.client_order_id, 0, R.INVALID_ID)
        key = (c.owner, c.client_order_id)
        if key in self.clients:
            first, events, _ = self.clients[key]
            if first.same_request(c):
                return events
            return self.reject(c.owner, c.client_order_id, 0, R.CLIENT_ORDER_ID_CONFLICT)
        if len(self.clients) >= self.limits.client_ids_max:
            return self.reject(c.owner, c.client_order_id, 0, R.CLIENT_IDS_FULL)
        if not self.time_ok(c.now):
            return self.reject(c.owner, c.client_order_id, 0, R.TIME_WENT_BACKWARDS)
        before = len(self.events)
        order_id = self.enter(c)
        self.clients[key] = (c, tuple(self.events[before:]), order_id)
        return self.take()

    def check(self, c: NewOrder) -> R | None:
        lim = self.limits
        restable = c.time_in_force in (TIF.GTC, TIF.GTD, TIF.DAY)
        market = c.order_type is OrderType.MARKET
        checks = [
            (not 1 <= c.quantity <= lim.quantity_max, R.QUANTITY_OUT_OF_RANGE),
            (not market and not 1 <= c.price <= lim.price_max, R.PRICE_OUT_OF_RANGE),
            (not market and c.reference_price != 0, R.INVALID_REFERENCE_PRICE),
            (market and c.price != 0, R.PRICE_NOT_ALLOWED),
            (market and not 0 <= c.reference_price <= lim.price_max,
             R.INVALID_REFERENCE_PRICE),
            (market and restable, R.INVALID_TIME_IN_FORCE),
            (c.post_only and (market or not restable), R.INVALID_POST_ONLY),
            (c.time_in_force is TIF.GTD and c.expire_at <= c.now, R.INVALID_EXPIRE_AT),
            (c.time_in_force is not TIF.GTD and c.expire_at != 0, R.INVALID_EXPIRE_AT),
            (restable and len(self.resting) >= lim.resting_orders_max, R.BOOK_FULL),
            (restable and sum(o.owner == c.owner for o in self.resting)
             >= lim.owner_orders_max, R.OWNER_FULL),
        ]
        return next((reason for failed, reason in checks if failed), None)

    def limit_of(self, c: NewOrder) -> int:
        if c.order_type is OrderType.LIMIT:
            return c.price
        reference = c.reference_price
        if reference == 0:
            opposite = self.queue(other(c.side))
            if not opposite:
                return 0
            reference = opposite[0].price
        band = self.limits.market_band_ticks
        if c.side is Side.BUY:
            return min(reference + band, self.limits.price_max)
        return max(reference - band, 1)

    def would_cross(self, side: Side, limit: int) -> bool:
        return any(crosses(side, limit, o.price) for o in self.queue(other(side)))

    def fillable(self, c: NewOrder, limit: int) -> bool:
        got = 0
        for maker in self.queue(other(c.side)):
            if not crosses(c.side, limit, maker.price):
                break
            if maker.owner == c.owner:
                if c.stp is STP.CANCEL_OLDEST:
                    continue
                break
            got += maker.leaves
        return got >= c.quantity

    def enter(self, c: NewOrder) -> int:
        reason = self.check(c)
        limit = self.limit_of(c) if reason is None else 0
        if reason is None and limit == 0:
            reason = R.NO_REFERENCE_PRICE
        if reason is None and c.post_only and self.would_cross(c.side, limit):
            reason = R.POST_ONLY_WOULD_TAKE
        if reason is None and c.time_in_force is TIF.FOK and not self.fillable(c, limit):
            reason = R.FOK_NOT_FILLABLE
        if reason is not None:
            self.emit(Rejected, c.owner, c.client_order_id, 0, reason)
            return 0
        self.order_ids += 1
        o = RefOrder(self.order_ids, c.owner, c.client_order_id, c.side, limit, c.quantity,
                     c.quantity, c.time_in_force, c.expire_at, c.post_only, c.stp, 0)
        self.emit(Accepted, o.order_id, o.owner, o.client_order_id, o.side, limit, o.quantity)
        self.match(o, limit)
        if o.leaves > 0:
            if c.time_in_force in (TIF.IOC, TIF.FOK):
                self.emit(Cancelled, o.order_id, o.owner, o.leaves, CancelReason.IOC_REMAINDER)
            else:
                self.put(o)
        return o.order_id

    def match(self, taker: RefOrder, limit: int) -> None:
        for maker in self.queue(other(taker.side)):
            if taker.leaves == 0 or not crosses(taker.side, limit, maker.price):
                return
            if maker.owner == taker.owner:
                if taker.stp is not STP.CANCEL_NEWEST:
                    self.resting.remove(maker)
                    self.emit(Cancelled, maker.order_id, maker.owner, maker.leaves,
                              CancelReason.SELF_TRADE)
                    if taker.stp is STP.CANCEL_OLDEST:
                        continue
                self.emit(Cancelled, taker.order_id, taker.owner, taker.leaves,
                          CancelReason.SELF_TRADE)
                taker.leaves = 0
                return
            quantity = min(maker.leaves, taker.leaves)
            maker.leaves -= quantity
            taker.leaves -= quantity
            self.trade_ids += 1
            trade = Trade(self.trade_ids, maker.price, quantity, taker.side, maker.order_id,
                          maker.owner, taker.order_id, taker.owner, self.now)
            self.all_trades.append(trade)
            self.emit(Fill, trade, maker.leaves, taker.leaves)
            if maker.leaves == 0:
                self.resting.remove(maker)

    def replace(self, c: Replace) -> None:
        o = self.find(c.order_id)
        reason = None
        if o is None or o.owner != c.owner:
            reason = R.UNKNOWN_ORDER
        elif not 1 <= c.quantity <= self.limits.quantity_max:
            reason = R.QUANTITY_OUT_OF_RANGE
        elif not 1 <= c.price <= self.limits.price_max:
            reason = R.PRICE_OUT_OF_RANGE
        elif o.post_only and c.price != o.price and self.would_cross(o.side, c.price):
            reason = R.POST_ONLY_WOULD_TAKE
        if reason is not None or o is None:
            self.emit(Rejected, c.owner, 0, c.order_id, reason)
            return
        filled = o.quantity - o.leaves
        if c.quantity <= filled:
            self.resting.remove(o)
            self.emit(Cancelled, o.order_id, o.owner, o.leaves,
                      CancelReason.REPLACED_BELOW_FILLED)
        elif c.price == o.price and c.quantity <= o.quantity:
            o.quantity, o.leaves = c.quantity, c.quantity - filled
            self.emit(Replaced, o.order_id, o.owner, o.price, o.quantity, o.leaves, True)
        else:
            self.resting.remove(o)
            o.price, o.quantity, o.leaves = c.price, c.quantity, c.quantity - filled
            self.emit(Replaced, o.order_id, o.owner, o.price, o.quantity, o.leaves, False)
            self.match(o, o.price)
            if o.leaves > 0:
                self.put(o)

    # -- market data --------------------------------------------------------------------------
    def levels(self, side: Side) -> list[Level]:
        prices = sorted({o.price for o in self.resting if o.side is side},
                        reverse=side is Side.BUY)
        return [Level(p, sum(o.leaves for o in self.resting if o.side is side and o.price == p),
                      sum(1 for o in self.resting if o.side is side and o.price == p))
                for p in prices]

    def top_of_book(self) -> TopOfBook:
        bids, asks = self.levels(Side.BUY), self.levels(Side.SELL)
        return TopOfBook(bids[0] if bids else None, asks[0] if asks else None, self.seq)

    def depth(self, count: int) -> Depth:
        return Depth(tuple(self.levels(Side.BUY)[:count]), tuple(self.levels(Side.SELL)[:count]),
                     self.seq)

    def trades(self, count: int | None = None) -> tuple[Trade, ...]:
        kept = self.all_trades[-self.limits.trades_kept_max:]
        return tuple(kept if count is None else kept[len(kept) - min(count, len(kept)):])

    def resting_orders(self) -> tuple[RestingOrder, ...]:
        return tuple(RestingOrder(o.order_id, o.owner, o.client_order_id, o.side, o.price,
                                  o.quantity, o.leaves, o.tif, o.expire_at, o.post_only, o.stp)
                     for side in (Side.BUY, Side.SELL) for o in self.queue(side))

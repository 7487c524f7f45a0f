"""Orders: the commands a book consumes and the events it returns.

Prices are integer ticks (the caller applies the instrument's tick size), quantities are
positive integers (contracts), times are caller-supplied integers (``now``, in whatever unit the
caller keeps — the book only compares them). Owners and client order ids are positive
integers up to :data:`ID_MAX`; exchange order ids are assigned by the book (1, 2, 3…).

Commands are frozen dataclasses. Events are ``NamedTuple`` s: as immutable as the commands,
and three times cheaper to build than a frozen dataclass on the matching hot path. Every event
carries ``seq``, the book's sequence number: 1, 2, 3… with no gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

ID_MAX = 2**63 - 1  # owners, client order ids and order ids fit a signed 64-bit column


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"  # matches within the book's price band around a reference; never rests


class TimeInForce(StrEnum):
    GTC = "gtc"  # rests until filled or cancelled
    GTD = "gtd"  # rests until ``expire_at`` (expires when a command's ``now`` reaches it)
    DAY = "day"  # rests until the next :class:`EndOfDay`
    IOC = "ioc"  # matches what it can at once; the rest is cancelled
    FOK = "fok"  # fills in full at once, or is rejected; never a partial fill


class SelfTradePrevention(StrEnum):
    """What happens when an incoming order would trade with a resting order of its owner."""

    CANCEL_NEWEST = "cancel_newest"  # cancel the incoming order's remainder
    CANCEL_OLDEST = "cancel_oldest"  # cancel the resting order, keep matching
    CANCEL_BOTH = "cancel_both"  # cancel both


class RejectReason(StrEnum):
    """Why a command changed nothing (checked in this order for a new order)."""

    INVALID_ID = "invalid_id"  # owner or client order id outside 1..ID_MAX
    CLIENT_ORDER_ID_CONFLICT = "client_order_id_conflict"  # same id, different fields
    CLIENT_IDS_FULL = "client_ids_full"  # the book remembers client_ids_max ids per day
    TIME_WENT_BACKWARDS = "time_went_backwards"  # ``now`` below the last accepted ``now``
    QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"  # outside 1..quantity_max
    PRICE_OUT_OF_RANGE = "price_out_of_range"  # limit price outside 1..price_max
    PRICE_NOT_ALLOWED = "price_not_allowed"  # a market order with a price (its band decides)
    INVALID_REFERENCE_PRICE = "invalid_reference_price"  # on a limit order, or off range
    INVALID_TIME_IN_FORCE = "invalid_time_in_force"  # a market order that is not IOC/FOK
    INVALID_POST_ONLY = "invalid_post_only"  # post-only market, IOC or FOK order
    INVALID_EXPIRE_AT = "invalid_expire_at"  # GTD not after ``now``; expire_at on another TIF
    BOOK_FULL = "book_full"  # resting_orders_max orders rest in the book
    OWNER_FULL = "owner_full"  # owner_orders_max orders of this owner rest in the book
    NO_REFERENCE_PRICE = "no_reference_price"  # market order, none given, opposite side empty
    POST_ONLY_WOULD_TAKE = "post_only_would_take"  # a post-only order (or move) would cross
    FOK_NOT_FILLABLE = "fok_not_fillable"  # not enough liquidity for a fill in full
    UNKNOWN_ORDER = "unknown_order"  # no such resting order of this owner


class CancelReason(StrEnum):
    REQUESTED = "requested"  # a Cancel command
    MASS_CANCEL = "mass_cancel"  # a MassCancel command
    IOC_REMAINDER = "ioc_remainder"  # what an IOC or market order did not fill
    SELF_TRADE = "self_trade"  # self-trade prevention
    REPLACED_BELOW_FILLED = "replaced_below_filled"  # replace to a quantity ≤ already filled


# -- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOrder:
    """Enter an order. ``price`` is the limit in ticks (0 for a market order); ``quantity`` is
    the total. Idempotent on ``(owner, client_order_id)``: a resend with the same fields (any
    ``now``) returns the first outcome; one with other fields is rejected as a conflict."""

    owner: int
    client_order_id: int
    side: Side
    price: int
    quantity: int
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_at: int = 0  # GTD only: the order expires once ``now >= expire_at``
    post_only: bool = False  # rejected if it would take liquidity
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST
    reference_price: int = 0  # market only: the band's centre (0: best opposite at entry)
    now: int = 0

    def same_request(self, other: NewOrder) -> bool:
        """Every field but ``now`` is equal: a resend of the same order."""
        return (self.owner == other.owner and self.client_order_id == other.client_order_id
                and self.side is other.side and self.price == other.price
                and self.quantity == other.quantity and self.order_type is other.order_type
                and self.time_in_force is other.time_in_force
                and self.expire_at == other.expire_at and self.post_only == other.post_only
                and self.stp is other.stp and self.reference_price == other.reference_price)


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel a resting order of ``owner``."""

    owner: int
    order_id: int
    now: int = 0


@dataclass(frozen=True, slots=True)
class Replace:
    """Change a resting order's price and total quantity (filled included). Time priority is
    kept only when the price is the same and the quantity does not grow; a quantity at or
    below what is already filled cancels the order. A new price that crosses trades at once,
    as a taker (a post-only order's move is then rejected instead)."""

    owner: int
    order_id: int
    price: int
    quantity: int
    now: int = 0


@dataclass(frozen=True, slots=True)
class MassCancel:
    """Cancel every resting order of ``owner`` (on one side only, when ``side`` is given)."""

    owner: int
    side: Side | None = None
    now: int = 0


@dataclass(frozen=True, slots=True)
class EndOfDay:
    """Close the trading day: DAY orders expire, and the client order ids of orders no longer
    resting are forgotten (they may be reused the next day)."""

    now: int = 0


@dataclass(frozen=True, slots=True)
class Tick:
    """Only advance time to ``now``: GTD orders due by then expire."""

    now: int = 0


Command = NewOrder | Cancel | Replace | MassCancel | EndOfDay | Tick


# -- events -----------------------------------------------------------------------------------


class Trade(NamedTuple):
    """One execution, at the resting (maker) order's price."""

    trade_id: int  # per book: 1, 2, 3…
    price: int
    quantity: int
    taker_side: Side
    maker_order_id: int
    maker_owner: int
    taker_order_id: int
    taker_owner: int
    now: int


class Accepted(NamedTuple):
    """A new order entered the book; ``price`` is a market order's band limit."""

    seq: int
    order_id: int
    owner: int
    client_order_id: int
    side: Side
    price: int
    quantity: int


class Rejected(NamedTuple):
    """A command that changed nothing. Ids the command did not carry are 0."""

    seq: int
    owner: int
    client_order_id: int
    order_id: int
    reason: RejectReason


class Fill(NamedTuple):
    """One trade, with what each side has left to fill after it."""

    seq: int
    trade: Trade
    maker_leaves: int
    taker_leaves: int


class Cancelled(NamedTuple):
    """An order left the book (or an incoming one stopped) with ``quantity`` unfilled."""

    seq: int
    order_id: int
    owner: int
    quantity: int
    reason: CancelReason


class Replaced(NamedTuple):
    """A resting order's new price and total quantity; ``leaves`` = quantity − filled."""

    seq: int
    order_id: int
    owner: int
    price: int
    quantity: int
    leaves: int
    kept_priority: bool


class Expired(NamedTuple):
    """A GTD order reached its time, or a DAY order its day's end, with ``quantity`` unfilled."""

    seq: int
    order_id: int
    owner: int
    quantity: int


Event = Accepted | Rejected | Fill | Cancelled | Replaced | Expired

"""The paper venue's matching rules as pure functions over Decimals.

Kept apart from SQLite so the rules can be read (and unit-tested) on their
own: the store only loads rows, calls these, and writes the results back.

All arithmetic runs in ``EXACT``, a 100-digit context: quantities and prices
have at most 38 significant digits, so their products and sums are exact and
nothing is silently rounded at the default 28-digit precision. Only true
divisions (average prices) and fractional fills are quantized, to 18 decimal
places, the precision the wire types allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus

EXACT = Context(
    prec=100, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
QUANTUM = Decimal("1e-18")
ZERO = Decimal(0)


def fmt_decimal(value: Decimal) -> str:
    """Fixed-point text for storage and JSON (``0.00000001``, never ``1E-8``).

    ``str(Decimal)`` switches to scientific notation for small values; both
    forms parse back to the same Decimal, but fixed-point is what a human (and
    curl) expects to read.
    """
    return format(value, "f")


def _too_precise(value: Decimal) -> bool:
    """More than 18 decimal places (finite values only reach here)."""
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent < -18


def _quantize_down(value: Decimal) -> Decimal:
    """Cut to 18 decimal places, towards zero (never fill more than asked)."""
    if _too_precise(value):
        return value.quantize(QUANTUM, rounding=ROUND_DOWN, context=EXACT)
    return value


def _quantize_avg(value: Decimal) -> Decimal:
    if _too_precise(value):
        return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN, context=EXACT)
    return value


def is_marketable(side: OrderSide, limit_price: Decimal, ref_price: Decimal) -> bool:
    """A BUY limit fills when the reference is at or below it, a SELL when at or above."""
    if side is OrderSide.BUY:
        return ref_price <= limit_price
    return ref_price >= limit_price


def buy_cost_price(
    order_type: OrderType, limit_price: Decimal | None, ref_price: Decimal
) -> Decimal:
    """The price a BUY is funded at: its limit (the worst it can pay) or the reference."""
    if order_type is OrderType.LIMIT and limit_price is not None:
        return limit_price
    return ref_price


def notional(quantity: Decimal, price: Decimal) -> Decimal:
    with localcontext(EXACT):
        return quantity * price


@dataclass(frozen=True)
class FillPlan:
    """What one matching pass does to an order: fill ``quantity`` at ``price``
    (possibly 0) and leave it in ``status``."""

    quantity: Decimal
    price: Decimal
    status: VenueOrderStatus


def plan_fill(
    *,
    side: OrderSide,
    order_type: OrderType,
    time_in_force: TimeInForce,
    quantity: Decimal,
    filled_quantity: Decimal,
    limit_price: Decimal | None,
    ref_price: Decimal,
    fraction: Decimal | None,
    lot: Decimal | None = None,
) -> FillPlan:
    """Match an order's open remainder against the reference price.

    * MARKET fills at the reference price; LIMIT only when marketable, also at
      the reference price (the price improvement goes to the client).
    * ``fraction`` (a ``partial_fill`` fault) fills only that fraction of the
      open remainder, as when a venue runs out of liquidity, rounded down to a
      whole number of the instrument's ``lot`` (a venue fills in lots, so the
      fill can be reverted within its rules).
    * MARKET and IOC orders never rest: their unfilled remainder is canceled
      at once (CANCELED with ``filled_quantity > 0`` after a partial fill);
      GTC/DAY limits rest as NEW or PARTIALLY_FILLED.
    """
    with localcontext(EXACT):
        remaining = quantity - filled_quantity
        marketable = order_type is OrderType.MARKET or (
            limit_price is not None and is_marketable(side, limit_price, ref_price)
        )
        fill = ZERO
        if marketable and remaining > 0:
            fill = remaining if fraction is None else _quantize_down(remaining * fraction)
            if fraction is not None and lot is not None:
                fill = (fill // lot) * lot
        total = filled_quantity + fill
        if total >= quantity:
            status = VenueOrderStatus.FILLED
        elif order_type is OrderType.MARKET or time_in_force is TimeInForce.IOC:
            status = VenueOrderStatus.CANCELED
        elif total > 0:
            status = VenueOrderStatus.PARTIALLY_FILLED
        else:
            status = VenueOrderStatus.NEW
        return FillPlan(quantity=fill, price=ref_price, status=status)


def weighted_average(
    old_quantity: Decimal, old_price: Decimal | None, add_quantity: Decimal, add_price: Decimal
) -> Decimal:
    """Average price after adding ``add_quantity`` at ``add_price`` (quantities >= 0)."""
    with localcontext(EXACT):
        if old_price is None or old_quantity == 0:
            return add_price
        total = old_quantity + add_quantity
        return _quantize_avg((old_quantity * old_price + add_quantity * add_price) / total)


def apply_fill_to_position(
    quantity: Decimal,
    avg_price: Decimal | None,
    side: OrderSide,
    fill_quantity: Decimal,
    fill_price: Decimal,
) -> tuple[Decimal, Decimal | None]:
    """New (net quantity, average price) of a position after one fill.

    Adding to a position (or opening one) re-averages; reducing it keeps the
    average of what is left; closing it exactly makes it flat (average None);
    crossing zero opens the other side at the fill price.
    """
    with localcontext(EXACT):
        signed = fill_quantity if side is OrderSide.BUY else -fill_quantity
        new_quantity = quantity + signed
        if quantity == 0 or avg_price is None:
            return new_quantity, (fill_price if new_quantity != 0 else None)
        if (quantity > 0) == (signed > 0):
            return new_quantity, weighted_average(
                abs(quantity), avg_price, fill_quantity, fill_price
            )
        if new_quantity == 0:
            return new_quantity, None
        if (new_quantity > 0) == (quantity > 0):
            return new_quantity, avg_price
        return new_quantity, fill_price


def cash_delta(side: OrderSide, fill_quantity: Decimal, fill_price: Decimal) -> Decimal:
    """A buy pays quantity x price, a sell receives it."""
    with localcontext(EXACT):
        amount = fill_quantity * fill_price
        return -amount if side is OrderSide.BUY else amount

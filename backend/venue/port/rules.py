"""Whether an order fits a venue's instrument rules, before anything is sent.

A quantity or price that breaks the venue's rules (lot size, tick size, minimum
notional, fractional shares, an instrument that does not trade) is refused
before any leg of the batch is placed, with a message naming the rule and the
venue's value. Nothing is ever rounded: a quantity is either valid as given or
refused.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from execbatch.core.enums import OrderType
from execbatch.venue.port.capabilities import InstrumentRules, VenueCapabilities


def rule_breaks(
    *,
    symbol: str,
    quantity: Decimal,
    order_type: OrderType,
    limit_price: Decimal | None,
    rules: InstrumentRules | None,
    capabilities: VenueCapabilities,
) -> list[str]:
    """Every rule the order breaks at this venue, in words (empty: it fits).

    ``rules`` None means the venue does not know the instrument. The minimum
    notional is checked where the price is known (a limit order's); a market
    order's notional is the venue's to judge when it fills.
    """
    return order_breaks(
        symbol=symbol,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        rules=rules,
        venue=capabilities.venue,
        fractional_quantities=capabilities.fractional_quantities,
    )


def order_breaks(
    *,
    symbol: str,
    quantity: Decimal,
    order_type: OrderType,
    limit_price: Decimal | None,
    rules: InstrumentRules | None,
    venue: str,
    fractional_quantities: bool = True,
    reference_price: Decimal | None = None,
) -> list[str]:
    """``rule_breaks`` for a venue named ``venue``; with ``reference_price`` a market
    order's notional is checked at it (what the paper venue does when it places)."""
    # Exact: a 20-digit quantity over a 1e-9 lot is a 29-digit quotient, past the
    # default context's 28 (which would raise DivisionImpossible, not answer).
    with localcontext(prec=_EXACT_DIGITS):
        return _breaks(
            symbol,
            quantity,
            order_type,
            limit_price,
            rules,
            venue,
            fractional_quantities,
            reference_price,
        )


_EXACT_DIGITS = 100


def _breaks(
    symbol: str,
    quantity: Decimal,
    order_type: OrderType,
    limit_price: Decimal | None,
    rules: InstrumentRules | None,
    venue: str,
    fractional_quantities: bool,
    reference_price: Decimal | None,
) -> list[str]:
    if rules is None:
        return [f"{symbol} is not an instrument {venue} knows"]
    if not rules.tradable:
        return [f"{symbol} is not tradable at {venue}"]
    broken: list[str] = []
    qty = _show(quantity)
    fractional = fractional_quantities and rules.fractional
    if not fractional and quantity != quantity.to_integral_value():
        broken.append(f"quantity {qty}: {venue} trades {symbol} in whole units only")
    if rules.min_quantity is not None and quantity < rules.min_quantity:
        broken.append(f"quantity {qty} is below the minimum {_show(rules.min_quantity)}")
    if rules.max_quantity is not None and quantity > rules.max_quantity:
        broken.append(f"quantity {qty} is above the maximum {_show(rules.max_quantity)}")
    step = rules.quantity_step
    if step is not None and quantity % step != 0:
        broken.append(f"quantity {qty} is not a multiple of the lot size {_show(step)}")
    price = limit_price if order_type is OrderType.LIMIT else reference_price
    tick = rules.price_tick
    if order_type is OrderType.LIMIT and price is not None and tick is not None and price % tick:
        broken.append(
            f"limit price {_show(price)} is not a multiple of the tick size {_show(tick)}"
        )
    least = rules.min_notional
    if price is not None and least is not None and quantity * price < least:
        broken.append(f"notional {_show(quantity * price)} is below the minimum {_show(least)}")
    return broken


def _show(value: Decimal) -> str:
    """Fixed-point, as quantities are written everywhere else (``0.00000001``, not ``1E-8``)."""
    return format(value, "f")

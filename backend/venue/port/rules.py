"""Whether an order fits a venue's instrument rules, before anything is sent.

A quantity or price that breaks the venue's rules (lot size, tick size, minimum
notional, fractional shares, an instrument that does not trade) is refused
before any leg of the batch is placed, with a message naming the rule and the
venue's value. Nothing is ever rounded: a quantity is either valid as given or
refused.
"""

from __future__ import annotations

from decimal import Decimal

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
    venue = capabilities.venue
    if rules is None:
        return [f"{symbol} is not an instrument {venue} knows"]
    if not rules.tradable:
        return [f"{symbol} is not tradable at {venue}"]
    broken: list[str] = []
    fractional = capabilities.fractional_quantities and rules.fractional
    if not fractional and quantity != quantity.to_integral_value():
        broken.append(f"quantity {quantity}: {venue} trades {symbol} in whole units only")
    if rules.min_quantity is not None and quantity < rules.min_quantity:
        broken.append(f"quantity {quantity} is below the minimum {rules.min_quantity}")
    if rules.max_quantity is not None and quantity > rules.max_quantity:
        broken.append(f"quantity {quantity} is above the maximum {rules.max_quantity}")
    if rules.quantity_step is not None and quantity % rules.quantity_step != 0:
        broken.append(
            f"quantity {quantity} is not a multiple of the lot size {rules.quantity_step}"
        )
    if order_type is OrderType.LIMIT and limit_price is not None:
        if rules.price_tick is not None and limit_price % rules.price_tick != 0:
            broken.append(
                f"limit price {limit_price} is not a multiple of the tick size {rules.price_tick}"
            )
        if rules.min_notional is not None and quantity * limit_price < rules.min_notional:
            broken.append(
                f"notional {quantity * limit_price} is below the minimum {rules.min_notional}"
            )
    return broken

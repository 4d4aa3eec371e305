"""The matching rules as pure functions (no venue process needed)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.paper.service.matching import apply_fill_to_position, fmt_decimal, plan_fill

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.mark.parametrize(
    ("start", "side", "qty", "price", "expected"),
    [
        ((D(0), None), BUY, D(10), D(100), (D(10), D(100))),
        ((D(10), D(100)), BUY, D(10), D(110), (D(20), D(105))),
        ((D(10), D(100)), SELL, D(4), D(130), (D(6), D(100))),
        ((D(10), D(100)), SELL, D(10), D(130), (D(0), None)),
        ((D(10), D(100)), SELL, D(15), D(130), (D(-5), D(130))),
        ((D(0), None), SELL, D(3), D(50), (D(-3), D(50))),
        ((D(-3), D(50)), SELL, D(1), D(54), (D(-4), D(51))),
        ((D(-4), D(51)), BUY, D(6), D(40), (D(2), D(40))),
    ],
)
def test_position_average_price(
    start: tuple[D, D | None], side: OrderSide, qty: D, price: D, expected: tuple[D, D | None]
) -> None:
    assert apply_fill_to_position(start[0], start[1], side, qty, price) == expected


def test_average_is_quantized_to_18_places() -> None:
    quantity, avg = apply_fill_to_position(D(1), D(1), BUY, D(2), D(2))
    assert quantity == D(3)
    assert avg == D("1.666666666666666667")


def test_plan_fill_limit_rests_until_marketable() -> None:
    common = {
        "order_type": OrderType.LIMIT,
        "time_in_force": TimeInForce.GTC,
        "quantity": D(10),
        "filled_quantity": D(0),
        "limit_price": D(100),
        "fraction": None,
    }
    rest = plan_fill(side=BUY, ref_price=D("100.01"), **common)  # type: ignore[arg-type]
    assert (rest.quantity, rest.status) == (D(0), VenueOrderStatus.NEW)
    fill = plan_fill(side=BUY, ref_price=D("99"), **common)  # type: ignore[arg-type]
    assert (fill.quantity, fill.price, fill.status) == (D(10), D(99), VenueOrderStatus.FILLED)
    sell = plan_fill(side=SELL, ref_price=D("100"), **common)  # type: ignore[arg-type]
    assert sell.status is VenueOrderStatus.FILLED


def test_plan_fill_fraction_market_cancels_rest_and_limit_rests() -> None:
    market = plan_fill(
        side=BUY,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        quantity=D(10),
        filled_quantity=D(0),
        limit_price=None,
        ref_price=D(5),
        fraction=D("0.5"),
    )
    assert (market.quantity, market.status) == (D(5), VenueOrderStatus.CANCELED)
    limit = plan_fill(
        side=BUY,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        quantity=D(10),
        filled_quantity=D(0),
        limit_price=D(6),
        ref_price=D(5),
        fraction=D("0.3"),
    )
    assert (limit.quantity, limit.status) == (D(3), VenueOrderStatus.PARTIALLY_FILLED)
    ioc = plan_fill(
        side=SELL,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.IOC,
        quantity=D(10),
        filled_quantity=D(0),
        limit_price=D(6),
        ref_price=D(5),
        fraction=None,
    )
    assert (ioc.quantity, ioc.status) == (D(0), VenueOrderStatus.CANCELED)


def test_fmt_decimal_is_fixed_point() -> None:
    assert fmt_decimal(D("0.00000001")) == "0.00000001"
    assert fmt_decimal(D("1E+3")) == "1000"

"""Helpers shared by the venue tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from execbatch.core.enums import OrderSide, OrderType, TimeInForce
from execbatch.venue.port.orders import OrderRequest

START_CASH = Decimal("1000000")


def new_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def new_symbol() -> str:
    """A symbol nobody else prices, so a test can move its price freely."""
    return f"T{uuid.uuid4().hex[:10].upper()}"


def order(
    account: str,
    symbol: str = "AAPL",
    side: OrderSide = OrderSide.BUY,
    quantity: str = "10",
    *,
    order_type: OrderType = OrderType.MARKET,
    limit_price: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    client_order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id or new_id(),
        account=account,
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        limit_price=None if limit_price is None else Decimal(limit_price),
        time_in_force=tif,
    )

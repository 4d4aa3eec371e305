"""The orders the executor reasons about: what it asks a venue for, what a venue reports.

These are venue-neutral: every adapter (the paper venue's, Alpaca's, ccxt's)
translates its venue's wire format into them. Quantities and prices are
Decimal end to end, never float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.dtos.types import PositiveDecimal

CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,254}$"


class OrderRequest(BaseModel):
    """Body of ``POST /orders``. Same ``client_order_id`` = same order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_order_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN)
    account: str = Field(min_length=1, max_length=64)
    symbol: str = Field(min_length=1, max_length=32)
    side: OrderSide
    order_type: OrderType
    quantity: PositiveDecimal
    limit_price: PositiveDecimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC


class VenueOrder(BaseModel):
    """An order as the venue reports it."""

    model_config = ConfigDict(frozen=True)

    client_order_id: str
    venue_order_id: str
    account: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None = None
    time_in_force: TimeInForce
    status: VenueOrderStatus
    filled_quantity: Decimal
    avg_fill_price: Decimal | None = None
    reject_error: str | None = None
    reject_message: str | None = None
    fenced: bool = False
    """True for a cancel tombstone: the id was cancelled before any placement.

    A fenced order has status CANCELED, quantity 0 and symbol ""; a later
    placement with its id returns it unchanged and places nothing.
    """
    created_at: datetime
    updated_at: datetime

    @property
    def open_quantity(self) -> Decimal:
        if self.status.is_terminal:
            return Decimal(0)
        return self.quantity - self.filled_quantity


class Position(BaseModel):
    """Net position of one symbol in one account (negative = short)."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    quantity: Decimal
    avg_price: Decimal | None = None


class Account(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    cash: Decimal


class AccountOverview(BaseModel):
    """What ``execbatch venue-check`` asks of the account behind the configured keys."""

    model_config = ConfigDict(frozen=True)

    account: str
    can_trade: bool
    status: str
    cash: Decimal | None = None
    buying_power: Decimal | None = None
    venue_time: datetime | None = None
    """The venue's clock, where it tells it (for the clock-skew check)."""
    clock_resolution_seconds: float = 0.0
    """How coarse ``venue_time`` is (an HTTP Date header: whole seconds)."""

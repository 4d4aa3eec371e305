"""ExecutionCommand: one concrete order for one plan of a directive."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, model_validator

from backend.core.enums import OrderSide, OrderType, TimeInForce
from backend.dtos.types import Identifier, PositiveDecimal, Symbol


class ExecutionCommand(BaseModel):
    """A single order to place. A value: frozen, compared by content."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: Identifier
    plan_id: Identifier
    symbol: Symbol
    side: OrderSide
    order_type: OrderType
    quantity: PositiveDecimal
    limit_price: PositiveDecimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC

    @model_validator(mode="after")
    def _limit_price_matches_order_type(self) -> ExecutionCommand:
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("limit_price is required for a LIMIT order")
        if self.order_type is OrderType.MARKET and self.limit_price is not None:
            raise ValueError("limit_price is forbidden for a MARKET order")
        return self

    @property
    def notional_hint(self) -> Decimal | None:
        """Quantity times limit price, when known (used only for display)."""
        return self.quantity * self.limit_price if self.limit_price is not None else None

    def describe(self) -> str:
        """Short human text, e.g. ``BUY 10 AAPL`` or ``SELL 5 MSFT @ 410.25``."""
        text = f"{self.side.value} {self.quantity} {self.symbol}"
        return f"{text} @ {self.limit_price}" if self.limit_price is not None else text

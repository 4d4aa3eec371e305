"""ExecutionCommand: one concrete order for one plan of a directive."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from execbatch.core.enums import OrderSide, OrderType, TimeInForce
from execbatch.dtos.types import Identifier, PositiveDecimal, Symbol


class ExecutionCommand(BaseModel):
    """A single order to place. A value: frozen, compared by content."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: Identifier
    plan_id: Identifier
    symbol: Symbol
    side: OrderSide
    order_type: OrderType
    quantity: PositiveDecimal
    limit_price: PositiveDecimal | None = Field(default=None, validate_default=True)
    time_in_force: TimeInForce = TimeInForce.GTC

    @field_validator("limit_price")
    @classmethod
    def _limit_price_matches_order_type(
        cls, value: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        """A field validator (not a model one) so the error's ``loc`` is ``limit_price``.

        ``validate_default`` makes it run when the field is left out, which is
        exactly the LIMIT-without-price case. ``order_type`` is declared first,
        so it is in ``info.data`` unless it was itself invalid (already reported).
        """
        order_type = info.data.get("order_type")
        if order_type is OrderType.LIMIT and value is None:
            raise ValueError("limit_price is required for a LIMIT order")
        if order_type is OrderType.MARKET and value is not None:
            raise ValueError("limit_price is forbidden for a MARKET order")
        return value

    def describe(self) -> str:
        """Short human text, e.g. ``BUY 10 AAPL`` or ``SELL 5 MSFT @ 410.25``."""
        text = f"{self.side.value} {self.quantity} {self.symbol}"
        return f"{text} @ {self.limit_price}" if self.limit_price is not None else text

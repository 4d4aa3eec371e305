"""What a batch run reports: live (the status Query) and final (the workflow result)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus, OrderSide, OrderType
from execbatch.dtos.types import Quantity


class LegResult(BaseModel):
    """One leg's outcome, with quantities as Decimal (strings in JSON)."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    plan_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    status: LegStatus
    filled_quantity: Quantity = Decimal(0)
    avg_fill_price: Quantity | None = None
    compensated_quantity: Quantity = Decimal(0)
    exposed_quantity: Quantity = Decimal(0)
    """Filled quantity a compensation could not revert: non-zero only with NEEDS_ATTENTION."""
    client_order_id: str | None = None
    error: str | None = None


class BatchResult(BaseModel):
    """A batch's state. Final when ``status.is_final``; the workflow returns it."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    mode: BatchExecutionMode
    status: BatchStatus
    legs: tuple[LegResult, ...]
    reason: str | None = None
    """Why the batch ended the way it did (first failure, deadline, cancel reason)."""

    @property
    def exposed_legs(self) -> tuple[LegResult, ...]:
        return tuple(leg for leg in self.legs if leg.exposed_quantity != 0)

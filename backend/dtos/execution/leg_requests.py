"""Activity inputs and outputs for the order activities."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from execbatch.dtos.execution.execution_command import ExecutionCommand


class PlaceLegRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_id: str
    account: str
    command: ExecutionCommand
    reduction_claimed: bool = False
    """The account's trading-state workflow granted this leg a reducing claim: in
    REDUCING it may be placed (``place_leg_checked``, docs/RISK.md)."""


class AwaitLegRequest(BaseModel):
    """Follow a resting order until it is terminal, heartbeating."""

    model_config = ConfigDict(frozen=True)

    client_order_id: str
    poll_interval_seconds: float = 0.5
    symbol: str | None = None
    """The order's symbol: a venue that finds orders only within a market (Binance)
    looks there instead of searching (``ExchangeAdapter.get_order``)."""


class CancelLegRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_order_id: str
    symbol: str | None = None
    """As ``AwaitLegRequest.symbol``."""


class RevertLegRequest(BaseModel):
    """Send the opposite side for exactly ``quantity`` (the leg's filled quantity)."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    account: str
    command: ExecutionCommand
    quantity: Decimal


class RevertReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    reverted_quantity: Decimal
    order_ids: tuple[str, ...]


class FindRevertsRequest(BaseModel):
    """Ask the venue whether any of these legs has a revert order (its first one)."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    legs: tuple[tuple[str, str], ...]
    """(command id, symbol) of each leg that filled."""

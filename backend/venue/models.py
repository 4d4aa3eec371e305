"""Wire models of the paper venue's HTTP contract, shared by service and adapters.

Quantities and prices are Decimal end to end and strings in JSON.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from backend.dtos.types import PositiveDecimal

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


class VenueError(BaseModel):
    """Body of every non-2xx answer: a machine-readable code and a human message."""

    error: str
    message: str


# --------------------------------------------------------------------------
# Admin API models (prices, accounts, fault injection, statistics).
# --------------------------------------------------------------------------


class AccountFunding(BaseModel):
    """Body of ``PUT /admin/accounts/{account}``: the account's new cash balance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cash: Annotated[Decimal, Field(ge=0, max_digits=38, decimal_places=18)]


class FaultKind(StrEnum):
    """What an injected fault does to a matching request (see docs/VENUE.md)."""

    REJECT = "reject"
    ERROR_503 = "error_503"
    LATENCY = "latency"
    HANG = "hang"
    PARTIAL_FILL = "partial_fill"
    FAIL_AFTER_PLACE = "fail_after_place"


class FaultEndpoint(StrEnum):
    """Which venue endpoint a fault rule applies to."""

    PLACE = "place"
    CANCEL = "cancel"
    GET = "get"


_PLACE_ONLY_KINDS = frozenset({FaultKind.REJECT, FaultKind.PARTIAL_FILL})
_REJECT_ERRORS = frozenset({"INSUFFICIENT_FUNDS", "UNKNOWN_SYMBOL", "INVALID_ORDER"})


class FaultRuleSpec(BaseModel):
    """Body of ``POST /admin/faults``: when a fault fires and what it does.

    Filters (``symbol``, ``side``, ``client_order_id_prefix``) are optional and
    all must match. ``probability`` is rolled with the rule's own seeded
    ``random.Random`` so a sequence of requests gives the same sequence of
    faults on every run; ``max_hits`` caps how often the rule fires (tests use
    1 to be deterministic without relying on the seed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    endpoint: FaultEndpoint = FaultEndpoint.PLACE
    symbol: str | None = Field(default=None, min_length=1, max_length=32)
    side: OrderSide | None = None
    client_order_id_prefix: str | None = Field(default=None, min_length=1, max_length=255)
    probability: Annotated[Decimal, Field(ge=0, le=1)] = Decimal(1)
    max_hits: Annotated[int, Field(ge=1)] | None = None
    seed: int | None = None
    error: str | None = None
    message: str | None = Field(default=None, max_length=500)
    delay_seconds: Annotated[Decimal, Field(ge=0, le=3600)] | None = None
    fraction: Annotated[Decimal, Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> FaultRuleSpec:
        kind = self.kind
        if kind in _PLACE_ONLY_KINDS and self.endpoint is not FaultEndpoint.PLACE:
            raise ValueError(f"kind {kind.value!r} only applies to endpoint 'place'")
        if self.endpoint is not FaultEndpoint.PLACE and (
            self.symbol is not None or self.side is not None
        ):
            raise ValueError(
                "symbol/side filters only apply to endpoint 'place'; "
                "use client_order_id_prefix for cancel/get"
            )
        if kind is FaultKind.REJECT:
            if self.error is None:
                raise ValueError(f"kind 'reject' needs error, one of {sorted(_REJECT_ERRORS)}")
            if self.error not in _REJECT_ERRORS:
                raise ValueError(f"error must be one of {sorted(_REJECT_ERRORS)}")
        elif self.error is not None:
            raise ValueError("error is only allowed for kind 'reject'")
        if kind is FaultKind.LATENCY and self.delay_seconds is None:
            raise ValueError("kind 'latency' needs delay_seconds")
        if kind not in (FaultKind.LATENCY, FaultKind.HANG) and self.delay_seconds is not None:
            raise ValueError("delay_seconds is only allowed for kinds 'latency' and 'hang'")
        if kind is FaultKind.PARTIAL_FILL and self.fraction is None:
            raise ValueError("kind 'partial_fill' needs fraction (0 < fraction < 1)")
        if kind is not FaultKind.PARTIAL_FILL and self.fraction is not None:
            raise ValueError("fraction is only allowed for kind 'partial_fill'")
        return self


class FaultRule(FaultRuleSpec):
    """A fault rule as the venue holds it: the spec plus its id and hit count."""

    id: int
    hits: int = 0


class VenueStats(BaseModel):
    """Body of ``GET /admin/stats``; counters are since the venue process started,
    order counts come from the database (so they survive restarts)."""

    model_config = ConfigDict(frozen=True)

    orders_by_status: dict[str, int]
    orders_total: int
    fenced_orders: int
    requests: dict[str, int]
    """HTTP requests received per endpoint: place, cancel, get (including invalid ones)."""
    place_outcomes: dict[str, int]
    """POST /orders outcomes: created, replayed, rejected, conflict, invalid, fenced."""
    faults_injected: dict[str, int]
    """Faults that fired, per FaultKind value."""
    started_at: datetime

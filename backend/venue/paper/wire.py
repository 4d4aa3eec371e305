"""The paper venue's own HTTP contract (errors, admin API, fault rules, statistics).

Shared by the paper venue service and its adapter; the order models themselves
are the venue port's (``execbatch.venue.port.orders``).

Quantities and prices are Decimal end to end and strings in JSON.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from execbatch.core.enums import OrderSide
from execbatch.dtos.types import PositiveDecimal, Symbol
from execbatch.venue.port.capabilities import InstrumentRules


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


class Instrument(BaseModel):
    """One instrument the venue lists, with the rules an order on it must keep.

    The rules are those real venues state (Binance's exchangeInfo filters
    PRICE_FILTER / LOT_SIZE / NOTIONAL, Alpaca's asset ``min_order_size``,
    ``min_trade_increment``, ``price_increment``); ``None`` states no such rule.
    Quantities count in lots from zero: ``min_quantity`` should be a multiple of
    ``quantity_step`` (then Binance's "from minQty" counting agrees).
    Body entries of ``PUT /admin/instruments`` and of ``--instruments FILE``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol
    tradable: bool = True
    quantity_step: PositiveDecimal | None = None
    """The lot size: a quantity must be a whole multiple of it."""
    min_quantity: PositiveDecimal | None = None
    max_quantity: PositiveDecimal | None = None
    price_tick: PositiveDecimal | None = None
    """A limit price must be a whole multiple of it."""
    min_notional: PositiveDecimal | None = None
    """Quantity x price (the limit, or the reference price for a market order)."""

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Instrument:
        low, high = self.min_quantity, self.max_quantity
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_quantity {low} is above max_quantity {high}")
        return self

    @property
    def fractionable(self) -> bool:
        """Whether a quantity with a fractional part can keep the lot size."""
        step = self.quantity_step
        return step is None or step != step.to_integral_value()

    def rules(self, *, priced: bool) -> InstrumentRules:
        """The venue port's rules of this instrument; it trades once it is priced."""
        return InstrumentRules(
            symbol=self.symbol,
            tradable=self.tradable and priced,
            quantity_step=self.quantity_step,
            min_quantity=self.min_quantity,
            max_quantity=self.max_quantity,
            price_tick=self.price_tick,
            min_notional=self.min_notional,
        )


class InstrumentListing(Instrument):
    """An instrument as ``GET /instruments`` answers: ``trading`` when it is
    tradable and has a reference price (what a market order fills at)."""

    trading: bool


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

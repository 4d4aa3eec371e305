"""What a venue guarantees, as data the workflow and the activities read.

Real venues give less than our paper venue, and the executor's guarantees (at
most once per leg, no naked leg, a deadline that cleans up) must hold on each
of them. Rather than ``isinstance`` checks on adapters, every adapter declares
its venue's semantics here, and the code that depends on a guarantee reads the
field that states it (docs/VENUES.md explains each field and which venue gives
what, with sources).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ClientIdScope(StrEnum):
    """How long a client order id stays unique at the venue.

    * FOREVER: the venue keeps one order per id for the account's lifetime; a
      re-sent placement returns the earlier order (our paper venue; Alpaca
      refuses a second order with a used id).
    * OPEN_ORDERS: unique only among open orders (Binance spot: "unique ID
      among open orders"); once the first order filled or was cancelled, a
      re-send places a second order. The adapter must look up before re-sending.
    * NONE: the venue does not enforce uniqueness at all.
    """

    FOREVER = "FOREVER"
    OPEN_ORDERS = "OPEN_ORDERS"
    NONE = "NONE"


class VenueCapabilities(BaseModel):
    """One venue's semantics, declared by its adapter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: str = Field(description="A short name: paper, alpaca, ccxt:binance.")
    client_id_scope: ClientIdScope
    cancel_fences_unknown_id: bool = Field(
        description=(
            "True when cancelling an id the venue has never seen records it, so a "
            "placement with that id arriving later is refused (our paper venue). False "
            "when the venue answers 'not found' and forgets (Alpaca, Binance): then "
            "'not found' proves nothing while a placement attempt could still land."
        )
    )
    lookup_by_client_id: bool = Field(
        description="The venue answers 'which order has this client order id'."
    )
    status_unknown_answers: bool = Field(
        description=(
            "An answer can mean 'sent, outcome unknown' (an HTTP timeout, Binance -1007): "
            "the order may exist although the call failed."
        )
    )
    placement_landing_bound_seconds: float | None = Field(
        default=None,
        gt=0,
        description=(
            "After this long from being sent, a placement request can no longer be "
            "accepted by the venue (Binance's recvWindow). None: the venue gives no bound "
            "of its own and the executor relies on its activity timeout plus the "
            "transport's (see docs/VENUES.md, 'settling without a fence')."
        ),
    )
    max_client_order_id_length: int = Field(gt=0)
    client_order_id_pattern: str = Field(
        description="A regular expression every client order id sent must match."
    )
    fractional_quantities: bool = Field(
        description="Quantities with a fractional part are accepted (subject to lot size)."
    )


class InstrumentRules(BaseModel):
    """Quantity and price rules of one instrument at one venue.

    A leg that breaks one is refused before anything is placed, naming the rule
    and the venue's value: never rounded silently.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    tradable: bool = True
    quantity_step: Decimal | None = Field(default=None, gt=0)
    min_quantity: Decimal | None = Field(default=None, ge=0)
    max_quantity: Decimal | None = Field(default=None, gt=0)
    price_tick: Decimal | None = Field(default=None, gt=0)
    min_notional: Decimal | None = Field(default=None, ge=0)
    fractional: bool = True

"""The ExchangeAdapter protocol and the errors every adapter maps to.

The activities only know this protocol and the venue's declared capabilities
(``capabilities.py``); each venue's adapter lives in ``execbatch.venue.adapters``.
The error classes are the contract for retry classification:

* VenueRejection (a business "no": insufficient funds, unknown symbol,
  invalid order) and OrderConflict (same client id, other content) are final.
* VenueUnavailable (5xx, timeouts, connection errors) is transient.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from execbatch.venue.port.capabilities import InstrumentRules, VenueCapabilities
from execbatch.venue.port.orders import AccountOverview, OrderRequest, Position, VenueOrder


class VenueRejection(Exception):
    """The venue refused the order for a business reason; retrying cannot help."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


class OrderConflict(Exception):
    """The client order id exists at the venue with different content (HTTP 409)."""


class OrderNotFound(Exception):
    """No order with that client order id exists at the venue (HTTP 404)."""


class VenueUnavailable(Exception):
    """A transient failure: 5xx, timeout, connection refused or reset. Retry it.

    ``retry_after``: seconds the venue asked us to wait (a 429's ``Retry-After``),
    honoured as the next retry's delay; None: the retry policy's backoff.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeAdapter(Protocol):
    """What the order activities need from a venue."""

    @property
    def capabilities(self) -> VenueCapabilities:
        """What this venue guarantees (client id scope, fencing, lookups, ...)."""
        ...

    def account_refusal(self, account: str) -> str | None:
        """Why this adapter cannot trade ``account`` (one line naming it and the account
        it does trade), or None when it can.

        Asked before a batch places anything (``check_legs``): keys of a real venue
        trade exactly one account (Alpaca, a ccxt exchange), so a batch for another
        is refused whole up front instead of leg by leg at placement; the paper
        venue trades any account it holds (an unknown one is the venue's refusal)."""
        ...

    async def place_order(
        self, request: OrderRequest, *, earlier_sends_by: datetime | None = None
    ) -> VenueOrder:
        """Place an order, idempotently by ``client_order_id``.

        ``earlier_sends_by``: given on a retry, the instant by which every earlier
        attempt of this placement had stopped sending (it may have run in another
        process). Where a send can still land after that for the venue's
        ``placement_landing_bound_seconds`` and the venue takes a used id again
        (Binance, once the order is closed), nothing is sent before that bound has
        passed and the id has been looked up; a venue that refuses a used id for
        ever needs no wait and ignores it.
        """
        ...

    async def get_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        """The order's current state; raises OrderNotFound.

        ``symbol``: the order's symbol when the caller knows it. A venue that finds an
        order by client id only within its market (Binance) then looks there alone
        instead of searching; the others ignore it."""
        ...

    async def cancel_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        """Cancel the order's open remainder; idempotent. ``symbol`` as for ``get_order``.

        Where ``capabilities.cancel_fences_unknown_id`` holds, cancelling an id
        the venue has never seen fences it: the venue records a CANCELED order
        with nothing filled, and a later placement with that id returns it
        instead of placing. Elsewhere an unknown id raises ``OrderNotFound``,
        which says nothing about a placement still in flight.
        """
        ...

    async def instrument_rules(self, symbols: Iterable[str]) -> dict[str, InstrumentRules]:
        """Each known symbol's quantity and price rules; an unknown symbol is absent."""
        ...

    async def account_overview(self) -> AccountOverview:
        """The trading account's state (status, cash, buying power, the venue's clock);
        the first call that needs valid credentials."""
        ...

    async def positions(self, account: str) -> list[Position]:
        """Net positions of an account."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


@runtime_checkable
class PriceSource(Protocol):
    """A venue that states reference prices (the pre-trade risk check values market
    orders with them); optional: without it only limit prices are known."""

    async def reference_prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        """The venue's current reference price of each symbol it knows."""
        ...

"""Several venue adapters (connection pools) behind one, round robin.

httpx's pool bookkeeping grows with the requests in flight on one pool
(encode/httpx#3215); spreading legs over N pools measures how much that costs.
"""

from __future__ import annotations

import itertools

from execbatch.venue.adapters.paper import PaperVenueAdapter
from execbatch.venue.port.orders import OrderRequest, Position, VenueOrder


class RoundRobinAdapter:
    """An ExchangeAdapter that hands each call to the next of ``adapters``."""

    def __init__(self, adapters: list[PaperVenueAdapter]) -> None:
        self._adapters = adapters
        self._next = itertools.cycle(adapters)

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        return await next(self._next).place_order(request)

    async def get_order(self, client_order_id: str) -> VenueOrder:
        return await next(self._next).get_order(client_order_id)

    async def cancel_order(self, client_order_id: str) -> VenueOrder:
        return await next(self._next).cancel_order(client_order_id)

    async def positions(self, account: str | None = None) -> list[Position]:
        return await next(self._next).positions(account)

    async def aclose(self) -> None:
        for adapter in self._adapters:
            await adapter.aclose()

"""One activity: place a MARKET order at the venue over a shared httpx client."""

from __future__ import annotations

import httpx
from temporalio import activity

from bench.naive.shared import NaiveLeg


class VenueActivities:
    """The samples' "activity with a dependency" pattern: the client is injected."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @activity.defn
    async def place_order(self, leg: NaiveLeg) -> str:
        response = await self._client.post(
            "/orders",
            json={
                "client_order_id": leg.client_order_id,
                "account": leg.account,
                "symbol": leg.symbol,
                "side": leg.side,
                "order_type": "MARKET",
                "quantity": leg.quantity,
            },
        )
        if response.status_code == 422:
            return "REJECTED"
        response.raise_for_status()
        status: str = response.json()["status"]
        return status

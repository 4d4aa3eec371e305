"""Fixtures for the Alpaca tests: the real alpaca-py SDK, through ``AlpacaAdapter``,
against the session's real paper venue process (its Alpaca dialect, ``/v2/``).

The Alpaca key id names the paper account (docs/VENUES.md, "Alpaca"), so each
test trades a fresh account of its own, as the other venue tests do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from execbatch.venue.adapters.alpaca import AlpacaAdapter
from execbatch.venue.paper.service.process import VenueProcess

SECRET = "paper-secret"
"""Any secret will do on an open (keyless) venue."""


def alpaca_headers(account: str, secret: str = SECRET) -> dict[str, str]:
    return {"APCA-API-KEY-ID": account, "APCA-API-SECRET-KEY": secret}


@pytest.fixture
async def dialect(venue: VenueProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the venue; resets the dialect's test controls
    (asset flags, rate limits) after the test."""
    async with httpx.AsyncClient(base_url=venue.base_url, timeout=10.0) as client:
        try:
            yield client
        finally:
            (await client.delete("/admin/alpaca/assets")).raise_for_status()
            (await client.delete("/admin/alpaca/rate-limit")).raise_for_status()


@pytest.fixture
async def alpaca(
    venue: VenueProcess, account: str, dialect: httpx.AsyncClient
) -> AsyncIterator[AlpacaAdapter]:
    """The adapter, keyed to the test's fresh account."""
    async with AlpacaAdapter(
        account,
        SECRET,
        account=account,
        base_url=venue.base_url,
        timeout=2.0,
        cancel_settle_seconds=1.0,
    ) as adapter:
        yield adapter

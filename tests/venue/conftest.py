"""Fixtures for the paper venue tests: one real venue process for the session.

Tests isolate themselves on the shared venue by using a fresh account (and,
when they move prices, a fresh symbol) each, so they can run in any order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from tests.venue.helpers import START_CASH, new_id


@pytest.fixture(scope="session")
def venue() -> Iterator[VenueProcess]:
    with VenueProcess(extra_args=["--fault-seed", "1234"]) as process:
        yield process


@pytest.fixture
async def admin(venue: VenueProcess) -> AsyncIterator[PaperVenueAdmin]:
    """Admin client; clears fault rules after the test so none leak into the next."""
    async with PaperVenueAdmin(venue.base_url) as client:
        try:
            yield client
        finally:
            await client.clear_faults()


@pytest.fixture
async def account(admin: PaperVenueAdmin) -> str:
    """A fresh account funded with START_CASH."""
    name = new_id("acct")
    await admin.fund_account(name, START_CASH)
    return name


@pytest.fixture
async def adapter(venue: VenueProcess, account: str) -> AsyncIterator[PaperVenueAdapter]:
    async with PaperVenueAdapter(venue.base_url, account=account, timeout=5.0) as client:
        yield client

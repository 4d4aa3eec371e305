"""Fixtures for the Binance dialect and the ccxt adapter: the session's paper venue
(``tests/venue/conftest.py``), each test with its own account, API key and instrument."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from execbatch.venue.adapters.ccxt_adapter import CcxtAdapter
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from tests.venue.binance.helpers import (
    BinanceSetup,
    RawBinance,
    new_base_asset,
    new_key,
    register_instrument,
    register_key,
    set_rate_limit,
)
from tests.venue.helpers import new_id

START_USDT = Decimal("100000")
START_PRICE = Decimal("100.00")
RECV_WINDOW_MS = 1000
"""Short in tests, so a landing bound (recvWindow + 1 s) is waited out quickly."""


@pytest.fixture
async def binance(venue: VenueProcess, admin: PaperVenueAdmin) -> AsyncIterator[BinanceSetup]:
    account = new_id("bn")
    await admin.fund_account(account, START_USDT)
    api_key, secret = new_key()
    await register_key(admin, api_key, secret, account)
    base = new_base_asset()
    symbol = f"{base}/USDT"
    await register_instrument(admin, symbol)
    await admin.set_prices({symbol: START_PRICE})
    try:
        yield BinanceSetup(
            base_url=venue.base_url,
            account=account,
            api_key=api_key,
            secret=secret,
            symbol=symbol,
            market_id=f"{base}USDT",
            price=START_PRICE,
        )
    finally:
        await set_rate_limit(admin)


@pytest.fixture
async def ccxt_adapter(binance: BinanceSetup) -> AsyncIterator[CcxtAdapter]:
    adapter = CcxtAdapter(
        api_urls=binance.base_url,
        api_key=binance.api_key,
        secret=binance.secret,
        account=binance.account,
        timeout=5.0,
        recv_window_ms=RECV_WINDOW_MS,
        environ={},
    )
    try:
        yield adapter
    finally:
        await adapter.aclose()


@pytest.fixture
async def raw(binance: BinanceSetup) -> AsyncIterator[RawBinance]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield RawBinance(binance, client)

"""Venue restarts (graceful and crash) and start-up options, on private processes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.core.enums import OrderSide, OrderType, VenueOrderStatus
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.adapter import VenueRejection
from execbatch.venue.port.orders import Account, Position, VenueOrder
from tests.venue.helpers import order

Snapshot = tuple[list[VenueOrder], list[Position], Account, dict[str, Decimal]]


async def snapshot(base_url: str, account: str) -> Snapshot:
    async with PaperVenueAdmin(base_url) as admin:
        return (
            await admin.orders(account),
            await admin.positions(account),
            await admin.account(account),
            await admin.prices(),
        )


async def test_state_survives_graceful_restart_and_crash(tmp_path: Path) -> None:
    async with VenueProcess(tmp_path / "venue.db", extra_args=["--cash", "50000"]) as venue:
        async with PaperVenueAdapter(venue.base_url) as adapter:
            first = order("default", "AAPL", quantity="10")
            await adapter.place_order(first)
            await adapter.place_order(order("default", "ETH/USD", OrderSide.SELL, "0.5"))
            resting = await adapter.place_order(
                order(
                    "default", "MSFT", quantity="5", order_type=OrderType.LIMIT, limit_price="400"
                )
            )
            await adapter.cancel_order("fence-me")
        async with PaperVenueAdmin(venue.base_url) as admin:
            await admin.set_prices({"AAPL": "191.25"})
        before = await snapshot(venue.base_url, "default")
        assert before[2].cash == Decimal(50000) - Decimal(1900) + Decimal(1500)

        await venue.arestart()
        assert await snapshot(venue.base_url, "default") == before  # not refunded either

        await venue.arestart(hard=True)  # SIGKILL: no graceful shutdown at all
        assert await snapshot(venue.base_url, "default") == before

        # The venue still works on the recovered state: the resting limit fills,
        # the fence still holds, idempotency still finds old orders.
        async with PaperVenueAdmin(venue.base_url) as admin:
            await admin.set_prices({"MSFT": "399"})
        async with PaperVenueAdapter(venue.base_url) as adapter:
            filled = await adapter.get_order(resting.client_order_id)
            assert filled.status is VenueOrderStatus.FILLED
            late = await adapter.place_order(order("default", "AAPL", client_order_id="fence-me"))
            assert late.fenced and late.status is VenueOrderStatus.CANCELED
            assert await adapter.place_order(first) == before[0][0]
    assert "order placed" in venue.log_text()


async def test_startup_prices_from_file_and_flags(tmp_path: Path) -> None:
    prices_file = tmp_path / "prices.json"
    prices_file.write_text(json.dumps({"ACME": "12.5", "AAPL": "200"}))
    db = tmp_path / "venue.db"
    args = ["--prices", str(prices_file), "--price", "ACME=13", "--price", "XYZ/USD=0.0001"]
    async with VenueProcess(db, extra_args=args) as venue:
        async with PaperVenueAdmin(venue.base_url) as admin:
            prices = await admin.prices()
            assert prices["ACME"] == Decimal(13)  # the flag wins over the file
            assert prices["AAPL"] == Decimal(200)
            assert prices["XYZ/USD"] == Decimal("0.0001")
            assert prices["MSFT"] == Decimal("410.00")  # defaults still seeded
            await admin.set_prices({"MSFT": "420"})
        async with PaperVenueAdapter(venue.base_url) as adapter:
            with pytest.raises(VenueRejection) as rejected:
                await adapter.place_order(order("default", "UNLISTED"))
            assert rejected.value.error == "UNKNOWN_SYMBOL"

    # Restarted without flags: run-time and start-up prices are kept.
    async with VenueProcess(db) as venue, PaperVenueAdmin(venue.base_url) as admin:
        prices = await admin.prices()
    assert (prices["MSFT"], prices["ACME"]) == (Decimal(420), Decimal(13))


async def test_bad_startup_arguments_fail_fast(tmp_path: Path) -> None:
    venue = VenueProcess(tmp_path / "venue.db", extra_args=["--price", "AAPL=-1"])
    with pytest.raises(RuntimeError, match="exited with code 2"):
        await venue.astart()
    await venue.aclose()

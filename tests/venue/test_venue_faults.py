"""Every fault kind, observed through the adapter against a real venue process."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.paper.wire import FaultKind
from execbatch.venue.port.adapter import OrderNotFound, VenueRejection, VenueUnavailable
from execbatch.venue.port.orders import Position
from tests.venue.helpers import START_CASH, new_id, order

LIMIT = OrderType.LIMIT


async def test_reject_fault_stores_a_rejection(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    rule = await admin.add_fault(
        kind="reject", error="INSUFFICIENT_FUNDS", message="margin call", symbol="MSFT"
    )
    assert rule.id > 0 and rule.hits == 0
    # Filter: another symbol is not affected.
    assert (await adapter.place_order(order(account, "AAPL"))).status is VenueOrderStatus.FILLED
    request = order(account, "MSFT", quantity="1")
    with pytest.raises(VenueRejection) as rejected:
        await adapter.place_order(request)
    assert (rejected.value.error, rejected.value.message) == ("INSUFFICIENT_FUNDS", "margin call")
    stored = await adapter.get_order(request.client_order_id)
    assert (stored.status, stored.reject_error) == (VenueOrderStatus.REJECTED, "INSUFFICIENT_FUNDS")
    [listed] = await admin.faults()
    assert listed.hits == 1


async def test_error_503_places_nothing_and_retry_succeeds(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    before = await admin.stats()
    await admin.add_fault(kind="error_503", max_hits=1)
    request = order(account, "AAPL", quantity="2")
    with pytest.raises(VenueUnavailable, match="503 UNAVAILABLE"):
        await adapter.place_order(request)
    with pytest.raises(OrderNotFound):
        await adapter.get_order(request.client_order_id)
    assert (await adapter.place_order(request)).status is VenueOrderStatus.FILLED
    after = await admin.stats()
    assert after.faults_injected["error_503"] - before.faults_injected["error_503"] == 1


async def test_fail_after_place_then_retry_finds_the_order(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="fail_after_place", client_order_id_prefix="lost-", max_hits=1)
    request = order(account, "NVDA", quantity="3", client_order_id=new_id("lost"))
    with pytest.raises(VenueUnavailable, match="response lost"):
        await adapter.place_order(request)
    retried = await adapter.place_order(request)
    assert retried.status is VenueOrderStatus.FILLED
    assert retried.filled_quantity == Decimal(3)
    orders = await admin.orders(account)
    assert [o.venue_order_id for o in orders] == [retried.venue_order_id]
    assert await adapter.positions() == [
        Position(symbol="NVDA", quantity=Decimal(3), avg_price=Decimal(120))
    ]


async def test_latency_delays_then_handles_normally(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="latency", delay_seconds="0.4", side="SELL", max_hits=1)
    started = time.monotonic()
    placed = await adapter.place_order(order(account, "AAPL", OrderSide.SELL, "1"))
    assert time.monotonic() - started >= 0.4
    assert placed.status is VenueOrderStatus.FILLED


async def test_hang_outlasts_the_client_timeout_and_places_nothing(
    venue: VenueProcess, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="hang", delay_seconds="1.0", max_hits=1)
    request = order(account, "AAPL", quantity="1")
    async with PaperVenueAdapter(venue.base_url, account=account, timeout=0.3) as impatient:
        with pytest.raises(VenueUnavailable, match="timed out") as raised:
            await impatient.place_order(request)
    assert isinstance(raised.value.__cause__, httpx.TimeoutException)
    await asyncio.sleep(1.0)  # the hang is over by now: it must not have placed
    with pytest.raises(OrderNotFound):
        await admin.order(request.client_order_id)


@pytest.mark.parametrize(
    ("kwargs", "status", "filled"),
    [
        ({}, VenueOrderStatus.CANCELED, "5"),
        ({"order_type": LIMIT, "limit_price": "500"}, VenueOrderStatus.PARTIALLY_FILLED, "5"),
        (
            {"order_type": LIMIT, "limit_price": "500", "tif": TimeInForce.IOC},
            VenueOrderStatus.CANCELED,
            "5",
        ),
    ],
    ids=["market", "limit-gtc", "limit-ioc"],
)
async def test_partial_fill(
    adapter: PaperVenueAdapter,
    admin: PaperVenueAdmin,
    account: str,
    kwargs: dict[str, object],
    status: VenueOrderStatus,
    filled: str,
) -> None:
    await admin.add_fault(kind="partial_fill", fraction="0.5", max_hits=1)
    placed = await adapter.place_order(order(account, "QQQ", **kwargs))  # type: ignore[arg-type]
    assert placed.status is status
    assert placed.filled_quantity == Decimal(filled)
    assert placed.avg_fill_price == Decimal("480.00")
    assert await adapter.positions() == [
        Position(symbol="QQQ", quantity=Decimal(filled), avg_price=Decimal(480))
    ]
    assert (await adapter.get_account()).cash == START_CASH - Decimal(filled) * 480
    if status is VenueOrderStatus.PARTIALLY_FILLED:
        canceled = await adapter.cancel_order(placed.client_order_id)
        assert canceled.status is VenueOrderStatus.CANCELED
        assert canceled.filled_quantity == Decimal(filled)


async def test_cancel_endpoint_faults(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    resting = await adapter.place_order(
        order(account, "MSFT", order_type=LIMIT, limit_price="1", client_order_id=new_id("c"))
    )
    await admin.add_fault(kind="error_503", endpoint="cancel", max_hits=1)
    with pytest.raises(VenueUnavailable):
        await adapter.cancel_order(resting.client_order_id)
    assert (await adapter.get_order(resting.client_order_id)).status is VenueOrderStatus.NEW

    await admin.add_fault(kind="fail_after_place", endpoint="cancel", max_hits=1)
    with pytest.raises(VenueUnavailable, match="cancel was applied"):
        await adapter.cancel_order(resting.client_order_id)
    assert (await adapter.get_order(resting.client_order_id)).status is VenueOrderStatus.CANCELED

    await admin.add_fault(kind="error_503", endpoint="get", max_hits=1)
    with pytest.raises(VenueUnavailable):
        await adapter.get_order(resting.client_order_id)


async def test_invalid_fault_rules_are_refused(admin: PaperVenueAdmin) -> None:
    for body in (
        {"kind": "reject"},
        {"kind": "reject", "error": "NOPE"},
        {"kind": "partial_fill", "fraction": "1.5"},
        {"kind": "latency"},
        {"kind": "reject", "error": "INVALID_ORDER", "endpoint": "cancel"},
        {"kind": "error_503", "probability": "2"},
    ):
        async with httpx.AsyncClient(base_url=admin.base_url) as raw:
            answer = await raw.post("/admin/faults", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "INVALID_REQUEST"


async def test_fault_rule_management(admin: PaperVenueAdmin) -> None:
    a = await admin.add_fault(kind="error_503", client_order_id_prefix="nobody-uses-this")
    b = await admin.add_fault(
        kind="latency", delay_seconds="0.1", client_order_id_prefix="nor-this"
    )
    assert [r.id for r in await admin.faults()] == [a.id, b.id]
    await admin.delete_fault(a.id)
    assert [r.id for r in await admin.faults()] == [b.id]
    with pytest.raises(RuntimeError, match="FAULT_NOT_FOUND"):
        await admin.delete_fault(a.id)
    assert await admin.clear_faults() == 1
    assert await admin.faults() == []


async def _fault_pattern(adapter: PaperVenueAdapter, account: str, count: int) -> list[bool]:
    """Which of ``count`` sequential placements got a 503."""
    pattern: list[bool] = []
    for _ in range(count):
        try:
            await adapter.place_order(order(account, "AAPL", quantity="1"))
            pattern.append(False)
        except VenueUnavailable:
            pattern.append(True)
    return pattern


async def test_rule_seed_makes_the_sequence_reproducible(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="error_503", probability="0.5", seed=7)
    first = await _fault_pattern(adapter, account, 20)
    await admin.clear_faults()
    await admin.add_fault(kind="error_503", probability="0.5", seed=7)
    second = await _fault_pattern(adapter, account, 20)
    assert first == second
    assert any(first) and not all(first)


async def test_venue_fault_seed_makes_the_sequence_reproducible() -> None:
    async def run(seed: int) -> list[bool]:
        async with VenueProcess(extra_args=["--fault-seed", str(seed)]) as venue:
            async with PaperVenueAdmin(venue.base_url) as admin:
                await admin.add_fault(kind="error_503", probability="0.5")
            async with PaperVenueAdapter(venue.base_url) as adapter:
                pattern = await _fault_pattern(adapter, "default", 20)
            async with PaperVenueAdmin(venue.base_url) as admin:
                stats = await admin.stats()
            assert stats.faults_injected[FaultKind.ERROR_503] == sum(pattern)
            return pattern

    first, second, other = await asyncio.gather(run(42), run(42), run(43))
    assert first == second
    assert first != other

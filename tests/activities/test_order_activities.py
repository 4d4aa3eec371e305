"""The order activities against the real venue process, in Temporal's ActivityEnvironment.

They show the retry classification the workflow relies on: business
rejections are non-retryable ApplicationErrors carrying the venue's code;
transient faults are retryable; and a retried call never places twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from temporalio.activity import ActivityCancellationDetails
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from execbatch.activities.order_activities import OrderActivities
from execbatch.core.enums import OrderSide, OrderType, VenueOrderStatus
from execbatch.dtos.execution import ExecutionCommand
from execbatch.dtos.execution.leg_requests import (
    AwaitLegRequest,
    CancelLegRequest,
    PlaceLegRequest,
    RevertLegRequest,
)
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service import VenueProcess
from execbatch.venue.paper.service.process import free_port


@pytest.fixture(scope="module")
async def venue() -> AsyncIterator[VenueProcess]:
    async with VenueProcess() as process:
        yield process


@pytest.fixture
async def admin(venue: VenueProcess) -> AsyncIterator[PaperVenueAdmin]:
    async with PaperVenueAdmin(venue.base_url) as client:
        await client.clear_faults()
        yield client


@pytest.fixture
async def activities(venue: VenueProcess) -> AsyncIterator[OrderActivities]:
    adapter = PaperVenueAdapter(venue.base_url, timeout=1.0)
    yield OrderActivities(adapter)
    await adapter.aclose()


def place_request(symbol: str = "AAPL", **overrides: object) -> PlaceLegRequest:
    fields: dict[str, object] = {
        "command_id": "c1",
        "plan_id": "p1",
        "symbol": symbol,
        "side": OrderSide.BUY,
        "order_type": OrderType.MARKET,
        "quantity": Decimal("10"),
    }
    fields.update(overrides)
    return PlaceLegRequest(
        batch_id=f"batch-{uuid.uuid4().hex[:10]}",
        account="default",
        command=ExecutionCommand.model_validate(fields),
    )


async def test_a_business_rejection_is_non_retryable_with_the_venue_code(
    activities: OrderActivities,
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.place_leg, place_request("NOPRICE"))
    assert caught.value.non_retryable
    assert caught.value.type == "UNKNOWN_SYMBOL"


async def test_insufficient_funds_is_non_retryable(activities: OrderActivities) -> None:
    request = place_request(quantity=Decimal("100000000"))
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.place_leg, request)
    assert (caught.value.type, caught.value.non_retryable) == ("INSUFFICIENT_FUNDS", True)


async def test_a_503_is_retryable(activities: OrderActivities, admin: PaperVenueAdmin) -> None:
    request = place_request()
    await admin.add_fault(kind="error_503", client_order_id_prefix=request.batch_id, max_hits=1)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.place_leg, request)
    assert (caught.value.type, caught.value.non_retryable) == ("VENUE_UNAVAILABLE", False)
    order = await ActivityEnvironment().run(activities.place_leg, request)  # the retry
    assert order.status is VenueOrderStatus.FILLED


async def test_a_venue_that_is_down_is_retryable() -> None:
    adapter = PaperVenueAdapter(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    try:
        with pytest.raises(ApplicationError) as caught:
            await ActivityEnvironment().run(OrderActivities(adapter).place_leg, place_request())
    finally:
        await adapter.aclose()
    assert (caught.value.type, caught.value.non_retryable) == ("VENUE_UNAVAILABLE", False)


async def test_a_hang_past_the_client_timeout_is_retryable_and_places_once(
    activities: OrderActivities, admin: PaperVenueAdmin
) -> None:
    request = place_request()
    await admin.add_fault(
        kind="latency", delay_seconds="2", client_order_id_prefix=request.batch_id, max_hits=1
    )
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.place_leg, request)
    assert not caught.value.non_retryable
    await asyncio.sleep(2.5)  # the slow request completes at the venue meanwhile
    retried = await ActivityEnvironment().run(activities.place_leg, request)
    orders = await admin.orders(account="default")
    assert [o.client_order_id for o in orders].count(retried.client_order_id) == 1


async def test_a_lost_response_then_retry_finds_the_placed_order(
    activities: OrderActivities, admin: PaperVenueAdmin
) -> None:
    request = place_request()
    await admin.add_fault(
        kind="fail_after_place", client_order_id_prefix=request.batch_id, max_hits=1
    )
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(activities.place_leg, request)
    order = await ActivityEnvironment().run(activities.place_leg, request)
    assert order.status is VenueOrderStatus.FILLED
    mine = [
        o
        for o in await admin.orders(account="default")
        if o.client_order_id.startswith(request.batch_id)
    ]
    assert len(mine) == 1


async def test_revert_is_idempotent_and_exact(
    activities: OrderActivities, admin: PaperVenueAdmin
) -> None:
    placed = place_request(symbol="MSFT", side=OrderSide.SELL, quantity=Decimal("0.00000003"))
    await ActivityEnvironment().run(activities.place_leg, placed)
    revert = RevertLegRequest(
        batch_id=placed.batch_id,
        account="default",
        command=placed.command,
        quantity=Decimal("0.00000003"),
    )
    first = await ActivityEnvironment().run(activities.revert_leg, revert)
    second = await ActivityEnvironment().run(activities.revert_leg, revert)  # a retry
    assert first == second
    assert first.reverted_quantity == Decimal("0.00000003")
    mine = [
        o
        for o in await admin.orders(account="default")
        if o.client_order_id.startswith(placed.batch_id)
    ]
    assert sorted(o.client_order_id.rsplit(":", 1)[1] for o in mine) == ["place", "revert-1"]
    assert mine[1].side is OrderSide.BUY


async def test_a_partly_filled_revert_continues_with_a_second_order(
    activities: OrderActivities, admin: PaperVenueAdmin
) -> None:
    placed = place_request(quantity=Decimal("10"))
    await ActivityEnvironment().run(activities.place_leg, placed)
    await admin.add_fault(
        kind="partial_fill",
        fraction="0.3",
        client_order_id_prefix=f"{placed.batch_id}:c1:revert",
        max_hits=1,
    )
    revert = RevertLegRequest(
        batch_id=placed.batch_id, account="default", command=placed.command, quantity=Decimal("10")
    )
    with pytest.raises(ApplicationError) as caught:  # 3 of 10 reverted: retry
        await ActivityEnvironment().run(activities.revert_leg, revert)
    assert caught.value.type == "REVERT_INCOMPLETE" and not caught.value.non_retryable
    report = await ActivityEnvironment().run(activities.revert_leg, revert)
    assert report.reverted_quantity == Decimal("10")
    assert [oid.rsplit(":", 1)[1] for oid in report.order_ids] == ["revert-1", "revert-2"]


@pytest.mark.parametrize(
    ("why", "cancelled_at_venue"),
    [
        (ActivityCancellationDetails(cancel_requested=True), True),  # the workflow asked
        (ActivityCancellationDetails(not_found=True), False),  # run terminated or reset
        (ActivityCancellationDetails(worker_shutdown=True), False),  # another worker follows
    ],
)
async def test_await_leg_cancels_the_resting_order_only_when_the_workflow_asks(
    activities: OrderActivities,
    admin: PaperVenueAdmin,
    why: ActivityCancellationDetails,
    cancelled_at_venue: bool,
) -> None:
    request = place_request(order_type=OrderType.LIMIT, limit_price=Decimal("1"))
    order = await ActivityEnvironment().run(activities.place_leg, request)
    assert order.status is VenueOrderStatus.NEW
    env = ActivityEnvironment()
    task = asyncio.create_task(
        env.run(
            activities.await_leg,
            AwaitLegRequest(client_order_id=order.client_order_id, poll_interval_seconds=0.05),
        )
    )
    await asyncio.sleep(0.3)
    env.cancel(why)
    with pytest.raises(asyncio.CancelledError):
        await task
    expected = VenueOrderStatus.CANCELED if cancelled_at_venue else VenueOrderStatus.NEW
    assert (await admin.order(order.client_order_id)).status is expected


async def test_cancel_fences_an_order_that_was_never_placed(
    activities: OrderActivities, admin: PaperVenueAdmin
) -> None:
    request = place_request()
    client_order_id = f"{request.batch_id}:c1:place"
    fenced = await ActivityEnvironment().run(
        activities.cancel_leg, CancelLegRequest(client_order_id=client_order_id)
    )
    assert fenced.status is VenueOrderStatus.CANCELED
    late = await ActivityEnvironment().run(
        activities.place_leg, request
    )  # the in-flight placement lands
    assert late.status is VenueOrderStatus.CANCELED and late.filled_quantity == 0

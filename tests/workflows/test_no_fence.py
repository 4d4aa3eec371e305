"""Settling legs at a venue without a fence (Alpaca, Binance), on the time-skipping server.

At our paper venue a cancel of an unknown client order id fences it: a
placement still on the wire can never land afterwards, so the cancel's answer
is final. At a venue without a fence the answer is only "not found", and the
placement may still land. The workflow must never read that as "never placed"
while an attempt could land: it looks again once no attempt can land any more
(docs/VENUES.md, "Settling without a fence"). These tests put a placement on
the wire (``Script(hold=True)``) and let it land right after the venue said
"not found", or never; each runs for both kinds of venue.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from execbatch.client.batch_client import BatchClient
from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.execution import ExecutionSettings
from execbatch.runs.start import Submission
from execbatch.venue.port.orders import OrderRequest
from tests.workflows.conftest import load_example, with_policy
from tests.workflows.scripted_venue import ScriptedVenue

Harness = Any
SETTINGS = ExecutionSettings(follow_resting_orders="timer", poll_interval_seconds=1)


def venue(fence: bool, lands: bool) -> ScriptedVenue:
    """AAPL placements stay on the wire; MSFT is rejected (the failed sibling)."""
    scripted = ScriptedVenue(fence=fence, land_after_unknown_cancel=lands)
    return scripted.script("AAPL", hold=True).script("MSFT", reject="INSUFFICIENT_FUNDS")


async def on_the_wire(scripted: ScriptedVenue, client_order_id: str) -> None:
    async with asyncio.timeout(20):
        while client_order_id not in scripted.on_the_wire:
            await asyncio.sleep(0.02)


async def settle_waits(submission: Submission) -> list[timedelta]:
    """The durable timers the run started (how long it waited for landings)."""
    return [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        async for event in submission.handle.fetch_history_events()
        if event.event_type is EventType.EVENT_TYPE_TIMER_STARTED
    ]


@pytest.mark.parametrize("fence", [True, False], ids=["fence", "no-fence"])
async def test_a_placement_landing_after_not_found_is_reverted(
    harness: Harness, fence: bool
) -> None:
    """In flight when its sibling fails; it lands right after the venue said
    "not found". Without a fence the leg is looked up again once no attempt can
    land, found filled and reverted; with one, the landing is refused."""
    scripted = venue(fence=fence, lands=True)
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
    async with harness(venue=scripted, settings=SETTINGS) as h:
        submission = await h.submit(document)
        result = await submission.handle.result()
        waits = await settle_waits(submission)
    batch_id = submission.batch.batch_id
    aapl = placement_order_id(batch_id, "c1")

    assert result.status is BatchStatus.COMPENSATED
    assert await scripted.net("AAPL") == 0  # never a naked leg
    if fence:
        assert result.legs[0].status is LegStatus.CANCELLED  # fenced: it could not land
        assert scripted.orders[aapl].filled_quantity == 0
        assert waits == []
    else:
        assert scripted.landed_after_cancel == [aapl]
        assert result.legs[0].status is LegStatus.COMPENSATED
        assert result.legs[0].compensated_quantity == Decimal(100)
        assert scripted.cancel_calls.count(aapl) == 2  # "not found", then after the wait
        # The timer ends 6 s (attempt) + 5 s (landing) after the attempt was abandoned.
        assert len(waits) == 1 and waits[0] > timedelta(seconds=10)


async def test_a_placement_that_never_lands_is_final_only_after_the_landing_bound(
    harness: Harness,
) -> None:
    scripted = venue(fence=False, lands=False)
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
    async with harness(venue=scripted, settings=SETTINGS) as h:
        submission = await h.submit(document)
        result = await submission.handle.result()
        waits = await settle_waits(submission)
    aapl = placement_order_id(submission.batch.batch_id, "c1")
    scripted.drop(aapl)  # it never reached the venue

    assert result.status is BatchStatus.COMPENSATED
    assert result.legs[0].status is LegStatus.CANCELLED
    assert aapl not in scripted.orders
    assert scripted.cancel_calls.count(aapl) == 2
    assert len(waits) == 1 and waits[0] > timedelta(seconds=10)


@pytest.mark.parametrize("fence", [True, False], ids=["fence", "no-fence"])
async def test_a_placement_in_flight_at_a_cancel(harness: Harness, fence: bool) -> None:
    scripted = ScriptedVenue(fence=fence, land_after_unknown_cancel=True).script("AAPL", hold=True)
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
    async with harness(venue=scripted, settings=SETTINGS) as h:
        submission = await h.submit(document)
        batch_id = submission.batch.batch_id
        await on_the_wire(scripted, placement_order_id(batch_id, "c1"))
        await h.client.request_cancel(batch_id, "desk says stop")
        result = await submission.handle.result()

    assert result.status is BatchStatus.CANCELLED
    assert await scripted.net("AAPL") == 0
    assert await scripted.net("MSFT") == 0
    expected = LegStatus.CANCELLED if fence else LegStatus.COMPENSATED
    assert result.legs[0].status is expected


@pytest.mark.parametrize("fence", [True, False], ids=["fence", "no-fence"])
async def test_a_settlement_after_the_hard_timeout_finds_a_late_landing(
    harness: Harness, fence: bool
) -> None:
    """The closed run's placement was on the wire when Temporal timed it out, and
    lands after the settlement's first look: the settlement finds it and reverts it."""
    scripted = ScriptedVenue(fence=fence, land_after_unknown_cancel=True)
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, 2)
    # A short placement budget (2 attempts of 2 s) keeps the waits short in real time.
    quick = SETTINGS.model_copy(update={"placement_attempts": 2, "venue_call_timeout_seconds": 2})
    async with harness(venue=scripted, settings=quick) as h:
        orphan = BatchClient(h.env.client, "nobody-polls-this", settings=quick)
        submission = await orphan.submit_document(document)
        batch_id = submission.batch.batch_id
        aapl = placement_order_id(batch_id, "c1")
        command = document.commands[0]
        request = OrderRequest(
            client_order_id=aapl,
            account="default",
            symbol=command.symbol,
            side=command.side,
            order_type=command.order_type,
            quantity=command.quantity,
        )
        scripted.on_the_wire[aapl] = (request, asyncio.Event())  # sent by the closed run
        with pytest.raises(Exception):  # noqa: B017 - Temporal times the run out
            await submission.handle.result()
        recovery = await h.client.recover(batch_id)
        result = await recovery.handle.result()
        waits = await settle_waits(recovery)

    assert result.status is BatchStatus.TIMED_OUT
    assert await scripted.net("AAPL") == 0
    if fence:
        assert result.legs[0].status is LegStatus.CANCELLED
        assert waits == []
    else:
        assert result.legs[0].status is LegStatus.COMPENSATED
        # The closed run's attempts and reverts are waited out before looking again.
        assert waits and all(wait > timedelta(0) for wait in waits)


async def test_a_cancel_during_the_look_up_after_the_landing_wait_leaves_no_leg_flagged(
    harness: Harness,
) -> None:
    """MSFT is rejected; AAPL was on the wire and the venue said "not found", so the
    run waits out the landing bound and looks again. A cancel arriving during that
    second look-up (a halt's sweep, in a chaos run at Binance) cut it short; the leg
    kept "could not cancel, state unknown" and its whole quantity as exposed although
    the wind-down's own look-up after it found nothing, and the batch ended
    NEEDS_ATTENTION. The venue's last answer is the leg's state: nothing is exposed."""
    scripted = venue(fence=False, lands=False)
    gate = asyncio.Event()
    scripted.cancel_gate = (2, gate)
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
    async with harness(venue=scripted, settings=SETTINGS) as h:
        submission = await h.submit(document)
        batch_id = submission.batch.batch_id
        aapl = placement_order_id(batch_id, "c1")
        result_task = asyncio.create_task(submission.handle.result())  # skips the wait
        async with asyncio.timeout(30):
            while scripted.cancel_calls.count(aapl) < 2:
                await asyncio.sleep(0.02)
        await h.client.request_cancel(batch_id, "trading HALTED: desk halt")
        gate.set()
        result = await result_task
    scripted.drop(aapl)  # it never reached the venue

    assert result.status is BatchStatus.CANCELLED, result.reason
    assert result.legs[0].status is LegStatus.CANCELLED
    assert result.legs[0].exposed_quantity == 0
    assert result.legs[0].error is None
    assert scripted.cancel_calls.count(aapl) >= 3  # the wind-down looked again
    assert aapl not in scripted.orders

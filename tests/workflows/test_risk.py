"""The pre-trade risk gate and the kill switch, per mode, on the time-skipping server."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from execbatch.activities.risk_activities import TradingStateReads, read_state
from execbatch.client.trading import TradingControl, TradingRefused
from execbatch.core.enums import (
    BatchExecutionMode,
    BatchStatus,
    LegStatus,
    OrderSide,
    VenueOrderStatus,
)
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.execution import ExecutionSettings
from execbatch.risk.limits import AccountLimits, RiskLimits
from execbatch.risk.states import (
    DEFAULT_QUIET_SECONDS,
    STATE_MEMO,
    STATE_READ_REUSE_SECONDS,
    TradingState,
    TradingStateView,
    scope_of,
    trading_state_workflow_id,
)
from execbatch.worker import build_throttle_workers
from tests.workflows.conftest import load_example, with_policy
from tests.workflows.scripted_venue import ScriptedVenue

Harness = Any
D = Decimal


def limits(**kw: Any) -> RiskLimits:
    return RiskLimits(default=AccountLimits(**kw))


def statuses(result: Any) -> list[str]:
    return [leg.status.value for leg in result.legs]


async def test_coordinated_breach_refuses_the_whole_batch_naming_every_leg(
    harness: Harness,
) -> None:
    # pair_trade: BUY 100 AAPL (10000 at 100), SELL 46 MSFT (4600)
    async with harness(limits=limits(max_order_notional=D(4000))) as h:
        result = await h.run(load_example("pair_trade"))
    assert result.status is BatchStatus.REJECTED_BY_RISK
    assert statuses(result) == ["REJECTED", "REJECTED"]
    assert result.reason == (
        "refused by risk: leg c1: max_order_notional 10000 > 4000; "
        "leg c2: max_order_notional 4600 > 4000"
    )
    assert result.legs[0].error == "RISK_LIMIT: max_order_notional 10000 > 4000"
    assert h.venue.place_calls == []


async def test_coordinated_one_breach_skips_the_other_legs(harness: Harness) -> None:
    async with harness(limits=limits(max_position=D(50))) as h:
        result = await h.run(load_example("pair_trade"))
    assert result.status is BatchStatus.REJECTED_BY_RISK
    assert statuses(result) == ["REJECTED", "SKIPPED"]
    assert result.reason == "refused by risk: leg c1: max_position AAPL 100 > 50"
    assert h.venue.place_calls == []


async def test_independent_refuses_only_the_breaching_legs(harness: Harness) -> None:
    # flash_crash_close: SELL 50 AAPL, SELL 120 NVDA, SELL 30 TSLA
    async with harness(limits=limits(refused_symbols={"NVDA"}, max_batch_notional=D(8000))) as h:
        result = await h.run(load_example("flash_crash_close"))
    assert statuses(result) == ["FILLED", "REJECTED", "FILLED"]
    assert result.legs[1].error == "RISK_LIMIT: refused_symbols: NVDA is refused"
    assert result.status is BatchStatus.PARTIALLY_COMPLETED
    assert sorted(c.split(":")[1] for c in h.venue.place_calls) == ["c1", "c3"]


async def test_independent_batch_notional_refuses_the_legs_beyond_it(harness: Harness) -> None:
    async with harness(limits=limits(max_batch_notional=D(8000))) as h:
        result = await h.run(load_example("flash_crash_close"))
    # 5000 fits, 5000 + 12000 does not, 5000 + 3000 does
    assert statuses(result) == ["FILLED", "REJECTED", "FILLED"]
    assert result.legs[1].error == "RISK_LIMIT: max_batch_notional 17000 > 8000"


async def test_sequential_breach_discovered_mid_batch_against_positions_then(
    harness: Harness,
) -> None:
    # rotation: SELL 20 SPY, then BUY 23 QQQ. While c1 is being placed, the account
    # acquires 10 QQQ elsewhere: c2 is checked against 10 + 23 = 33 > 30.
    venue = ScriptedVenue().script("SPY", delay=1.0)
    async with harness(venue=venue, limits=limits(max_position=D(30))) as h:
        submission = await h.submit(load_example("rotation"))
        while not venue.place_calls:
            await asyncio.sleep(0.05)
        venue.initial_positions["QQQ"] = D(10)
        result = await submission.handle.result()
    assert result.status is BatchStatus.STOPPED
    assert statuses(result) == ["FILLED", "REJECTED"]
    assert result.reason == "refused by risk: leg c2: max_position QQQ 33 > 30"
    assert [c.split(":")[1] for c in venue.place_calls] == ["c1"]


async def test_reducing_lets_through_only_legs_that_reduce(harness: Harness) -> None:
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue) as h:
        control = TradingControl(h.env.client, h.queue)
        await control.set_state(TradingState.REDUCING, "test", who="tester", quiet_seconds=0)
        with pytest.raises(TradingRefused, match="REDUCING"):
            await control.refuse_if_not_active("default")
        result = await h.run(load_example("flash_crash_close"))
        view = await control.view()
    assert statuses(result) == ["FILLED", "REJECTED", "REJECTED"]
    assert "does not reduce the position of 0" in (result.legs[1].error or "")
    assert [(c.state, c.who, c.reason) for c in view.history] == [
        (TradingState.REDUCING, "tester", "test")
    ]


async def test_halted_account_refuses_new_batches(harness: Harness) -> None:
    async with harness() as h:
        control = TradingControl(h.env.client, h.queue)
        ack = await control.set_state(
            TradingState.HALTED, "fat finger", account="default", quiet_seconds=0
        )
        assert ack.view.scope == "account:default"
        with pytest.raises(TradingRefused, match="HALTED"):
            await control.refuse_if_not_active("default")
        await control.refuse_if_not_active("other")  # another account trades on
        result = await h.run(load_example("pair_trade"))
        assert result.status is BatchStatus.REJECTED_BY_RISK
        assert "trading state: HALTED (account:default HALTED: fat finger)" in (result.reason or "")
        await control.set_state(TradingState.ACTIVE, "fixed", account="default")
        # read before the next run: a time-skipping server with nothing else to wait
        # for skips an idle entity to its (test server's default) execution timeout
        view = await control.view("default")
        after = await h.run(load_example("pair_trade"))
        assert after.status is BatchStatus.COMPLETED
    # (the time-skipping server may skip an idle entity to its default execution
    # timeout while a batch runs, so only the last change is checked here)
    assert [(c.state, c.reason) for c in ack.view.history] == [(TradingState.HALTED, "fat finger")]
    assert view.state is TradingState.ACTIVE
    assert view.last_change is not None and view.last_change.reason == "fixed"


async def test_placements_read_the_state_from_the_memo_written_before_the_ack(
    harness: Harness,
) -> None:
    """What a placement attempt reads (a describe, no query) is the changed state as
    soon as ``set_state`` has returned, with its last change; the audit keeps all."""
    async with harness() as h:
        control = TradingControl(h.env.client, h.queue)
        await control.set_state(TradingState.REDUCING, "trim", account="default", quiet_seconds=0)
        await control.set_state(TradingState.HALTED, "stop", account="default", quiet_seconds=0)
        handle = h.env.client.get_workflow_handle(
            trading_state_workflow_id(h.queue, scope_of("default"))
        )
        description = await handle.describe()
        memo = await description.memo_value(STATE_MEMO, type_hint=TradingStateView)
        read = await read_state(h.env.client, h.queue, scope_of("default"))
        audit = await control.view("default")
    assert memo.state is TradingState.HALTED and read == memo
    assert [c.reason for c in memo.history] == ["stop"]
    assert [c.reason for c in audit.history] == ["trim", "stop"]


LOST_ANSWER = ExecutionSettings(venue_call_timeout_seconds=5.0, poll_interval_seconds=0.2)
"""Settings for a held placement: its attempt outlives the test's halt."""


async def held_placement(venue: ScriptedVenue) -> str:
    """The client order id of the placement waiting on the wire (``hold=True``)."""
    while not venue.on_the_wire:
        await asyncio.sleep(0.02)
    (held,) = venue.on_the_wire
    return held


async def halt_then_land(h: Harness, venue: ScriptedVenue, held: str) -> None:
    """Halt (acknowledged at once), then let the held order land at the venue with its
    answer lost (``lose_answer``): the attempt fails, and its retry meets HALTED."""
    control = TradingControl(h.env.client, h.queue)
    await control.set_state(TradingState.HALTED, "mid-flight", quiet_seconds=0)
    venue.land(held)


async def test_a_halt_refusing_a_retry_after_a_send_that_landed_leaves_no_naked_leg(
    harness: Harness,
) -> None:
    """The first attempt's order lands but its answer is lost; the halt comes before
    the retry, which the gate refuses. The refusal is not the venue's answer: the leg
    is settled at the venue, found FILLED, and the pair trade reverts both fills."""
    venue = ScriptedVenue().script("AAPL", hold=True, lose_answer=True)
    async with harness(venue=venue, settings=LOST_ANSWER) as h:
        submission = await h.submit(load_example("pair_trade"))
        aapl = await held_placement(venue)
        await halt_then_land(h, venue, aapl)
        result = await submission.handle.result()
    legs = {leg.command_id: leg for leg in result.legs}
    assert await venue.net("AAPL") == 0 and await venue.net("MSFT") == 0
    assert result.status is BatchStatus.COMPENSATED, result.reason
    assert legs["c1"].compensated_quantity == legs["c1"].filled_quantity == D(100)
    assert "HALTED" in (legs["c1"].error or "")
    assert venue.place_calls.count(aapl) == 1  # the retry was refused, not sent


async def test_sequential_stopped_by_the_gate_settles_the_legs_a_lost_task_may_have_placed(
    harness: Harness,
) -> None:
    """A lost workflow task may have placed c1 *and* c2 before its re-run, reading
    HALTED, stops at c1. c2's order (seeded at the venue as that lost task would have
    left it) must be found and reported, not reported SKIPPED with 23 QQQ bought."""
    venue = ScriptedVenue().script("SPY", hold=True, lose_answer=True)
    async with harness(venue=venue, settings=LOST_ANSWER) as h:
        submission = await h.submit(load_example("rotation"))
        spy = await held_placement(venue)
        qqq_request, _ = venue.on_the_wire[spy]
        qqq = placement_order_id(submission.batch.batch_id, "c2")
        venue.orders[qqq] = venue._new(
            qqq_request.model_copy(
                update={
                    "client_order_id": qqq,
                    "symbol": "QQQ",
                    "side": OrderSide.BUY,
                    "quantity": D(23),
                }
            ),
            VenueOrderStatus.FILLED,
            D(23),
        )
        await halt_then_land(h, venue, spy)
        result = await submission.handle.result()
    legs = {leg.command_id: leg for leg in result.legs}
    assert result.status is BatchStatus.STOPPED, result.reason
    assert legs["c1"].filled_quantity == D(20) and "HALTED" in (legs["c1"].error or "")
    assert legs["c2"].status is LegStatus.FILLED and legs["c2"].filled_quantity == D(23)
    assert venue.place_calls.count(qqq) == 0  # found by settling, never sent by this run


SETTINGS = ExecutionSettings(
    venue_call_timeout_seconds=1.0, poll_interval_seconds=0.2, heartbeat_timeout_seconds=1
)


async def test_halt_with_batches_of_every_mode_in_flight_places_nothing_after_the_ack(
    harness: Harness,
) -> None:
    """Placements take 0.3 s at the venue, legs rest or wait their turn; the halt comes
    while some are on the wire. After its acknowledgement the venue sees only cancels
    and reverts."""
    venue = ScriptedVenue()
    for symbol in ("AAPL", "NVDA", "TSLA", "SPY", "QQQ"):
        venue.script(symbol, delay=0.3)
    venue.script("MSFT", rest=True, delay=0.3)
    async with harness(venue=venue, settings=SETTINGS) as h:
        control = TradingControl(h.env.client, h.queue)
        submissions = []
        for _ in range(3):
            for name, mode in (
                ("flash_crash_close", BatchExecutionMode.INDEPENDENT),
                ("pair_trade", BatchExecutionMode.COORDINATED),
                ("rotation", BatchExecutionMode.SEQUENTIAL),
            ):
                submissions.append(await h.submit(with_policy(load_example(name), mode, 120)))
        while len(venue.place_calls) < 4:
            await asyncio.sleep(0.02)
        # quiet period: the placement attempt's start-to-close (1 s) plus slack
        ack = await control.set_state(TradingState.HALTED, "halt test", quiet_seconds=1.5)
        mark = len(venue.log)
        for submission in submissions:  # what `execbatch halt` does after the ack
            with contextlib.suppress(WorkflowUpdateFailedError, RPCError):  # already final
                await submission.handle.execute_update("cancel", "trading HALTED: halt test")
        results = [await s.handle.result() for s in submissions]
    after = venue.log[mark:]
    placed_after = [oid for _, kind, oid in after if kind == "place" and ":revert-" not in oid]
    print(f"\nhalt recorded {ack.recorded_at}, acknowledged {ack.acknowledged_at}")
    start = max(0, mark - 6)
    for index, (at, kind, oid) in enumerate(venue.log[start : mark + 8], start):
        if index == mark:
            print("---------- halt acknowledged ----------")
        print(f"{at - venue.log[0][0]:7.3f}s {kind:6} {oid}")
    assert placed_after == []
    assert any(kind == "place" for _, kind, _ in venue.log[:mark])
    refused = [
        leg
        for r in results
        for leg in r.legs
        if leg.error and ("TRADING_HALTED" in leg.error or "HALTED" in leg.error)
    ]
    assert refused, "some legs were refused by the halt"
    for r in results:
        assert r.status.is_final
        assert all(leg.exposed_quantity == 0 for leg in r.legs)
        if r.mode is BatchExecutionMode.COORDINATED:
            # A batch whose pre-trade check ran after the halt is refused whole.
            assert r.status in (
                BatchStatus.COMPENSATED,
                BatchStatus.CANCELLED,
                BatchStatus.REJECTED_BY_RISK,
            )
            assert all(
                leg.status in (LegStatus.COMPENSATED, LegStatus.CANCELLED, LegStatus.REJECTED)
                or leg.filled_quantity == 0
                for leg in r.legs
            )


async def test_halt_during_a_coordinated_wind_down_still_compensates(harness: Harness) -> None:
    # c1 AAPL fills after 0.5 s; c2 MSFT is rejected after 0.8 s: the batch winds down
    # and reverts AAPL (another 0.5 s at the venue) while trading is being halted.
    venue = (
        ScriptedVenue().script("AAPL", delay=0.5).script("MSFT", delay=0.8, reject="INVALID_ORDER")
    )
    async with harness(venue=venue, settings=SETTINGS) as h:
        control = TradingControl(h.env.client, h.queue)
        submission = await h.submit(load_example("pair_trade"))
        while not any(":revert-" in oid for oid in venue.place_calls):
            await asyncio.sleep(0.02)
        await control.set_state(TradingState.HALTED, "during wind-down", quiet_seconds=0)
        result = await submission.handle.result()
    assert result.status is BatchStatus.COMPENSATED
    assert statuses(result) == ["COMPENSATED", "REJECTED"]
    assert result.legs[0].compensated_quantity == D(100)


async def test_throttled_account_places_through_its_rate_limited_task_queue(
    harness: Harness,
) -> None:
    """The pacing itself is Temporal's (a task-queue rate limit); the benchmark times it."""
    throttled = limits(max_orders_per_second=5.0)
    venue = ScriptedVenue()
    async with harness(venue=venue, limits=throttled) as h:
        [worker] = build_throttle_workers(h.env.client, h.queue, venue, throttled)
        async with worker:
            result = await h.run(load_example("flash_crash_close"))
    assert result.status is BatchStatus.COMPLETED
    assert worker.task_queue == f"{h.queue}:placements:*"


async def test_a_workers_state_read_is_reused_within_its_window_and_asked_again_after(
    harness: Harness,
) -> None:
    """A worker reuses a trading-state read (``TradingStateReads``); the default quiet
    period of a halt covers that window on top of a placement attempt."""
    assert (
        ExecutionSettings().venue_call_timeout_seconds + 2 + STATE_READ_REUSE_SECONDS
    ) <= DEFAULT_QUIET_SECONDS
    async with harness() as h:
        control = TradingControl(h.env.client, h.queue)
        reads = TradingStateReads(h.env.client, h.queue, reuse_seconds=60)
        assert (await reads.effective("default"))[0] is TradingState.ACTIVE
        await control.set_state(TradingState.HALTED, "reuse", account="default", quiet_seconds=0)
        # within the window: the read from before the halt (what the quiet period covers)
        assert (await reads.effective("default"))[0] is TradingState.ACTIVE
        assert (await TradingStateReads(h.env.client, h.queue, 0).effective("default")) == (
            TradingState.HALTED,
            "account:default HALTED: reuse",
        )

        short = TradingStateReads(h.env.client, h.queue, reuse_seconds=0.3)
        assert (await short.effective("default"))[0] is TradingState.HALTED
        await control.set_state(TradingState.ACTIVE, "resume", account="default", quiet_seconds=0)
        await asyncio.sleep(0.35)  # real time: the window is the worker's monotonic clock
        assert (await short.effective("default"))[0] is TradingState.ACTIVE


async def test_a_cancel_cutting_short_the_gates_look_up_settles_the_leg(
    harness: Harness,
) -> None:
    """SEQUENTIAL, HALTED: the gate refuses c1 and, since the task that checks it may be
    the re-run of one that placed it, asks the venue; a cancel (a halt's sweep) comes
    while it asks. The question was cut short, so the leg is settled at the venue (its
    id fenced here), never reported SKIPPED as if nothing could have been sent (a chaos
    run: a look-up answered 503, then the cancel, and no one asked again)."""
    venue = ScriptedVenue()
    venue.get_gate = asyncio.Event()
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.SEQUENTIAL, None)
    async with harness(venue=venue) as h:
        control = TradingControl(h.env.client, h.queue)
        await control.set_state(TradingState.HALTED, "desk", account="default", quiet_seconds=0)
        submission = await h.submit(document)
        batch_id = submission.batch.batch_id
        c1 = placement_order_id(batch_id, "c1")
        async with asyncio.timeout(30):
            while c1 not in venue.get_calls:
                await asyncio.sleep(0.02)
        # Delivered once the task holding the look-up is renewed (80 % of its timeout).
        await h.client.request_cancel(batch_id, "trading HALTED: desk")
        venue.get_gate.set()
        result = await submission.handle.result()
    legs = {leg.command_id: leg for leg in result.legs}
    assert result.status is BatchStatus.CANCELLED, result.reason
    assert c1 in venue.cancel_calls  # settled: asked again, its id fenced
    assert legs["c1"].status is LegStatus.CANCELLED and legs["c1"].filled_quantity == 0
    assert venue.place_calls == []

"""The testing kit's behaviour: isolation, inputs, venue scripting, time and cancels."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.core.enums import (
    BatchExecutionMode,
    BatchStatus,
    LegStatus,
    OrderType,
    VenueOrderStatus,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.testing import (
    TEST_SETTINGS,
    BatchTestEnvironment,
    BatchTestKit,
    DirectiveIdReused,
    TimeHeldByActivity,
    with_policy,
)
from execbatch.testing.clock import pending_activities

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def resting_pair(kit: BatchTestKit) -> DirectiveDocument:
    """The pair trade with its MSFT leg as a SELL limit far above the price: it rests."""
    document = kit.load(EXAMPLES / "pair_trade.json")
    aapl, msft = document.commands
    msft = msft.model_copy(update={"order_type": OrderType.LIMIT, "limit_price": Decimal("500")})
    return document.model_copy(update={"commands": (aapl, msft)})


# ---------------------------------------------------------------- isolation and inputs


async def test_each_kit_starts_clean(batch_test_environment: BatchTestEnvironment) -> None:
    async with BatchTestKit.open(batch_test_environment) as first:
        await first.run(first.load(EXAMPLES / "pair_trade.json"))
        await first.set_prices({"AAPL": "1.00"})
        await first.script.unavailable("AAPL", times=None)
        assert await first.net("AAPL") == 100
    async with BatchTestKit.open(batch_test_environment) as second:
        assert second.task_queue != first.task_queue
        assert await second.positions() == {}
        assert await second.script.rules() == []
        assert (await second.venue.prices())["AAPL"] == Decimal("190.00")


async def test_a_directive_id_from_an_earlier_test_is_refused(
    batch_test_environment: BatchTestEnvironment,
) -> None:
    async with BatchTestKit.open(batch_test_environment) as first:
        document = first.load(EXAMPLES / "rotation.json")
        await first.run(document)
        again = await first.submit(document)  # the same test may resubmit: it attaches
        assert again.attached
    async with BatchTestKit.open(batch_test_environment) as second:
        with pytest.raises(DirectiveIdReused, match=r"kit\.unique"):
            await second.run(document)
        other_leg = document.commands[0].model_copy(update={"quantity": Decimal("7")})
        changed = document.model_copy(update={"commands": (other_leg, *document.commands[1:])})
        with pytest.raises(DirectiveIdReused, match=r"kit\.unique"):  # other content too
            await second.run(changed)
        assert (await second.run(second.unique(document))).status is BatchStatus.COMPLETED


async def test_run_accepts_a_path_and_dtos(batch_kit: BatchTestKit, tmp_path: Path) -> None:
    document = batch_kit.load(EXAMPLES / "flash_crash_close.json")
    from_dtos = await batch_kit.run((document.directive, document.commands))
    assert from_dtos.status is BatchStatus.COMPLETED
    path = tmp_path / "batch.json"
    path.write_text(batch_kit.unique(document).to_json())
    from_path = await batch_kit.run(str(path))
    assert from_path.status is BatchStatus.COMPLETED
    assert from_path.batch_id != from_dtos.batch_id


async def test_orders_and_positions_come_from_the_venue(batch_kit: BatchTestKit) -> None:
    document = batch_kit.load(EXAMPLES / "rotation.json")
    await batch_kit.run(document)
    orders = await batch_kit.orders()
    assert [(o.symbol, o.side.value, o.status) for o in orders] == [
        ("SPY", "SELL", VenueOrderStatus.FILLED),
        ("QQQ", "BUY", VenueOrderStatus.FILLED),
    ]
    assert await batch_kit.positions() == {"SPY": Decimal("-20"), "QQQ": Decimal("23")}
    assert await batch_kit.net("NVDA") == 0


# ---------------------------------------------------------------- venue scripting


async def test_partial_fill_of_a_coordinated_leg_is_reverted_exactly(
    batch_kit: BatchTestKit,
) -> None:
    document = batch_kit.load(EXAMPLES / "pair_trade.json")
    await batch_kit.script.partial_fill(document=document, leg=2, fraction="0.5")
    result = await batch_kit.run(document)
    assert result.status is BatchStatus.COMPENSATED
    assert [leg.compensated_quantity for leg in result.legs] == [Decimal(100), Decimal(23)]
    assert await batch_kit.positions() == {"AAPL": 0, "MSFT": 0}


async def test_a_lost_answer_is_retried_without_placing_twice(batch_kit: BatchTestKit) -> None:
    document = batch_kit.load(EXAMPLES / "pair_trade.json")
    rule = await batch_kit.script.lose_response(document=document, leg=1)
    result = await batch_kit.run(document)
    assert result.status is BatchStatus.COMPLETED
    assert [r.hits for r in await batch_kit.script.rules() if r.id == rule.id] == [1]
    assert len(await batch_kit.orders(symbol="AAPL")) == 1
    assert await batch_kit.net("AAPL") == 100


async def test_an_unavailable_venue_is_retried(batch_kit: BatchTestKit) -> None:
    document = batch_kit.load(EXAMPLES / "rotation.json")
    await batch_kit.script.unavailable("QQQ", times=2)
    result = await batch_kit.run(document)
    assert result.status is BatchStatus.COMPLETED
    assert [rule.hits for rule in await batch_kit.script.rules()] == [2]


async def test_unavailable_past_the_placement_attempts_fails_the_leg(
    batch_kit: BatchTestKit,
) -> None:
    document = batch_kit.load(EXAMPLES / "pair_trade.json")
    await batch_kit.script.unavailable("MSFT", times=None)
    settings = TEST_SETTINGS.model_copy(update={"placement_attempts": 2})
    result = await batch_kit.run(document, settings=settings)
    assert result.status is BatchStatus.COMPENSATED
    assert result.legs[1].status is LegStatus.CANCELLED  # fenced: never placed
    assert await batch_kit.net("AAPL") == 0


async def test_a_slow_venue_past_the_call_timeout_still_places_once(
    batch_kit: BatchTestKit,
) -> None:
    document = batch_kit.load(EXAMPLES / "rotation.json")
    await batch_kit.script.slow("SPY", seconds=1.5, times=1)
    settings = TEST_SETTINGS.model_copy(update={"venue_call_timeout_seconds": 0.5})
    result = await batch_kit.run(document, settings=settings)
    assert result.status is BatchStatus.COMPLETED
    assert len(await batch_kit.orders(symbol="SPY")) == 1
    assert await batch_kit.net("SPY") == -20


async def test_a_leg_needs_its_document(batch_kit: BatchTestKit) -> None:
    document = batch_kit.load(EXAMPLES / "pair_trade.json")
    with pytest.raises(ValueError, match="needs document"):
        await batch_kit.script.reject(leg=1)
    with pytest.raises(ValueError, match=r"legs 1\.\.2"):
        await batch_kit.script.reject(document=document, leg=3)


# ---------------------------------------------------------------- prices, time, cancel


async def test_a_resting_limit_fills_when_the_price_moves(batch_kit: BatchTestKit) -> None:
    document = resting_pair(batch_kit)
    submission = await batch_kit.submit(document)
    resting = await batch_kit.wait_for_order(document, leg=2)
    assert resting.status is VenueOrderStatus.NEW
    await batch_kit.set_prices({"MSFT": "505.00"})
    result = await batch_kit.result(submission.batch.batch_id)
    assert result.status is BatchStatus.COMPLETED
    assert result.legs[1].avg_fill_price == Decimal("505.00")


async def test_sleep_skips_time_when_no_activity_runs(batch_kit: BatchTestKit) -> None:
    await batch_kit.run(batch_kit.load(EXAMPLES / "rotation.json"))
    before = await batch_kit.clock.now()
    await batch_kit.sleep(timedelta(hours=5))
    assert await batch_kit.clock.now() - before >= timedelta(hours=5)


async def test_sleep_skips_minutes_while_a_limit_order_rests(batch_kit: BatchTestKit) -> None:
    document = with_policy(resting_pair(batch_kit), timeout_seconds=3600)
    submission = await batch_kit.submit(document)
    await batch_kit.wait_for_order(document, leg=2)
    before = await batch_kit.clock.now()
    await batch_kit.sleep(timedelta(minutes=5))  # instant: the kit follows orders with timers
    assert await batch_kit.clock.now() - before >= timedelta(minutes=5)
    assert (await batch_kit.status(submission.batch.batch_id)).status is BatchStatus.RUNNING
    await batch_kit.set_prices({"MSFT": "505"})  # the SELL limit at 500 becomes marketable
    await batch_kit.sleep(timedelta(minutes=1))
    result = await batch_kit.result(submission.batch.batch_id)
    assert result.status is BatchStatus.COMPLETED


async def test_a_ten_minute_deadline_is_skipped_to_while_a_limit_rests(
    batch_kit: BatchTestKit,
) -> None:
    document = with_policy(resting_pair(batch_kit), timeout_seconds=600)
    result = await batch_kit.run(document)  # awaiting the result lets the server skip
    assert result.status is BatchStatus.TIMED_OUT
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.CANCELLED]
    assert await batch_kit.net("AAPL") == 0


async def test_sleep_refuses_to_skip_while_a_heartbeating_follower_runs(
    batch_kit: BatchTestKit,
) -> None:
    document = resting_pair(batch_kit)
    production_like = ExecutionSettings(
        poll_interval_seconds=0.2, heartbeat_timeout_seconds=1, follow_resting_orders="heartbeat"
    )
    submission = await batch_kit.submit(document, settings=production_like)
    await batch_kit.wait_for_order(document, leg=2)
    # The order is at the venue; wait until the workflow follows it with await_leg.
    async with asyncio.timeout(15):
        while not any("await_leg" in a for a in await pending_activities([submission.handle])):
            await asyncio.sleep(0.05)
    with pytest.raises(TimeHeldByActivity, match="await_leg"):
        await batch_kit.sleep(timedelta(minutes=5))


async def test_deadline_while_a_limit_rests_times_out_and_compensates(
    batch_kit: BatchTestKit,
) -> None:
    # The resting order's activity holds the server's clock: this deadline passes in
    # real time (5 s timeout - 2 s wind-down margin = 3 s), so keep it short.
    document = with_policy(resting_pair(batch_kit), timeout_seconds=5)
    fast = ExecutionSettings(
        wind_down_margin_seconds=2, poll_interval_seconds=0.2, heartbeat_timeout_seconds=1
    )
    result = await batch_kit.run(document, settings=fast)
    assert result.status is BatchStatus.TIMED_OUT
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.CANCELLED]
    assert (await batch_kit.order(document, leg=2)).status is VenueOrderStatus.CANCELED  # type: ignore[union-attr]
    assert await batch_kit.net("AAPL") == 0


async def test_cancel_winds_a_resting_batch_down(batch_kit: BatchTestKit) -> None:
    document = with_policy(resting_pair(batch_kit), mode=BatchExecutionMode.COORDINATED)
    submission = await batch_kit.submit(document)
    await batch_kit.wait_for_order(document, leg=2)
    result = await batch_kit.cancel(submission.batch.batch_id, "desk closed")
    assert result.status is BatchStatus.CANCELLED
    assert result.reason == "cancelled: desk closed"
    assert await batch_kit.net("AAPL") == 0
    assert await batch_kit.net("MSFT") == 0


async def test_a_batch_still_running_when_its_kit_closes_is_wound_down(
    batch_test_environment: BatchTestEnvironment,
) -> None:
    async with BatchTestKit.open(batch_test_environment) as kit:
        document = resting_pair(kit)
        submission = await kit.submit(document)
        await kit.wait_for_order(document, leg=2)
    result = await submission.handle.result()
    assert result.status is BatchStatus.CANCELLED
    assert result.reason == "cancelled through Temporal"
    positions = await batch_test_environment.venue.positions(kit.account)
    assert all(position.quantity == 0 for position in positions)


async def test_start_brings_up_its_own_environment() -> None:
    async with BatchTestKit.start() as kit:
        result = await kit.run(kit.load(EXAMPLES / "rotation.json"))
        assert result.status is BatchStatus.COMPLETED
        assert await kit.net("QQQ") == 23

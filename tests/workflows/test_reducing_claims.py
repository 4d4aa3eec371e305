"""Reducing claims (docs/RISK.md): in REDUCING, concurrent batches of one account
together never reduce a position past flat, on the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.worker import Replayer

from execbatch.client.trading import TradingControl, TradingRefused
from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus, OrderSide, OrderType
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.risk.claims import ClaimAnswer, ClaimRequest, ReductionClaim, ReleaseRequest
from execbatch.risk.states import TradingState, scope_of, trading_state_workflow_id
from execbatch.temporal.converter import build_data_converter
from execbatch.venue.port.orders import OrderRequest
from execbatch.workflows.trading_state import TradingStateWorkflow
from tests.workflows.scripted_venue import ScriptedVenue

Harness = Any
D = Decimal


def document(
    *legs: tuple[str, str, str],
    mode: BatchExecutionMode = BatchExecutionMode.INDEPENDENT,
    timeout_seconds: int | None = None,
) -> DirectiveDocument:
    """A directive of market legs ``(side, quantity, symbol)``, with a fresh id."""
    policy: dict[str, object] = {"mode": mode.value}
    if timeout_seconds is not None:
        policy["timeout_seconds"] = timeout_seconds
    return DirectiveDocument.model_validate(
        {
            "directive": {
                "directive_id": f"reduce-{uuid.uuid4().hex[:8]}",
                "strategy_id": "flatten",
                "target_plan_ids": [f"p{i}" for i in range(len(legs))],
                "execution_policy": policy,
            },
            "commands": [
                {
                    "command_id": f"c{i + 1}",
                    "plan_id": f"p{i}",
                    "symbol": symbol,
                    "side": side,
                    "order_type": "MARKET",
                    "quantity": quantity,
                }
                for i, (side, quantity, symbol) in enumerate(legs)
            ],
        }
    )


async def reducing(h: Harness, account: str | None = "default") -> TradingControl:
    """REDUCING now (no quiet period). Claims wait on one another and on venue reads the
    time-skipping server cannot see (local activities): these tests run in real time
    (``auto_time_skipping_disabled``), or the server would skip past their timeouts."""
    control = TradingControl(h.env.client, h.queue)
    await control.set_state(TradingState.REDUCING, "flatten", account=account, quiet_seconds=0)
    return control


async def test_concurrent_batches_together_never_reduce_past_flat(harness: Harness) -> None:
    """Long 100 AAPL, five batches selling 30 each at once, their placements slow at
    the venue: three claims fit (90), the other two are refused before anything is
    placed, naming the symbol, the position and what is claimed; the account stays
    long 10 and no claim is left once the batches have ended."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)}).script("AAPL", delay=0.5)
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = await reducing(h)
            docs = [document(("SELL", "30", "AAPL")) for _ in range(5)]
            results = await asyncio.gather(*(h.run(d) for d in docs))
            left = await control.claims("default")

    statuses = sorted(r.status.value for r in results)
    assert statuses == ["COMPLETED"] * 3 + ["REJECTED_BY_RISK"] * 2
    assert len(venue.place_calls) == 3
    assert await venue.net("AAPL") == 10
    refused = [r for r in results if r.status is BatchStatus.REJECTED_BY_RISK]
    for result in refused:
        [leg] = result.legs
        assert leg.status is LegStatus.REJECTED
        assert leg.error is not None and leg.error.startswith(
            "RISK_LIMIT: trading state: REDUCING: "
        )
        assert "SELL 30 AAPL would reduce past flat: position" in leg.error
        assert "already claimed by reducing orders in flight" in leg.error
    assert left == ()


async def test_a_claim_counts_only_what_its_order_may_still_fill(harness: Harness) -> None:
    """Claims of orders that filled are in the position, not counted twice: one batch
    after another sells the whole position in 25-share batches."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            await reducing(h)
            results = [await h.run(document(("SELL", "25", "AAPL"))) for _ in range(4)]
            fifth = await h.run(document(("SELL", "25", "AAPL")))
    assert [r.status for r in results] == [BatchStatus.COMPLETED] * 4
    assert await venue.net("AAPL") == 0
    # flat: the pre-trade check itself refuses (nothing to reduce)
    assert fifth.status is BatchStatus.REJECTED_BY_RISK
    assert len(venue.place_calls) == 4


async def test_a_partly_filled_leg_releases_the_rest(harness: Harness) -> None:
    """A claim of 80 whose order fills 30 and is cancelled holds nothing once its batch
    has ended: the next batch may sell the 70 left."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)}).script(
        "AAPL", fill_fraction=D("0.375")
    )
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = await reducing(h)
            first = await h.run(document(("SELL", "80", "AAPL")))
            assert await control.claims("default") == ()
            venue.scripts.clear()
            second = await h.run(document(("SELL", "70", "AAPL")))
    assert first.legs[0].filled_quantity == D(30)
    assert second.status is BatchStatus.COMPLETED
    assert await venue.net("AAPL") == 0


async def test_coordinated_batch_whose_claim_is_refused_places_nothing(harness: Harness) -> None:
    """Another batch's claim of 60 is in flight (its order on the wire): a COORDINATED
    pair selling 50 AAPL does not fit (room 40) and is refused whole; its other leg is
    skipped and nothing of it is placed."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100), "MSFT": D(-20)}).script(
        "AAPL", hold=True
    )
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = await reducing(h)
            first = await h.submit(document(("SELL", "60", "AAPL")))
            while not venue.on_the_wire:
                await asyncio.sleep(0.02)
            pair = await h.run(
                document(
                    ("SELL", "50", "AAPL"),
                    ("BUY", "20", "MSFT"),
                    mode=BatchExecutionMode.COORDINATED,
                )
            )
            (held,) = venue.on_the_wire
            venue.land(held)
            await first.handle.result()
            left = await control.claims("default")
    assert pair.status is BatchStatus.REJECTED_BY_RISK
    assert [leg.status for leg in pair.legs] == [LegStatus.REJECTED, LegStatus.SKIPPED]
    assert pair.reason is not None
    assert "position 100 AAPL, 60 already claimed by reducing orders in flight, room 40" in (
        pair.reason
    )
    assert [c.split(":")[1] for c in venue.place_calls] == ["c1"]  # the first batch's only
    assert await venue.net("AAPL") == 40
    assert left == ()


async def test_a_batch_started_before_reducing_claims_when_it_places(harness: Harness) -> None:
    """The state changes between the batch's pre-trade check (ACTIVE) and its second
    leg's placement: that placement claims, and is refused when the room is gone."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100), "MSFT": D(10)}).script(
        "AAPL", delay=1.0
    )
    settings = ExecutionSettings(max_placements_in_flight=1)
    async with harness(venue=venue, settings=settings) as h:
        with h.env.auto_time_skipping_disabled():
            doc = document(("SELL", "50", "AAPL"), ("SELL", "50", "MSFT"))
            submission = await h.submit(doc)
            while not venue.place_calls:
                await asyncio.sleep(0.02)
            control = await reducing(h)
            result = await submission.handle.result()
            left = await control.claims("default")
    assert [leg.status for leg in result.legs] == [LegStatus.FILLED, LegStatus.REJECTED]
    error = result.legs[1].error or ""
    assert error.startswith("RISK_LIMIT: "), error
    assert "position of 10" in error or "position 10 MSFT" in error
    assert [c.split(":")[1] for c in venue.place_calls] == ["c1"]
    assert left == ()


async def test_a_leg_placed_after_reducing_began_claims_and_is_placed(harness: Harness) -> None:
    venue = ScriptedVenue(initial_positions={"AAPL": D(100), "MSFT": D(80)}).script(
        "AAPL", delay=1.0
    )
    settings = ExecutionSettings(max_placements_in_flight=1)
    async with harness(venue=venue, settings=settings) as h:
        with h.env.auto_time_skipping_disabled():
            submission = await h.submit(document(("SELL", "50", "AAPL"), ("SELL", "50", "MSFT")))
            while not venue.place_calls:
                await asyncio.sleep(0.02)
            control = await reducing(h)
            result = await submission.handle.result()
            left = await control.claims("default")
    assert result.status is BatchStatus.COMPLETED
    assert await venue.net("MSFT") == 30
    assert left == ()


async def test_claims_fail_closed_when_the_venue_cannot_be_read(harness: Harness) -> None:
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue, settings=ExecutionSettings(placement_attempts=2)) as h:
        with h.env.auto_time_skipping_disabled():
            await reducing(h)
            venue.positions_unavailable = True
            result = await h.run(document(("SELL", "30", "AAPL")))
    assert result.status is BatchStatus.REJECTED_BY_RISK
    assert venue.place_calls == []


async def test_a_settlement_run_releases_the_claims_of_a_closed_run(harness: Harness) -> None:
    """A run terminated while its reducing order is on the wire leaves its claim; the
    settlement run settles the leg and then releases it."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)}).script("AAPL", hold=True)
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = await reducing(h)
            submission = await h.submit(document(("SELL", "60", "AAPL")))
            while not venue.on_the_wire:
                await asyncio.sleep(0.02)
            held = await control.claims("default")
            await submission.handle.terminate("operator")
            recovery = await h.client.recover(submission.handle.id)
            await recovery.handle.result()
            left = await control.claims("default")
    assert [c.quantity for c in held] == [D(-60)]
    assert left == ()


async def test_submit_in_reducing_accepts_reducing_batches_and_names_the_leg_that_is_not(
    harness: Harness,
) -> None:
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = await reducing(h)
            sell = document(("SELL", "30", "AAPL"))
            await control.refuse_unless_allowed("default", sell.commands)
            buy = document(("SELL", "30", "AAPL"), ("BUY", "5", "MSFT"))
            with pytest.raises(TradingRefused) as refused:
                await control.refuse_unless_allowed("default", buy.commands)
            with pytest.raises(TradingRefused, match="leg c2: BUY 5 MSFT"):
                await h.client.submit(buy.directive, buy.commands, check_trading=True)
            await h.client.submit(sell.directive, sell.commands, check_trading=True)
            await control.set_state(TradingState.HALTED, "stop", quiet_seconds=0)
            with pytest.raises(TradingRefused, match="HALTED"):
                await control.refuse_unless_allowed("default", sell.commands)
    assert str(refused.value).startswith("trading is REDUCING for account 'default' (")
    assert str(refused.value).endswith("leg c2: BUY 5 MSFT does not reduce the position of 0")


async def claim(
    h: Harness, batch_id: str, quantity: str, not_before: datetime | None = None
) -> ClaimAnswer:
    """Ask the account's trading-state workflow for one SELL claim of AAPL."""
    handle = h.env.client.get_workflow_handle(
        trading_state_workflow_id(h.queue, scope_of("default"))
    )
    request = ClaimRequest(
        account="default",
        claims=(
            ReductionClaim(
                claim_id=placement_order_id(batch_id, "c1"),
                batch_id=batch_id,
                command_id="c1",
                symbol="AAPL",
                quantity=-D(quantity),
            ),
        ),
        not_before=not_before,
    )
    answer: ClaimAnswer = await handle.execute_update(
        "claim_reductions", request, result_type=ClaimAnswer
    )
    return answer


async def release(h: Harness, batch_id: str) -> None:
    handle = h.env.client.get_workflow_handle(
        trading_state_workflow_id(h.queue, scope_of("default"))
    )
    await handle.execute_update(
        "release_claims", ReleaseRequest(account="default", batch_id=batch_id)
    )


async def claim_while_a_release_lands(h: Harness, venue: ScriptedVenue, quantity: str) -> bool:
    """Claim ``quantity`` while batch ``a``'s claim is released during the venue read."""
    venue.positions_gate = asyncio.Event()
    calls = venue.position_calls
    pending = asyncio.create_task(claim(h, "batch-b", quantity))
    while venue.position_calls == calls:
        await asyncio.sleep(0.02)
    await release(h, "batch-a")  # takes no lock: lands while the read is in flight
    venue.positions_gate.set()
    answer = await asyncio.wait_for(pending, timeout=30)
    return answer.decisions[0].granted


async def test_a_claim_released_during_the_read_still_counts_if_it_was_not_seen_terminal(
    harness: Harness,
) -> None:
    """Batch a's claim of 30 is released while batch b's read is in flight. Its order was
    not seen at the venue, so it may have filled after the position was read (100): it
    still counts, and a claim of 80 is refused (room 70), never granted against 100."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            await reducing(h)
            assert (await claim(h, "batch-a", "30")).decisions[0].granted
            granted = await claim_while_a_release_lands(h, venue, "80")
    assert not granted


async def test_a_claim_released_during_the_read_and_seen_filled_is_dropped(
    harness: Harness,
) -> None:
    """Batch a's order filled (the look-up sees it terminal, the position read after
    holds it) and its claim is released during b's read: the entity drops it without
    failing its workflow task (it did: a KeyError, found by the chaos run), and b's claim
    of 60 fits the 70 left."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            await reducing(h)
            assert (await claim(h, "batch-a", "30")).decisions[0].granted
            await venue.place_order(
                OrderRequest(
                    client_order_id=placement_order_id("batch-a", "c1"),
                    account="default",
                    symbol="AAPL",
                    side=OrderSide.SELL,
                    order_type=OrderType.MARKET,
                    quantity=D(30),
                )
            )
            granted = await claim_while_a_release_lands(h, venue, "60")
            control = TradingControl(h.env.client, h.queue)
            left = await control.claims("default")
    assert granted
    assert [c.batch_id for c in left] == ["batch-b"]


async def test_the_entity_replays_a_history_of_claims_and_releases(harness: Harness) -> None:
    """A worker that lost the trading-state workflow from its cache replays its history:
    concurrent claims (each with its venue read, retried through workflow timers, one
    past its retries: refused, not failed) and releases replay as recorded."""
    venue = ScriptedVenue(initial_positions={"AAPL": D(100)})
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = TradingControl(h.env.client, h.queue)
            await control.set_state(
                TradingState.REDUCING, "flatten", account="default", quiet_seconds=1
            )
            # concurrent claims (queued on the entity's lock), releases among them
            soon = datetime.now(UTC) + timedelta(seconds=1)  # as after a quiet period
            answers = await asyncio.gather(*(claim(h, f"batch-{i}", "30", soon) for i in range(5)))
            assert sum(a.decisions[0].granted for a in answers) == 3
            await asyncio.gather(*(release(h, f"batch-{i}") for i in range(5)))
            assert (await claim(h, "batch-c", "80")).decisions[0].granted
            # a venue read that fails, then succeeds: retried through workflow timers
            venue.positions_unavailable = True
            calls = venue.position_calls
            pending = asyncio.gather(
                *(claim(h, f"batch-d{i}", "5") for i in range(3)), release(h, "batch-c")
            )
            while venue.position_calls < calls + 2:
                await asyncio.sleep(0.02)
            venue.positions_unavailable = False
            assert all(a.decisions[0].granted for a in (await pending)[:3])
            # a venue read that fails past its retries: the claim refused, fail closed
            venue.positions_unavailable = True
            refused = await claim(h, "batch-e", "5")
            venue.positions_unavailable = False
            assert "the venue could not be read" in refused.decisions[0].message
            handle = h.env.client.get_workflow_handle(
                trading_state_workflow_id(h.queue, scope_of("default"))
            )
            history = await handle.fetch_history()
    replayer = Replayer(workflows=[TradingStateWorkflow], data_converter=build_data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_the_entity_replays_concurrent_checks_whose_reads_answer_out_of_order(
    harness: Harness,
) -> None:
    """Submits checked at once while a claim is decided, their venue reads answering in
    the reverse order of their asking. A worker that lost the entity from its cache (a
    killed worker) replays that history: the SDK resolves local activities in schedule
    order on replay, which concurrent handlers must not depend on (temporalio/sdk-python
    issue 1578 is the same hazard within one handler)."""
    venue = ScriptedVenue(
        initial_positions={"AAPL": D(100)}, position_delays=(0.3, 0.9, 0.6, 0.3, 0.0)
    )
    async with harness(venue=venue) as h:
        with h.env.auto_time_skipping_disabled():
            control = await reducing(h)
            sell = document(("SELL", "30", "AAPL"))
            await asyncio.gather(
                *(control.refuse_unless_allowed("default", sell.commands) for _ in range(4)),
                claim(h, "batch-a", "30"),
            )
            assert (await claim(h, "batch-b", "30")).decisions[0].granted
            handle = h.env.client.get_workflow_handle(
                trading_state_workflow_id(h.queue, scope_of("default"))
            )
            history = await handle.fetch_history()
    replayer = Replayer(workflows=[TradingStateWorkflow], data_converter=build_data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure

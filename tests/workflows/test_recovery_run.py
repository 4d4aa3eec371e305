"""The recovery run's semantics, per mode, on the time-skipping server.

A batch's run is timed out by Temporal with no worker on its queue (so its
own deadline never gets to act), after the "first run" left c1's order at
the venue. ``BatchClient.recover`` then starts the recovery run on a queue
with a worker: it must place nothing, settle every leg (fencing the ones
that never landed) and compensate exactly like a deadline would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from execbatch.client.batch_client import BatchClient, NothingToSettle, Submission
from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.venue.port.orders import OrderRequest
from tests.workflows.conftest import load_example, with_policy
from tests.workflows.injected_failure import INJECTED_MESSAGE, FailRunsAfter
from tests.workflows.scripted_venue import ScriptedVenue

Harness = Any


async def _time_out(h: Any, document: DirectiveDocument) -> str:
    """Run the batch on a queue nobody polls until Temporal's execution timeout ends it."""
    orphan = BatchClient(h.env.client, f"nobody-{uuid.uuid4().hex[:8]}")
    submission = await orphan.submit_document(document)
    # A workflow task nobody picks up holds the test server's clock: the short
    # timeout passes in real time.
    with pytest.raises(WorkflowFailureError):
        await submission.handle.result()
    return submission.batch.batch_id


async def _first_run_filled(venue: ScriptedVenue, document: DirectiveDocument, leg: str) -> None:
    command = next(c for c in document.commands if c.command_id == leg)
    batch_id = f"batch-{document.directive.directive_id}"
    await venue.place_order(
        OrderRequest(
            client_order_id=placement_order_id(batch_id, leg),
            account="default",
            symbol=command.symbol,
            side=command.side,
            order_type=command.order_type,
            quantity=command.quantity,
            limit_price=command.limit_price,
        )
    )
    venue.place_calls.clear()


@pytest.mark.parametrize(
    ("mode", "statuses", "net_aapl"),
    [
        (BatchExecutionMode.COORDINATED, [LegStatus.COMPENSATED, LegStatus.CANCELLED], 0),
        (BatchExecutionMode.INDEPENDENT, [LegStatus.FILLED, LegStatus.CANCELLED], 100),
        (BatchExecutionMode.SEQUENTIAL, [LegStatus.FILLED, LegStatus.CANCELLED], 100),
    ],
)
async def test_recovery_settles_every_leg_and_places_nothing(
    harness: Harness, mode: BatchExecutionMode, statuses: list[LegStatus], net_aapl: int
) -> None:
    document = with_policy(load_example("pair_trade"), mode, 2)
    venue = ScriptedVenue()
    await _first_run_filled(venue, document, "c1")
    async with harness(venue=venue) as h:
        batch_id = await _time_out(h, document)
        recovery = await h.client.recover(batch_id)
        result = await recovery.handle.result()
        again = await h.client.recover(batch_id)
        assert (await h.client.result(batch_id)) == result

    assert recovery.handle.id == recovery_workflow_id(batch_id) and not recovery.attached
    assert again.attached
    assert result.batch_id == batch_id
    assert result.status is BatchStatus.TIMED_OUT
    assert [leg.status for leg in result.legs] == statuses
    assert sorted(venue.cancel_calls) == [f"{batch_id}:c1:place", f"{batch_id}:c2:place"]
    placed_reverts = [f"{batch_id}:c1:revert-1"] if net_aapl == 0 else []
    assert venue.place_calls == placed_reverts  # no placement is ever sent again
    assert await venue.net("AAPL") == net_aapl
    assert await venue.net("MSFT") == 0


async def test_a_recovery_run_is_never_recovered(harness: Harness) -> None:
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, 2)
    async with harness() as h:
        batch_id = await _time_out(h, document)
        recovery = await h.client.recover(batch_id)
        await recovery.handle.result()
        with pytest.raises(ValueError, match="itself a recovery"):
            await h.client.recover(recovery.handle.id)


# ----------------------------------------------- every ending, not only the hard timeout


async def _half_done(h: Any, document: DirectiveDocument) -> Submission:
    """Run the batch until c1 filled and c2 rests at the venue."""
    submission = await h.submit(document)
    async with asyncio.timeout(20):
        while len(h.venue.orders) < 2:
            await asyncio.sleep(0.05)
    return submission


def _resting_pair(mode: BatchExecutionMode) -> tuple[DirectiveDocument, ScriptedVenue]:
    venue = ScriptedVenue().script("MSFT", rest=True)
    return with_policy(load_example("pair_trade"), mode, 600), venue


TIMER = ExecutionSettings(follow_resting_orders="timer", poll_interval_seconds=1)

ENDING_STATUSES = [
    (BatchExecutionMode.COORDINATED, [LegStatus.COMPENSATED, LegStatus.CANCELLED], 0),
    (BatchExecutionMode.INDEPENDENT, [LegStatus.FILLED, LegStatus.CANCELLED], 100),
    (BatchExecutionMode.SEQUENTIAL, [LegStatus.FILLED, LegStatus.CANCELLED], 100),
]


@pytest.mark.parametrize(("mode", "statuses", "net_aapl"), ENDING_STATUSES)
async def test_a_terminated_run_is_settled_and_says_so(
    harness: Harness, mode: BatchExecutionMode, statuses: list[LegStatus], net_aapl: int
) -> None:
    document, venue = _resting_pair(mode)
    async with harness(venue=venue, settings=TIMER) as h:
        submission = await _half_done(h, document)
        await submission.handle.terminate(reason="operator")
        batch_id = submission.batch.batch_id
        placed_before = list(venue.place_calls)
        recovery = await h.client.recover(batch_id)
        result = await recovery.handle.result()
        assert await h.client.result(batch_id) == result

    assert result.status is BatchStatus.TERMINATED
    assert f"{batch_id} was terminated (operator" in (result.reason or "")
    assert [leg.status for leg in result.legs] == statuses
    reverts = [f"{batch_id}:c1:revert-1"] if net_aapl == 0 else []
    assert venue.place_calls == [*placed_before, *reverts]  # nothing placed again
    assert await venue.net("AAPL") == net_aapl
    assert await venue.net("MSFT") == 0


@pytest.mark.parametrize(("mode", "statuses", "net_aapl"), ENDING_STATUSES)
async def test_a_run_failed_in_workflow_code_is_settled_and_says_so(
    harness: Harness, mode: BatchExecutionMode, statuses: list[LegStatus], net_aapl: int
) -> None:
    document, venue = _resting_pair(mode)
    failing = [FailRunsAfter(timedelta(seconds=3))]
    async with harness(venue=venue, settings=TIMER, interceptors=failing) as h:
        submission = await _half_done(h, document)
        with pytest.raises(WorkflowFailureError):
            await submission.handle.result()
    async with harness(venue=venue, settings=TIMER) as h:
        settling = BatchClient(h.env.client, h.client.task_queue)
        recovery = await settling.recover(submission.batch.batch_id)
        result = await recovery.handle.result()

    assert result.status is BatchStatus.RUN_FAILED
    assert INJECTED_MESSAGE in (result.reason or "")
    assert [leg.status for leg in result.legs] == statuses
    assert await venue.net("AAPL") == net_aapl
    assert await venue.net("MSFT") == 0


async def test_nothing_to_settle_while_running_or_after_a_normal_end(harness: Harness) -> None:
    document, venue = _resting_pair(BatchExecutionMode.COORDINATED)
    async with harness(venue=venue, settings=TIMER) as h:
        submission = await _half_done(h, document)
        with pytest.raises(NothingToSettle, match="RUNNING"):
            await h.client.recover(submission.batch.batch_id)
        await h.client.request_cancel(submission.batch.batch_id, "test")
        await submission.handle.result()
        with pytest.raises(NothingToSettle, match="COMPLETED"):
            await h.client.recover(submission.batch.batch_id)
        assert not await h.client.has_recovery(submission.batch.batch_id)


async def test_a_terminated_settlement_is_started_again(harness: Harness) -> None:
    document, venue = _resting_pair(BatchExecutionMode.COORDINATED)
    async with harness(venue=venue, settings=TIMER) as h:
        submission = await _half_done(h, document)
        batch_id = submission.batch.batch_id
        await submission.handle.terminate(reason="operator")
    # No worker: the settlement run cannot progress, and an operator terminates it too.
    first = await BatchClient(h.env.client, f"nobody-{uuid.uuid4().hex[:8]}").recover(batch_id)
    await first.handle.terminate(reason="oops")
    async with harness(venue=venue, settings=TIMER) as h:
        assert not await h.client.has_recovery(batch_id)
        again = await h.client.recover(batch_id)
        assert not again.attached
        result = await again.handle.result()
    assert result.status is BatchStatus.TERMINATED
    assert await venue.net("AAPL") == 0

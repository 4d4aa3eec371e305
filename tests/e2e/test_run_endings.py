"""Every way a batch's run can end leaves no naked leg: dev server, real venue, real worker.

A run Temporal closes without a result (an operator's Terminate, a failure in
workflow code, the hard timeout) runs none of the batch's own wind-down. The
settlement sweeper every worker runs must find it within seconds and settle
it: COORDINATED ends flat, INDEPENDENT/SEQUENTIAL keep their fills and have
their resting orders cancelled, and the batch says which ending it was. A
reset is not an ending: its newer run continues the batch and is never
settled under it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from execbatch.client.batch_client import BatchClient, Submission
from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.recovery import UnsettledBatchSweeper, start_sweeper
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service import VenueProcess
from execbatch.worker import build_worker
from tests.e2e.test_batches_on_dev_server import resting
from tests.workflows.conftest import load_example, with_policy
from tests.workflows.injected_failure import INJECTED_MESSAGE, FailRunsAfter

pytestmark = pytest.mark.devserver


@dataclass
class Endings:
    env: WorkflowEnvironment
    admin: PaperVenueAdmin
    adapter: PaperVenueAdapter
    queue: str

    async def desk(self) -> tuple[BatchClient, str]:
        account = f"acct-{uuid.uuid4().hex[:10]}"
        await self.admin.fund_account(account, Decimal("1000000"))
        settings = ExecutionSettings(
            account=account, poll_interval_seconds=0.2, heartbeat_timeout_seconds=1
        )
        return BatchClient(self.env.client, self.queue, settings=settings), account

    async def net(self, account: str) -> dict[str, Decimal]:
        return {p.symbol: p.quantity for p in await self.admin.positions(account) if p.quantity}

    async def order_states(self, account: str) -> dict[str, str]:
        orders = await self.admin.orders(account=account)
        counts = Counter(o.client_order_id for o in orders)
        assert max(counts.values()) == 1, counts  # exactly one order per client order id
        return {o.client_order_id: o.status.value for o in orders}

    async def placed(self, account: str, count: int) -> None:
        async with asyncio.timeout(20):
            while len(await self.admin.orders(account=account)) < count:
                await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def endings(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Endings]:
    """A worker and its settlement sweeper (every second) on their own queue and venue."""
    venue = VenueProcess(Path(tmp_path_factory.mktemp("venue")) / "venue.db")
    await venue.astart()
    adapter = PaperVenueAdapter(venue.base_url)
    admin = PaperVenueAdmin(venue.base_url)
    queue = f"endings-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    try:
        async with build_worker(dev_server_env.client, queue, adapter):
            sweeper = start_sweeper(dev_server_env.client, queue, timedelta(seconds=1), stop)
            yield Endings(env=dev_server_env, admin=admin, adapter=adapter, queue=queue)
            stop.set()
            if sweeper is not None:
                await sweeper
    finally:
        await adapter.aclose()
        await admin.aclose()
        await venue.aclose()


def pair(mode: BatchExecutionMode) -> DirectiveDocument:
    """BUY 100 AAPL at market (fills) and SELL 46 MSFT limit 999 (rests): a half-done pair."""
    return resting(with_policy(load_example("pair_trade"), mode, 300), "c2", "999")


async def half_done(endings: Endings, mode: BatchExecutionMode) -> tuple[Submission, str]:
    batches, account = await endings.desk()
    submission = await batches.submit_document(pair(mode))
    await endings.placed(account, 2)
    batch_id = submission.batch.batch_id
    assert await endings.order_states(account) == {
        f"{batch_id}:c1:place": "FILLED",
        f"{batch_id}:c2:place": "NEW",
    }
    return submission, account


async def test_terminated_coordinated_pair_ends_flat(endings: Endings) -> None:
    submission, account = await half_done(endings, BatchExecutionMode.COORDINATED)
    batch_id = submission.batch.batch_id
    assert await endings.net(account) == {"AAPL": Decimal(100)}  # the naked leg, for now
    await submission.handle.terminate(reason="operator")

    batches = BatchClient(endings.env.client, endings.queue)
    result = await batches.result(batch_id, recovery_wait=timedelta(seconds=30))

    assert result.status is BatchStatus.TERMINATED
    assert "was terminated (operator" in (result.reason or "")
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.CANCELLED]
    assert [leg.exposed_quantity for leg in result.legs] == [Decimal(0), Decimal(0)]
    assert await endings.net(account) == {}
    assert await endings.order_states(account) == {
        f"{batch_id}:c1:place": "FILLED",
        f"{batch_id}:c2:place": "CANCELED",
        f"{batch_id}:c1:revert-1": "FILLED",
    }
    [summary] = [s async for s in batches.list(query=f"WorkflowId = '{batch_id}'")]
    assert (summary.status, summary.workflow_status) == ("TERMINATED", "TERMINATED")
    assert summary.settled_by == recovery_workflow_id(batch_id)


@pytest.mark.parametrize("mode", [BatchExecutionMode.INDEPENDENT, BatchExecutionMode.SEQUENTIAL])
async def test_terminated_batch_keeps_fills_and_cancels_what_rests(
    endings: Endings, mode: BatchExecutionMode
) -> None:
    submission, account = await half_done(endings, mode)
    batch_id = submission.batch.batch_id
    await submission.handle.terminate(reason="operator")

    result = await BatchClient(endings.env.client, endings.queue).result(
        batch_id, recovery_wait=timedelta(seconds=30)
    )

    assert result.status is BatchStatus.TERMINATED
    assert [leg.status for leg in result.legs] == [LegStatus.FILLED, LegStatus.CANCELLED]
    assert await endings.net(account) == {"AAPL": Decimal(100)}
    assert await endings.order_states(account) == {
        f"{batch_id}:c1:place": "FILLED",
        f"{batch_id}:c2:place": "CANCELED",
    }


async def test_run_failed_from_an_error_in_workflow_code_is_settled(endings: Endings) -> None:
    """A worker whose workflow code raises 2 s into every run (the injected bug)."""
    queue = f"buggy-{uuid.uuid4().hex[:8]}"
    batches, account = await endings.desk()
    batches = BatchClient(endings.env.client, queue, settings=ExecutionSettings(account=account))
    stop = asyncio.Event()
    buggy = build_worker(
        endings.env.client,
        queue,
        endings.adapter,
        interceptors=[FailRunsAfter(timedelta(seconds=2))],
    )
    async with buggy:
        sweeper = start_sweeper(endings.env.client, queue, timedelta(seconds=1), stop)
        submission = await batches.submit_document(pair(BatchExecutionMode.COORDINATED))
        batch_id = submission.batch.batch_id
        result = await batches.result(batch_id, recovery_wait=timedelta(seconds=30))
        stop.set()
        assert sweeper is not None
        await sweeper

    assert (await submission.handle.describe()).status is WorkflowExecutionStatus.FAILED
    assert result.status is BatchStatus.RUN_FAILED
    assert INJECTED_MESSAGE in (result.reason or "")
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.CANCELLED]
    assert await endings.net(account) == {}


async def _reset_points(submission: Submission) -> list[int]:
    """The event ids of the run's completed workflow tasks, oldest first."""
    return [
        event.event_id
        async for event in submission.handle.fetch_history_events()
        if event.event_type is EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]


async def _reset(
    env: WorkflowEnvironment,
    submission: Submission,
    to_event: int,
    reapply: ResetReapplyType.ValueType = ResetReapplyType.RESET_REAPPLY_TYPE_UNSPECIFIED,
) -> str:
    response = await env.client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=env.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=submission.batch.batch_id),
            reason="operator reset",
            workflow_task_finish_event_id=to_event,
            request_id=str(uuid.uuid4()),
            reset_reapply_type=reapply,
        )
    )
    return response.run_id


@pytest.mark.parametrize("point", ["first workflow task", "after the placements"])
async def test_reset_is_continued_by_its_newer_run_and_never_settled(
    endings: Endings, point: str
) -> None:
    submission, account = await half_done(endings, BatchExecutionMode.COORDINATED)
    batch_id = submission.batch.batch_id
    old_run = (await submission.handle.describe()).run_id
    completed_tasks = await _reset_points(submission)
    to_event = completed_tasks[0] if point == "first workflow task" else completed_tasks[-1]
    new_run = await _reset(endings.env, submission, to_event)

    batches = BatchClient(endings.env.client, endings.queue)
    old = endings.env.client.get_workflow_handle(batch_id, run_id=old_run)
    assert (await old.describe()).status is WorkflowExecutionStatus.TERMINATED
    sweeper = UnsettledBatchSweeper(endings.env.client, endings.queue)
    for _ in range(3):  # however often it sweeps: a reset run is not an ending
        assert batch_id not in await sweeper.sweep_once()
        await asyncio.sleep(0.5)
    assert not await batches.has_recovery(batch_id)

    # The newer run follows the resting leg on; it fills and the pair completes.
    await endings.admin.set_prices({"MSFT": "1000"})
    result = await batches.result(batch_id)
    await endings.admin.set_prices({"MSFT": "410.00"})

    assert (await submission.handle.describe()).run_id == new_run
    assert result.status is BatchStatus.COMPLETED
    assert [leg.status for leg in result.legs] == [LegStatus.FILLED, LegStatus.FILLED]
    assert not await batches.has_recovery(batch_id)
    assert await endings.order_states(account) == {
        f"{batch_id}:c1:place": "FILLED",
        f"{batch_id}:c2:place": "FILLED",
    }
    assert await endings.net(account) == {"AAPL": Decimal(100), "MSFT": Decimal(-46)}


async def test_a_terminated_run_an_operator_then_resets_is_followed_to_its_newer_run(
    endings: Endings,
) -> None:
    """Terminate, then Reset of the closed run (chaos seed 5151: two operators 15 ms
    apart): a client waiting for the terminated run's settlement follows the reset's
    run and returns its result; no settlement comes for a batch a newer run continues.

    Its own queue and worker, with no sweeper: the wait for a settlement is certain to
    be under way when the reset comes."""
    queue = f"reset-after-terminate-{uuid.uuid4().hex[:8]}"
    _, account = await endings.desk()
    batches = BatchClient(endings.env.client, queue, settings=ExecutionSettings(account=account))
    async with build_worker(endings.env.client, queue, endings.adapter):
        submission = await batches.submit_document(pair(BatchExecutionMode.COORDINATED))
        batch_id = submission.batch.batch_id
        await endings.placed(account, 2)
        completed_tasks = await _reset_points(submission)
        await submission.handle.terminate(reason="operator")
        waiting = asyncio.create_task(batches.result(batch_id, recovery_wait=timedelta(seconds=30)))
        await asyncio.sleep(2)  # the client now waits for a settlement
        assert not waiting.done()
        await _reset(endings.env, submission, completed_tasks[-1])
        await endings.admin.set_prices({"MSFT": "1000"})
        try:
            result = await asyncio.wait_for(waiting, timeout=60)
        finally:
            await endings.admin.set_prices({"MSFT": "410.00"})

    assert result.status is BatchStatus.COMPLETED
    assert [leg.status for leg in result.legs] == [LegStatus.FILLED, LegStatus.FILLED]
    assert not await batches.has_recovery(batch_id)


async def test_a_reset_run_finishes_the_rollback_its_replaced_run_had_begun(
    endings: Endings,
) -> None:
    """A COORDINATED pair cancelled just as its resting leg filled: the run reverts
    both legs (CANCELLED, legs COMPENSATED). An operator then resets it to before the
    cancel. The reset's run sees both legs FILLED and, before this fix, reported the
    batch COMPLETED, compensated 0, while the venue held the reverts and the account
    was flat (chaos 1.5x at Alpaca). It now finds the reverts and finishes the
    rollback (the revert reads the earlier ones back: nothing is reverted twice)."""
    account = f"acct-{uuid.uuid4().hex[:10]}"
    await endings.admin.fund_account(account, Decimal("1000000"))
    # Slow polling: the venue fills the resting leg, and the cancel reaches the run,
    # before the run's follower looks again.
    settings = ExecutionSettings(
        account=account, poll_interval_seconds=10, heartbeat_timeout_seconds=30
    )
    batches = BatchClient(endings.env.client, endings.queue, settings=settings)
    submission = await batches.submit_document(pair(BatchExecutionMode.COORDINATED))
    batch_id = submission.batch.batch_id
    await endings.placed(account, 2)
    before_the_cancel = (await _reset_points(submission))[-1]
    await endings.admin.set_prices({"MSFT": "1000"})
    try:
        await batches.request_cancel(batch_id, "operator")
        first = await submission.handle.result()
        assert [leg.status for leg in first.legs] == [LegStatus.COMPENSATED] * 2
        assert await endings.net(account) == {}

        # The cancel is not re-applied: the reset's run ends with both legs filled.
        await _reset(
            endings.env, submission, before_the_cancel, ResetReapplyType.RESET_REAPPLY_TYPE_NONE
        )
        result = await batches.result(batch_id)
    finally:
        await endings.admin.set_prices({"MSFT": "410.00"})

    assert result.status is BatchStatus.COMPENSATED, result
    assert "had begun to roll the batch back" in (result.reason or "")
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED] * 2
    assert [leg.compensated_quantity for leg in result.legs] == [Decimal(100), Decimal(46)]
    assert await endings.net(account) == {}
    assert await endings.order_states(account) == {
        f"{batch_id}:c1:place": "FILLED",
        f"{batch_id}:c2:place": "FILLED",
        f"{batch_id}:c1:revert-1": "FILLED",
        f"{batch_id}:c2:revert-1": "FILLED",
    }

"""A batch that Temporal's hard execution timeout ends mid-flight is recovered.

The batch's own deadline normally ends it first; here the only worker is
stopped while a pair trade has one leg filled and the other resting, so the
deadline passes with nobody to act on it and Temporal times the run out.
The recovery sweeper (what every ``worker.py`` runs) must then settle the
resting order and revert the filled leg, and ``BatchClient.result`` must
return the recovery's result: no batch lost, no naked leg.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from execbatch.client.batch_client import BatchClient, BatchRecoveryPending
from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.execution import ExecutionSettings
from execbatch.recovery import UnsettledBatchSweeper
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service import VenueProcess
from execbatch.worker import build_worker
from execbatch.workflows.batch_workflow import WORKFLOW_NAME
from tests.e2e.conftest import HISTORIES, RECORD
from tests.e2e.test_batches_on_dev_server import resting
from tests.workflows.conftest import load_example, with_policy

pytestmark = pytest.mark.devserver


@pytest.fixture
async def venue(tmp_path: Path) -> AsyncIterator[tuple[PaperVenueAdapter, PaperVenueAdmin]]:
    process = VenueProcess(tmp_path / "venue.db")
    await process.astart()
    adapter = PaperVenueAdapter(process.base_url)
    admin = PaperVenueAdmin(process.base_url)
    try:
        yield adapter, admin
    finally:
        await adapter.aclose()
        await admin.aclose()
        await process.aclose()


async def _timed_out_pair_trade(
    env: WorkflowEnvironment, adapter: PaperVenueAdapter, admin: PaperVenueAdmin
) -> tuple[BatchClient, str, str]:
    """A COORDINATED pair whose run Temporal timed out with c1 filled and c2 resting."""
    account = f"acct-{uuid.uuid4().hex[:10]}"
    await admin.fund_account(account, Decimal("1000000"))
    queue = f"recovery-{uuid.uuid4().hex[:8]}"
    # Timer-followed resting orders: stopping the worker leaves the order resting
    # (a heartbeating follower would cancel it on shutdown).
    settings = ExecutionSettings(
        account=account, follow_resting_orders="timer", poll_interval_seconds=0.5
    )
    batches = BatchClient(env.client, queue, settings=settings)
    document = resting(
        with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, 4), "c2", "999"
    )
    async with build_worker(env.client, queue, adapter):
        submission = await batches.submit_document(document)
        batch_id = submission.batch.batch_id
        async with asyncio.timeout(15):
            while len(await admin.orders(account=account)) < 2:
                await asyncio.sleep(0.1)
    description = await submission.handle.describe()
    async with asyncio.timeout(30):
        while description.status is WorkflowExecutionStatus.RUNNING:
            await asyncio.sleep(0.25)
            description = await submission.handle.describe()
    assert description.status is WorkflowExecutionStatus.TIMED_OUT
    statuses = {o.client_order_id: o.status.value for o in await admin.orders(account=account)}
    assert statuses == {f"{batch_id}:c1:place": "FILLED", f"{batch_id}:c2:place": "NEW"}
    return batches, batch_id, account


async def test_timed_out_batch_is_settled_by_its_recovery_run(
    dev_server_env: WorkflowEnvironment,
    venue: tuple[PaperVenueAdapter, PaperVenueAdmin],
    caplog: pytest.LogCaptureFixture,
) -> None:
    adapter, admin = venue
    batches, batch_id, account = await _timed_out_pair_trade(dev_server_env, adapter, admin)
    queue = batches.task_queue  # recover on the queue the batch ran on
    # A run of the same type whose input is not a batch (started by hand) must not
    # hold up the recovery of the real one.
    garbage = await dev_server_env.client.start_workflow(
        WORKFLOW_NAME,
        {"not": "a batch"},
        id=f"batch-garbage-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        execution_timeout=timedelta(seconds=1),
    )
    with pytest.raises(WorkflowFailureError):
        await garbage.result()
    sweeper = UnsettledBatchSweeper(dev_server_env.client, queue, interval=timedelta(seconds=1))

    async with build_worker(dev_server_env.client, queue, adapter):
        async with asyncio.timeout(20):
            recovered: list[str] = []
            while batch_id not in recovered:  # visibility may lag the close a little
                recovered = await sweeper.sweep_once()
                await asyncio.sleep(0.5)
        result = await batches.result(batch_id)
        recovery_handle = batches.handle(recovery_workflow_id(batch_id))
        if RECORD:
            history = await recovery_handle.fetch_history()
            (HISTORIES / "coordinated_recovered_after_execution_timeout.json").write_text(
                json.dumps(json.loads(history.to_json()), indent=1) + "\n"
            )
        assert await sweeper.sweep_once() == []  # once per batch, however often it sweeps
    assert not await batches.has_recovery(garbage.id)
    assert f"closed run {garbage.id} cannot be settled" in caplog.text

    assert result.batch_id == batch_id
    assert result.status is BatchStatus.TIMED_OUT
    assert "execution timeout" in (result.reason or "")
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.CANCELLED]
    assert [leg.compensated_quantity for leg in result.legs] == [Decimal(100), Decimal(0)]
    positions = await admin.positions(account)
    assert {p.symbol: p.quantity for p in positions if p.quantity != 0} == {}
    orders = await admin.orders(account=account)
    assert Counter(o.client_order_id for o in orders).most_common(1)[0][1] == 1
    statuses = {o.client_order_id: o.status.value for o in orders}
    assert statuses == {
        f"{batch_id}:c1:place": "FILLED",
        f"{batch_id}:c2:place": "CANCELED",
        f"{batch_id}:c1:revert-1": "FILLED",
    }
    recovery = await batches.handle(recovery_workflow_id(batch_id)).describe()
    assert recovery.status is WorkflowExecutionStatus.COMPLETED


async def test_result_says_so_when_no_recovery_runs(
    dev_server_env: WorkflowEnvironment, venue: tuple[PaperVenueAdapter, PaperVenueAdmin]
) -> None:
    adapter, admin = venue
    batches, batch_id, _ = await _timed_out_pair_trade(dev_server_env, adapter, admin)
    with pytest.raises(BatchRecoveryPending, match="execbatch recover"):
        await batches.result(batch_id, recovery_wait=timedelta(seconds=1))

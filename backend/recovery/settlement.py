"""Start the settlement run of a batch whose run Temporal closed without a result.

Temporal runs no workflow code after the hard execution timeout, a Terminate
or a failure, so such a batch may have left orders resting or a pair half
filled. Its settlement run (workflow id ``<batch_id>:recovery``) re-reads the
batch from the closed run's first history event, places nothing, settles
every leg at the venue and compensates like a deadline.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from execbatch.core.workflow_ids import RECOVERY_SUFFIX, recovery_workflow_id
from execbatch.dtos.execution import BatchRunRequest
from execbatch.runs.read import read_run_request, unsettled_ending
from execbatch.runs.start import Submission, start_run


async def start_settlement(
    client: Client, task_queue: str, batch_id: str, run_id: str | None = None
) -> Submission:
    """Start (or attach to) the batch's settlement run.

    One per batch: its id is derived from the batch id, and a settlement that
    completed is never started again (one that was itself terminated or failed
    is started anew: settling is idempotent at the venue). Raises
    ``NothingToSettle`` when the batch's latest run is running or completed
    normally (after a reset, say), or ``run_id`` is not its latest run: a
    reset's newer run continues the batch and must never be settled under it.
    """
    if batch_id.endswith(RECOVERY_SUFFIX):
        raise ValueError(
            f"{batch_id} is itself a recovery run (settle its batch instead: "
            f"{batch_id.removesuffix(RECOVERY_SUFFIX)})"
        )
    ending = await unsettled_ending(client, batch_id, run_id)
    original = await read_run_request(client, batch_id, ending.run_id)
    if original.recovery_of is not None:
        raise ValueError(f"{batch_id} is itself a recovery run")
    batch = original.batch
    return await start_run(
        client,
        BatchRunRequest(
            batch=batch,
            settings=original.settings,
            recovery_of=batch_id,
            ending=ending.ending,
            ending_detail=ending.detail,
            ended_at=ending.closed_at,
            releases_claims=True,
        ),
        task_queue=task_queue,
        workflow_id=recovery_workflow_id(batch_id),
        execution_timeout=None,  # a settlement must be allowed to finish
        summary=(
            f"settlement of {batch_id} ({batch.mode.value}, {len(batch.commands)} legs) "
            f"after its run {ending.ending.value.lower().replace('_', ' ')}"
        ),
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )


async def has_settlement(client: Client, batch_id: str) -> bool:
    """Whether the batch has a settlement run that is running or completed.

    One that was terminated or failed does not count: it must run again.
    """
    try:
        description = await client.get_workflow_handle(recovery_workflow_id(batch_id)).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status in (
        WorkflowExecutionStatus.RUNNING,
        WorkflowExecutionStatus.COMPLETED,
    )

"""Start a run of ExecutionBatchWorkflow: a batch's own run, or its settlement run.

The workflow id carries the idempotency: a running execution with the same id
is attached to (``USE_EXISTING``), and the reuse policy decides whether a
closed one may be started again (never for a batch; for a settlement only if
the earlier one was itself terminated or failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from execbatch.dtos.execution import BatchResult, BatchRunRequest, ExecutionCommandBatch
from execbatch.temporal.search_attributes import BATCH_MODE
from execbatch.workflows.activity_options import WORKFLOW_TASK_TIMEOUT
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow

BatchHandle = WorkflowHandle[ExecutionBatchWorkflow, BatchResult]


@dataclass(frozen=True)
class Submission:
    batch: ExecutionCommandBatch
    handle: BatchHandle
    attached: bool
    """True when the run already existed and this call attached to it."""


def batch_handle(client: Client, workflow_id: str) -> BatchHandle:
    return client.get_workflow_handle_for(ExecutionBatchWorkflow.run, workflow_id)


async def start_run(
    client: Client,
    request: BatchRunRequest,
    *,
    task_queue: str,
    workflow_id: str,
    execution_timeout: timedelta | None,
    summary: str,
    eager: bool = False,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
) -> Submission:
    """Start the run, or attach to the running (or, under REJECT_DUPLICATE, closed) one."""
    batch = request.batch
    try:
        handle = await client.start_workflow(
            ExecutionBatchWorkflow.run,
            request,
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=execution_timeout,
            task_timeout=WORKFLOW_TASK_TIMEOUT,  # the re-run gap rests on it (worker.py)
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=id_reuse_policy,
            request_eager_start=eager,
            # BatchStatus is written by the workflow from WINDING_DOWN on (never
            # RUNNING: a run closed without a result could not take it back).
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(BATCH_MODE, batch.mode.value)]
            ),
            static_summary=summary,
            static_details=(
                f"batch `{batch.batch_id}`, created {batch.created_at.isoformat()}, "
                f"timeout {batch.timeout_seconds or 'none'}s"
            ),
        )
    except WorkflowAlreadyStartedError:
        return Submission(batch=batch, handle=batch_handle(client, workflow_id), attached=True)
    return Submission(batch=batch, handle=handle, attached=not _was_started(handle))


def _was_started(handle: BatchHandle) -> bool:
    """False when USE_EXISTING attached to a running execution instead of starting one.

    The SDK keeps the server's StartWorkflowExecutionResponse (whose ``started``
    says which) only privately; without it we assume a fresh start.
    """
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", True))

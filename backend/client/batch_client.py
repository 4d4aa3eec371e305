"""The client API: start a batch from a directive, follow it, cancel it, list batches.

A directive submitted twice runs once: the workflow id is the batch id, a
running batch is attached to (``USE_EXISTING``) and a closed one is never
started again (``REJECT_DUPLICATE``); either way the caller gets that run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from backend.core.enums import BatchStatus
from backend.dtos.directive_document import DirectiveDocument
from backend.dtos.execution import (
    BatchResult,
    BatchRunRequest,
    ExecutionCommand,
    ExecutionCommandBatch,
    ExecutionSettings,
)
from backend.dtos.strategy import StrategyDirective
from backend.planning import BaseExecutionPlanner
from backend.temporal.search_attributes import BATCH_MODE, BATCH_STATUS
from workflows.batch_workflow import ExecutionBatchWorkflow

BatchHandle = WorkflowHandle[ExecutionBatchWorkflow, BatchResult]


class BatchAlreadyFinal(Exception):
    """The batch cannot be cancelled: it has ended or is already winding down."""


@dataclass(frozen=True)
class Submission:
    batch: ExecutionCommandBatch
    handle: BatchHandle
    attached: bool
    """True when the batch already existed and this call attached to it."""


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    mode: str | None
    status: str | None
    workflow_status: str | None


def _was_started(handle: BatchHandle) -> bool:
    """False when USE_EXISTING attached to a running execution instead of starting one.

    The SDK keeps the server's StartWorkflowExecutionResponse (whose ``started``
    says which) only privately; without it we assume a fresh start.
    """
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", True))


class BatchClient:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        settings: ExecutionSettings | None = None,
        planner: BaseExecutionPlanner | None = None,
        eager_start: bool = False,
    ) -> None:
        """``eager_start``: ask the server to hand the first workflow task straight
        back to a worker in this process (saves a round trip; only useful when the
        same ``Client`` also runs the worker, and the server enables it)."""
        self._eager_start = eager_start
        self._client = client
        self._task_queue = task_queue
        self._settings = settings or ExecutionSettings()
        self._planner = planner or BaseExecutionPlanner()

    @property
    def temporal(self) -> Client:
        return self._client

    async def submit_document(self, document: DirectiveDocument) -> Submission:
        return await self.submit(document.directive, document.commands)

    async def submit(
        self, directive: StrategyDirective, commands: Sequence[ExecutionCommand]
    ) -> Submission:
        """Validate, plan and start; nothing is started when validation fails."""
        batch = self._planner.create_batch(directive, commands)
        return await self.start_batch(batch)

    async def start_batch(self, batch: ExecutionCommandBatch) -> Submission:
        timeout = timedelta(seconds=batch.timeout_seconds) if batch.timeout_seconds else None
        legs = ", ".join(c.describe() for c in batch.commands[:5])
        more = f" +{len(batch.commands) - 5} more" if len(batch.commands) > 5 else ""
        try:
            handle = await self._client.start_workflow(
                ExecutionBatchWorkflow.run,
                BatchRunRequest(batch=batch, settings=self._settings),
                id=batch.batch_id,
                task_queue=self._task_queue,
                execution_timeout=timeout,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                request_eager_start=self._eager_start,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(BATCH_MODE, batch.mode.value),
                        SearchAttributePair(BATCH_STATUS, BatchStatus.RUNNING.value),
                    ]
                ),
                static_summary=(
                    f"{batch.mode.value} batch, {len(batch.commands)} legs: {legs}{more}"
                ),
                static_details=(
                    f"batch `{batch.batch_id}`, created {batch.created_at.isoformat()}, "
                    f"timeout {batch.timeout_seconds or 'none'}s"
                ),
            )
        except WorkflowAlreadyStartedError:
            return Submission(batch=batch, handle=self.handle(batch.batch_id), attached=True)
        return Submission(batch=batch, handle=handle, attached=not _was_started(handle))

    def handle(self, batch_id: str) -> BatchHandle:
        return self._client.get_workflow_handle_for(ExecutionBatchWorkflow.run, batch_id)

    async def result(self, batch_id: str) -> BatchResult:
        return await self.handle(batch_id).result()

    async def status(self, batch_id: str) -> BatchResult:
        """Live state via Query (works on running and closed batches)."""
        return await self.handle(batch_id).query(ExecutionBatchWorkflow.status)

    async def request_cancel(self, batch_id: str, reason: str) -> BatchResult:
        """Ask the batch to wind down; returns its state at that moment.

        Raises BatchAlreadyFinal when the batch has ended or is already winding
        down (the workflow's update validator refuses it while it runs; a
        closed workflow takes no update at all).
        """
        handle = self.handle(batch_id)
        description = await handle.describe()
        if description.status is not WorkflowExecutionStatus.RUNNING:
            status = description.status.name if description.status else "UNKNOWN"
            raise BatchAlreadyFinal(f"batch {batch_id} is already closed ({status})")
        try:
            return await handle.execute_update(ExecutionBatchWorkflow.cancel, reason)
        except WorkflowUpdateFailedError as exc:
            message = getattr(exc.cause, "message", None) or str(exc.cause)
            raise BatchAlreadyFinal(f"batch {batch_id}: {message}") from exc

    async def cancel(self, batch_id: str, reason: str) -> BatchResult:
        """Wind the batch down and wait for its final result."""
        await self.request_cancel(batch_id, reason)
        return await self.result(batch_id)

    async def list(self, limit: int = 20, query: str | None = None) -> AsyncIterator[BatchSummary]:
        base = "WorkflowType = 'ExecutionBatchWorkflow'"
        full = f"{base} AND ({query})" if query else base
        count = 0
        async for execution in self._client.list_workflows(full):
            sa = execution.typed_search_attributes
            yield BatchSummary(
                batch_id=execution.id,
                mode=sa.get(BATCH_MODE),
                status=sa.get(BATCH_STATUS),
                workflow_status=(
                    WorkflowExecutionStatus(execution.status).name if execution.status else None
                ),
            )
            count += 1
            if count >= limit:
                return

"""The client API: start a batch from a directive, follow it, cancel it, list batches.

A directive submitted twice runs once: the workflow id is the batch id, a
running batch is attached to (``USE_EXISTING``) and a closed one is never
started again (``REJECT_DUPLICATE``); either way the caller gets that run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import TimeoutError as TemporalTimeoutError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from execbatch.core.enums import BatchStatus
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import (
    BatchResult,
    BatchRunRequest,
    ExecutionCommand,
    ExecutionCommandBatch,
    ExecutionSettings,
)
from execbatch.dtos.strategy import StrategyDirective
from execbatch.planning import BaseExecutionPlanner
from execbatch.temporal.run_input import read_run_request
from execbatch.temporal.search_attributes import BATCH_MODE, BATCH_STATUS
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow

BatchHandle = WorkflowHandle[ExecutionBatchWorkflow, BatchResult]


DEFAULT_RECOVERY_WAIT = timedelta(minutes=2)
RECOVERY_POLL_SECONDS = 1.0


class BatchRecoveryPending(Exception):
    """The batch's execution timeout ended it and its recovery run has not started yet."""


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

    @property
    def task_queue(self) -> str:
        return self._task_queue

    async def submit_document(self, document: DirectiveDocument) -> Submission:
        return await self.submit(document.directive, document.commands)

    async def submit(
        self, directive: StrategyDirective, commands: Sequence[ExecutionCommand]
    ) -> Submission:
        """Validate, plan and start; nothing is started when validation fails."""
        batch = self._planner.create_batch(directive, commands)
        return await self.start_batch(batch)

    async def start_batch(self, batch: ExecutionCommandBatch) -> Submission:
        legs = ", ".join(c.describe() for c in batch.commands[:5])
        more = f" +{len(batch.commands) - 5} more" if len(batch.commands) > 5 else ""
        try:
            handle = await self._start(
                BatchRunRequest(batch=batch, settings=self._settings),
                workflow_id=batch.batch_id,
                execution_timeout=(
                    timedelta(seconds=batch.timeout_seconds) if batch.timeout_seconds else None
                ),
                summary=f"{batch.mode.value} batch, {len(batch.commands)} legs: {legs}{more}",
                request_eager_start=self._eager_start,
            )
        except WorkflowAlreadyStartedError:
            return Submission(batch=batch, handle=self.handle(batch.batch_id), attached=True)
        return Submission(batch=batch, handle=handle, attached=not _was_started(handle))

    async def recover(self, batch_id: str, run_id: str | None = None) -> Submission:
        """Start (or attach to) the recovery run of a batch its execution timeout ended.

        Temporal runs no workflow code after the hard execution timeout, so a
        batch ended by it may have left orders resting or a pair half filled.
        The recovery run re-reads the batch from the timed-out run's first
        history event, places nothing, settles every leg at the venue and
        compensates like a deadline. One per batch: its id is derived from the
        batch id and a closed recovery is never started again.
        """
        original = await read_run_request(self._client, batch_id, run_id)
        if original.recovery_of is not None:
            raise ValueError(f"{batch_id} is itself a recovery run")
        batch = original.batch
        try:
            handle = await self._start(
                BatchRunRequest(batch=batch, settings=original.settings, recovery_of=batch_id),
                workflow_id=recovery_workflow_id(batch_id),
                execution_timeout=None,  # a recovery must be allowed to finish
                summary=(
                    f"recovery of {batch_id} ({batch.mode.value}, {len(batch.commands)} legs) "
                    "after its execution timeout"
                ),
            )
        except WorkflowAlreadyStartedError:
            handle = self.handle(recovery_workflow_id(batch_id))
            return Submission(batch=batch, handle=handle, attached=True)
        return Submission(batch=batch, handle=handle, attached=not _was_started(handle))

    async def has_recovery(self, batch_id: str) -> bool:
        """Whether the batch's recovery run exists (running or closed)."""
        try:
            await self.handle(recovery_workflow_id(batch_id)).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _start(
        self,
        request: BatchRunRequest,
        *,
        workflow_id: str,
        execution_timeout: timedelta | None,
        summary: str,
        request_eager_start: bool = False,
    ) -> BatchHandle:
        batch = request.batch
        return await self._client.start_workflow(
            ExecutionBatchWorkflow.run,
            request,
            id=workflow_id,
            task_queue=self._task_queue,
            execution_timeout=execution_timeout,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            request_eager_start=request_eager_start,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(BATCH_MODE, batch.mode.value),
                    SearchAttributePair(BATCH_STATUS, BatchStatus.RUNNING.value),
                ]
            ),
            static_summary=summary,
            static_details=(
                f"batch `{batch.batch_id}`, created {batch.created_at.isoformat()}, "
                f"timeout {batch.timeout_seconds or 'none'}s"
            ),
        )

    def handle(self, batch_id: str) -> BatchHandle:
        return self._client.get_workflow_handle_for(ExecutionBatchWorkflow.run, batch_id)

    async def result(
        self, batch_id: str, recovery_wait: timedelta = DEFAULT_RECOVERY_WAIT
    ) -> BatchResult:
        """The batch's final result, also when its execution timeout ended it.

        A batch ended by the hard timeout has no result of its own; its
        recovery run (started by a worker's sweeper, see ``execbatch.recovery``)
        settles it and carries the result. This waits up to ``recovery_wait``
        for that run to appear, then raises ``BatchRecoveryPending``.
        """
        try:
            return await self.handle(batch_id).result()
        except WorkflowFailureError as exc:
            if not isinstance(exc.cause, TemporalTimeoutError):
                raise
            timed_out = exc
        return await self.recovery_result(batch_id, recovery_wait, timed_out)

    async def recovery_result(
        self,
        batch_id: str,
        wait: timedelta = DEFAULT_RECOVERY_WAIT,
        timed_out: BaseException | None = None,
    ) -> BatchResult:
        """The result of the batch's recovery run, waiting up to ``wait`` for it to start."""
        recovery = self.handle(recovery_workflow_id(batch_id))
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait.total_seconds()
        while True:
            try:
                return await recovery.result()
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
            if loop.time() >= give_up:
                raise BatchRecoveryPending(
                    f"batch {batch_id} hit its execution timeout and no recovery run "
                    f"({recovery.id}) started within {wait.total_seconds():g}s: is a worker "
                    "with the recovery sweeper running? (`execbatch recover` starts one by hand)"
                ) from timed_out
            await asyncio.sleep(RECOVERY_POLL_SECONDS)

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

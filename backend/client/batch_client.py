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
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from execbatch.core.enums import BatchStatus, RunEnding
from execbatch.core.workflow_ids import RECOVERY_SUFFIX, recovery_workflow_id
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
from execbatch.workflows.batch_workflow import WORKFLOW_NAME, ExecutionBatchWorkflow

BatchHandle = WorkflowHandle[ExecutionBatchWorkflow, BatchResult]


DEFAULT_RECOVERY_WAIT = timedelta(minutes=2)
RECOVERY_POLL_SECONDS = 1.0


class BatchRecoveryPending(Exception):
    """The batch's execution timeout ended it and its recovery run has not started yet."""


class NothingToSettle(Exception):
    """The batch's latest run is running or completed normally: no settlement applies."""


@dataclass(frozen=True)
class ClosedRun:
    """A batch run Temporal closed without a result, and how."""

    run_id: str | None
    ending: RunEnding
    detail: str | None


_ENDINGS = {
    WorkflowExecutionStatus.TIMED_OUT: RunEnding.TIMED_OUT,
    WorkflowExecutionStatus.TERMINATED: RunEnding.TERMINATED,
    WorkflowExecutionStatus.FAILED: RunEnding.FAILED,
}

MAX_RUNS_FOLLOWED = 100
"""Runs of one batch ``result`` follows through resets before it gives up."""


async def _close_detail(handle: WorkflowHandle[Any, Any]) -> str | None:
    """Who or what closed the run, from its close event (terminate reason and identity,
    failure message), for the settlement's reason."""
    async for event in handle.fetch_history_events(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
    ):
        if event.HasField("workflow_execution_terminated_event_attributes"):
            attrs = event.workflow_execution_terminated_event_attributes
            who = f" by {attrs.identity}" if attrs.identity else ""
            return f"{attrs.reason or 'no reason given'}{who}"[:2000]
        if event.HasField("workflow_execution_failed_event_attributes"):
            failure = event.workflow_execution_failed_event_attributes.failure
            return (failure.message or "no message")[:2000]
    return None


class BatchAlreadyFinal(Exception):
    """The batch cannot be cancelled: it has ended or is already winding down."""


@dataclass(frozen=True)
class Submission:
    batch: ExecutionCommandBatch
    handle: BatchHandle
    attached: bool
    """True when the batch already existed and this call attached to it."""


UNSETTLED = "UNSETTLED"
"""A batch whose run closed without a result and no settlement has finished yet."""
SETTLING = "SETTLING"
"""A batch whose settlement run is settling it at the venue."""


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    mode: str | None
    status: str | None
    """The batch's status: a BatchStatus value, UNSETTLED or SETTLING."""
    workflow_status: str | None
    """The status of the batch's own (latest) run in Temporal."""
    settled_by: str | None = None
    """The settlement run's workflow id, for a run Temporal closed without a result."""


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
        """Start (or attach to) the settlement run of a batch whose run closed without a result.

        Temporal runs no workflow code after the hard execution timeout, a
        Terminate or a failure, so such a batch may have left orders resting or
        a pair half filled. The settlement run (workflow id
        ``<batch_id>:recovery``) re-reads the batch from the closed run's first
        history event, places nothing, settles every leg at the venue and
        compensates like a deadline. One per batch: its id is derived from the
        batch id, and a settlement that completed is never started again (one
        that was itself terminated or failed is started anew: settling is
        idempotent at the venue).

        Raises ``NothingToSettle`` when the batch's latest run is running or
        completed normally (after a reset, say), or ``run_id`` is not its
        latest run: a reset's newer run continues the batch and must never be
        settled under it.
        """
        if batch_id.endswith(RECOVERY_SUFFIX):
            raise ValueError(
                f"{batch_id} is itself a recovery run (settle its batch instead: "
                f"{batch_id.removesuffix(RECOVERY_SUFFIX)})"
            )
        ending = await self.unsettled_ending(batch_id, run_id)
        original = await read_run_request(self._client, batch_id, ending.run_id)
        if original.recovery_of is not None:
            raise ValueError(f"{batch_id} is itself a recovery run")
        batch = original.batch
        try:
            handle = await self._start(
                BatchRunRequest(
                    batch=batch,
                    settings=original.settings,
                    recovery_of=batch_id,
                    ending=ending.ending,
                    ending_detail=ending.detail,
                ),
                workflow_id=recovery_workflow_id(batch_id),
                execution_timeout=None,  # a settlement must be allowed to finish
                summary=(
                    f"settlement of {batch_id} ({batch.mode.value}, {len(batch.commands)} legs) "
                    f"after its run {ending.ending.value.lower().replace('_', ' ')}"
                ),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            handle = self.handle(recovery_workflow_id(batch_id))
            return Submission(batch=batch, handle=handle, attached=True)
        return Submission(batch=batch, handle=handle, attached=not _was_started(handle))

    async def unsettled_ending(self, batch_id: str, run_id: str | None = None) -> ClosedRun:
        """How the batch's latest run ended, if it closed without a result.

        Raises ``NothingToSettle`` when it is running or completed normally, or
        when ``run_id`` was superseded by a newer run (a reset).
        """
        latest = await self.handle(batch_id).describe()
        if run_id is not None and latest.run_id != run_id:
            raise NothingToSettle(
                f"batch {batch_id}: run {run_id} was followed by run {latest.run_id} "
                "(a reset), which continues the batch"
            )
        ending = _ENDINGS.get(latest.status) if latest.status is not None else None
        if ending is None:
            status = latest.status.name if latest.status else "UNKNOWN"
            raise NothingToSettle(f"batch {batch_id} is {status}: nothing to settle")
        detail = await _close_detail(
            self._client.get_workflow_handle(batch_id, run_id=latest.run_id)
        )
        return ClosedRun(run_id=latest.run_id, ending=ending, detail=detail)

    async def has_recovery(self, batch_id: str) -> bool:
        """Whether the batch has a settlement run that is running or completed.

        One that was terminated or failed does not count: it must run again.
        """
        try:
            description = await self.handle(recovery_workflow_id(batch_id)).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return description.status in (
            WorkflowExecutionStatus.RUNNING,
            WorkflowExecutionStatus.COMPLETED,
        )

    async def _start(
        self,
        request: BatchRunRequest,
        *,
        workflow_id: str,
        execution_timeout: timedelta | None,
        summary: str,
        request_eager_start: bool = False,
        id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
    ) -> BatchHandle:
        batch = request.batch
        return await self._client.start_workflow(
            ExecutionBatchWorkflow.run,
            request,
            id=workflow_id,
            task_queue=self._task_queue,
            execution_timeout=execution_timeout,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=id_reuse_policy,
            request_eager_start=request_eager_start,
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

    def handle(self, batch_id: str) -> BatchHandle:
        return self._client.get_workflow_handle_for(ExecutionBatchWorkflow.run, batch_id)

    async def result(
        self, batch_id: str, recovery_wait: timedelta = DEFAULT_RECOVERY_WAIT
    ) -> BatchResult:
        """The batch's final result, however its run ended.

        A run Temporal closed without a result (hard timeout, Terminate,
        failure) has its settlement run (started by a worker's sweeper, see
        ``execbatch.recovery``), which carries the result; this waits up to
        ``recovery_wait`` for it to appear, then raises ``BatchRecoveryPending``.
        A run ended by a reset is followed to the newer run that continues it.
        """
        for _ in range(MAX_RUNS_FOLLOWED):
            try:
                return await self.handle(batch_id).result()
            except WorkflowFailureError as exc:
                closed = exc
            try:
                await self.unsettled_ending(batch_id)
            except NothingToSettle:
                continue  # a newer run (a reset) took over: follow it
            return await self.recovery_result(batch_id, recovery_wait, closed)
        raise RuntimeError(f"batch {batch_id}: more than {MAX_RUNS_FOLLOWED} runs followed")

    async def recovery_result(
        self,
        batch_id: str,
        wait: timedelta = DEFAULT_RECOVERY_WAIT,
        closed: BaseException | None = None,
    ) -> BatchResult:
        """The result of the batch's settlement run, waiting up to ``wait`` for one to
        start (or to start again, if a settlement run was itself terminated)."""
        recovery = self.handle(recovery_workflow_id(batch_id))
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait.total_seconds()
        while True:
            try:
                return await recovery.result()
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
            except WorkflowFailureError:
                pass  # the settlement itself was ended: the sweeper starts it again
            if loop.time() >= give_up:
                raise BatchRecoveryPending(
                    f"batch {batch_id} closed without a result and no settlement run "
                    f"({recovery.id}) finished within {wait.total_seconds():g}s: is a worker "
                    "with the recovery sweeper running? (`execbatch recover` starts one by hand)"
                ) from closed
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
        """Recent batches, newest first, each with the status it really has.

        Settlement runs are not listed as batches of their own: a batch whose
        run closed without a result shows its settlement's status (or
        ``UNSETTLED`` until one exists, ``SETTLING`` while it runs), never the
        RUNNING its closed run can no longer take back.
        """
        base = f"WorkflowType = '{WORKFLOW_NAME}'"
        full = f"{base} AND ({query})" if query else base
        seen: set[str] = set()
        async for execution in self._client.list_workflows(full):
            batch_id = execution.id.removesuffix(RECOVERY_SUFFIX)
            if batch_id in seen:
                continue
            seen.add(batch_id)
            if batch_id != execution.id:  # a settlement run matched: report its batch
                workflow_status = (await self.handle(batch_id).describe()).status
            else:
                workflow_status = (
                    WorkflowExecutionStatus(execution.status) if execution.status else None
                )
            sa = execution.typed_search_attributes
            status = sa.get(BATCH_STATUS)
            settled_by = None
            if workflow_status is WorkflowExecutionStatus.RUNNING:
                status = status or BatchStatus.RUNNING.value
            elif workflow_status in _ENDINGS:
                settled_by = recovery_workflow_id(batch_id)
                status = await self._settlement_status(batch_id)
            yield BatchSummary(
                batch_id=batch_id,
                mode=sa.get(BATCH_MODE),
                status=status,
                workflow_status=workflow_status.name if workflow_status else None,
                settled_by=settled_by,
            )
            if len(seen) >= limit:
                return

    async def _settlement_status(self, batch_id: str) -> str:
        try:
            description = await self.handle(recovery_workflow_id(batch_id)).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return UNSETTLED
            raise
        if description.status is WorkflowExecutionStatus.RUNNING:
            return SETTLING
        if description.status is not WorkflowExecutionStatus.COMPLETED:
            return UNSETTLED  # the settlement itself was ended; a sweeper starts it again
        return description.typed_search_attributes.get(BATCH_STATUS) or UNSETTLED

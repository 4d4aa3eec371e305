"""Eager workflow start: the worker lives in the client's process.

With ``request_eager_start=True`` the server hands the first workflow task
back in the StartWorkflowExecution response to a worker of the *same client*
on the same task queue, saving a matching round trip (and its poll latency).
That only works when the submitting process also runs the worker, so the
prototype runs our worker in-process and starts batches through a BatchClient
whose ``start_batch`` adds ``request_eager_start=True``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import Worker

from backend.client.batch_client import BatchClient, Submission, _was_started
from backend.dtos.execution import BatchRunRequest, ExecutionCommandBatch
from backend.venue.adapters.base import ExchangeAdapter
from bench.prototypes.worker_options import WorkerOptions
from workflows.batch_workflow import ExecutionBatchWorkflow


class EagerBatchClient(BatchClient):
    """``start_batch`` exactly as the product's, plus ``request_eager_start``."""

    def __init__(self, *args: object, eager: bool = True, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._eager = eager

    async def start_batch(self, batch: ExecutionCommandBatch) -> Submission:
        timeout = timedelta(seconds=batch.timeout_seconds) if batch.timeout_seconds else None
        try:
            handle = await self._client.start_workflow(
                ExecutionBatchWorkflow.run,
                BatchRunRequest(batch=batch, settings=self._settings),
                id=batch.batch_id,
                task_queue=self._task_queue,
                execution_timeout=timeout,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"{batch.mode.value} batch, {len(batch.commands)} legs",
                request_eager_start=self._eager,
            )
        except WorkflowAlreadyStartedError:
            return Submission(batch=batch, handle=self.handle(batch.batch_id), attached=True)
        return Submission(batch=batch, handle=handle, attached=not _was_started(handle))


class InProcessWorker:
    """Our worker (WorkerOptions) running as a task of this event loop."""

    def __init__(
        self, client: Client, task_queue: str, venue_url: str, account: str, options: WorkerOptions
    ) -> None:
        self._adapter: ExchangeAdapter = options.adapter(venue_url, account)
        self._worker: Worker = options.build(client, task_queue, self._adapter)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._worker.run())

    async def stop(self) -> None:
        if self._task is not None:
            await self._worker.shutdown()
            await self._task
            self._task = None
        await self._adapter.aclose()

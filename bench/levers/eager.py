"""Eager workflow start: the worker lives in the client's process.

With ``request_eager_start=True`` the server hands the first workflow task
back in the StartWorkflowExecution response to a worker of the *same client*
on the same task queue, saving a matching round trip (and its poll latency).
That only works when the submitting process also runs the worker, so the
prototype runs our worker in-process and starts batches through
``BatchClient(eager_start=True)``.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.worker import Worker

from bench.levers.worker_options import WorkerOptions
from execbatch.venue.port.adapter import ExchangeAdapter


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

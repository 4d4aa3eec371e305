"""An executor embedded in the submitting process: its own worker, eager start.

A strategy engine that submits batches can run a worker of its own on the
same ``Client`` and task queue. Batches it starts then use Temporal's *eager
workflow start*: the server hands the first workflow task back in the
StartWorkflowExecution response to this process's worker instead of putting
it on the task queue for a poller to pick up. That saves a matching round
trip and a poll cycle per batch: less latency and less server CPU (measured
in ``docs/BENCHMARK.md``).

Nothing about durability changes: the batch is an ordinary workflow on the
task queue. If this process dies, its batches' next workflow tasks (and any
retry of a placement) go to the standalone workers polling the same queue,
exactly as if one of them had been running it. The server falls back to a
normal start by itself when the embedded worker has no free slot. Like every
``worker.py``, it also sweeps its task queue for batches Temporal's execution
timeout ended and starts their recovery runs (``execbatch.recovery``).

Usage (docs/OPERATING.md has the whole script)::

    async with await EmbeddedExecutor.connect() as executor:   # reads the environment
        submission = await executor.batches.submit(directive, commands)
        result = await executor.batches.result(submission.batch.batch_id)

or, with a ``Client`` and an adapter of your own,
``EmbeddedExecutor(client, task_queue, adapter, settings=settings)``.

The eager start needs the server's ``system.enableEagerWorkflowStart`` (on by
default in recent Temporal servers; the dev stacks set it).

Like a standalone worker it serves ``/metrics`` when ``EXECBATCH_METRICS_PORT``
is set (or ``metrics_port`` is given): our metrics always, the Temporal SDK's
when ``client`` was connected with ``runtime=telemetry_runtime()``
(``execbatch.observability.endpoint``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import TracebackType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from execbatch.client.batch_client import BatchClient, with_account
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.dtos.execution import ExecutionSettings
from execbatch.instrumentation.running import RUNNING_INTERVAL, start_running_reporter
from execbatch.observability.endpoint import metrics_port_from_env, serve_metrics
from execbatch.planning import BaseExecutionPlanner
from execbatch.recovery import start_sweeper
from execbatch.venue.port.adapter import ExchangeAdapter


class EmbeddedExecutor:
    """A worker running as a task of this event loop, and a BatchClient that
    starts batches eagerly on it. Use as an async context manager."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        adapter: ExchangeAdapter,
        *,
        settings: ExecutionSettings | None = None,
        planner: BaseExecutionPlanner | None = None,
        max_concurrent_activities: int = 200,
        max_concurrent_workflow_tasks: int = 100,
        recovery_interval: timedelta | None = timedelta(seconds=5),
        metrics_port: int | None = None,
    ) -> None:
        """``recovery_interval``: how often to sweep the task queue for batches
        their execution timeout ended, like every ``worker.py`` does (None: never).
        ``metrics_port``: serve ``/metrics`` there (default ``EXECBATCH_METRICS_PORT``;
        unset: no endpoint; 0: a free port, see ``metrics_port`` after ``start``)."""
        # worker.py is the one place a worker is configured; imported here so
        # that the client package does not load the worker for plain clients.
        from execbatch.worker import build_worker

        self._worker: Worker = build_worker(
            client,
            task_queue,
            adapter,
            max_concurrent_activities=max_concurrent_activities,
            max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        )
        self.batches = BatchClient(
            client, task_queue, settings=settings, planner=planner, eager_start=True
        )
        self._task: asyncio.Task[None] | None = None
        self._client = client
        self._task_queue = task_queue
        self._recovery_interval = recovery_interval
        self._stop_sweeping = asyncio.Event()
        self._sweeping: asyncio.Task[None] | None = None
        self.metrics_port = metrics_port if metrics_port is not None else metrics_port_from_env()
        self._running: asyncio.Task[None] | None = None
        self._owned_adapter: ExchangeAdapter | None = None

    @classmethod
    async def connect(
        cls,
        config: ExecbatchConfig | None = None,
        *,
        settings: ExecutionSettings | None = None,
        **options: Any,
    ) -> EmbeddedExecutor:
        """An executor configured as ``execbatch worker`` and the CLI are, from ``config``
        (default ``ExecbatchConfig.from_env()``): Temporal (``TEMPORAL_*``), the task
        queue, the venue (``EXECBATCH_VENUE`` and its keys) trading
        ``EXECBATCH_VENUE_ACCOUNT``, which is also the account its batches trade. The
        adapter is its own and closed on ``stop``. ``options``: as for the constructor.

        Raises ``TemporalUnreachable`` when the server cannot be reached, and
        ``ValueError`` naming the variable for a venue misconfigured."""
        from execbatch.venue.adapters.factory import create_adapter

        config = config or ExecbatchConfig.from_env()
        settings = with_account(settings or ExecutionSettings(), config.venue_account)
        client = await connect(config)
        adapter = create_adapter(
            config.venue, account=config.venue_account, paper_url=config.venue_url
        )
        try:
            executor = cls(client, config.task_queue, adapter, settings=settings, **options)
        except BaseException:
            await adapter.aclose()
            raise
        executor._owned_adapter = adapter
        return executor

    @property
    def worker(self) -> Worker:
        return self._worker

    async def start(self) -> None:
        if self.metrics_port is not None:
            self.metrics_port = serve_metrics(self.metrics_port)
            if self._running is None:
                self._running = start_running_reporter(
                    self._client, self._task_queue, self._stop_sweeping, RUNNING_INTERVAL
                )
        if self._task is None:
            self._task = asyncio.create_task(self._worker.run(), name="execbatch-embedded-worker")
        if self._sweeping is None:
            self._stop_sweeping.clear()
            self._sweeping = start_sweeper(
                self._client, self._task_queue, self._recovery_interval, self._stop_sweeping
            )

    async def stop(self) -> None:
        """Graceful shutdown: running activities finish or are cancelled, as in worker.py."""
        if self._sweeping is not None:
            sweeping, self._sweeping = self._sweeping, None
            self._stop_sweeping.set()
            await sweeping
        if self._running is not None:
            running, self._running = self._running, None
            self._stop_sweeping.set()
            await running
        try:
            if self._task is None:
                return
            task, self._task = self._task, None
            if not task.done():
                await self._worker.shutdown()
            await task  # re-raises a worker failure
        finally:
            if self._owned_adapter is not None:
                adapter, self._owned_adapter = self._owned_adapter, None
                await adapter.aclose()

    async def __aenter__(self) -> EmbeddedExecutor:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

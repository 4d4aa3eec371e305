"""The execbatch worker: runs ExecutionBatchWorkflow and the order activities.

Configuration comes from the environment (see ``execbatch.config.environment``):
Temporal's standard variables for the connection, ``EXECBATCH_TASK_QUEUE``,
``EXECBATCH_VENUE_URL`` and ``EXECBATCH_VENUE_ACCOUNT``. SIGTERM and SIGINT
shut it down gracefully: running activities get to finish or heartbeat-cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker, WorkflowRunner

from execbatch.activities.order_activities import OrderActivities
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.recovery import start_sweeper
from execbatch.temporal.sandbox import workflow_runner as sandboxed_runner
from execbatch.venue.adapters.factory import create_adapter
from execbatch.venue.port.adapter import ExchangeAdapter
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow

log = logging.getLogger("execbatch.worker")

WORKFLOWS: Sequence[type] = (ExecutionBatchWorkflow,)

PASSTHROUGH_MODULES = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    *(
        f"execbatch.{name}"
        for name in ("core", "dtos", "planning", "activities", "temporal", "venue", "security")
    ),
)
"""Modules the workflow sandbox shares instead of re-importing for every run.

They are deterministic at import time (models, enums, pure helpers); passing
them through saves the re-import that profiling showed as ~20% of worker CPU.
The workflow module itself stays sandboxed, so its code is still checked.
"""


def workflow_runner() -> WorkflowRunner:
    """The sandbox with our pass-through modules and the workflow code compiled once
    (``execbatch.temporal.sandbox``); ``EXECBATCH_WORKFLOW_SANDBOX=0`` turns it off."""
    return sandboxed_runner(PASSTHROUGH_MODULES)


def build_worker(
    client: Client,
    task_queue: str,
    adapter: ExchangeAdapter,
    *,
    max_concurrent_activities: int = 200,
    max_concurrent_workflow_tasks: int = 100,
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A worker with our workflow and the order activities bound to ``adapter``
    (``interceptors``: tracing, or a test's injected faults)."""
    activities = OrderActivities(adapter)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities.all(),
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=10),
        # A crashed worker's sticky tasks move to another worker after this long
        # (default 10 s): it bounds how much of a wind-down margin a crash eats.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        workflow_runner=workflow_runner(),
        interceptors=interceptors,
    )


async def connect_with_retry(config: ExecbatchConfig, stop: asyncio.Event) -> Client | None:
    """Connect, retrying with backoff while Temporal is not up yet (None if stopped first).

    A worker started beside its cluster (docker-compose, a restart after a
    crash) should wait for the server, not exit on the first refused connection.
    """
    delay = 0.5
    while not stop.is_set():
        try:
            return await connect(config)
        except RuntimeError as exc:  # the SDK raises RuntimeError("Failed client connect: ...")
            log.warning(
                "Temporal at %s not reachable (%s); retrying in %.1fs", config.address, exc, delay
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 10.0)
    return None


async def run_worker(config: ExecbatchConfig, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    client = await connect_with_retry(config, stop)
    if client is None:
        return
    adapter = create_adapter(config.venue, account=config.venue_account, paper_url=config.venue_url)
    try:
        worker = build_worker(client, config.task_queue, adapter)
        log.info(
            "worker on %s namespace=%s task_queue=%s venue=%s (%s)",
            config.address,
            config.namespace,
            config.task_queue,
            config.venue,
            adapter.capabilities.venue,
        )
        async with worker:
            # Recover batches their execution timeout ended (see execbatch.recovery).
            interval = timedelta(seconds=config.recovery_interval_seconds)
            sweeper = start_sweeper(client, config.task_queue, interval, stop)
            await stop.wait()
            log.info("shutting down")
            if sweeper is not None:
                await sweeper
    finally:
        await adapter.aclose()


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One INFO line per venue request costs CPU at load and says nothing new.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def main() -> None:
    configure_logging()
    asyncio.run(run_worker(ExecbatchConfig.from_env()))


if __name__ == "__main__":
    main()

"""``execbatch_batches_running{mode}``: open batch runs, as Temporal's visibility counts them.

A per-process count of "batches in my cache" would be wrong across workers
(a batch moves to another worker when its cache entry is evicted), so every
worker asks Temporal instead, every ``interval``, one count per mode; all
workers report the same figure (aggregate with ``max``). A failed count is
logged and the gauge left as it was: nothing else waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from temporalio.client import Client

from execbatch.core.enums import BatchExecutionMode
from execbatch.observability.metrics import BATCHES_RUNNING

log = logging.getLogger("execbatch.instrumentation")

WORKFLOW_TYPE = "ExecutionBatchWorkflow"
RUNNING_INTERVAL = timedelta(seconds=15)
"""How often a worker with metrics counts the open batches."""


async def count_running(client: Client, task_queue: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for mode in BatchExecutionMode:
        query = (
            f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{task_queue}' "
            f"AND ExecutionStatus = 'Running' AND BatchMode = '{mode.value}'"
        )
        counts[mode.value] = (await client.count_workflows(query)).count
    return counts


async def report_running(
    client: Client, task_queue: str, stop: asyncio.Event, interval: timedelta
) -> None:
    """Refresh the gauge every ``interval`` until ``stop`` is set."""
    while not stop.is_set():
        try:
            for mode, count in (await count_running(client, task_queue)).items():
                BATCHES_RUNNING.labels(mode=mode).set(count)
        except Exception as exc:  # noqa: BLE001 - a gauge is never worth a crash
            log.warning("counting running batches failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval.total_seconds())


def start_running_reporter(
    client: Client, task_queue: str, stop: asyncio.Event, interval: timedelta
) -> asyncio.Task[None]:
    return asyncio.create_task(
        report_running(client, task_queue, stop, interval), name="execbatch-running-batches"
    )

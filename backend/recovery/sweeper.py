"""Find batches their execution timeout ended, and start their recovery runs.

A batch keeps its own deadline a wind-down margin before Temporal's hard
execution timeout (``timeout_seconds``, as the ADR says), so normally it ends
by itself. When the margin is eaten (a server outage, workers killed over and
over), Temporal ends the run without running any more of its code: orders may
rest at the venue and a pair may be half filled. The promise is that no batch
is lost and no leg is left exposed, so every worker process runs this sweeper:
it lists the task queue's batch runs that closed as ``TimedOut`` and starts one
recovery run for each (``BatchClient.recover``; the derived workflow id makes
that idempotent across sweeps and across workers).

Why a sweeper in the workers rather than a Schedule: it needs nothing but the
workers that are there anyway, it recovers as soon as any worker is up again,
and it needs no extra deployment step. It looks back ``lookback`` on start and
then only at runs closed since its previous sweep (with an overlap, since
visibility is eventually consistent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from execbatch.client.batch_client import BatchClient
from execbatch.workflows.batch_workflow import WORKFLOW_NAME

log = logging.getLogger("execbatch.recovery")

VISIBILITY_OVERLAP = timedelta(seconds=60)


class TimedOutBatchSweeper:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        interval: timedelta = timedelta(seconds=10),
        lookback: timedelta = timedelta(days=1),
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._batches = BatchClient(client, task_queue)
        self._interval = interval
        self._since = datetime.now(UTC) - lookback
        self._unrecoverable: set[str] = set()

    def _query(self) -> str:
        since = self._since.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"WorkflowType = '{WORKFLOW_NAME}' AND TaskQueue = '{self._task_queue}' "
            f"AND ExecutionStatus = 'TimedOut' AND CloseTime > '{since}'"
        )

    async def sweep_once(self) -> list[str]:
        """Start the recovery of every timed-out batch not recovered yet; return their ids.

        One batch's failure does not hold up the others. A run whose input is
        not a batch (started by hand, say) is logged once and skipped; a
        server error keeps the window where it is, so the next sweep retries.
        """
        started_at = datetime.now(UTC)
        recovered: list[str] = []
        retry_window = False
        async for execution in self._client.list_workflows(self._query()):
            if execution.id in self._unrecoverable:
                continue
            try:
                if await self._batches.has_recovery(execution.id):
                    continue  # seen in an earlier sweep, or by another worker
                recovery = await self._batches.recover(execution.id, execution.run_id)
            except RPCError as exc:
                retry_window = True
                log.warning("recovery of %s failed (%s); next sweep retries", execution.id, exc)
                continue
            except (ValueError, TypeError) as exc:
                self._unrecoverable.add(execution.id)
                log.error("timed-out run %s cannot be recovered: %s", execution.id, exc)
                continue
            if not recovery.attached:
                recovered.append(execution.id)
                log.warning(
                    "batch %s hit its execution timeout; recovery run %s settles it",
                    execution.id,
                    recovery.handle.id,
                )
        if not retry_window:
            self._since = started_at - VISIBILITY_OVERLAP
        return recovered

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval`` until ``stop``; a failed sweep is logged and retried."""
        while not stop.is_set():
            try:
                await self.sweep_once()
            except RPCError as exc:
                log.warning("recovery sweep failed (%s); retrying in %s", exc, self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval.total_seconds())


def start_sweeper(
    client: Client, task_queue: str, interval: timedelta | None, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Sweep ``task_queue`` every ``interval`` in the background until ``stop``
    (None: no sweeping); what every worker process runs beside its worker."""
    if interval is None or interval <= timedelta(0):
        return None
    sweeper = TimedOutBatchSweeper(client, task_queue, interval=interval)
    return asyncio.create_task(sweeper.run(stop), name=f"recovery-sweeper-{task_queue}")

"""Find batch runs Temporal closed without a result, and start their settlement runs.

A batch normally ends by itself: it keeps its own deadline a wind-down margin
before Temporal's hard execution timeout and winds down on a cancel. But a run
can also be closed with none of its code running: the hard timeout when the
margin was eaten (an outage), an operator's **Terminate** (one click in the Web
UI), or a **failure** (an error raised in workflow code). Orders may then rest
at the venue and a pair may be half filled. The promise is that no batch is
lost and no leg is left naked, so every worker process runs this sweeper: it
lists the task queue's batch runs that closed as ``TimedOut``, ``Terminated``
or ``Failed`` and starts one settlement run for each (``settlement.start_settlement``).

* **Once per batch, however many workers see it.** The settlement's workflow id
  is derived from the batch id (``<batch_id>:recovery``): the claim lives in
  Temporal, not in a lock of ours. A settlement that completed is never started
  again; one that was itself terminated or failed is started anew (settling is
  idempotent at the venue).
* **A reset is not an ending.** A reset terminates the current run and starts a
  newer run of the same batch that continues it. Only a batch whose *latest*
  run closed without a result is settled: a terminated run with a newer run
  (alive, or completed normally) is skipped.
* **Survives restarts.** It looks back ``lookback`` on start, then at runs
  closed since its previous sweep, with an overlap since visibility is
  eventually consistent.

Why a sweeper in the workers rather than a Schedule: it needs nothing but the
workers that are there anyway, it settles as soon as any worker is up again,
and it needs no extra deployment step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from execbatch.core.workflow_ids import RECOVERY_SUFFIX
from execbatch.recovery.settlement import has_settlement, start_settlement
from execbatch.runs.read import NothingToSettle
from execbatch.workflows.batch_workflow import WORKFLOW_NAME

log = logging.getLogger("execbatch.recovery")

VISIBILITY_OVERLAP = timedelta(seconds=60)
UNSETTLED_ENDINGS = ("TimedOut", "Terminated", "Failed")


class UnsettledBatchSweeper:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        interval: timedelta = timedelta(seconds=5),
        lookback: timedelta = timedelta(days=1),
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._interval = interval
        self._since = datetime.now(UTC) - lookback
        self._unrecoverable: set[str] = set()

    def _query(self) -> str:
        since = self._since.strftime("%Y-%m-%dT%H:%M:%SZ")
        endings = " OR ".join(f"ExecutionStatus = '{s}'" for s in UNSETTLED_ENDINGS)
        return (
            f"WorkflowType = '{WORKFLOW_NAME}' AND TaskQueue = '{self._task_queue}' "
            f"AND ({endings}) AND CloseTime > '{since}'"
        )

    async def sweep_once(self) -> list[str]:
        """Start the settlement of every unsettled batch; return the batch ids started.

        One batch's failure does not hold up the others. A run whose input is
        not a batch (started by hand, say) is logged once and skipped; a
        server error keeps the window where it is, so the next sweep retries.
        """
        started_at = datetime.now(UTC)
        settled: list[str] = []
        retry_window = False
        async for execution in self._client.list_workflows(self._query()):
            batch_id = _batch_of(execution)
            if batch_id in self._unrecoverable:
                continue
            try:
                if await has_settlement(self._client, batch_id):
                    continue  # seen in an earlier sweep, or by another worker
                # A batch run: settle that run, unless a reset's newer run took over.
                # A settlement run that was itself ended: settle the batch's latest run again.
                run_id = None if batch_id != execution.id else execution.run_id
                recovery = await start_settlement(self._client, self._task_queue, batch_id, run_id)
            except NothingToSettle as exc:
                log.info("not settling %s: %s", execution.id, exc)
                continue
            except RPCError as exc:
                retry_window = True
                log.warning("settlement of %s failed (%s); next sweep retries", batch_id, exc)
                continue
            except (ValueError, TypeError) as exc:
                self._unrecoverable.add(batch_id)
                log.error("closed run %s cannot be settled: %s", execution.id, exc)
                continue
            if not recovery.attached:
                settled.append(batch_id)
                log.warning(
                    "batch %s run %s closed without a result (%s); settlement run %s settles it",
                    batch_id,
                    execution.run_id,
                    execution.status.name if execution.status else "?",
                    recovery.handle.id,
                )
        if not retry_window:
            self._since = started_at - VISIBILITY_OVERLAP
        return settled

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval`` until ``stop``; a failed sweep is logged and retried."""
        while not stop.is_set():
            try:
                await self.sweep_once()
            except RPCError as exc:
                log.warning("settlement sweep failed (%s); retrying in %s", exc, self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval.total_seconds())


def _batch_of(execution: WorkflowExecution) -> str:
    """The batch a closed run belongs to: itself, or the batch a settlement run settles."""
    return execution.id.removesuffix(RECOVERY_SUFFIX)


def start_sweeper(
    client: Client, task_queue: str, interval: timedelta | None, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Sweep ``task_queue`` every ``interval`` in the background until ``stop``
    (None: no sweeping); what every worker process runs beside its worker."""
    if interval is None or interval <= timedelta(0):
        return None
    sweeper = UnsettledBatchSweeper(client, task_queue, interval=interval)
    return asyncio.create_task(sweeper.run(stop), name=f"settlement-sweeper-{task_queue}")

"""Growth: one batch at a time as legs grow, its latency and its history size.

A COORDINATED batch that compensates is run too: a ``reject`` fault on the
venue hits the last leg, every other leg fills and must be reverted. History
is fetched through the client (events and protobuf bytes); Temporal's limits
(50,000 events / 50 MiB by default, warnings at 10,240 events / 10 MiB) are
what a batch must stay far from.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio.client import Client

from bench.batches import BatchFactory, BatchSpec
from bench.systems import OursSystem
from execbatch.core.enums import BatchExecutionMode, BatchStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.venue.adapters.paper import PaperVenueAdmin

HISTORY_EVENT_LIMIT = 51_200
HISTORY_EVENT_WARN = 10_240


@dataclass
class GrowthResult:
    mode: str
    legs: int
    compensating: bool
    seconds: float | None
    history_events: int | None
    history_bytes: int | None
    status: str
    error: str | None


async def history_size(client: Client, workflow_id: str) -> tuple[int, int]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events), sum(event.ByteSize() for event in history.events)


async def run_growth_point(
    system: OursSystem,
    client: Client,
    factory: BatchFactory,
    admin: PaperVenueAdmin,
    mode: BatchExecutionMode,
    legs: int,
    compensating: bool = False,
    timeout: float = 60.0,
) -> GrowthResult:
    batch = factory.batch(BatchSpec(mode, legs), "growth")
    expected = BatchStatus.COMPLETED
    if compensating:
        last = batch.commands[-1].command_id
        await admin.add_fault(
            kind="reject",
            client_order_id_prefix=placement_order_id(batch.batch_id, last),
            error="INSUFFICIENT_FUNDS",
            message="bench: reject the last leg",
        )
        expected = BatchStatus.COMPENSATED if legs > 1 else BatchStatus.FAILED
    started = time.perf_counter()
    try:
        error = await asyncio.wait_for(system.run(batch, expected), timeout)
    except Exception as exc:  # noqa: BLE001 - report exactly what failed; the run goes on
        error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        if isinstance(exc, TimeoutError):
            error = f"no result within {timeout:g}s"
        seconds = None
    else:
        seconds = round(time.perf_counter() - started, 3)
    try:
        events, size = await history_size(client, batch.batch_id)
    except Exception as exc:  # noqa: BLE001 - a batch that never started has no history
        error = (error or "") + f"; history: {type(exc).__name__}: {exc}"
        events, size = 0, 0
    try:
        description = await client.get_workflow_handle(batch.batch_id).describe()
        status = description.status.name if description.status else "UNKNOWN"
    except Exception as exc:  # noqa: BLE001 - describe failing is itself a finding
        status = f"describe failed: {type(exc).__name__}"
    return GrowthResult(
        mode=mode.value,
        legs=legs,
        compensating=compensating,
        seconds=seconds,
        history_events=events or None,
        history_bytes=size or None,
        status=status,
        error=error,
    )

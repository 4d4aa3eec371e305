"""Read a closed batch run back from its history: its input, and how it ended.

A run that Temporal ended (execution timeout, termination, failure) can no
longer answer a Query, but its first history event still holds the request
it was started with; the settlement run is built from exactly that, decoded
with the client's data converter (so an encrypting codec is honoured). Its
close event says who or what ended it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
)

from execbatch.core.enums import RunEnding
from execbatch.dtos.execution.batch_run import BatchRunRequest


async def read_run_request(
    client: Client, workflow_id: str, run_id: str | None = None
) -> BatchRunRequest:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events(page_size=1):
        if not event.HasField("workflow_execution_started_event_attributes"):
            break
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [request] = await client.data_converter.decode(payloads, [BatchRunRequest])
        if not isinstance(request, BatchRunRequest):
            raise TypeError(f"{workflow_id}: input decoded as {type(request).__name__}")
        return request
    raise ValueError(f"{workflow_id}: history does not start with a workflow start event")


class NothingToSettle(Exception):
    """The batch's latest run is running or completed normally: no settlement applies."""


@dataclass(frozen=True)
class ClosedRun:
    """A batch run Temporal closed without a result, and how."""

    run_id: str | None
    ending: RunEnding
    detail: str | None
    closed_at: datetime | None


ENDINGS = {
    WorkflowExecutionStatus.TIMED_OUT: RunEnding.TIMED_OUT,
    WorkflowExecutionStatus.TERMINATED: RunEnding.TERMINATED,
    WorkflowExecutionStatus.FAILED: RunEnding.FAILED,
}
"""The run statuses that close a run without a result, and what each is called."""


async def unsettled_ending(
    client: Client, workflow_id: str, run_id: str | None = None
) -> ClosedRun:
    """How the latest run of ``workflow_id`` ended, if it closed without a result.

    Raises ``NothingToSettle`` when it is running or completed normally, or
    when ``run_id`` was superseded by a newer run (a reset).
    """
    latest = await client.get_workflow_handle(workflow_id).describe()
    if run_id is not None and latest.run_id != run_id:
        raise NothingToSettle(
            f"batch {workflow_id}: run {run_id} was followed by run {latest.run_id} "
            "(a reset), which continues the batch"
        )
    ending = ENDINGS.get(latest.status) if latest.status is not None else None
    if ending is None:
        status = latest.status.name if latest.status else "UNKNOWN"
        raise NothingToSettle(f"batch {workflow_id} is {status}: nothing to settle")
    detail = await close_detail(client.get_workflow_handle(workflow_id, run_id=latest.run_id))
    return ClosedRun(
        run_id=latest.run_id, ending=ending, detail=detail, closed_at=latest.close_time
    )


async def close_detail(handle: WorkflowHandle[Any, Any]) -> str | None:
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

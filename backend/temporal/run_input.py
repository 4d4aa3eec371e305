"""Read a batch run's input back from its history.

A run that Temporal ended (execution timeout, termination) can no longer
answer a Query, but its first history event still holds the request it was
started with; the recovery run is built from exactly that, decoded with the
client's data converter (so an encrypting codec is honoured).
"""

from __future__ import annotations

from temporalio.client import Client

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

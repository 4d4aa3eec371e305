"""The batch's search attributes, as the workflow writes them (filters in the Web UI).

``BatchMode`` from the start; ``BatchStatus`` from WINDING_DOWN on, never
RUNNING: a run Temporal closes without a result can no longer change its
search attributes, and a closed run must never say RUNNING. The
ExecutionStatus says a batch runs; its settlement run carries the final
status of a batch that was terminated, failed or timed out.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.core.enums import BatchExecutionMode, BatchStatus
    from execbatch.temporal.search_attributes import BATCH_MODE, BATCH_STATUS


def upsert_mode(mode: BatchExecutionMode) -> None:
    """BatchMode, unless the client set it in the start request (our client does: no
    extra command, one visibility write fewer per batch)."""
    if workflow.info().typed_search_attributes.get(BATCH_MODE) != mode.value:
        workflow.upsert_search_attributes([BATCH_MODE.value_set(mode.value)])


def upsert_status(status: BatchStatus) -> None:
    workflow.upsert_search_attributes([BATCH_STATUS.value_set(status.value)])

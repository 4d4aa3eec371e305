"""A workflow that returns its ExecutionCommandBatch input, to test serialisation alone.

It lives in an importable module (not inside a test function) because the
workflow sandbox re-imports workflow definitions by module.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.dtos.execution import ExecutionCommandBatch


@workflow.defn
class EchoBatchWorkflow:
    @workflow.run
    async def run(self, batch: ExecutionCommandBatch) -> ExecutionCommandBatch:
        return batch

"""FloorWorkflow: does nothing and returns a result the size of a batch result.

What a Temporal executor cannot go below on a given server: one workflow
started (eagerly), one workflow task, one result of the same size as ours.
Default worker options and the default (sandboxed) runner, so the floor is what
anybody gets without tuning.
"""

from __future__ import annotations

from temporalio import workflow

WORKFLOW_NAME = "BenchFloor"


@workflow.defn(name=WORKFLOW_NAME)
class FloorWorkflow:
    @workflow.run
    async def run(self, result_bytes: int) -> str:
        return "x" * result_bytes

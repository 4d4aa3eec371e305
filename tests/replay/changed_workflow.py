"""A deliberately non-deterministic change of ExecutionBatchWorkflow, for the replay test.

It registers under the same workflow name but waits on a timer before placing
the legs (say, someone added a "settle for a second" pause): exactly the kind
of edit that would break every running batch, and that replaying recorded
histories must catch.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.dtos.execution import BatchResult, BatchRunRequest
    from execbatch.workflows.batch_workflow import WORKFLOW_NAME, ExecutionBatchWorkflow
    from execbatch.workflows.leg_state import LegState


@workflow.defn(name=WORKFLOW_NAME)
class PausingBatchWorkflow(ExecutionBatchWorkflow):
    @workflow.init
    def __init__(self, request: BatchRunRequest) -> None:
        super().__init__(request)

    @workflow.run
    async def run(self, request: BatchRunRequest) -> BatchResult:
        return await super().run(request)

    async def _run_legs(self, legs: Sequence[LegState], abort_on_failure: bool) -> str | None:
        await workflow.sleep(1)
        return await super()._run_legs(legs, abort_on_failure)

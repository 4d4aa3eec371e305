"""Version 2 of the batch workflow for the versioned-deploy test: the same workflow
name and behaviour, plus a visible mark on every result it returns."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.dtos.execution import BatchResult, BatchRunRequest
    from execbatch.workflows.batch_workflow import WORKFLOW_NAME, ExecutionBatchWorkflow

V2_MARK = "finished by worker version 2"


@workflow.defn(name=WORKFLOW_NAME)
class BatchWorkflowV2(ExecutionBatchWorkflow):
    @workflow.init
    def __init__(self, request: BatchRunRequest) -> None:
        super().__init__(request)

    @workflow.run
    async def run(self, request: BatchRunRequest) -> BatchResult:
        result = await super().run(request)
        return result.model_copy(update={"reason": f"{V2_MARK}; {result.reason or 'ok'}"})

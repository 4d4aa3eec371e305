"""A worker interceptor that fails batch runs from workflow code, for tests of that ending.

A bug in workflow code that raises a Temporal failure ends the run as Failed,
with none of the batch's own wind-down running: exactly the ending the
settlement sweeper must catch. This interceptor lets a batch run for
``after`` (placing its legs), then raises a non-retryable ApplicationError
from the workflow's main coroutine, the way such a bug would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

INJECTED_MESSAGE = "injected: a bug in workflow code"


class FailRunsAfter(Interceptor):
    def __init__(self, after: timedelta) -> None:
        self._after = after

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        after = self._after

        class _Fail(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                run = asyncio.ensure_future(super().execute_workflow(input))
                try:
                    await workflow.wait_condition(run.done, timeout=after)
                except TimeoutError:
                    raise ApplicationError(
                        INJECTED_MESSAGE, type="InjectedBug", non_retryable=True
                    ) from None
                return await run

        return _Fail

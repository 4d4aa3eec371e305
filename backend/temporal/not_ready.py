"""Retry a call to a workflow whose workflow task is being retried by the server.

From its third attempt of one workflow task on, the server fails an Update or a Query
of that workflow at once, with FAILED_PRECONDITION ("... due to Workflow Task in
failed state", temporalio/temporal service/history/api/updateworkflow/api.go,
``failUpdateWorkflowTaskAttemptCount = 3``; queryworkflow ``failQueryWorkflowTask
AttemptCount``). Two workers killed one after the other while they held the task
(each attempt then times out) get there without anything being wrong with the
workflow: its next attempt on a live worker completes it. A client that gave up at
the first such answer would refuse a batch (or a kill switch) for a crash it did not
see. A task that keeps failing (a bug) still surfaces, once the budget is spent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")

NOT_READY_BUDGET_SECONDS = 60.0
"""Long enough for a few workflow-task timeouts (10 s each by default) to pass."""
_FIRST_PAUSE = 0.2
_LONGEST_PAUSE = 2.0


def task_being_retried(exc: BaseException) -> bool:
    """The server's answer while the workflow's task is on its third attempt or later."""
    return (
        isinstance(exc, RPCError)
        and exc.status is RPCStatusCode.FAILED_PRECONDITION
        and "Workflow Task in failed state" in exc.message
    )


async def while_task_retried(
    call: Callable[[], Awaitable[T]], budget_seconds: float = NOT_READY_BUDGET_SECONDS
) -> T:
    """``call()``, asked again with backoff while the server answers that the workflow's
    task is being retried; any other error, or that one past the budget, is raised."""
    deadline = time.monotonic() + budget_seconds
    pause = _FIRST_PAUSE
    while True:
        try:
            return await call()
        except RPCError as exc:
            if not task_being_retried(exc) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)

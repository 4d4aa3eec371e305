"""Two versions of one workflow type: the first fails every workflow task (as a
worker that dies holding it would leave it: attempt after attempt), the second
answers. Used to put a run's task into the server's "being retried" state."""

from __future__ import annotations

from temporalio import workflow

NAME = "FlakyTask"


@workflow.defn(name=NAME)
class FailingTask:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("this workflow task fails (on purpose)")

    @workflow.update
    async def ping(self) -> str:
        return "never"


@workflow.defn(name=NAME)
class AnsweringTask:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def ping(self) -> str:
        return "pong"

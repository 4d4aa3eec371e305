"""A call to a workflow whose task the server is retrying is asked again until a live
worker completes the task (execbatch.temporal.not_ready), on the dev server: the
time-skipping server has no such fail-fast answer."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from execbatch.temporal.not_ready import task_being_retried, while_task_retried
from tests.temporal.flaky_task_workflow import AnsweringTask, FailingTask

pytestmark = pytest.mark.devserver


async def test_an_update_waits_out_a_task_being_retried(
    dev_server_env: WorkflowEnvironment,
) -> None:
    client = dev_server_env.client
    queue = f"flaky-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        FailingTask.run, id=f"flaky-{uuid.uuid4().hex}", task_queue=queue
    )
    async with Worker(client, task_queue=queue, workflows=[FailingTask]):
        # Attempt after attempt fails: from the third on the server answers at once.
        deadline = time.monotonic() + 60
        while (await handle.describe()).raw_description.pending_workflow_task.attempt < 3:
            assert time.monotonic() < deadline, "the task never reached its third attempt"
            await asyncio.sleep(0.2)
    with pytest.raises(RPCError) as plain:
        await handle.execute_update(FailingTask.ping)
    assert task_being_retried(plain.value), plain.value
    async with Worker(client, task_queue=queue, workflows=[AnsweringTask]):
        answer = await while_task_retried(lambda: handle.execute_update(AnsweringTask.ping))
    assert answer == "pong"
    await handle.terminate("test over")


async def test_another_error_is_raised_at_once(dev_server_env: WorkflowEnvironment) -> None:
    handle = dev_server_env.client.get_workflow_handle(f"absent-{uuid.uuid4().hex}")
    with pytest.raises(RPCError) as raised:
        await while_task_retried(lambda: handle.execute_update(AnsweringTask.ping))
    assert not task_being_retried(raised.value)
    assert raised.value.status.name == "NOT_FOUND"

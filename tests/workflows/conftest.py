"""Workflow-logic fixtures: a worker on the time-skipping server over a scripted venue."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Interceptor

from execbatch.client.batch_client import BatchClient, Submission
from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.dtos.strategy import ExecutionPolicy
from execbatch.risk.limits import RiskLimits
from execbatch.risk.states import scope_of, trading_state_workflow_id
from execbatch.worker import build_worker
from tests.workflows.scripted_venue import ScriptedVenue

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str, directive_id: str | None = None) -> DirectiveDocument:
    """An example document, with a fresh directive id so each test gets its own batch."""
    document = DirectiveDocument.from_file(EXAMPLES / f"{name}.json")
    new_id = directive_id or f"{document.directive.directive_id}-{uuid.uuid4().hex[:8]}"
    return document.model_copy(
        update={"directive": document.directive.model_copy(update={"directive_id": new_id})}
    )


def with_policy(
    document: DirectiveDocument, mode: BatchExecutionMode, timeout_seconds: int | None
) -> DirectiveDocument:
    policy = ExecutionPolicy(mode=mode, timeout_seconds=timeout_seconds)
    directive = document.directive.model_copy(update={"execution_policy": policy})
    return document.model_copy(update={"directive": directive})


@dataclass
class BatchHarness:
    env: WorkflowEnvironment
    venue: ScriptedVenue
    client: BatchClient
    queue: str = ""

    async def submit(self, document: DirectiveDocument) -> Submission:
        return await self.client.submit_document(document)

    async def run(self, document: DirectiveDocument) -> BatchResult:
        submission = await self.submit(document)
        return await submission.handle.result()


@pytest.fixture
def harness(time_skipping_env: WorkflowEnvironment) -> Callable[..., object]:
    @asynccontextmanager
    async def make(
        venue: ScriptedVenue | None = None,
        settings: ExecutionSettings | None = None,
        interceptors: Sequence[Interceptor] = (),
        limits: RiskLimits | None = None,
    ) -> AsyncIterator[BatchHarness]:
        venue = venue or ScriptedVenue()
        queue = f"tq-{uuid.uuid4().hex[:8]}"
        worker = build_worker(
            time_skipping_env.client,
            queue,
            venue,
            interceptors=interceptors,
            limits=limits,
            state_reuse_seconds=0,  # these tests halt with no quiet period
        )
        client = BatchClient(time_skipping_env.client, queue, settings=settings)
        async with worker:
            yield BatchHarness(env=time_skipping_env, venue=venue, client=client, queue=queue)
            # A trading-state entity runs forever: stop this test's ones, so the
            # shared time-skipping server never waits on them.
            for scope in (scope_of(None), scope_of("default")):
                handle = time_skipping_env.client.get_workflow_handle(
                    trading_state_workflow_id(queue, scope)
                )
                with contextlib.suppress(RPCError):
                    await handle.terminate("test over")

    return make

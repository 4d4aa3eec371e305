"""Generated bad directive documents through ``execbatch submit``: every one exits 2,
names the field, and starts no workflow (hypothesis, a bounded number of examples)."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment

from bench.chaos.fuzz import cli_submitter, fuzz_submit, fuzz_workflows_started

pytestmark = pytest.mark.devserver

EXAMPLES = 80


async def test_bad_documents_are_refused_by_submit(dev_server_env: WorkflowEnvironment) -> None:
    client = dev_server_env.client
    env = {
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "EXECBATCH_TASK_QUEUE": "fuzz-nobody-polls",
    }
    outcome = await asyncio.to_thread(fuzz_submit, EXAMPLES, 20261125, cli_submitter(env))
    started = await fuzz_workflows_started(client)
    assert outcome.tried == EXAMPLES
    assert not outcome.failures, "\n".join(outcome.failures)
    assert not started, f"workflows started from bad documents: {started}"

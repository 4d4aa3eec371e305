"""Generated bad directive documents through ``execbatch submit``: every one exits 2,
names the field, and starts no workflow (hypothesis, a bounded number of examples)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import TypeAdapter, ValidationError
from temporalio.testing import WorkflowEnvironment

from execbatch.dtos.types import Identifier
from tests.reliability.chaos.fuzz import (
    INJECTIONS,
    cli_submitter,
    fuzz_submit,
    fuzz_workflows_started,
    is_identifier,
)

EXAMPLES = 80


@pytest.mark.devserver
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


@pytest.mark.parametrize(
    "value", [*INJECTIONS, "a:b", "x" * 100, "x" * 101, "-leading", ".dot", "a\n", "ok-1.2_3"]
)
def test_the_fuzzers_idea_of_an_id_is_the_models(value: str) -> None:
    """A generated "bad id" that the models accept would be a false alarm (seed 5 found
    "aapl", a symbol injection that is a perfectly good id), so the two must agree."""
    try:
        TypeAdapter(Identifier).validate_python(value)
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert is_identifier(value) is accepted

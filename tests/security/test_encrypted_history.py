"""With the codec on, Temporal's history holds ciphertext, and every mode still runs.

Real processes: a dev server, a venue requiring signed requests, and a worker
built with ``worker.build_worker`` on a client that has the codec.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client

from execbatch.client.batch_client import BatchClient
from execbatch.core.enums import BatchExecutionMode, BatchStatus
from execbatch.security.codec import ENCODING, EncryptionCodec
from execbatch.venue.adapters.paper import PaperVenueAdapter
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.worker import build_worker
from execbatch.workflows.batch_workflow import (
    PRE_TRADE_ONE_CALL_PATCH,
    PRE_TRADE_PATCH,
    VENUE_RULES_PATCH,
)
from execbatch.workflows.risk_gate import GATE_SETTLES_PATCH, RISK_PATCH
from execbatch.workflows.wind_down import SETTLE_WITHOUT_FENCE_PATCH
from tests.security.batches import MARKERS, secret_document
from tests.security.history import FoundPayload, payloads
from tests.security.stack import DevServer, SecretSet

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
async def batches(
    codec_client: Client, priced_venue: VenueProcess, secret_set: SecretSet
) -> AsyncIterator[BatchClient]:
    queue = f"sec-{uuid.uuid4().hex[:8]}"
    adapter = PaperVenueAdapter(priced_venue.base_url, api_key=secret_set.venue_api_key)
    try:
        async with build_worker(codec_client, queue, adapter):
            yield BatchClient(codec_client, queue)
    finally:
        await adapter.aclose()


def history_payloads(dev_server: DevServer, workflow_id: str) -> tuple[str, list[FoundPayload]]:
    text = dev_server.cli("workflow", "show", "--workflow-id", workflow_id, "--output", "json")
    return text, list(payloads(json.loads(text)))


LOCAL_ACTIVITY_MARKER_FIELDS = {
    "seq",
    "attempt",
    "activity_id",
    "activity_type",
    "complete_time",
    "backoff",
    "original_schedule_time",
    "activation_index",
}


PATCH_IDS = frozenset(
    {
        VENUE_RULES_PATCH,
        SETTLE_WITHOUT_FENCE_PATCH,
        RISK_PATCH,
        GATE_SETTLES_PATCH,
        PRE_TRADE_PATCH,
        PRE_TRADE_ONE_CALL_PATCH,
    }
)
"""The workflow's patch ids (names of code changes, never order data)."""


def is_sdk_bookkeeping(payload: FoundPayload) -> bool:
    """The SDK core's own marker data (a local activity's sequence number, type and
    times; a patch's id): written by the core, not by a converter, so never
    encoded; it holds no order data, which this checks field by field."""
    if payload.path.endswith("markerRecordedEventAttributes.details.patch-data.payloads[0]"):
        # A workflow.patched() marker: the patch id and whether it is deprecated.
        data = json.loads(payload.data)
        return set(data) <= {"id", "deprecated"} and data.get("id") in PATCH_IDS
    if not payload.path.endswith("markerRecordedEventAttributes.details.data.payloads[0]"):
        return False
    return set(json.loads(payload.data)) <= LOCAL_ACTIVITY_MARKER_FIELDS


def assert_ciphertext_only(text: str, found: list[FoundPayload]) -> None:
    assert found, "no payloads in the history"
    plain = [
        (p.path, p.encoding)
        for p in found
        if p.metadata.get("encoding") != ENCODING and not is_sdk_bookkeeping(p)
    ]
    assert plain == [], f"unencrypted payloads in the history: {plain}"
    for marker in MARKERS:
        assert marker not in text
        assert all(marker.encode() not in p.data for p in found)


CASES = [
    (BatchExecutionMode.INDEPENDENT, False, BatchStatus.COMPLETED),
    (BatchExecutionMode.COORDINATED, False, BatchStatus.COMPLETED),
    (BatchExecutionMode.SEQUENTIAL, False, BatchStatus.COMPLETED),
    (BatchExecutionMode.COORDINATED, True, None),
    (BatchExecutionMode.SEQUENTIAL, True, None),
]


@pytest.mark.parametrize(("mode", "reject", "expected"), CASES)
async def test_every_mode_runs_and_history_is_ciphertext(
    batches: BatchClient,
    dev_server: DevServer,
    codec: EncryptionCodec,
    mode: BatchExecutionMode,
    reject: bool,
    expected: BatchStatus | None,
) -> None:
    submission = await batches.submit_document(secret_document(mode, reject_second=reject))
    result = await submission.handle.result()
    if expected is not None:
        assert result.status is expected
    else:
        assert result.status is not BatchStatus.COMPLETED
    assert result.mode is mode

    text, found = history_payloads(dev_server, submission.batch.batch_id)
    assert_ciphertext_only(text, found)
    encoded_failures = [p for p in found if ".failure." in p.path or "encodedAttributes" in p.path]
    if reject:
        assert encoded_failures, "a rejected leg leaves an (encrypted) failure in the history"

    # whoever holds the key reads it all back
    sealed = [p for p in found if p.metadata.get("encoding") == ENCODING]
    assert len(sealed) >= 6, "input, result, activity inputs/results are all encrypted"
    decoded = await codec.decode([Payload(metadata=p.metadata, data=p.data) for p in sealed])
    plain_text = b"".join(p.data for p in decoded)
    assert b"HUSHA" in plain_text
    assert b"BUY 17 HUSHA" in plain_text


async def test_query_results_are_ciphertext(
    batches: BatchClient, plain_client: Client, codec: EncryptionCodec
) -> None:
    submission = await batches.submit_document(secret_document(BatchExecutionMode.INDEPENDENT))
    await submission.handle.result()
    answer = await plain_client.workflow_service.query_workflow(
        QueryWorkflowRequest(
            namespace=plain_client.namespace,
            execution=WorkflowExecution(workflow_id=submission.batch.batch_id),
            query=WorkflowQuery(query_type="status"),
        )
    )
    raw = list(answer.query_result.payloads)
    assert [p.metadata["encoding"] for p in raw] == [ENCODING]
    assert b"HUSHA" not in raw[0].data
    status = await batches.status(submission.batch.batch_id)
    assert status.status is BatchStatus.COMPLETED
    assert b"HUSHA" in (await codec.decode(raw))[0].data

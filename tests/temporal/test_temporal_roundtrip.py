"""A batch through a real (time-skipping) Temporal server and back, with our converter."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommandBatch
from execbatch.planning import BaseExecutionPlanner
from execbatch.testing.factories import ISSUE_EXAMPLE, make_command
from tests.temporal.echo_workflow import EchoBatchWorkflow

AMSTERDAM = timezone(timedelta(hours=1))


def the_batch() -> ExecutionCommandBatch:
    document = DirectiveDocument.from_json(ISSUE_EXAMPLE)
    commands = (
        *document.commands,
        make_command(
            command_id="c3",
            plan_id="p3",
            order_type="LIMIT",
            quantity="0.00000001",
            limit_price="0.1",
        ),
    )
    directive = document.directive.model_copy(update={"target_plan_ids": ("p1", "p2", "p3")})
    created = datetime(2025, 12, 7, 10, 30, 0, 123456, tzinfo=AMSTERDAM)
    return BaseExecutionPlanner(clock=lambda: created).create_batch(directive, commands)


async def echo(env: WorkflowEnvironment, batch: ExecutionCommandBatch) -> tuple[object, str]:
    queue = f"echo-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[EchoBatchWorkflow]):
        handle = await env.client.start_workflow(
            EchoBatchWorkflow.run, batch, id=f"echo-{uuid.uuid4().hex}", task_queue=queue
        )
        result = await handle.result()
        history = await handle.fetch_history()
    started = next(
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    )
    payload = started.workflow_execution_started_event_attributes.input.payloads[0]
    return result, payload.data.decode()


async def test_client_uses_the_pydantic_converter(time_skipping_env: WorkflowEnvironment) -> None:
    converter = time_skipping_env.client.data_converter
    assert converter.payload_converter_class is PydanticPayloadConverter


async def test_batch_round_trips_through_temporal_equal(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    batch = the_batch()
    assert batch.mode is BatchExecutionMode.COORDINATED

    result, _ = await echo(time_skipping_env, batch)

    assert isinstance(result, ExecutionCommandBatch)
    assert result == batch
    assert result.timeout_seconds == 30
    assert result.mode is BatchExecutionMode.COORDINATED


async def test_decimal_and_aware_datetime_survive_with_their_types(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    batch = the_batch()
    result, _ = await echo(time_skipping_env, batch)
    assert isinstance(result, ExecutionCommandBatch)

    tiny = result.commands[2]
    assert type(tiny.quantity) is Decimal
    assert tiny.quantity == Decimal("0.00000001")
    assert type(tiny.limit_price) is Decimal
    assert tiny.limit_price * 3 == Decimal("0.3")
    assert type(result.commands[1].limit_price) is Decimal
    assert result.commands[1].limit_price == Decimal("410.25")

    assert type(result.created_at) is datetime
    assert result.created_at.utcoffset() == timedelta(0)
    assert result.created_at == datetime(2025, 12, 7, 9, 30, 0, 123456, tzinfo=UTC)


async def test_the_payload_on_the_wire_has_money_as_strings(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    _, wire = await echo(time_skipping_env, the_batch())
    data = json.loads(wire)
    assert set(data) == {"batch_id", "commands", "created_at", "mode", "timeout_seconds"}
    assert data["commands"][2]["quantity"] == "0.00000001"
    assert data["commands"][1]["limit_price"] == "410.25"
    assert data["created_at"] == "2025-12-07T09:30:00.123456Z"
    assert data["mode"] == "COORDINATED"

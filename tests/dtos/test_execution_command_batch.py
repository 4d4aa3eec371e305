"""ADR 3.2 / checklist item 4: ExecutionCommandBatch after the rename and removals."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.execution import ExecutionCommandBatch
from execbatch.testing.factories import assert_rejected, batch_data, command_data, make_batch

REMOVED_FIELDS = ["execution_mode", "metadata", "rollback_on_failure"]


def test_fields_are_exactly_the_adrs() -> None:
    assert list(ExecutionCommandBatch.model_fields) == [
        "batch_id",
        "commands",
        "created_at",
        "mode",
        "timeout_seconds",
    ]


@pytest.mark.parametrize("field", REMOVED_FIELDS)
def test_removed_fields_are_gone(field: str) -> None:
    assert field not in ExecutionCommandBatch.model_fields
    assert not hasattr(make_batch(), field)


def test_mode_is_a_required_batch_execution_mode() -> None:
    hints = typing.get_type_hints(ExecutionCommandBatch)
    assert hints["mode"] is BatchExecutionMode
    assert ExecutionCommandBatch.model_fields["mode"].is_required()
    data = batch_data()
    del data["mode"]
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(data)
    assert_rejected(excinfo, ("mode",), "Field required")


def test_timeout_seconds_defaults_to_none() -> None:
    assert make_batch().timeout_seconds is None
    assert make_batch(timeout_seconds=45).timeout_seconds == 45


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("execution_mode", "COORDINATED"),
        ("metadata", {"reason": "FLASH_CRASH"}),
        ("metadata", {}),
        ("rollback_on_failure", True),
        ("rollback_on_failure", False),
    ],
)
def test_a_payload_carrying_a_removed_field_is_rejected_naming_it(
    field: str, value: object
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(**{field: value}))
    assert_rejected(excinfo, (field,), "Extra inputs are not permitted")
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate_json(json.dumps(batch_data(**{field: value})))
    assert_rejected(excinfo, (field,), "Extra inputs are not permitted")


def test_an_old_style_payload_reports_every_removed_field() -> None:
    data = batch_data(execution_mode="COORDINATED", metadata={}, rollback_on_failure=True)
    del data["mode"]
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(data)
    locs = {e["loc"] for e in excinfo.value.errors()}
    assert locs == {("mode",), ("execution_mode",), ("metadata",), ("rollback_on_failure",)}


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "greater than 0"), (-1, "greater than 0"), ("30", "valid integer"), (1.5, "integer")],
)
def test_bad_timeout_is_rejected(value: object, text: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(timeout_seconds=value))
    assert_rejected(excinfo, ("timeout_seconds",), text)


def test_naive_created_at_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(created_at="2025-12-07T09:30:00"))
    assert_rejected(excinfo, ("created_at",), "timezone info")
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(created_at=datetime(2025, 12, 7, 9, 30)))
    assert_rejected(excinfo, ("created_at",), "timezone info")


def test_aware_created_at_is_normalised_to_utc_keeping_the_instant() -> None:
    amsterdam = datetime(2025, 12, 7, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    batch = make_batch(created_at=amsterdam)
    assert batch.created_at == amsterdam
    assert batch.created_at.utcoffset() == timedelta(0)
    assert batch.created_at == datetime(2025, 12, 7, 9, 30, tzinfo=UTC)
    assert make_batch(created_at="2025-12-07T10:30:00+01:00").created_at == batch.created_at


def test_duplicate_command_ids_are_rejected_naming_the_id() -> None:
    commands = [command_data(), command_data(plan_id="p2")]  # both c1
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(commands=commands))
    assert_rejected(excinfo, ("commands",), "duplicated: 'c1'")


def test_empty_commands_are_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(commands=[]))
    assert_rejected(excinfo, ("commands",), "at least 1 item")


def test_an_invalid_command_is_reported_at_its_index() -> None:
    commands = [command_data(), command_data(command_id="c2", plan_id="p2", quantity="0")]
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(commands=commands))
    assert_rejected(excinfo, ("commands", 1, "quantity"), "greater than 0")


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(mode="ROLLBACK"))
    assert_rejected(excinfo, ("mode",), "'INDEPENDENT', 'COORDINATED' or 'SEQUENTIAL'")


@pytest.mark.parametrize("field", ["batch_id", "commands", "created_at", "mode"])
def test_missing_fields_are_rejected(field: str) -> None:
    data = batch_data()
    del data[field]
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(data)
    assert_rejected(excinfo, (field,), "Field required")


@pytest.mark.parametrize("bad", ["batch d", "batch:d", "b\u00e4tch", "batch-d\n", ""])
def test_unsafe_batch_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommandBatch.model_validate(batch_data(batch_id=bad))
    assert excinfo.value.errors()[0]["loc"] == ("batch_id",)


def test_is_frozen() -> None:
    batch = make_batch()
    with pytest.raises(ValidationError):
        batch.mode = BatchExecutionMode.COORDINATED  # type: ignore[misc]


def test_json_round_trip_is_equal() -> None:
    batch = make_batch(mode="SEQUENTIAL", timeout_seconds=120)
    text = batch.model_dump_json()
    data = json.loads(text)
    assert data["mode"] == "SEQUENTIAL"
    assert data["created_at"] == "2025-12-07T09:30:00Z"
    assert data["commands"][0]["quantity"] == "10"
    assert ExecutionCommandBatch.model_validate_json(text) == batch


def test_differences_ignore_created_at_and_name_each_field() -> None:
    first = make_batch()
    later = make_batch(created_at="2026-01-02T10:00:00Z")
    assert first.differences(later) == []
    written_as_text = make_batch(commands=[command_data(quantity="10.0")])
    written_as_integer = make_batch(commands=[command_data(quantity=10)])
    assert written_as_text.differences(written_as_integer) == []  # one quantity, two ways

    changed = make_batch(
        mode="COORDINATED",
        timeout_seconds=30,
        commands=[
            command_data(quantity="12"),
            command_data(command_id="c2", plan_id="p2", side="SELL"),
            command_data(command_id="c3", plan_id="p3"),
        ],
    )
    assert first.differences(changed) == [
        "commands: 2 != 3 items",
        "commands[0].quantity: 10 != 12",
        "mode: INDEPENDENT != COORDINATED",
        "timeout_seconds: none != 30",
    ]

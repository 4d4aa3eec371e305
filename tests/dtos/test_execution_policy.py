"""ADR 2.2 / checklist item 2: ExecutionPolicy in backend/dtos/strategy/strategy_directive.py."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.strategy import ExecutionPolicy, strategy_directive
from execbatch.testing.factories import assert_rejected


def test_lives_in_the_strategy_directive_module() -> None:
    assert ExecutionPolicy.__module__ == "execbatch.dtos.strategy.strategy_directive"
    assert strategy_directive.ExecutionPolicy is ExecutionPolicy


def test_defaults_are_independent_without_timeout() -> None:
    policy = ExecutionPolicy()
    assert policy.mode is BatchExecutionMode.INDEPENDENT
    assert policy.timeout_seconds is None
    assert ExecutionPolicy.model_validate_json("{}") == policy


def test_is_frozen() -> None:
    policy = ExecutionPolicy(mode=BatchExecutionMode.COORDINATED, timeout_seconds=30)
    with pytest.raises(ValidationError) as excinfo:
        policy.mode = BatchExecutionMode.INDEPENDENT  # type: ignore[misc]
    assert excinfo.value.errors()[0]["type"] == "frozen_instance"
    with pytest.raises(ValidationError):
        policy.timeout_seconds = 60  # type: ignore[misc]
    assert policy.timeout_seconds == 30
    assert hash(policy) == hash(ExecutionPolicy(mode="COORDINATED", timeout_seconds=30))


@pytest.mark.parametrize("mode", list(BatchExecutionMode))
def test_every_mode_parses_from_json(mode: BatchExecutionMode) -> None:
    policy = ExecutionPolicy.model_validate_json(json.dumps({"mode": mode.value}))
    assert policy.mode is mode


@pytest.mark.parametrize("seconds", [1, 30, 3600])
def test_positive_integer_timeout_is_accepted(seconds: int) -> None:
    assert ExecutionPolicy(timeout_seconds=seconds).timeout_seconds == seconds
    parsed = ExecutionPolicy.model_validate_json(json.dumps({"timeout_seconds": seconds}))
    assert parsed.timeout_seconds == seconds


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "greater than 0"),
        (-1, "greater than 0"),
        ("30", "valid integer"),
        (1.5, "valid integer"),
        (30.0, "valid integer"),
        (True, "valid integer"),
    ],
)
def test_bad_timeout_is_rejected_naming_the_field(value: object, text: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionPolicy.model_validate({"timeout_seconds": value})
    assert_rejected(excinfo, ("timeout_seconds",), text)
    with pytest.raises(ValidationError) as excinfo:
        ExecutionPolicy.model_validate_json(json.dumps({"timeout_seconds": value}))
    assert_rejected(excinfo, ("timeout_seconds",), text)


def test_unknown_mode_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionPolicy.model_validate_json('{"mode": "ALL_OR_NOTHING"}')
    assert_rejected(excinfo, ("mode",), "'INDEPENDENT', 'COORDINATED' or 'SEQUENTIAL'")


@pytest.mark.parametrize("field", ["rollback_on_failure", "metadata", "execution_mode"])
def test_unknown_fields_are_rejected(field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionPolicy.model_validate({"mode": "COORDINATED", field: True})
    assert_rejected(excinfo, (field,), "Extra inputs are not permitted")


def test_timeout_is_bounded_to_a_week() -> None:
    week = 7 * 24 * 3600
    assert ExecutionPolicy(timeout_seconds=week).timeout_seconds == week
    with pytest.raises(ValidationError) as excinfo:
        ExecutionPolicy(timeout_seconds=week + 1)
    assert_rejected(excinfo, ("timeout_seconds",), "less than or equal to 604800")

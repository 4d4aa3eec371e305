"""ADR 3.1 / checklist item 3: StrategyDirective and its optional execution_policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from execbatch.testing.factories import assert_rejected, directive_data, make_directive

INJECTION_IDS = [
    "d 42",
    "d:42",
    "../../etc/passwd",
    "d-42'; DROP TABLE batches;--",
    "d-42\n",
    "\u0434-42",  # Cyrillic de
    "d\u200b42",  # zero-width space
    "-leading-dash",
    "x" * 101,
    "",
]


def test_execution_policy_is_optional_and_defaults_to_none() -> None:
    directive = StrategyDirective.model_validate(directive_data())
    assert directive.execution_policy is None
    field = StrategyDirective.model_fields["execution_policy"]
    assert not field.is_required()
    assert field.default is None
    assert "If None, INDEPENDENT mode is used" in (field.description or "")


def test_execution_policy_is_parsed_when_given() -> None:
    directive = StrategyDirective.model_validate(
        directive_data(execution_policy={"mode": "SEQUENTIAL", "timeout_seconds": 120})
    )
    assert directive.execution_policy == ExecutionPolicy(
        mode=BatchExecutionMode.SEQUENTIAL, timeout_seconds=120
    )


def test_target_plan_ids_keep_their_order() -> None:
    directive = make_directive(target_plan_ids=["z", "a", "m"])
    assert directive.target_plan_ids == ("z", "a", "m")


def test_is_frozen() -> None:
    directive = make_directive()
    with pytest.raises(ValidationError):
        directive.directive_id = "other"  # type: ignore[misc]


def test_empty_target_plan_ids_are_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(directive_data(target_plan_ids=[]))
    assert_rejected(excinfo, ("target_plan_ids",), "at least 1 item")


def test_duplicate_target_plan_ids_are_rejected_naming_the_duplicate() -> None:
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(directive_data(target_plan_ids=["p1", "p2", "p1"]))
    assert_rejected(excinfo, ("target_plan_ids",), "duplicated: ['p1']")


@pytest.mark.parametrize("field", ["directive_id", "strategy_id", "target_plan_ids"])
def test_missing_fields_are_rejected_naming_the_field(field: str) -> None:
    data = directive_data()
    del data[field]
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(data)
    assert_rejected(excinfo, (field,), "Field required")


@pytest.mark.parametrize("bad", INJECTION_IDS)
@pytest.mark.parametrize("field", ["directive_id", "strategy_id"])
def test_unsafe_ids_are_rejected(field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(directive_data(**{field: bad}))
    assert excinfo.value.errors()[0]["loc"] == (field,)
    assert field in str(excinfo.value)


@pytest.mark.parametrize("bad", INJECTION_IDS)
def test_unsafe_plan_ids_are_rejected_at_their_index(bad: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(directive_data(target_plan_ids=["p1", bad]))
    assert excinfo.value.errors()[0]["loc"] == ("target_plan_ids", 1)


def test_unknown_policy_mode_is_rejected_at_its_path() -> None:
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(directive_data(execution_policy={"mode": "FAST"}))
    assert_rejected(excinfo, ("execution_policy", "mode"), "'INDEPENDENT'")


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        StrategyDirective.model_validate(directive_data(priority="high"))
    assert_rejected(excinfo, ("priority",), "Extra inputs are not permitted")

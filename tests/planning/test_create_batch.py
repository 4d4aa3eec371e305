"""ADR 2.1 / 2.4: create_batch is a dumb pipe, one directive to one batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.strategy import ExecutionPolicy
from execbatch.planning import BaseExecutionPlanner, PlanMismatchError, batch_id_for
from execbatch.testing.factories import FIXED_TIME, commands_for, make_command, make_directive

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def planner(at: datetime = FIXED_TIME) -> BaseExecutionPlanner:
    return BaseExecutionPlanner(clock=lambda: at)


@pytest.mark.parametrize("mode", list(BatchExecutionMode))
@pytest.mark.parametrize("timeout", [None, 1, 30])
def test_mode_and_timeout_are_copied_from_the_policy(
    mode: BatchExecutionMode, timeout: int | None
) -> None:
    directive = make_directive(mode=mode, timeout_seconds=timeout)
    batch = planner().create_batch(directive, commands_for(directive.target_plan_ids))
    assert batch.mode is mode
    assert batch.timeout_seconds == timeout


def test_no_policy_means_independent_without_timeout() -> None:
    directive = make_directive()
    assert directive.execution_policy is None
    batch = planner().create_batch(directive, commands_for(directive.target_plan_ids))
    assert batch.mode is BatchExecutionMode.INDEPENDENT
    assert batch.timeout_seconds is None


def test_a_default_policy_is_the_same_as_no_policy() -> None:
    bare = make_directive()
    with_default = bare.model_copy(update={"execution_policy": ExecutionPolicy()})
    commands = commands_for(bare.target_plan_ids)
    assert planner().create_batch(bare, commands) == planner().create_batch(with_default, commands)


def test_commands_pass_through_unchanged_and_in_order() -> None:
    directive = make_directive(target_plan_ids=["z", "a", "m"])
    commands = commands_for(directive.target_plan_ids)
    batch = planner().create_batch(directive, commands)
    assert list(batch.commands) == commands
    assert [c.plan_id for c in batch.commands] == ["z", "a", "m"]


def test_created_at_comes_from_the_clock_as_aware_utc() -> None:
    directive = make_directive()
    batch = planner(FIXED_TIME).create_batch(directive, commands_for(directive.target_plan_ids))
    assert batch.created_at == FIXED_TIME
    real = BaseExecutionPlanner().create_batch(directive, commands_for(directive.target_plan_ids))
    assert real.created_at.tzinfo is not None
    assert real.created_at.utcoffset() == timedelta(0)


def test_batch_id_is_derived_from_the_directive_id() -> None:
    directive = make_directive(directive_id="d-42")
    batch = planner().create_batch(directive, commands_for(directive.target_plan_ids))
    assert batch.batch_id == batch_id_for("d-42")
    assert "d-42" in batch.batch_id


def test_the_same_directive_twice_maps_to_the_same_batch_id() -> None:
    directive = make_directive(mode=BatchExecutionMode.COORDINATED)
    commands = commands_for(directive.target_plan_ids)
    first = planner(FIXED_TIME).create_batch(directive, commands)
    later = planner(FIXED_TIME + timedelta(hours=3)).create_batch(directive, commands)
    assert first.batch_id == later.batch_id
    assert first.created_at != later.created_at


def test_different_directives_get_different_batch_ids() -> None:
    ids = {batch_id_for(d) for d in ["d-1", "d-2", "d-10", "d.1", "d_1"]}
    assert len(ids) == 5


def test_the_longest_valid_directive_id_still_makes_a_valid_batch() -> None:
    directive = make_directive(directive_id="d" * 100, target_plan_ids=["p1"])
    batch = planner().create_batch(directive, commands_for(["p1"]))
    assert batch.batch_id == batch_id_for("d" * 100)


def test_it_makes_no_decisions_about_commands() -> None:
    """Opposite sides, mixed order types, a tiny quantity: nothing is merged or reordered."""
    directive = make_directive(target_plan_ids=["p1", "p2", "p3"])
    commands = [
        make_command(command_id="c1", plan_id="p1", symbol="AAPL", side="BUY"),
        make_command(command_id="c2", plan_id="p2", symbol="AAPL", side="SELL"),
        make_command(
            command_id="c3",
            plan_id="p3",
            order_type="LIMIT",
            quantity="0.00000001",
            limit_price="1",
        ),
    ]
    assert list(planner().create_batch(directive, commands).commands) == commands


# ---------------------------------------------------------------- the one-to-one check


def mismatch(plan_ids: list[str], command_plan_ids: list[str]) -> str:
    directive = make_directive(target_plan_ids=plan_ids)
    with pytest.raises(PlanMismatchError) as excinfo:
        planner().create_batch(directive, commands_for(command_plan_ids))
    return str(excinfo.value)


def test_a_missing_plan_is_named() -> None:
    message = mismatch(["p1", "p2", "p3"], ["p1", "p3"])
    assert "missing command for plan id(s) ['p2']" in message


def test_an_extra_plan_is_named() -> None:
    message = mismatch(["p1", "p2"], ["p1", "p2", "p9"])
    assert "plan id(s) ['p9'] not in target_plan_ids" in message
    assert "missing" not in message


def test_a_duplicated_plan_is_named() -> None:
    message = mismatch(["p1", "p2"], ["p1", "p2", "p2"])
    assert "more than one command for plan id(s) ['p2']" in message


def test_missing_and_extra_are_both_named() -> None:
    message = mismatch(["p1", "p2"], ["p1", "p3"])
    assert "['p2']" in message and "['p3']" in message


def test_out_of_order_plans_are_named() -> None:
    message = mismatch(["p1", "p2", "p3"], ["p1", "p3", "p2"])
    assert "out of order" in message
    assert "['p3', 'p2'] misplaced" in message
    assert "expected ['p1', 'p2', 'p3'], got ['p1', 'p3', 'p2']" in message


def test_no_commands_names_every_plan_as_missing() -> None:
    assert "missing command for plan id(s) ['p1', 'p2']" in mismatch(["p1", "p2"], [])


def test_plan_mismatch_is_a_value_error() -> None:
    assert issubclass(PlanMismatchError, ValueError)


# ---------------------------------------------------------------- the ADR's section 4 table


@pytest.mark.parametrize(
    ("example", "mode", "legs"),
    [
        ("flash_crash_close", BatchExecutionMode.INDEPENDENT, 3),
        ("pair_trade", BatchExecutionMode.COORDINATED, 2),
        ("dca", BatchExecutionMode.INDEPENDENT, 3),
        ("rotation", BatchExecutionMode.SEQUENTIAL, 2),
    ],
)
def test_the_adr_scenarios_map_to_their_modes(
    example: str, mode: BatchExecutionMode, legs: int
) -> None:
    document = DirectiveDocument.from_file(EXAMPLES / f"{example}.json")
    batch = planner().create_batch(document.directive, document.commands)
    assert batch.mode is mode
    assert len(batch.commands) == legs
    if mode is BatchExecutionMode.INDEPENDENT:
        assert document.directive.execution_policy is None  # the ADR: "None (default)"
    assert batch.created_at == datetime(2025, 12, 7, 9, 30, tzinfo=UTC)

"""BaseExecutionPlanner.create_batch: the ADR's dumb pipe (section 2.4).

It makes no decisions. One directive gives one batch; ``mode`` and
``timeout_seconds`` are copied from the policy; no policy means INDEPENDENT
with no timeout. The only check is structural: the commands correspond one to
one, in order, to the directive's ``target_plan_ids``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from execbatch.core.workflow_ids import BATCH_ID_PREFIX, batch_id_for
from execbatch.dtos.execution import ExecutionCommand, ExecutionCommandBatch
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective

__all__ = ["BATCH_ID_PREFIX", "BaseExecutionPlanner", "PlanMismatchError", "batch_id_for"]


class PlanMismatchError(ValueError):
    """The commands do not map one to one, in order, onto ``target_plan_ids``."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BaseExecutionPlanner:
    """Boilerplate shared by planners: turn a directive and its commands into a batch."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock

    def create_batch(
        self, directive: StrategyDirective, commands: Sequence[ExecutionCommand]
    ) -> ExecutionCommandBatch:
        check_plan_correspondence(directive, commands)
        policy = directive.execution_policy or ExecutionPolicy()
        return ExecutionCommandBatch(
            batch_id=batch_id_for(directive.directive_id),
            commands=tuple(commands),
            created_at=self._clock(),
            mode=policy.mode,  # Direct copy
            timeout_seconds=policy.timeout_seconds,  # Direct copy
        )


def check_plan_correspondence(
    directive: StrategyDirective, commands: Sequence[ExecutionCommand]
) -> None:
    """Raise PlanMismatchError naming the missing, extra or misplaced plan ids."""
    expected = list(directive.target_plan_ids)
    actual = [c.plan_id for c in commands]
    if expected == actual:
        return
    missing = [p for p in expected if p not in actual]
    extra = list(dict.fromkeys(p for p in actual if p not in expected))
    duplicated = sorted({p for p in actual if actual.count(p) > 1})
    problems: list[str] = []
    if missing:
        problems.append(f"missing command for plan id(s) {missing}")
    if extra:
        problems.append(f"command(s) for plan id(s) {extra} not in target_plan_ids")
    if duplicated:
        problems.append(f"more than one command for plan id(s) {duplicated}")
    if not problems:
        # Same plan ids, each once, in another order: name the ones out of place.
        misplaced = [a for e, a in zip(expected, actual, strict=True) if e != a]
        problems.append(
            f"commands are out of order: plan id(s) {misplaced} misplaced; "
            f"expected {expected}, got {actual}"
        )
    raise PlanMismatchError("commands: " + "; ".join(problems))

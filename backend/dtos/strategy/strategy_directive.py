"""StrategyDirective and its ExecutionPolicy (ADR sections 2.2 and 3.1).

A directive is what a strategy decides; the policy is the rule set for how the
resulting batch is coordinated. The policy travels unchanged to the executor.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict, Field, field_validator

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.types import MAX_LEGS, Identifier


class ExecutionPolicy(BaseModel):
    """
    Defines how a group of trades should be coordinated.

    This is NOT a directive to a planner - it's a policy that travels
    unchanged through the pipeline to ExecutionWorker.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: BatchExecutionMode = BatchExecutionMode.INDEPENDENT
    timeout_seconds: int | None = Field(
        default=None,
        gt=0,
        le=7 * 24 * 3600,
        strict=True,
        description="Workflow execution timeout in whole seconds; None means no deadline.",
    )


class StrategyDirective(BaseModel):
    """What a strategy wants done: one plan per target, and how to coordinate them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    directive_id: Identifier = Field(
        description="Stable id: the same directive submitted twice maps to the same batch."
    )
    strategy_id: Identifier = Field(description="The strategy this directive comes from.")
    target_plan_ids: tuple[Identifier, ...] = Field(
        min_length=1,
        max_length=MAX_LEGS,
        description="The plans to execute, in order; one ExecutionCommand each.",
    )
    execution_policy: ExecutionPolicy | None = Field(
        default=None,
        description="Optional batch coordination policy. If None, INDEPENDENT mode is used.",
    )

    @field_validator("target_plan_ids")
    @classmethod
    def _unique_plan_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted(p for p, n in Counter(value).items() if n > 1)
        if duplicates:
            raise ValueError(f"plan ids must be unique; duplicated: {duplicates}")
        return value

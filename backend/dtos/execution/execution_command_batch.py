"""ExecutionCommandBatch (ADR section 3.2): the unit the executor runs.

It has no ``metadata``, no ``rollback_on_failure`` and no ``execution_mode``:
``extra="forbid"`` makes any payload that still carries them fail, naming the
field, so an old producer cannot silently lose its intent.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.dtos.types import MAX_LEGS, BatchId


class ExecutionCommandBatch(BaseModel):
    """One directive's commands and the policy fields copied from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: BatchId
    commands: tuple[ExecutionCommand, ...] = Field(min_length=1, max_length=MAX_LEGS)
    created_at: AwareDatetime
    mode: BatchExecutionMode
    timeout_seconds: int | None = Field(default=None, gt=0, strict=True)

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("commands")
    @classmethod
    def _unique_command_ids(
        cls, value: tuple[ExecutionCommand, ...]
    ) -> tuple[ExecutionCommand, ...]:
        seen: set[str] = set()
        for command in value:
            if command.command_id in seen:
                raise ValueError(f"command ids must be unique; duplicated: {command.command_id!r}")
            seen.add(command.command_id)
        return value

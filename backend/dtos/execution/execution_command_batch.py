"""ExecutionCommandBatch (ADR section 3.2): the unit the executor runs.

It has no ``metadata``, no ``rollback_on_failure`` and no ``execution_mode``:
``extra="forbid"`` makes any payload that still carries them fail, naming the
field, so an old producer cannot silently lose its intent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

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

    def differences(self, other: ExecutionCommandBatch) -> list[str]:
        """What differs between two batches, ignoring ``created_at`` (when each was
        planned): one ``"field: this != other"`` line per difference, empty when the
        batches are the same. Quantities compare as numbers (``100`` = ``100.0``)."""
        mine = self.model_dump(exclude={"created_at"})
        theirs = other.model_dump(exclude={"created_at"})
        found: list[str] = []
        _compare("", mine, theirs, found)
        return found


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return "none" if value is None else str(value)


def _compare(where: str, mine: Any, theirs: Any, found: list[str]) -> None:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in [*mine, *(k for k in theirs if k not in mine)]:
            path = f"{where}.{key}" if where else str(key)
            _compare(path, mine.get(key), theirs.get(key), found)
        return
    if isinstance(mine, list | tuple) and isinstance(theirs, list | tuple):
        if len(mine) != len(theirs):
            found.append(f"{where}: {len(mine)} != {len(theirs)} items")
        for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            _compare(f"{where}[{index}]", a, b, found)
        return
    if mine != theirs:
        found.append(f"{where}: {_show(mine)} != {_show(theirs)}")

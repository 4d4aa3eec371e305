"""The JSON document users (and other tools) write: a directive with its commands.

``{"directive": {...}, "commands": [...]}``: exactly this shape; quantities
and prices are decimal strings (``"0.05"``) or whole JSON numbers (``100``),
never numbers with a fraction or an exponent. This is the file the CLI's
``submit`` reads.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.dtos.strategy.strategy_directive import StrategyDirective
from execbatch.dtos.types import MAX_LEGS


class DirectiveDocument(BaseModel):
    """A StrategyDirective plus the ExecutionCommands planned for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    directive: StrategyDirective
    commands: tuple[ExecutionCommand, ...] = Field(min_length=1, max_length=MAX_LEGS)

    @classmethod
    def from_json(cls, text: str | bytes) -> DirectiveDocument:
        return cls.model_validate_json(text)

    @classmethod
    def from_file(cls, path: Path) -> DirectiveDocument:
        return cls.from_json(path.read_bytes())

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)

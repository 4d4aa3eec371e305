"""Reading a directive document from a file: validated and planned before anything starts,
every problem one line naming the file and the field (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    CliError,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommandBatch
from execbatch.planning import BaseExecutionPlanner
from execbatch.planning.base_execution_planner import PlanMismatchError


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _error_text(error: ErrorDetails) -> str:
    where = _location(tuple(error["loc"]))
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field (not part of the directive document format)"
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def load_batch(path: Path) -> ExecutionCommandBatch:
    """Read, validate and plan a directive document; CliError (exit 2) names field and file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", EXIT_BAD_INPUT) from exc
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            EXIT_BAD_INPUT,
        ) from exc
    try:
        document = DirectiveDocument.from_json(text)
        return BaseExecutionPlanner().create_batch(document.directive, document.commands)
    except ValidationError as exc:
        problems = "; ".join(_error_text(e) for e in exc.errors())
        raise CliError(f"{path}: invalid directive document: {problems}", EXIT_BAD_INPUT) from exc
    except PlanMismatchError as exc:
        raise CliError(
            f"{path}: directive.target_plan_ids and commands do not match: {exc}", EXIT_BAD_INPUT
        ) from exc

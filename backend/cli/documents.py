"""Reading a directive document from a file or standard input: validated and planned before
anything starts, every problem one line naming the file and the field, in our words (exit 2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    CliError,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommandBatch
from execbatch.dtos.types import ID_PATTERN
from execbatch.planning import BaseExecutionPlanner
from execbatch.planning.base_execution_planner import PlanMismatchError


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


STDIN = "-"
"""The FILE that means standard input."""


def _items(count: object) -> str:
    return f"{count} item" + ("" if count == 1 else "s")


def _pattern_text(pattern: object) -> str:
    if pattern == ID_PATTERN:
        return "may hold only letters, digits, '.', '_' and '-', and starts with a letter or digit"
    if isinstance(pattern, str) and pattern.startswith("^[A-Z0-9]"):
        return "must be an upper-case symbol such as AAPL, BRK.B or BTC/USD"
    return f"does not have the expected form ({pattern})"


def _explain(kind: str, ctx: dict[str, Any], given: object, pydantic_message: str) -> str:
    """A pydantic error in our words (its own wording says "Tuple", "after validation")."""
    texts: dict[str, str] = {
        "extra_forbidden": "unknown field (not part of the directive document format)",
        "missing": "required field is missing",
        "too_short": f"needs at least {_items(ctx.get('min_length'))}, "
        f"has {ctx.get('actual_length')}",
        "too_long": f"takes at most {_items(ctx.get('max_length'))}, "
        f"has {ctx.get('actual_length')}",
        "string_too_short": "must not be empty",
        "string_too_long": f"is longer than {ctx.get('max_length')} characters",
        "string_pattern_mismatch": _pattern_text(ctx.get("pattern")),
        "enum": f"must be one of {ctx.get('expected')}, not {given!r}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "int_type": f"must be a whole number, not {given!r}",
        "int_parsing": f"must be a whole number, not {given!r}",
        "int_from_float": f"must be a whole number, not {given!r}",
        "string_type": f"must be a string, not {given!r}",
        "bool_type": f"must be true or false, not {given!r}",
        "decimal_max_places": f"has more than {ctx.get('decimal_places')} digits after the point",
        "decimal_max_digits": f"has more than {ctx.get('max_digits')} digits",
        "decimal_parsing": 'must be a decimal string such as "10.5"',
        "decimal_type": 'must be a decimal string such as "10.5"',
        "tuple_type": "must be a list",
        "list_type": "must be a list",
        "model_type": "must be an object ({...})",
        "dict_type": "must be an object ({...})",
        "model_attributes_type": "must be an object ({...})",
        "timezone_aware": "must carry a timezone",
        "datetime_parsing": "must be a date and time (ISO 8601)",
    }
    if kind in texts:
        return texts[kind]
    return pydantic_message.removeprefix("Value error, ")


def _error_text(error: ErrorDetails) -> str:
    where = _location(tuple(error["loc"]))
    ctx = dict(error.get("ctx") or {})
    return f"{where}: {_explain(error['type'], ctx, error.get('input'), error['msg'])}"


def _read(path: Path) -> tuple[str, str]:
    """The document's text and the name to report it by (a path, or standard input)."""
    if str(path) == STDIN:
        if sys.stdin.isatty():
            sys.stderr.write("reading the directive document from standard input (Ctrl-D ends)\n")
        try:
            return sys.stdin.read(), "<stdin>"
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read standard input: {exc}", EXIT_BAD_INPUT) from exc
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", EXIT_BAD_INPUT) from exc


def load_batch(path: Path) -> ExecutionCommandBatch:
    """Read, validate and plan a directive document (``-``: standard input); CliError
    (exit 2) names field and file."""
    text, path_name = _read(path)
    if not text.strip():
        raise CliError(
            f"{path_name} is empty: expected a directive document (JSON)", EXIT_BAD_INPUT
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path_name}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            EXIT_BAD_INPUT,
        ) from exc
    try:
        document = DirectiveDocument.from_json(text)
        return BaseExecutionPlanner().create_batch(document.directive, document.commands)
    except ValidationError as exc:
        problems = "; ".join(_error_text(e) for e in exc.errors())
        raise CliError(
            f"{path_name}: invalid directive document: {problems}", EXIT_BAD_INPUT
        ) from exc
    except PlanMismatchError as exc:
        raise CliError(
            f"{path_name}: directive.target_plan_ids and commands do not match: {exc}",
            EXIT_BAD_INPUT,
        ) from exc

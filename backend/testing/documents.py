"""Turning what a test has (a file, a document, DTOs) into a DirectiveDocument.

A directive id names its batch, and a batch id is a workflow id that the
server never starts twice (``REJECT_DUPLICATE``). Tests sharing one server
must therefore not reuse directive ids; ``unique_document`` suffixes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from execbatch.core.enums import BatchExecutionMode
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from execbatch.planning import batch_id_for

BatchInput = (
    DirectiveDocument | str | PathLike[str] | tuple[StrategyDirective, Sequence[ExecutionCommand]]
)
"""What ``kit.run`` / ``kit.submit`` accept: a document, a JSON file path, or DTOs."""

MAX_IDENTIFIER_LENGTH = 100


def as_document(batch: BatchInput) -> DirectiveDocument:
    """The DirectiveDocument for any ``BatchInput`` (a path is read, DTOs are wrapped)."""
    if isinstance(batch, DirectiveDocument):
        return batch
    if isinstance(batch, tuple):
        directive, commands = batch
        return DirectiveDocument(directive=directive, commands=tuple(commands))
    return DirectiveDocument.from_file(Path(batch))


def unique_document(document: DirectiveDocument, suffix: str) -> DirectiveDocument:
    """The same document with ``-<suffix>`` appended to its directive id.

    The id is shortened from the left if needed so it stays a valid
    identifier (at most 100 characters); the suffix is always kept whole.
    """
    tail = f"-{suffix}"
    head = document.directive.directive_id[: MAX_IDENTIFIER_LENGTH - len(tail)]
    directive = document.directive.model_copy(update={"directive_id": f"{head}{tail}"})
    return document.model_copy(update={"directive": directive})


def with_policy(
    document: DirectiveDocument,
    *,
    mode: BatchExecutionMode | None = None,
    timeout_seconds: int | None = None,
) -> DirectiveDocument:
    """The document with its execution policy's mode and/or timeout replaced."""
    policy = document.directive.execution_policy or ExecutionPolicy()
    changes: dict[str, object] = {}
    if mode is not None:
        changes["mode"] = mode
    if timeout_seconds is not None:
        changes["timeout_seconds"] = timeout_seconds
    policy = ExecutionPolicy.model_validate({**policy.model_dump(), **changes})
    directive = document.directive.model_copy(update={"execution_policy": policy})
    return document.model_copy(update={"directive": directive})


def batch_id_of(document: DirectiveDocument) -> str:
    """The batch (and workflow) id the document will run as."""
    return batch_id_for(document.directive.directive_id)


def command_of(document: DirectiveDocument, leg: int | str) -> ExecutionCommand:
    """A document's command by 1-based leg number or by command id."""
    if isinstance(leg, int):
        if not 1 <= leg <= len(document.commands):
            raise ValueError(
                f"leg {leg} does not exist: the batch has legs 1..{len(document.commands)}"
            )
        return document.commands[leg - 1]
    for command in document.commands:
        if command.command_id == leg:
            return command
    known = [c.command_id for c in document.commands]
    raise ValueError(f"no command {leg!r} in the document (command ids: {known})")


def placement_id_of(document: DirectiveDocument, leg: int | str) -> str:
    """The venue client order id the leg's placement will use."""
    return placement_order_id(batch_id_of(document), command_of(document, leg).command_id)

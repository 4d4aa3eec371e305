"""What every command shares: exit codes, consoles, one-line errors, the Temporal client.

Every error a user can meet (a misspelt command or option, a bad directive
file, no Temporal reachable, an unknown batch id, the venue down) ends in one
line on stderr and a non-zero exit code, never a traceback: exit 2 for bad
input or usage (nothing was started), 1 for everything else; ``submit
--wait`` exits 3 when the batch ended in a status other than COMPLETED, so
scripts can tell, and 130 when Ctrl-C stopped the waiting (not the batch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.text import Text
from temporalio.client import (
    Client,
)
from temporalio.service import RPCError, RPCStatusCode

from execbatch.client.batch_client import (
    BatchAlreadyFinal,
)
from execbatch.config.connection import TemporalUnreachable, connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.workflow_ids import BATCH_ID_PREFIX, batch_id_for

T = TypeVar("T")


EXIT_ERROR = 1


EXIT_BAD_INPUT = 2


EXIT_NOT_COMPLETED = 3


EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), as shells report it."""


def exit_codes(
    not_completed: bool = False, interrupted: bool = False, trading_refused: bool = False
) -> str:
    """A command's exit codes, for the end of its ``--help``."""
    codes = [
        "0 ok",
        "1 an operational error (Temporal or the venue not reachable, an unknown batch id)",
        "2 bad input or usage (nothing was started)",
    ]
    if not_completed:
        codes.append("3 the batch ended in a status other than COMPLETED (--wait, --json)")
    if trading_refused:
        codes.append("4 not submitted: trading is HALTED or REDUCING (execbatch resume)")
    if interrupted:
        codes.append("130 interrupted by Ctrl-C")
    return "Exit codes: " + "; ".join(codes) + "."


EXIT_TRADING_REFUSED = 4
"""A submission refused because trading is HALTED or REDUCING (``execbatch resume``)."""


QUERY_TIMEOUT = timedelta(seconds=10)


POLL_SECONDS = 0.5


def _console(stderr: bool = False) -> Console:
    """A console; when output is not a terminal (a pipe, a CI log) tables get 160 columns
    instead of rich's default 80, so they stay readable."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


out = _console()


err = _console(stderr=True)


class CliError(Exception):
    """An error for the user: printed as one line, then exit with ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def error_line(message: str) -> Text:
    """``error: <message>``, the message taken literally (no rich markup)."""
    return Text.assemble(("error:", "bold red"), " ", message)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(error_line(message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T], config: ExecbatchConfig) -> T:
    """Run a command's coroutine, turning the errors users meet into one line."""
    try:
        return asyncio.run(coro)
    except CliError as exc:
        fail(str(exc), exc.code)
    except (BatchAlreadyFinal, TemporalUnreachable) as exc:
        fail(str(exc))
    except RPCError as exc:
        fail(f"Temporal at {config.address} answered {exc.status.name}: {exc.message}")
    except httpx.TransportError as exc:
        fail(f"venue at {config.venue_url} is not reachable ({type(exc).__name__})")


def outcome_url(config: ExecbatchConfig, workflow_id: str, run_id: str | None) -> str:
    """A closed batch's page, opened on its User Metadata tab, where its current details
    lead with the outcome (status, reason, exposed legs); the plain page without a run id."""
    page = config.workflow_url(workflow_id)
    return f"{page}/{run_id}/user-metadata" if run_id else page


def workflows_list_url(config: ExecbatchConfig, query: str) -> str:
    """The Web UI's workflow list filtered by a visibility ``query`` (a saved-view link)."""
    return (
        f"{config.ui_url.rstrip('/')}/namespaces/{config.namespace}/workflows"
        f"?query={quote(query, safe='')}"
    )


BatchIdArg = Annotated[
    str,
    typer.Argument(
        metavar="BATCH_ID",
        help="The batch id (batch-<directive_id>), or the directive id as the document writes it.",
        show_default=False,
    ),
]
"""A command's batch argument; ``resolve_batch_id`` turns it into the batch id."""


async def resolve_batch_id(client: Client, given: str, config: ExecbatchConfig) -> str:
    """The batch id a trader meant: ``given`` if a batch has it, else ``batch-<given>``
    when ``given`` is a directive id (as written in the directive document) whose batch
    exists. Neither is one clear line naming both."""
    candidates = [given]
    if not given.startswith(BATCH_ID_PREFIX):
        candidates.append(batch_id_for(given))
    for candidate in candidates:
        try:
            await client.get_workflow_handle(candidate).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                continue
            raise
        return candidate
    hint = (
        f" (nor a batch of directive {given!r}, {candidates[1]!r})" if len(candidates) > 1 else ""
    )
    raise CliError(
        f"no batch with id {given!r}{hint} in namespace {config.namespace} at {config.address}"
    )


async def open_client(config: ExecbatchConfig) -> Client:
    try:
        return await connect(config)
    except TemporalUnreachable as exc:
        raise CliError(str(exc)) from exc

"""The ``execbatch`` command line: run the stack, submit and follow batches, operate.

Every error a user can meet (a bad directive file, no Temporal reachable, an
unknown batch id, the venue down) ends in one line on stderr and a non-zero
exit code, never a traceback: exit 2 for bad input (nothing was started),
1 for everything else. ``submit --wait`` exits 3 when the batch ended in a
status other than COMPLETED, so scripts can tell.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn, TypeVar

import click
import httpx
import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from rich.console import Console
from rich.live import Live
from rich.table import Table
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from execbatch.client import render
from execbatch.client.batch_client import (
    DEFAULT_RECOVERY_WAIT,
    BatchAlreadyFinal,
    BatchClient,
    BatchRecoveryPending,
    NothingToSettle,
)
from execbatch.client.config import ExecbatchConfig
from execbatch.client.connection import connect
from execbatch.core.enums import BatchExecutionMode, BatchStatus
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionCommandBatch
from execbatch.planning import BaseExecutionPlanner
from execbatch.planning.base_execution_planner import PlanMismatchError
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_COMPLETED = 3
QUERY_TIMEOUT = timedelta(seconds=10)
POLL_SECONDS = 0.5

app = typer.Typer(
    name="execbatch",
    help="Durable execution of trading order batches on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T], config: ExecbatchConfig) -> T:
    """Run a command's coroutine, turning the errors users meet into one line."""
    try:
        return asyncio.run(coro)
    except CliError as exc:
        fail(str(exc), exc.code)
    except BatchAlreadyFinal as exc:
        fail(str(exc))
    except RPCError as exc:
        fail(f"Temporal at {config.address} answered {exc.status.name}: {exc.message}")
    except httpx.TransportError as exc:
        fail(f"venue at {config.venue_url} is not reachable ({type(exc).__name__})")


async def open_client(config: ExecbatchConfig) -> Client:
    try:
        return await connect(config)
    except RuntimeError as exc:
        detail = _connect_failure(str(exc))
        raise CliError(
            f"cannot reach Temporal at {config.address} (namespace {config.namespace}): "
            f"{detail}. Is `execbatch dev` running, or TEMPORAL_ADDRESS set?"
        ) from exc


def _connect_failure(text: str) -> str:
    """The useful part of the SDK's connect error (it dumps the transport's debug form)."""
    lowered = text.lower()
    for needle, meaning in (
        ("connection refused", "connection refused"),
        ("dns error", "unknown host"),
        ("timed out", "timed out"),
        ("certificate", "TLS certificate problem"),
        ("unauthenticated", "not authenticated (API key / client certificate?)"),
    ):
        if needle in lowered:
            return meaning
    return text.split("(", 1)[0].strip()[:200]


# ------------------------------------------------------------------ input


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


# ---------------------------------------------------------------- following


async def live_status(batches: BatchClient, batch_id: str, config: ExecbatchConfig) -> BatchResult:
    """The status Query, with a bound: no worker answering is an error, not a hang."""
    try:
        return await batches.handle(batch_id).query(
            ExecutionBatchWorkflow.status, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as exc:
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise CliError(
                f"no worker answered for batch {batch_id} within {QUERY_TIMEOUT.seconds}s: "
                f"is a worker polling task queue {config.task_queue!r}?"
            ) from exc
        raise


async def final_result(
    batches: BatchClient, batch_id: str, recovery_wait: timedelta = DEFAULT_RECOVERY_WAIT
) -> BatchResult:
    try:
        return await batches.result(batch_id, recovery_wait=recovery_wait)
    except BatchRecoveryPending as exc:
        raise CliError(str(exc)) from exc
    except WorkflowFailureError as exc:
        description = await batches.handle(batch_id).describe()
        status = description.status.name if description.status else "UNKNOWN"
        raise CliError(f"batch {batch_id} did not return a result: workflow {status}") from exc


async def follow(
    batches: BatchClient, batch_id: str, config: ExecbatchConfig, console: Console
) -> BatchResult:
    """A live view of the legs until the batch is final; then its result."""
    url = config.workflow_url(batch_id)
    snapshot = await live_status(batches, batch_id, config)
    with Live(render.batch_view(snapshot, url), console=console, transient=True) as live:
        while not snapshot.status.is_final:
            await asyncio.sleep(POLL_SECONDS)
            snapshot = await live_status(batches, batch_id, config)
            live.update(render.batch_view(snapshot, url))
    return await final_result(batches, batch_id)


async def describe_workflow(
    batches: BatchClient, batch_id: str, config: ExecbatchConfig
) -> WorkflowExecutionDescription:
    """The batch's workflow description; an unknown id is one clear line."""
    try:
        return await batches.handle(batch_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no batch with id {batch_id!r} in namespace {config.namespace} at {config.address}"
            ) from exc
        raise


async def describe_batch(
    batches: BatchClient, batch_id: str, config: ExecbatchConfig
) -> BatchResult:
    """What a batch is now: live while it runs, its result once it has ended.

    A run Temporal closed without a result (hard timeout, Terminate, failure)
    shows its settlement run: live while it settles, its result once done.
    """
    description = await describe_workflow(batches, batch_id, config)
    if description.status is WorkflowExecutionStatus.RUNNING:
        return await live_status(batches, batch_id, config)
    if description.status is WorkflowExecutionStatus.COMPLETED:
        return await batches.handle(batch_id).result()
    settlement = recovery_workflow_id(batch_id)
    try:
        run = await batches.handle(settlement).describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        run = None
    ended = description.status.name if description.status else "UNKNOWN"
    if run is not None and run.status is WorkflowExecutionStatus.RUNNING:
        return await live_status(batches, settlement, config)
    if run is not None and run.status is WorkflowExecutionStatus.COMPLETED:
        return await batches.handle(settlement).result()
    raise CliError(
        f"batch {batch_id}'s run was {ended} and it is not settled yet: a worker's sweeper "
        f"settles it within seconds (`execbatch recover {batch_id}` does it by hand)"
    )


def show_result(result: BatchResult, as_json: bool, url: str) -> None:
    """The final result: JSON on stdout, or the legs table with the Web UI link."""
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        out.print(render.batch_view(result, url))


# ------------------------------------------------------------------ commands

FileArg = Annotated[
    Path, typer.Argument(help="A directive document (JSON): {directive, commands}.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the BatchResult as JSON.")]


@app.command()
def submit(
    file: FileArg,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show the legs live until the batch ends.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate a directive document and start its batch.

    With --json the final BatchResult is printed as JSON (it waits for the end;
    the batch id and link go to stderr).
    """
    try:
        batch = load_batch(file)
    except CliError as exc:
        fail(str(exc), exc.code)
    config = ExecbatchConfig.from_env()

    async def go() -> BatchResult | None:
        client = await open_client(config)
        batches = BatchClient(client, config.task_queue)
        submission = await batches.start_batch(batch)
        note = err if as_json else out
        verb = "attached to existing" if submission.attached else "started"
        note.print(
            f"{verb} batch [bold]{batch.batch_id}[/] ({batch.mode.value}, "
            f"{len(batch.commands)} legs)",
            highlight=False,
        )
        note.print(
            f"Web UI: {config.workflow_url(batch.batch_id)}", highlight=False, soft_wrap=True
        )
        if as_json:
            return await final_result(batches, batch.batch_id)
        if wait:
            return await follow(batches, batch.batch_id, config, out)
        return None

    result = run(go(), config)
    if result is None:
        return
    show_result(result, as_json, config.workflow_url(result.batch_id))
    if result.status is not BatchStatus.COMPLETED:
        raise typer.Exit(EXIT_NOT_COMPLETED)


@app.command()
def status(
    batch_id: Annotated[str, typer.Argument(help="The batch id (= workflow id).")],
    as_json: JsonOpt = False,
) -> None:
    """Show a batch's legs: live while it runs, its result once it has ended."""
    config = ExecbatchConfig.from_env()

    async def go() -> BatchResult:
        batches = BatchClient(await open_client(config), config.task_queue)
        return await describe_batch(batches, batch_id, config)

    result = run(go(), config)
    show_result(result, as_json, config.workflow_url(batch_id))


@app.command()
def cancel(
    batch_id: Annotated[str, typer.Argument(help="The batch id (= workflow id).")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the batch result.")] = (
        "cancelled from the command line"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Wind a running batch down (cancel open orders; COORDINATED: revert fills)."""
    config = ExecbatchConfig.from_env()

    async def go() -> BatchResult:
        batches = BatchClient(await open_client(config), config.task_queue)
        await describe_batch(batches, batch_id, config)  # clear message for unknown ids
        await batches.request_cancel(batch_id, reason)
        if not as_json:
            out.print(f"cancel requested for {batch_id}; waiting for it to wind down")
        return await final_result(batches, batch_id)

    result = run(go(), config)
    show_result(result, as_json, config.workflow_url(batch_id))


@app.command()
def recover(
    batch_id: Annotated[str, typer.Argument(help="The batch id (= workflow id).")],
    as_json: JsonOpt = False,
) -> None:
    """Settle a batch whose run Temporal closed without a result (workers also do it by
    themselves, within seconds).

    For a run ended by its execution timeout, a Terminate (Web UI, `temporal
    workflow terminate`) or a failure. Places nothing: cancels or fences every
    leg at the venue and, for a COORDINATED batch, reverts what filled (the
    batch ends flat, or NEEDS_ATTENTION naming the exposed legs); INDEPENDENT
    and SEQUENTIAL keep their fills. Runs once per batch. A batch that was
    reset is continued by its newer run and is never settled.
    """
    config = ExecbatchConfig.from_env()

    async def go() -> BatchResult:
        batches = BatchClient(await open_client(config), config.task_queue)
        await describe_workflow(batches, batch_id, config)  # clear message for unknown ids
        try:
            submission = await batches.recover(batch_id)
        except NothingToSettle as exc:
            raise CliError(str(exc)) from exc
        if not as_json:
            verb = "attached to" if submission.attached else "started"
            out.print(f"{verb} settlement run {submission.handle.id}; waiting for it")
        return await submission.handle.result()

    result = run(go(), config)
    show_result(result, as_json, config.workflow_url(recovery_workflow_id(batch_id)))


@app.command("list")
def list_batches(
    status_filter: Annotated[
        BatchStatus | None, typer.Option("--status", help="Only batches in this status.")
    ] = None,
    mode: Annotated[
        BatchExecutionMode | None, typer.Option(help="Only batches of this mode.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 20,
) -> None:
    """Recent batches with their mode and status (Temporal visibility + search attributes)."""
    config = ExecbatchConfig.from_env()
    conditions = []
    if status_filter is BatchStatus.RUNNING:
        conditions.append("ExecutionStatus = 'Running'")  # BatchStatus is never RUNNING
    elif status_filter is not None:
        conditions.append(f"BatchStatus = '{status_filter.value}'")
    if mode is not None:
        conditions.append(f"BatchMode = '{mode.value}'")

    async def go() -> Table:
        batches = BatchClient(await open_client(config), config.task_queue)
        query = " AND ".join(conditions) or None
        return render.list_table([s async for s in batches.list(limit=limit, query=query)])

    out.print(run(go(), config))


async def _wait_for_venue(config: ExecbatchConfig, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                (await http.get(f"{config.venue_url.rstrip('/')}/health")).raise_for_status()
                return
            except httpx.HTTPError as exc:
                if time.monotonic() >= deadline:
                    raise CliError(
                        f"venue at {config.venue_url} is not reachable after {seconds:g}s "
                        f"({type(exc).__name__}); start it (`execbatch venue`) or set "
                        "EXECBATCH_VENUE_URL"
                    ) from exc
            await asyncio.sleep(0.5)


@app.command()
def worker(
    venue_wait: Annotated[
        float, typer.Option(help="Seconds to wait for the venue before giving up.")
    ] = 30.0,
) -> None:
    """Run a worker (configuration from the environment; see docs/OPERATING.md)."""
    from execbatch.worker import configure_logging, run_worker

    configure_logging()
    config = ExecbatchConfig.from_env()

    async def go() -> None:
        await _wait_for_venue(config, venue_wait)
        await open_client(config)
        await run_worker(config)

    run(go(), config)


@app.command()
def venue(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8700,
    db: Annotated[Path, typer.Option(help="SQLite file (created if missing).")] = Path("venue.db"),
    prices: Annotated[Path | None, typer.Option(help='JSON file {"AAPL": "190.00", ...}.')] = None,
    cash: Annotated[str, typer.Option(help="Cash of account 'default' when created.")] = "1000000",
) -> None:
    """Run the paper venue in the foreground (see docs/VENUE.md)."""
    from execbatch.venue.paper.service import run_venue
    from execbatch.venue.paper.service.config import parse_cash

    try:
        initial_cash = parse_cash(cash)
    except ValueError as exc:
        fail(f"--cash: {exc}", EXIT_BAD_INPUT)
    if prices is not None and not prices.is_file():
        fail(f"--prices: no such file {prices}", EXIT_BAD_INPUT)
    run_venue(host=host, port=port, db_path=db, prices_file=prices, initial_cash=initial_cash)


@app.command("codec-server")
def codec_server(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8888,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Web UI origin allowed by CORS (repeatable); default from env."),
    ] = None,
) -> None:
    """Run the payload codec server the Temporal Web UI uses to decode payloads.

    Keys come from EXECBATCH_CODEC_KEYS / EXECBATCH_CODEC_KEY_FILE and the
    bearer token from EXECBATCH_CODEC_SERVER_TOKEN (see docs/SECURITY.md).
    """
    from execbatch.security.codec_server import run_codec_server
    from execbatch.security.keys import KeyConfigError

    try:
        run_codec_server(host, port, cors_origins=cors_origin or None)
    except KeyConfigError as exc:
        fail(str(exc), EXIT_BAD_INPUT)


class _Terminate(Exception):
    """SIGTERM/SIGHUP, turned into an exception so the stack's ``with`` unwinds."""


def _raise_terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminate(signal.Signals(signum).name)


@app.command()
def dev(
    state_dir: Annotated[
        Path, typer.Option(envvar="EXECBATCH_STATE_DIR", help="Databases, logs and the lock.")
    ] = Path(".state"),
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    venue_port: Annotated[int, typer.Option(help="Paper venue port.")] = 8700,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run Temporal (dev server + Web UI), the paper venue and a worker until Ctrl-C."""
    from execbatch.devstack import DevStack, PortInUse, StackAlreadyRunning, StackFailed
    from execbatch.temporal.binaries import BinaryNotFound

    stack = DevStack(
        state_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        venue_port=venue_port,
        workers=workers,
    )
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_terminate)
    try:
        with err.status("starting Temporal, the paper venue and the worker..."):
            stack.start()
    except (StackAlreadyRunning, PortInUse, BinaryNotFound) as exc:
        fail(str(exc))
    except StackFailed as exc:
        fail(str(exc))
    except (KeyboardInterrupt, _Terminate):
        fail("interrupted during start-up; everything started so far was stopped", 130)
    code = 0
    try:
        out.print(render.services_table(stack.services()))
        out.print(f"Temporal Web UI: [bold]{stack.ui_url}[/]", highlight=False)
        out.print(
            f"state in {stack.state_dir}; clients use TEMPORAL_ADDRESS={stack.temporal_address}"
            f" EXECBATCH_VENUE_URL={stack.venue_url}. Ctrl-C stops everything.",
            highlight=False,
        )
        while not (dead := stack.dead()):
            time.sleep(0.5)
        names = ", ".join(f"{p.name} (exit {p.returncode}, log {p.log_path})" for p in dead)
        err.print(f"[bold red]error:[/] {names} stopped on its own; stopping the stack")
        code = EXIT_ERROR
    except (KeyboardInterrupt, _Terminate):
        err.print("stopping...")
    finally:
        stack.stop()
    raise typer.Exit(code)


@app.command(
    "bench",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Run the benchmark (python -m bench): its own dev server, venue and workers.

    All arguments go to the benchmark; ``execbatch bench --help`` lists them.
    """
    from bench.cli import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@app.command()
def demo() -> None:
    """Run the ADR scenarios (and two failing on purpose) and print one table."""
    from execbatch.client.demo import run_demo
    from execbatch.devstack import PortInUse, StackFailed
    from execbatch.temporal.binaries import BinaryNotFound

    config = ExecbatchConfig.from_env()
    try:
        with err.status("running the demo scenarios..."):
            outcome = run_demo(config)
    except (StackFailed, PortInUse, BinaryNotFound, CliError) as exc:
        fail(str(exc))
    except httpx.TransportError as exc:
        fail(f"venue not reachable during the demo ({type(exc).__name__}: {exc})")
    out.print(outcome.stack_note, style="dim", highlight=False)
    out.print(render.demo_table(outcome.rows))
    if outcome.ui_url:
        out.print(f"see the batches in the Web UI: {outcome.ui_url}", highlight=False)
    if not outcome.all_as_expected:
        fail("some scenarios did not end as expected")


def main() -> None:
    """Run the CLI, then leave without interpreter finalization.

    The Temporal SDK's native runtime keeps threads that can call back into
    Python while the interpreter is shutting down; that occasionally aborts a
    finished command with "PyGILState_Release ... finalizing" (exit -6) after
    its output was printed. Everything we own is closed by then, so flush and
    exit directly with the command's status.
    """
    try:
        returned = app(standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()

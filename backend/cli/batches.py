"""Batch commands: submit, status, cancel, recover, list."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
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

from execbatch.cli import render
from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NOT_COMPLETED,
    EXIT_TRADING_REFUSED,
    POLL_SECONDS,
    QUERY_TIMEOUT,
    CliError,
    err,
    fail,
    open_client,
    out,
    run,
)
from execbatch.cli.documents import load_batch
from execbatch.cli.usage import choice, whole_number
from execbatch.client.batch_client import (
    DEFAULT_RECOVERY_WAIT,
    BatchAlreadyFinal,
    BatchClient,
    BatchRecoveryPending,
    DirectiveConflict,
    NothingToSettle,
)
from execbatch.client.trading import TradingControl, TradingRefused
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.enums import BatchExecutionMode, BatchStatus
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow

T = TypeVar("T")

INTERRUPT_GRACE_SECONDS = 3.0
"""How long after a first Ctrl-C a second one cancels the batch."""

INTERRUPT_REASON = "by Ctrl-C while `execbatch submit` waited for it"


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


async def trading_line(client: Client, config: ExecbatchConfig) -> str:
    """The trading state (kill switch) of the global scope and the default account."""
    control = TradingControl(client, config.task_queue)
    account = ExecutionSettings().account
    views = [await control.view(None), await control.view(account)]
    return "trading: " + "; ".join(v.describe() for v in views)


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


class Interrupts:
    """Ctrl-C (SIGINT) as an event of the running loop while a command waits on a batch.

    Without this, Ctrl-C ends the command silently and a trader cannot tell that
    the batch goes on; with it the command says so and offers to cancel.
    """

    def __init__(self) -> None:
        self.hit = asyncio.Event()

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGINT)
        try:
            loop.add_signal_handler(signal.SIGINT, self.hit.set)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, previous)

    async def race(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None when Ctrl-C comes (or came) first; ``work`` is then
        cancelled and the Ctrl-C counted as handled."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self.hit.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            return task.result()
        self.hit.clear()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        return None

    async def again_within(self, seconds: float) -> bool:
        """Whether Ctrl-C is pressed again within ``seconds``."""
        try:
            await asyncio.wait_for(self.hit.wait(), seconds)
        except TimeoutError:
            return False
        self.hit.clear()
        return True


def _still_running(batch_id: str) -> str:
    return (
        f"batch {batch_id} is still running: Ctrl-C stopped the waiting, not the batch\n"
        f"  follow it:  execbatch status {batch_id}\n"
        f"  cancel it:  execbatch cancel {batch_id}"
    )


async def wait_for_result(
    batches: BatchClient,
    batch_id: str,
    config: ExecbatchConfig,
    interrupts: Interrupts,
    *,
    live: bool,
    cancel_on_interrupt: bool,
) -> BatchResult:
    """Wait for the batch's result (a live view of its legs when ``live``).

    Ctrl-C stops the waiting, not the batch: the command says the batch is still
    running, prints the commands to follow and to cancel it, and exits 130. A
    second Ctrl-C within ``INTERRUPT_GRACE_SECONDS`` (or the first, with
    ``cancel_on_interrupt``) cancels the batch as ``execbatch cancel`` does and
    waits for its final result.
    """

    def waiting() -> Awaitable[BatchResult]:
        return follow(batches, batch_id, config, out) if live else final_result(batches, batch_id)

    result = await interrupts.race(waiting())
    if result is not None:
        return result
    if not cancel_on_interrupt:
        err.print(_still_running(batch_id), highlight=False, soft_wrap=True)
        err.print(
            f"press Ctrl-C again within {INTERRUPT_GRACE_SECONDS:g} s to cancel it now",
            highlight=False,
        )
        if not await interrupts.again_within(INTERRUPT_GRACE_SECONDS):
            raise typer.Exit(EXIT_INTERRUPTED)
    err.print(
        f"cancelling batch {batch_id} (as `execbatch cancel` does); waiting for it to wind down",
        highlight=False,
    )
    try:
        await batches.request_cancel(batch_id, INTERRUPT_REASON)
    except BatchAlreadyFinal as exc:
        err.print(str(exc), highlight=False, soft_wrap=True)
    result = await interrupts.race(waiting())
    if result is not None:
        return result
    err.print(
        f"stopped waiting; batch {batch_id} winds down by itself "
        f"(`execbatch status {batch_id}` shows it)",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_INTERRUPTED)


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


FileArg = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        help="The directive document (JSON: {directive, commands}); - reads standard input.",
        show_default=False,
    ),
]

BatchIdArg = Annotated[
    str, typer.Argument(metavar="BATCH_ID", help="The batch id (batch-<directive_id>).")
]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the BatchResult as JSON.")]


def submit(
    file: FileArg,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Show the legs live until the batch ends, then its result.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    cancel_on_interrupt: Annotated[
        bool,
        typer.Option(
            "--cancel-on-interrupt",
            help="While waiting, Ctrl-C cancels the batch at once (else it takes a second "
            "Ctrl-C within 3 s) and waits for its final result.",
        ),
    ] = False,
) -> None:
    """Validate a directive document and start its batch.

    With --json the final BatchResult is printed as JSON (it waits for the end;
    the batch id and link go to stderr). Submitting a directive again attaches
    to its batch; the same directive id with other content is refused (exit 2).
    Ctrl-C while waiting stops the waiting, not the batch (see
    --cancel-on-interrupt).
    """
    try:
        batch = load_batch(file)
    except CliError as exc:
        fail(str(exc), exc.code)
    config = ExecbatchConfig.from_env()

    async def go() -> BatchResult | None:
        client = await open_client(config)
        # The account the workers' venue keys trade (EXECBATCH_VENUE_ACCOUNT).
        settings = ExecutionSettings(account=config.venue_account)
        batches = BatchClient(client, config.task_queue, settings)
        try:
            await TradingControl(client, config.task_queue).refuse_if_not_active(settings.account)
        except TradingRefused as exc:
            raise CliError(
                f"batch {batch.batch_id} not submitted: {exc}", EXIT_TRADING_REFUSED
            ) from exc
        try:
            submission = await batches.start_batch(batch)
        except DirectiveConflict as exc:
            raise CliError(str(exc), EXIT_BAD_INPUT) from exc
        # From here on Ctrl-C is ours (before the batch id is printed, so a Ctrl-C
        # that follows it is always answered): it stops the waiting, not the batch.
        with Interrupts().installed() as interrupts:
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
            if not (as_json or wait):
                return None
            return await wait_for_result(
                batches,
                batch.batch_id,
                config,
                interrupts,
                live=not as_json,
                cancel_on_interrupt=cancel_on_interrupt,
            )

    result = run(go(), config)
    if result is None:
        return
    show_result(result, as_json, config.workflow_url(result.batch_id))
    if result.status is not BatchStatus.COMPLETED:
        raise typer.Exit(EXIT_NOT_COMPLETED)


def status(
    batch_id: BatchIdArg,
    as_json: JsonOpt = False,
) -> None:
    """Show a batch's legs: live while it runs, its result once it has ended."""
    config = ExecbatchConfig.from_env()

    async def go() -> tuple[BatchResult, str]:
        client = await open_client(config)
        batches = BatchClient(client, config.task_queue)
        return await describe_batch(batches, batch_id, config), await trading_line(client, config)

    result, trading = run(go(), config)
    show_result(result, as_json, config.workflow_url(batch_id))
    if not as_json:
        out.print(trading, highlight=False, soft_wrap=True)


def cancel(
    batch_id: BatchIdArg,
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
        with Interrupts().installed() as interrupts:
            result = await interrupts.race(final_result(batches, batch_id))
        if result is None:
            err.print(
                f"stopped waiting; the cancel was requested and batch {batch_id} winds down "
                f"by itself (`execbatch status {batch_id}` shows it)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED)
        return result

    result = run(go(), config)
    show_result(result, as_json, config.workflow_url(batch_id))


def recover(
    batch_id: BatchIdArg,
    as_json: JsonOpt = False,
) -> None:
    """Settle a batch whose run Temporal closed without a result (workers do it too).

    Workers' settlement sweepers do it by themselves within seconds; this is for a
    deployment whose workers were all gone.

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


def _names(enum: Any) -> str:
    return ", ".join(member.value for member in enum)


def list_batches(
    status_filter: Annotated[
        BatchStatus | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            parser=choice(BatchStatus, "a batch status"),
            help=f"Only batches in this status: {_names(BatchStatus)}.",
        ),
    ] = None,
    mode: Annotated[
        BatchExecutionMode | None,
        typer.Option(
            metavar="MODE",
            parser=choice(BatchExecutionMode, "a batch mode"),
            help=f"Only batches of this mode: {_names(BatchExecutionMode)}.",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(metavar="N", parser=whole_number(1), help="At most this many (1 or more)."),
    ] = 20,
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

    async def go() -> tuple[Table, str]:
        client = await open_client(config)
        batches = BatchClient(client, config.task_queue)
        query = " AND ".join(conditions) or None
        table = render.list_table([s async for s in batches.list(limit=limit, query=query)])
        return table, await trading_line(client, config)

    table, trading = run(go(), config)
    out.print(table)
    out.print(trading, highlight=False, soft_wrap=True)

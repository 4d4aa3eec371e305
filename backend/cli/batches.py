"""Batch commands: submit, status, cancel, recover, list."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated

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
from execbatch.client.batch_client import (
    DEFAULT_RECOVERY_WAIT,
    BatchClient,
    BatchRecoveryPending,
    NothingToSettle,
)
from execbatch.client.trading import TradingControl, TradingRefused
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.enums import BatchExecutionMode, BatchStatus
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow


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
    Path, typer.Argument(help="A directive document (JSON): {directive, commands}.")
]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the BatchResult as JSON.")]


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
        try:
            await TradingControl(client, config.task_queue).refuse_if_not_active(
                ExecutionSettings().account
            )
        except TradingRefused as exc:
            raise CliError(
                f"batch {batch.batch_id} not submitted: {exc}", EXIT_TRADING_REFUSED
            ) from exc
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


def status(
    batch_id: Annotated[str, typer.Argument(help="The batch id (= workflow id).")],
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

    async def go() -> tuple[Table, str]:
        client = await open_client(config)
        batches = BatchClient(client, config.task_queue)
        query = " AND ".join(conditions) or None
        table = render.list_table([s async for s in batches.list(limit=limit, query=query)])
        return table, await trading_line(client, config)

    table, trading = run(go(), config)
    out.print(table)
    out.print(trading, highlight=False, soft_wrap=True)

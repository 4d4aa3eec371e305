"""The client API: start a batch from a directive, follow it, cancel it, list batches.

A directive submitted twice runs once: the workflow id is the batch id, a
running batch is attached to (``USE_EXISTING``) and a closed one is never
started again (``REJECT_DUPLICATE``); either way the caller gets that run.
A directive id submitted again with other content is refused
(``DirectiveConflict``) before anything is sent: the existing batch's input is
read back and compared first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from opentelemetry.trace import SpanKind
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from execbatch.client.trading import TradingControl
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig, venue_account_from_env
from execbatch.core.enums import BatchStatus
from execbatch.core.workflow_ids import RECOVERY_SUFFIX, recovery_workflow_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import (
    BatchResult,
    BatchRunRequest,
    ExecutionCommand,
    ExecutionCommandBatch,
    ExecutionSettings,
)
from execbatch.dtos.strategy import StrategyDirective
from execbatch.observability.tracing import ATTR_BATCH_ID, ATTR_MODE, tracer
from execbatch.planning import BaseExecutionPlanner
from execbatch.recovery.settlement import has_settlement, start_settlement
from execbatch.runs.read import ENDINGS, NothingToSettle, read_run_request, unsettled_ending
from execbatch.runs.start import BatchHandle, Submission, batch_handle, start_run
from execbatch.temporal.search_attributes import BATCH_MODE, BATCH_STATUS
from execbatch.workflows.batch_workflow import WORKFLOW_NAME, ExecutionBatchWorkflow

__all__ = [
    "BatchAlreadyFinal",
    "BatchClient",
    "BatchHandle",
    "BatchRecoveryPending",
    "BatchSummary",
    "DirectiveConflict",
    "NothingToSettle",
    "Submission",
]

DEFAULT_RECOVERY_WAIT = timedelta(minutes=2)
RECOVERY_POLL_SECONDS = 1.0


class _NewerRun(Exception):
    """While a closed run waited for its settlement, a newer run (a reset) took the
    batch over: its result is the batch's."""


class BatchRecoveryPending(Exception):
    """The batch's execution timeout ended it and its recovery run has not started yet."""


MAX_RUNS_FOLLOWED = 100
"""Runs of one batch ``result`` follows through resets before it gives up."""


class BatchAlreadyFinal(Exception):
    """The batch cannot be cancelled: it has ended or is already winding down."""

    def __init__(self, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The batch's status when it has ended (a BatchStatus value, UNSETTLED or
        SETTLING), None while it winds down."""


class DirectiveConflict(Exception):
    """A batch with this id exists with other content: the directive id was reused for
    a different batch. Nothing was started or sent; give the new directive its own id."""

    def __init__(self, batch_id: str, differences: Sequence[str]) -> None:
        self.batch_id = batch_id
        self.differences = tuple(differences)
        """Each field that differs, existing first: ``"commands[0].quantity: 100 != 120"``."""
        shown = "; ".join(self.differences[:5])
        more = f"; +{len(self.differences) - 5} more" if len(self.differences) > 5 else ""
        super().__init__(
            f"batch {batch_id} already exists with other content (existing != submitted: "
            f"{shown}{more}): "
            "a directive id names one batch; give the changed directive a new directive_id"
        )


UNSETTLED = "UNSETTLED"
"""A batch whose run closed without a result and no settlement has finished yet."""
SETTLING = "SETTLING"
"""A batch whose settlement run is settling it at the venue."""


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    mode: str | None
    status: str | None
    """The batch's status: a BatchStatus value, UNSETTLED or SETTLING."""
    workflow_status: str | None
    """The status of the batch's own (latest) run in Temporal."""
    settled_by: str | None = None
    """The settlement run's workflow id, for a run Temporal closed without a result."""


def with_account(settings: ExecutionSettings, account: str) -> ExecutionSettings:
    """``settings`` trading ``account``, validated (an empty account is refused)."""
    account = account.strip()
    if account == settings.account:
        return settings
    return ExecutionSettings.model_validate({**settings.model_dump(), "account": account})


class BatchClient:
    """Submit batches, follow them, cancel them: what a strategy (and the CLI) uses.

    ``await BatchClient.connect()`` reads the environment the CLI and the worker read
    (``ExecbatchConfig.from_env``: Temporal's ``TEMPORAL_*`` configuration,
    ``EXECBATCH_TASK_QUEUE``, ``EXECBATCH_VENUE_ACCOUNT``); built from a ``Client``
    without ``settings``, it trades ``EXECBATCH_VENUE_ACCOUNT`` too. One batch can name
    another account (``submit(..., account=...)``); it goes to the same task queue, so
    the workers there must trade that account (the paper venue: any funded account; a
    real venue's keys: exactly one, refused before anything is placed otherwise).
    """

    def __init__(
        self,
        client: Client,
        task_queue: str,
        settings: ExecutionSettings | None = None,
        planner: BaseExecutionPlanner | None = None,
        eager_start: bool = False,
    ) -> None:
        """``settings``: how every batch runs, its account included (default: the
        defaults, trading ``EXECBATCH_VENUE_ACCOUNT``). ``eager_start``: ask the server
        to hand the first workflow task straight back to a worker in this process
        (saves a round trip; only useful when the same ``Client`` also runs the worker,
        and the server enables it)."""
        self._eager_start = eager_start
        self._client = client
        self._task_queue = task_queue
        self._settings = settings or ExecutionSettings(account=venue_account_from_env())
        self._planner = planner or BaseExecutionPlanner()

    @classmethod
    async def connect(
        cls,
        config: ExecbatchConfig | None = None,
        *,
        account: str | None = None,
        settings: ExecutionSettings | None = None,
        planner: BaseExecutionPlanner | None = None,
    ) -> BatchClient:
        """Connect as the CLI does: to ``config`` (default ``ExecbatchConfig.from_env()``),
        its task queue, trading ``account`` (default the config's ``venue_account``,
        ``EXECBATCH_VENUE_ACCOUNT``; it replaces the account of ``settings``).

        Raises ``TemporalUnreachable`` (one line: the address, the namespace, what went
        wrong, what to check) when the server cannot be reached."""
        config = config or ExecbatchConfig.from_env()
        settings = with_account(
            settings or ExecutionSettings(), config.venue_account if account is None else account
        )
        return cls(await connect(config), config.task_queue, settings=settings, planner=planner)

    @property
    def temporal(self) -> Client:
        return self._client

    @property
    def task_queue(self) -> str:
        return self._task_queue

    @property
    def account(self) -> str:
        """The account a batch trades unless ``submit`` names another."""
        return self._settings.account

    async def submit_document(
        self, document: DirectiveDocument, *, account: str | None = None
    ) -> Submission:
        return await self.submit(document.directive, document.commands, account=account)

    async def submit(
        self,
        directive: StrategyDirective,
        commands: Sequence[ExecutionCommand],
        *,
        account: str | None = None,
        check_trading: bool = False,
    ) -> Submission:
        """Validate, plan and start; nothing is started when validation fails.

        ``account``: the venue account this batch trades (default ``self.account``).
        ``check_trading``: first ask the account's trading state, as ``execbatch submit``
        does, and raise ``TradingRefused`` (nothing started) when it forbids this batch:
        HALTED, or REDUCING with a leg that would not reduce the position (the leg, the
        position and the state named). Without it the workflow's own gate still
        refuses such legs, after the batch has started (docs/RISK.md)."""
        batch = self._planner.create_batch(directive, commands)
        if check_trading:
            await TradingControl(self._client, self._task_queue).refuse_unless_allowed(
                self.account if account is None else account, batch.commands
            )
        return await self.start_batch(batch, account=account)

    async def start_batch(
        self, batch: ExecutionCommandBatch, *, account: str | None = None
    ) -> Submission:
        """Start the batch, or attach to the batch with its id if it has the same content.

        ``account``: the venue account it trades (default ``self.account``); it is part
        of the batch's input, so a worker refuses it whole if its keys trade another.

        Raises ``DirectiveConflict``, having started and sent nothing, when a batch with
        this id exists (running or closed) with other content (``created_at`` aside) or
        for another account.

        The start comes first and the comparison only when it attached: an id that
        exists never starts a second run (``USE_EXISTING`` while it runs,
        ``REJECT_DUPLICATE`` once closed), so the new content cannot reach the venue,
        and a new batch (the common case) pays no history read before its first order.
        """
        settings = self._settings if account is None else with_account(self._settings, account)
        legs = ", ".join(c.describe() for c in batch.commands[:5])
        more = f" +{len(batch.commands) - 5} more" if len(batch.commands) > 5 else ""
        # The root of the batch's trace (a child of the caller's span, if any); with a
        # client connected with the tracing interceptor, the workflow continues it.
        with tracer().start_as_current_span(
            "submit batch",
            kind=SpanKind.CLIENT,
            attributes={ATTR_BATCH_ID: batch.batch_id, ATTR_MODE: batch.mode.value},
        ):
            return await self._start(
                BatchRunRequest(batch=batch, settings=settings), f"{legs}{more}"
            )

    async def _start(self, request: BatchRunRequest, legs: str) -> Submission:
        batch = request.batch
        submission = await start_run(
            self._client,
            request,
            task_queue=self._task_queue,
            workflow_id=batch.batch_id,
            execution_timeout=(
                timedelta(seconds=batch.timeout_seconds) if batch.timeout_seconds else None
            ),
            summary=(
                f"{batch.mode.value} batch, {len(batch.commands)} legs, account "
                f"{request.settings.account}: {legs}"
            ),
            eager=self._eager_start,
        )
        if submission.attached:  # this id was started before, by us or someone else
            existing = await self._existing_request(batch.batch_id)
            if existing is not None:
                self._refuse_conflict(existing, request)
        return submission

    async def _existing_request(self, batch_id: str) -> BatchRunRequest | None:
        """The input of the batch with this id, read back from its history; None if none."""
        try:
            return await read_run_request(self._client, batch_id)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return None
            raise

    @staticmethod
    def _refuse_conflict(existing: BatchRunRequest, submitted: BatchRunRequest) -> None:
        differences = existing.batch.differences(submitted.batch)
        if existing.settings.account != submitted.settings.account:
            differences = [
                f"account: {existing.settings.account} != {submitted.settings.account}",
                *differences,
            ]
        if differences:
            raise DirectiveConflict(submitted.batch.batch_id, differences)

    async def recover(self, batch_id: str, run_id: str | None = None) -> Submission:
        """Start (or attach to) the settlement run of a batch whose run Temporal closed
        without a result (``execbatch.recovery.settlement.start_settlement``)."""
        return await start_settlement(self._client, self._task_queue, batch_id, run_id)

    async def has_recovery(self, batch_id: str) -> bool:
        """Whether the batch has a settlement run that is running or completed."""
        return await has_settlement(self._client, batch_id)

    def handle(self, batch_id: str) -> BatchHandle:
        return batch_handle(self._client, batch_id)

    async def result(
        self, batch_id: str, recovery_wait: timedelta = DEFAULT_RECOVERY_WAIT
    ) -> BatchResult:
        """The batch's final result, however its run ended.

        A run Temporal closed without a result (hard timeout, Terminate,
        failure) has its settlement run (started by a worker's sweeper, see
        ``execbatch.recovery``), which carries the result; this waits up to
        ``recovery_wait`` for it to appear, then raises ``BatchRecoveryPending``.
        A run ended by a reset is followed to the newer run that continues it,
        and so is a closed run an operator resets while we wait for its
        settlement (Temporal resets closed runs too: Terminate, then Reset, is
        how an operator restarts a stuck batch from a point in its history).
        """
        for _ in range(MAX_RUNS_FOLLOWED):
            try:
                return await self.handle(batch_id).result()
            except WorkflowFailureError as exc:
                closed = exc
            try:
                ending = await unsettled_ending(self._client, batch_id)
            except NothingToSettle:
                continue  # a newer run (a reset) took over: follow it
            try:
                return await self.recovery_result(
                    batch_id, recovery_wait, closed, closed_run_id=ending.run_id
                )
            except _NewerRun:
                continue
        raise RuntimeError(f"batch {batch_id}: more than {MAX_RUNS_FOLLOWED} runs followed")

    async def recovery_result(
        self,
        batch_id: str,
        wait: timedelta = DEFAULT_RECOVERY_WAIT,
        closed: BaseException | None = None,
        *,
        closed_run_id: str | None = None,
    ) -> BatchResult:
        """The result of the batch's settlement run, waiting up to ``wait`` for one to
        start (or to start again, if a settlement run was itself terminated).

        ``closed_run_id``: the closed run being settled; if a newer run of the batch
        appears meanwhile (a reset of the closed run), no settlement will come (the
        sweeper settles only a batch's latest run) and ``_NewerRun`` is raised for
        ``result`` to follow it."""
        recovery = self.handle(recovery_workflow_id(batch_id))
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait.total_seconds()
        while True:
            try:
                return await recovery.result()
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
            except WorkflowFailureError:
                pass  # the settlement itself was ended: the sweeper starts it again
            if closed_run_id is not None:
                latest = await self.handle(batch_id).describe()
                if latest.run_id != closed_run_id:
                    raise _NewerRun(latest.run_id)
            if loop.time() >= give_up:
                raise BatchRecoveryPending(
                    f"batch {batch_id} closed without a result and no settlement run "
                    f"({recovery.id}) finished within {wait.total_seconds():g}s: is a worker "
                    "with the recovery sweeper running? (`execbatch recover` starts one by hand)"
                ) from closed
            await asyncio.sleep(RECOVERY_POLL_SECONDS)

    async def status(self, batch_id: str) -> BatchResult:
        """Live state via Query (works on running and closed batches)."""
        return await self.handle(batch_id).query(ExecutionBatchWorkflow.status)

    async def request_cancel(self, batch_id: str, reason: str) -> BatchResult:
        """Ask the batch to wind down; returns its state at that moment.

        Raises BatchAlreadyFinal when the batch has ended or is already winding
        down (the workflow's update validator refuses it while it runs; a
        closed workflow takes no update at all).
        """
        handle = self.handle(batch_id)
        description = await handle.describe()
        if description.status is not WorkflowExecutionStatus.RUNNING:
            status = await self._ended_status(batch_id, description.status)
            raise BatchAlreadyFinal(
                f"batch {batch_id} has already ended: {status}; nothing to cancel", status
            )
        try:
            return await handle.execute_update(ExecutionBatchWorkflow.cancel, reason)
        except WorkflowUpdateFailedError as exc:
            message = getattr(exc.cause, "message", None) or str(exc.cause)
            raise BatchAlreadyFinal(f"batch {batch_id}: {message}") from exc

    async def cancel(self, batch_id: str, reason: str) -> BatchResult:
        """Wind the batch down and wait for its final result."""
        await self.request_cancel(batch_id, reason)
        return await self.result(batch_id)

    async def list(self, limit: int = 20, query: str | None = None) -> AsyncIterator[BatchSummary]:
        """Recent batches, newest first, each with the status it really has.

        Settlement runs are not listed as batches of their own: a batch whose
        run closed without a result shows its settlement's status (or
        ``UNSETTLED`` until one exists, ``SETTLING`` while it runs), never the
        RUNNING its closed run can no longer take back.
        """
        base = f"WorkflowType = '{WORKFLOW_NAME}'"
        full = f"{base} AND ({query})" if query else base
        seen: set[str] = set()
        async for execution in self._client.list_workflows(full):
            batch_id = execution.id.removesuffix(RECOVERY_SUFFIX)
            if batch_id in seen:
                continue
            seen.add(batch_id)
            if batch_id != execution.id:  # a settlement run matched: report its batch
                workflow_status = (await self.handle(batch_id).describe()).status
            else:
                workflow_status = (
                    WorkflowExecutionStatus(execution.status) if execution.status else None
                )
            sa = execution.typed_search_attributes
            status = sa.get(BATCH_STATUS)
            settled_by = None
            if workflow_status is WorkflowExecutionStatus.RUNNING:
                status = status or BatchStatus.RUNNING.value
            elif workflow_status in ENDINGS:
                settled_by = recovery_workflow_id(batch_id)
                status = await self._settlement_status(batch_id)
            yield BatchSummary(
                batch_id=batch_id,
                mode=sa.get(BATCH_MODE),
                status=status,
                workflow_status=workflow_status.name if workflow_status else None,
                settled_by=settled_by,
            )
            if len(seen) >= limit:
                return

    async def _ended_status(
        self, batch_id: str, workflow_status: WorkflowExecutionStatus | None
    ) -> str:
        """The status of a batch whose run has closed: its result's, or its settlement's
        (as ``list`` shows it) when Temporal closed the run without a result."""
        if workflow_status is WorkflowExecutionStatus.COMPLETED:
            return (await self.handle(batch_id).result()).status.value
        if workflow_status in ENDINGS:
            return await self._settlement_status(batch_id)
        return workflow_status.name if workflow_status else "UNKNOWN"

    async def _settlement_status(self, batch_id: str) -> str:
        try:
            description = await self.handle(recovery_workflow_id(batch_id)).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return UNSETTLED
            raise
        if description.status is WorkflowExecutionStatus.RUNNING:
            return SETTLING
        if description.status is not WorkflowExecutionStatus.COMPLETED:
            return UNSETTLED  # the settlement itself was ended; a sweeper starts it again
        return description.typed_search_attributes.get(BATCH_STATUS) or UNSETTLED

"""The kill switch from a client: halt, reduce, resume; read a scope's state and audit.

``set_state`` starts the scope's TradingStateWorkflow if it is not running yet
(same id: the first caller starts it, the others use it) and runs its
``set_state`` Update, which returns once the change is durable and, for HALTED
or REDUCING, once no placement that read the old state can still reach the
venue (docs/RISK.md). ``wind_down_batches`` then cancels the running batches
of the scope, as ``execbatch cancel`` would: COORDINATED ones compensate.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from execbatch.activities.risk_activities import effective_state, read_audit
from execbatch.dtos.execution.batch_run import BatchRunRequest
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.risk.claims import (
    ReducingCheckRequest,
    ReducingLeg,
    ReductionClaim,
    signed_quantity,
)
from execbatch.risk.states import (
    DEFAULT_QUIET_SECONDS,
    SetStateRequest,
    StateChangeAck,
    TradingState,
    TradingStateInput,
    TradingStateView,
    scope_of,
    trading_state_workflow_id,
)
from execbatch.temporal.not_ready import while_task_retried
from execbatch.workflows.batch_workflow import WORKFLOW_NAME, ExecutionBatchWorkflow
from execbatch.workflows.trading_state import TradingStateWorkflow


class TradingRefused(Exception):
    """A submission refused because the account's trading state forbids new batches."""


def who_am_i() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return "unknown"


@dataclass
class TradingControl:
    client: Client
    task_queue: str

    async def set_state(
        self,
        state: TradingState,
        reason: str,
        *,
        account: str | None = None,
        who: str | None = None,
        quiet_seconds: float = DEFAULT_QUIET_SECONDS,
    ) -> StateChangeAck:
        scope = scope_of(account)
        handle = await self.client.start_workflow(
            TradingStateWorkflow.run,
            TradingStateInput(view=TradingStateView(scope=scope)),
            id=trading_state_workflow_id(self.task_queue, scope),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"trading state of {scope}",
        )
        request = SetStateRequest(
            state=state, reason=reason, who=who or who_am_i(), quiet_seconds=quiet_seconds
        )
        # A kill switch must not fail because the workers holding its task just died.
        return await while_task_retried(
            lambda: handle.execute_update(TradingStateWorkflow.set_state, request)
        )

    async def view(self, account: str | None = None) -> TradingStateView:
        """The scope's state and its whole audit history."""
        return await read_audit(self.client, self.task_queue, scope_of(account))

    async def effective(self, account: str) -> tuple[TradingState, str | None]:
        return await effective_state(self.client, self.task_queue, account)

    async def refuse_if_not_active(self, account: str) -> None:
        """Raise ``TradingRefused`` when no new batch of ``account`` may start."""
        state, reason = await self.effective(account)
        if state is not TradingState.ACTIVE:
            raise TradingRefused(
                f"trading is {state.value} for account {account!r} ({reason}); "
                "new batches are refused until `execbatch resume`"
            )

    async def refuse_unless_allowed(
        self, account: str, commands: Sequence[ExecutionCommand]
    ) -> None:
        """Raise ``TradingRefused`` when this batch of ``account`` may not start: HALTED
        refuses every batch; REDUCING one with a leg that would not reduce the position
        the venue reports now (read by the account's trading-state workflow, through the
        workers' venue), naming the leg, the position and the state.

        Passing here does not reserve anything: each reducing order still claims its
        room when it is placed (docs/RISK.md, "Reducing claims")."""
        state, reason = await self.effective(account)
        if state is TradingState.ACTIVE:
            return
        if state is TradingState.HALTED:
            await self.refuse_if_not_active(account)
        legs = tuple(
            ReducingLeg(
                command_id=c.command_id,
                symbol=c.symbol,
                quantity=signed_quantity(c.side, c.quantity),
            )
            for c in commands
        )
        request = ReducingCheckRequest(account=account, legs=legs)
        answer = await while_task_retried(
            lambda: self.client.execute_update_with_start_workflow(
                TradingStateWorkflow.reducing_check,
                request,
                # an operation is used once: a new one for every attempt
                start_workflow_operation=self._entity(scope_of(account)),
            )
        )
        if answer.refusals:
            raise TradingRefused(
                f"trading is REDUCING for account {account!r} ({reason}): only legs that "
                f"reduce the position are accepted; " + "; ".join(answer.refusals)
            )

    def _entity(self, scope: str) -> WithStartWorkflowOperation[TradingStateWorkflow, None]:
        return WithStartWorkflowOperation(
            TradingStateWorkflow.run,
            TradingStateInput(view=TradingStateView(scope=scope)),
            id=trading_state_workflow_id(self.task_queue, scope),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"trading state of {scope}",
        )

    async def claims(self, account: str) -> tuple[ReductionClaim, ...]:
        """The account's reducing claims outstanding (none if it never claimed)."""
        handle = self.client.get_workflow_handle(
            trading_state_workflow_id(self.task_queue, scope_of(account))
        )
        try:
            return await while_task_retried(lambda: handle.query(TradingStateWorkflow.claims))
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return ()
            raise

    async def running_batches(self, account: str | None = None) -> list[str]:
        """Ids of running batches (of ``account``, read from each run's input)."""
        ids = [
            execution.id
            async for execution in self.client.list_workflows(
                f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running'"
            )
        ]
        if account is None:
            return ids
        mine = []
        for workflow_id in ids:
            if await self._account_of(workflow_id) == account:
                mine.append(workflow_id)
        return mine

    async def _account_of(self, workflow_id: str) -> str | None:
        handle = self.client.get_workflow_handle(workflow_id)
        async for event in handle.fetch_history_events(page_size=1):
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                return None
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [request] = await self.client.data_converter.decode(payloads, [BatchRunRequest])
            return str(request.settings.account)
        return None

    async def wind_down_batches(self, reason: str, account: str | None = None) -> list[str]:
        """Cancel every running batch of the scope (compensating COORDINATED ones)."""
        ids = await self.running_batches(account)

        async def cancel(workflow_id: str) -> str | None:
            try:
                await self.client.get_workflow_handle(workflow_id).execute_update(
                    ExecutionBatchWorkflow.cancel, reason
                )
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    return None
                raise
            except WorkflowUpdateFailedError:  # already final or already winding down
                return None
            return workflow_id

        done = await asyncio.gather(*(cancel(i) for i in ids))
        return [i for i in done if i is not None]

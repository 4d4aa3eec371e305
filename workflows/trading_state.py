"""TradingStateWorkflow: the kill switch of one scope (global, or one account).

A long-running entity workflow, one per scope, its id derived from the scope
(``execbatch.risk.states.trading_state_workflow_id``), so the state lives in
Temporal: it survives restarts of workers and of the server, every worker
reads the same one, and the Web UI shows it (current details) with its audit.

``set_state`` is an Update: it returns only once the change is recorded in the
history (durable), and, for HALTED or REDUCING, only after the quiet period:
the longest a placement attempt that checked the state just before the change
can still be sending (docs/RISK.md has the timeline). ``state`` is a Query.

The current state is also kept in the workflow's memo (``STATE_MEMO``), written
in the same workflow task that records the change, so before ``set_state``
returns. Placement attempts read it with a describe: served by the server from
the execution's state, as consistent as the query, but no task for a worker and
no billed action (a query is one, and every placement attempt reads the state).
The history is carried over a continue-as-new when it grows long.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from execbatch.risk.states import (
        STATE_MEMO,
        TRADING_STATE_WORKFLOW,
        SetStateRequest,
        StateChange,
        StateChangeAck,
        TradingState,
        TradingStateInput,
        TradingStateView,
    )

STATE_MEMO_PATCH = "trading-state-memo"
"""Runs from this version on keep their state in the memo too; a run that never
passed it (started before, no change since) has no memo and is queried instead."""

AUDIT_KEPT = 1000
"""Audit records carried over a continue-as-new (the oldest are dropped beyond)."""


@workflow.defn(name=TRADING_STATE_WORKFLOW)
class TradingStateWorkflow:
    @workflow.init
    def __init__(self, request: TradingStateInput) -> None:
        self._view = request.view

    @workflow.run
    async def run(self, request: TradingStateInput) -> None:
        self._publish()
        await workflow.wait_condition(
            lambda: (
                workflow.info().is_continue_as_new_suggested() and workflow.all_handlers_finished()
            )
        )
        history = self._view.history[-AUDIT_KEPT:]
        workflow.continue_as_new(
            TradingStateInput(view=self._view.model_copy(update={"history": history}))
        )

    @workflow.query
    def state(self) -> TradingStateView:
        return self._view

    @workflow.update
    async def set_state(self, request: SetStateRequest) -> StateChangeAck:
        recorded_at = workflow.now()
        change = StateChange(
            state=request.state, reason=request.reason, who=request.who, at=recorded_at
        )
        self._view = self._view.model_copy(
            update={"state": request.state, "history": (*self._view.history, change)}
        )
        self._publish()
        if request.state is not TradingState.ACTIVE and request.quiet_seconds > 0:
            # Placement attempts that read the old state may still be sending:
            # acknowledge only once none can any more.
            await workflow.sleep(timedelta(seconds=request.quiet_seconds))
        return StateChangeAck(
            view=self._view, recorded_at=recorded_at, acknowledged_at=workflow.now()
        )

    @set_state.validator
    def _validate(self, request: SetStateRequest) -> None:
        if not request.reason.strip():
            raise ApplicationError("a reason is required")

    def _publish(self) -> None:
        lines = [f"## Trading state: **{self._view.state.value}**", ""]
        lines += ["| when | state | who | why |", "|---|---|---|---|"]
        for change in reversed(self._view.history[-20:]):
            reason = change.reason.replace("|", "/")
            lines.append(
                f"| {change.at.isoformat(timespec='seconds')} | {change.state.value} "
                f"| {change.who} | {reason} |"
            )
        workflow.set_current_details("\n".join(lines))
        if workflow.patched(STATE_MEMO_PATCH):
            current = self._view.model_copy(update={"history": self._view.history[-1:]})
            workflow.upsert_memo({STATE_MEMO: current})

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

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from execbatch.activities.risk_activities import RiskActivities
    from execbatch.risk.claims import (
        RELEASED_KEPT,
        ClaimAnswer,
        ClaimDecision,
        ClaimRequest,
        ReducingCheckAnswer,
        ReducingCheckRequest,
        ReductionClaim,
        ReleaseAnswer,
        ReleaseRequest,
        RoomInputs,
        RoomRequest,
        decide,
        reducing_refusals,
    )
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

# Sandboxed: re-imported for every run (see batch_workflow).
from execbatch.workflows import activity_options as opts

STATE_MEMO_PATCH = "trading-state-memo"
"""Runs from this version on keep their state in the memo too; a run that never
passed it (started before, no change since) has no memo and is queried instead."""

AUDIT_KEPT = 1000
"""Audit records carried over a continue-as-new (the oldest are dropped beyond)."""
ROOM_READ_TIMEOUT = timedelta(seconds=6)
"""One attempt of the venue read a claim decides on (the default venue call timeout)."""
ROOM_READ_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=5,
)
"""The read is retried a few times; past them the claims are refused (fail closed)."""


@asynccontextmanager
async def _fails_the_update_only(what: str) -> AsyncIterator[None]:
    """An unexpected error in a claims handler fails that Update (the claims are then
    refused: the gate fails closed), never the entity's workflow task: a failed task
    would freeze the kill switch itself (``set_state``) until a fix is deployed."""
    try:
        yield
    except FailureError:
        raise
    except Exception as exc:
        raise ApplicationError(f"{what}: {exc!r}", non_retryable=True) from exc


@workflow.defn(name=TRADING_STATE_WORKFLOW)
class TradingStateWorkflow:
    @workflow.init
    def __init__(self, request: TradingStateInput) -> None:
        self._view = request.view
        self._claims: dict[str, ReductionClaim] = {c.claim_id: c for c in request.claims}
        self._released: dict[str, None] = dict.fromkeys(request.released)
        self._claiming = asyncio.Lock()
        """Claims are decided one request at a time: each reads the venue after every
        claim granted before it is counted (module docstring of risk.claims)."""

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
            TradingStateInput(
                view=self._view.model_copy(update={"history": history}),
                claims=tuple(self._claims.values()),
                released=tuple(self._released)[-RELEASED_KEPT:],
            )
        )

    @workflow.query
    def state(self) -> TradingStateView:
        return self._view

    @workflow.update
    async def set_state(self, request: SetStateRequest) -> StateChangeAck:
        recorded_at = workflow.now()
        change = StateChange(
            state=request.state,
            reason=request.reason,
            who=request.who,
            at=recorded_at,
            quiet_seconds=request.quiet_seconds if request.state is not TradingState.ACTIVE else 0,
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

    @workflow.query
    def claims(self) -> tuple[ReductionClaim, ...]:
        """The reducing claims outstanding, oldest first."""
        return tuple(self._claims.values())

    @workflow.update
    async def claim_reductions(self, request: ClaimRequest) -> ClaimAnswer:
        """Grant or refuse a batch's reducing claims, in order, against the venue's
        position less what the claims before them may still move (risk.claims).

        Idempotent: a claim granted before is granted again without a read (a retried
        activity, a re-run workflow task); a released one is refused."""
        async with self._claiming, _fails_the_update_only("reducing claims not decided"):
            if request.not_before is not None and request.not_before > workflow.now():
                await workflow.sleep(request.not_before - workflow.now())
            new = [
                c
                for c in request.claims
                if c.claim_id not in self._claims and c.claim_id not in self._released
            ]
            decided: dict[str, ClaimDecision] = {}
            if new:
                decided = await self._decide(request.account, new)
            answer = ClaimAnswer(
                decisions=tuple(self._decision(c, decided) for c in request.claims)
            )
            self._publish_details()
            return answer

    async def _decide(self, account: str, new: list[ReductionClaim]) -> dict[str, ClaimDecision]:
        symbols = {c.symbol for c in new}
        outstanding = [c for c in self._claims.values() if c.symbol in symbols]
        try:
            inputs: RoomInputs = await workflow.execute_local_activity_method(
                RiskActivities.reduction_room,
                RoomRequest(
                    account=account,
                    symbols=tuple(sorted(symbols)),
                    claimed_orders={c.claim_id: c.symbol for c in outstanding},
                ),
                start_to_close_timeout=ROOM_READ_TIMEOUT,
                retry_policy=ROOM_READ_RETRY,
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="reducing room: claimed orders, then positions",
            )
        except FailureError as err:  # a local activity may raise its cause itself
            cause = err.cause if isinstance(err, ActivityError) and err.cause else err
            why = f"reducing claim not decided: the venue could not be read ({cause})"
            return {
                c.claim_id: ClaimDecision(
                    claim_id=c.claim_id, command_id=c.command_id, granted=False, message=why
                )
                for c in new
            }
        # Decided against the claims outstanding when the read began, whatever a
        # release did meanwhile (it takes no lock): a claim released during the read
        # may have filled after the position was read, so it still counts unless its
        # look-up saw it terminal (then its fills are in the position read after it).
        still = []
        for claim in outstanding:
            order = inputs.orders.get(claim.claim_id)
            if order is not None and order.terminal:
                self._claims.pop(claim.claim_id, None)  # nothing more to hold
            else:
                still.append(claim)
        decided = {}
        for claim, granted, message in decide(new, still, inputs):
            if granted:
                self._claims[claim.claim_id] = claim
            decided[claim.claim_id] = ClaimDecision(
                claim_id=claim.claim_id,
                command_id=claim.command_id,
                granted=granted,
                message=message,
            )
        return decided

    def _decision(self, claim: ReductionClaim, decided: dict[str, ClaimDecision]) -> ClaimDecision:
        if claim.claim_id in decided:
            return decided[claim.claim_id]
        granted = claim.claim_id in self._claims
        return ClaimDecision(
            claim_id=claim.claim_id,
            command_id=claim.command_id,
            granted=granted,
            message="granted before" if granted else "released before: its batch has ended",
        )

    @workflow.update
    async def release_claims(self, request: ReleaseRequest) -> ReleaseAnswer:
        """Release every claim of a batch that has ended with every leg settled."""
        async with _fails_the_update_only("reducing claims not released"):
            released = [
                c for c, claim in self._claims.items() if claim.batch_id == request.batch_id
            ]
            for claim_id in released:
                self._claims.pop(claim_id, None)
                self._released[claim_id] = None
            while len(self._released) > RELEASED_KEPT:
                del self._released[next(iter(self._released))]
            if released:
                self._publish_details()
            return ReleaseAnswer(released=tuple(released))

    @workflow.update
    async def reducing_check(self, request: ReducingCheckRequest) -> ReducingCheckAnswer:
        """The legs of a batch about to be submitted that would not reduce the position
        the venue reports now (``execbatch submit`` in REDUCING)."""
        async with _fails_the_update_only("reducing check not done"):
            return await self._reducing_check(request)

    async def _reducing_check(self, request: ReducingCheckRequest) -> ReducingCheckAnswer:
        inputs: RoomInputs = await workflow.execute_local_activity_method(
            RiskActivities.reduction_room,
            RoomRequest(
                account=request.account,
                symbols=tuple(sorted({leg.symbol for leg in request.legs})),
            ),
            start_to_close_timeout=ROOM_READ_TIMEOUT,
            retry_policy=ROOM_READ_RETRY,
            local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
            summary="reducing check: positions",
        )
        return ReducingCheckAnswer(
            refusals=tuple(reducing_refusals(request.legs, inputs.positions))
        )

    def _publish(self) -> None:
        """The state changed: the details and the memo (placement attempts read it)."""
        self._publish_details()
        if workflow.patched(STATE_MEMO_PATCH):
            current = self._view.model_copy(update={"history": self._view.history[-1:]})
            workflow.upsert_memo({STATE_MEMO: current})

    def _publish_details(self) -> None:
        """The Web UI's current details (no history event). The claims handlers call only
        this: the memo holds the state, which a claim does not change. (A chaos run at
        the Binance dialect once froze the entity with a nondeterminism error, "Update
        machine does not handle this event: WorkflowPropertiesModified", at the memo
        upsert of a claim whose venue reads had failed; not reproduced in the tests, and
        the claims handlers no longer record one.)"""
        lines = [f"## Trading state: **{self._view.state.value}**", ""]
        lines += ["| when | state | who | why |", "|---|---|---|---|"]
        for change in reversed(self._view.history[-20:]):
            reason = change.reason.replace("|", "/")
            lines.append(
                f"| {change.at.isoformat(timespec='seconds')} | {change.state.value} "
                f"| {change.who} | {reason} |"
            )
        if self._claims:
            lines += ["", "### Reducing claims in flight", "", "| order | claim |", "|---|---|"]
            lines += [f"| {c.claim_id} | {c.describe()} |" for c in self._claims.values()]
        workflow.set_current_details("\n".join(lines))
